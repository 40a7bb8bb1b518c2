/*
 * check_core.c - unit tests of the core's pure parts: listen URIs, CIDR
 * matching, line framing with telnet IAC, output queues, configuration
 * validation and the reactor's loop control.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "addr.h"
#include "buf.h"
#include "cfg.h"
#include "ev.h"
#include "line.h"
#include "transport.h"

/* --- reactor --------------------------------------------------------- */

static int hook_runs;

static void
hook_busy_for_five(struct ev_loop *loop, void *data)
{
	(void)data;
	if (++hook_runs < 5)
		ev_no_wait(loop);
	else
		ev_stop(loop);
}

static long
timer_never(struct ev_loop *loop, long long id, void *data)
{
	(void)loop;
	(void)id;
	*(int *)data = 1;
	return -1;
}

/* A hook that leaves work asks for the next wait not to sleep: with only
 * a timer a minute away, five iterations run at once. */
START_TEST(ev_no_wait_skips_the_sleep)
{
	struct ev_loop *loop = ev_create(64);
	int fired = 0;
	int64_t t0 = ev_clock_ms();

	ck_assert_ptr_nonnull(loop);
	hook_runs = 0;
	ck_assert_int_gt(ev_timer_add(loop, 60000, timer_never, &fired), 0);
	ck_assert_int_eq(ev_before_sleep(loop, hook_busy_for_five, NULL), 0);
	ev_run(loop);
	ck_assert_int_eq(hook_runs, 5);
	ck_assert_int_eq(fired, 0);
	ck_assert_int_lt(ev_clock_ms() - t0, 30000);
	ck_assert_int_le(ev_clock_us() / 1000 - ev_clock_ms(), 1);
	ev_destroy(loop);
}
END_TEST

/* --- listen URIs ------------------------------------------------------ */

START_TEST(listen_ipv4)
{
	struct listen_addr la;
	char text[96];

	ck_assert_ptr_null(addr_parse_listen("tcp://127.0.0.1:7007", &la));
	ck_assert_int_eq(la.proto, PROTO_TCP);
	ck_assert_int_eq(la.ss.ss_family, AF_INET);
	ck_assert_int_eq(addr_port((struct sockaddr *)&la.ss), 7007);
	addr_listen_text(&la, text, sizeof(text));
	ck_assert_str_eq(text, "tcp://127.0.0.1:7007");
}
END_TEST

START_TEST(listen_ipv6_and_any)
{
	struct listen_addr la;
	char text[96];

	ck_assert_ptr_null(addr_parse_listen("udp://[::1]:7", &la));
	ck_assert_int_eq(la.proto, PROTO_UDP);
	ck_assert_int_eq(la.ss.ss_family, AF_INET6);
	addr_listen_text(&la, text, sizeof(text));
	ck_assert_str_eq(text, "udp://[::1]:7");
	ck_assert_ptr_null(addr_parse_listen("tcp://*:80", &la));
	ck_assert(la.any);
	addr_listen_text(&la, text, sizeof(text));
	ck_assert_str_eq(text, "tcp://*:80");
	ck_assert_ptr_null(addr_parse_listen("tcp://0.0.0.0:0", &la));
}
END_TEST

START_TEST(listen_errors)
{
	struct listen_addr la;
	const char *err;

	ck_assert_ptr_nonnull(addr_parse_listen("sctp://1.2.3.4:5", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://1.2.3.4", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://1.2.3.4:", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://:80", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://[::1:80", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://::1:80", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://localhost:80", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://1.2.3.4:8x", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://1.2.3.4:-1", &la));
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://256.1.1.1:80", &la));
	err = addr_parse_listen("tcp://0.0.0.0:70000", &la);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "port 70000 out of range");
	ck_assert_ptr_nonnull(addr_parse_listen("tcp://0.0.0.0:99999999999", &la));
}
END_TEST

START_TEST(listen_conflicts)
{
	struct listen_addr a, b;

	addr_parse_listen("tcp://127.0.0.1:7", &a);
	addr_parse_listen("tcp://127.0.0.1:7", &b);
	ck_assert(addr_listen_conflict(&a, &b));
	addr_parse_listen("udp://127.0.0.1:7", &b);
	ck_assert(!addr_listen_conflict(&a, &b));     /* other protocol */
	addr_parse_listen("tcp://0.0.0.0:7", &b);
	ck_assert(addr_listen_conflict(&a, &b));      /* wildcard overlaps */
	addr_parse_listen("tcp://*:7", &b);
	ck_assert(addr_listen_conflict(&a, &b));
	addr_parse_listen("tcp://[::1]:7", &b);
	ck_assert(!addr_listen_conflict(&a, &b));     /* other family */
	addr_parse_listen("tcp://127.0.0.1:8", &b);
	ck_assert(!addr_listen_conflict(&a, &b));
	addr_parse_listen("tcp://127.0.0.1:0", &a);
	addr_parse_listen("tcp://127.0.0.1:0", &b);
	ck_assert(!addr_listen_conflict(&a, &b));     /* ephemeral ports */
}
END_TEST

/* --- CIDR -------------------------------------------------------------- */

static struct ip_key
ip(const char *text)
{
	struct sockaddr_storage ss = { 0 };
	struct ip_key k;

	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, text, &s4->sin_addr);
	}
	addr_key((struct sockaddr *)&ss, &k);
	return k;
}

START_TEST(cidr_match)
{
	struct cidr c;
	struct ip_key k;

	ck_assert_ptr_null(addr_parse_cidr("127.0.0.0/8", &c));
	k = ip("127.1.2.3");
	ck_assert(addr_cidr_match(&c, &k));
	k = ip("128.0.0.1");
	ck_assert(!addr_cidr_match(&c, &k));
	k = ip("::ffff:127.0.0.1");           /* mapped IPv4 counts as IPv4 */
	ck_assert(addr_cidr_match(&c, &k));
	k = ip("::1");
	ck_assert(!addr_cidr_match(&c, &k));

	ck_assert_ptr_null(addr_parse_cidr("10.1.2.3/12", &c));  /* host bits */
	k = ip("10.15.255.255");
	ck_assert(addr_cidr_match(&c, &k));
	k = ip("10.16.0.0");
	ck_assert(!addr_cidr_match(&c, &k));

	ck_assert_ptr_null(addr_parse_cidr("::1", &c));
	ck_assert_uint_eq(c.bits, 128);
	k = ip("::1");
	ck_assert(addr_cidr_match(&c, &k));
	ck_assert_ptr_null(addr_parse_cidr("2001:db8::/33", &c));
	k = ip("2001:db8:7fff::1");
	ck_assert(addr_cidr_match(&c, &k));
	k = ip("2001:db8:8000::1");
	ck_assert(!addr_cidr_match(&c, &k));
	ck_assert_ptr_null(addr_parse_cidr("0.0.0.0/0", &c));
	k = ip("1.2.3.4");
	ck_assert(addr_cidr_match(&c, &k));
}
END_TEST

START_TEST(cidr_errors)
{
	struct cidr c;

	ck_assert_ptr_nonnull(addr_parse_cidr("", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("10.0.0.0/33", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("::/129", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("10.0.0.0/", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("10.0.0.0/x", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("10.0.0.0/8x", &c));
	ck_assert_ptr_nonnull(addr_parse_cidr("example.com", &c));
}
END_TEST

START_TEST(addr_texts)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(5) };
	char text[64];

	inet_pton(AF_INET6, "::ffff:10.0.0.1", &s6.sin6_addr);
	addr_text((struct sockaddr *)&s6, text, sizeof(text));
	ck_assert_str_eq(text, "10.0.0.1:5");
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	addr_text((struct sockaddr *)&s6, text, sizeof(text));
	ck_assert_str_eq(text, "[2001:db8::1]:5");
	addr_host_text((struct sockaddr *)&s6, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::1");
}
END_TEST

/* --- line framing ------------------------------------------------------ */

struct lines {
	char     got[16][64];     /* lines received */
	int      n;               /* how many */
	int      longs;           /* over-long reports */
	int      stop_after;      /* say LINE_STOP after this many, 0 never */
};

static enum line_result
on_line(void *ctx, char *line, size_t len)
{
	struct lines *l = ctx;

	ck_assert_uint_eq(strlen(line), len);
	snprintf(l->got[l->n++], 64, "%s", line);
	return l->stop_after && l->n >= l->stop_after ? LINE_STOP : LINE_MORE;
}

static enum line_result
on_long(void *ctx, char *line, size_t len)
{
	struct lines *l = ctx;

	ck_assert_ptr_null(line);
	ck_assert_uint_eq(len, 0);
	l->longs++;
	return LINE_MORE;
}

static size_t
feed(struct line_reader *lr, struct lines *l, const char *s, size_t n)
{
	return line_feed(lr, s, n, on_line, on_long, l);
}

START_TEST(line_basic)
{
	struct line_reader lr;
	struct lines l = { 0 };
	const char in[] = "one\r\ntwo\n\n\r\nthr";

	line_init(&lr, 16);
	ck_assert_uint_eq(feed(&lr, &l, in, strlen(in)), strlen(in));
	ck_assert_int_eq(l.n, 2);                 /* empty lines skipped */
	ck_assert_str_eq(l.got[0], "one");
	ck_assert_str_eq(l.got[1], "two");
	feed(&lr, &l, "ee\r", 3);
	feed(&lr, &l, "\n", 1);                   /* CR and LF split */
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.got[2], "three");
	feed(&lr, &l, "a\rb\n", 4);               /* inner CR stays */
	ck_assert_str_eq(l.got[3], "a\rb");
	line_free(&lr);
}
END_TEST

START_TEST(line_telnet_iac)
{
	struct line_reader lr;
	struct lines l = { 0 };
	/* IAC IP, IAC DO TIMING-MARK (Ctrl-C in telnet), a subnegotiation
	 * and IAC IAC around the text. */
	const char in[] = "he\xff\xf4l\xff\xfd\x06lo\xff\xfa\x18\x01\xff\xf0!"
	    "\xff\xff\r\n";

	line_init(&lr, 64);
	feed(&lr, &l, in, sizeof(in) - 1);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.got[0], "hello!");
	/* A sequence split across reads. */
	feed(&lr, &l, "x\xff", 2);
	feed(&lr, &l, "\xfb", 1);
	feed(&lr, &l, "\x01y\n", 3);
	ck_assert_str_eq(l.got[1], "xy");
	line_free(&lr);
}
END_TEST

START_TEST(line_too_long)
{
	struct line_reader lr;
	struct lines l = { 0 };
	char big[100];

	memset(big, 'a', sizeof(big));
	line_init(&lr, 8);
	feed(&lr, &l, "12345678\r\n", 10);        /* exactly max + CR: fine */
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.got[0], "12345678");
	feed(&lr, &l, big, sizeof(big));          /* reported at once */
	ck_assert_int_eq(l.longs, 1);
	feed(&lr, &l, big, sizeof(big));          /* once per line */
	ck_assert_int_eq(l.longs, 1);
	feed(&lr, &l, "tail\nok\n", 8);           /* rest of it dropped */
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.got[1], "ok");
	feed(&lr, &l, "123456789\n", 10);         /* max + 1 */
	ck_assert_int_eq(l.longs, 2);
	ck_assert_int_eq(l.n, 2);
	line_free(&lr);
}
END_TEST

START_TEST(line_stop)
{
	struct line_reader lr;
	struct lines l = { .stop_after = 1 };
	const char in[] = "a\nb\nc\n";
	size_t used;

	line_init(&lr, 8);
	used = feed(&lr, &l, in, 6);
	ck_assert_uint_eq(used, 2);               /* the rest is left */
	l.stop_after = 0;
	used = feed(&lr, &l, in + 2, 4);
	ck_assert_uint_eq(used, 4);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.got[2], "c");
	line_free(&lr);
}
END_TEST

/* --- buffers ------------------------------------------------------------ */

START_TEST(outq_mixed)
{
	struct outq q = { 0 };
	struct rbuf *rb = rbuf_new("shared", 6);
	int sv[2];
	char got[64];
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	outq_append(&q, "a", 1);
	outq_append_shared(&q, rb, 0, rb->len);
	outq_printf(&q, "%d-%s", 42, "x");
	rbuf_unref(rb);                           /* the queue holds one */
	ck_assert_uint_eq(q.pending, 1 + 6 + 4);
	n = outq_write(&q, &(struct transport){ &transport_tcp, sv[0], NULL }, false);
	ck_assert_int_eq(n, 11);
	ck_assert_uint_eq(q.pending, 0);
	ck_assert_int_eq(read(sv[1], got, sizeof(got)), 11);
	ck_assert(memcmp(got, "asharedx42-x" + 1, 0) == 0);
	ck_assert(memcmp(got, "ashared42-x", 11) == 0);
	outq_free(&q);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(outq_large_partial)
{
	struct outq q = { 0 };
	size_t total = 3 * 1024 * 1024, sent = 0, rcvd = 0;
	char *big = malloc(total), chunk[65536];
	struct transport tp = { &transport_tcp, -1, NULL };
	int sv[2];

	for (size_t i = 0; i < total; i++)
		big[i] = (char)(i * 7);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	tp.fd = sv[0];
	for (size_t off = 0; off < total; off += 1000)
		outq_append(&q, big + off, off + 1000 > total ? total - off : 1000);
	ck_assert_uint_eq(q.pending, total);
	while (rcvd < total) {
		ssize_t n = outq_write(&q, &tp, false);
		if (n > 0)
			sent += (size_t)n;
		while ((n = read(sv[1], chunk, sizeof(chunk))) > 0) {
			ck_assert(memcmp(chunk, big + rcvd, (size_t)n) == 0);
			rcvd += (size_t)n;
		}
	}
	ck_assert_uint_eq(sent, total);
	ck_assert_uint_eq(q.pending, 0);
	outq_free(&q);
	free(big);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(buf_keeps_order)
{
	struct buf b = { 0 };

	buf_append(&b, "hello ", 6);
	buf_consume(&b, 2);
	buf_append(&b, "world", 5);
	ck_assert_uint_eq(b.len, 9);
	ck_assert(memcmp(buf_head(&b), "llo world", 9) == 0);
	buf_consume(&b, 9);
	ck_assert_ptr_null(b.data);               /* emptied: memory given back */
}
END_TEST

/* --- configuration ------------------------------------------------------- */

static char conf_path[64];

/* Writes text to a temporary file and loads it. */
static struct daemon_conf *
load(const char *text, struct cfg_errors *errs)
{
	int fd;

	snprintf(conf_path, sizeof(conf_path), "/tmp/check_core_XXXXXX");
	fd = mkstemp(conf_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct daemon_conf *dc = cfg_load(conf_path, CFG_CHECK_USER, errs);
	unlink(conf_path);
	return dc;
}

/* Asserts that loading text fails with a message containing want. */
static void
expect_error(const char *text, const char *want)
{
	struct cfg_errors errs;
	struct daemon_conf *dc = load(text, &errs);
	bool found = false;

	ck_assert_ptr_null(dc);
	ck_assert_uint_ge(errs.n, 1);
	for (unsigned i = 0; i < errs.n; i++) {
		/* Every message names the file and a line. */
		ck_assert_msg(strncmp(errs.msg[i], conf_path, strlen(conf_path)) == 0,
		    "no file in: %s", errs.msg[i]);
		found |= strstr(errs.msg[i], want) != NULL;
	}
	ck_assert_msg(found, "no \"%s\" in: %s", want, errs.msg[0]);
	cfg_errors_free(&errs);
}

START_TEST(config_valid)
{
	struct cfg_errors errs;
	struct daemon_conf *dc = load(
	    "daemon = { max_connections = 50; log_level = \"debug\"; };\n"
	    "services = (\n"
	    "  { name = \"echo\"; type = \"echo\";\n"
	    "    listen = ( \"tcp://127.0.0.1:0\", \"udp://[::1]:0\" );\n"
	    "    per_source = 3; allow = ( \"127.0.0.0/8\", \"::1\" ); },\n"
	    "  { name = \"dt\"; type = \"daytime\"; listen = ( \"tcp://*:0\" );\n"
	    "    utc = true; format = \"%H\"; enabled = false; }\n"
	    ");\n", &errs);

	ck_assert_msg(dc != NULL, "%s", errs.n ? errs.msg[0] : "?");
	ck_assert_int_eq(dc->max_connections, 50);
	ck_assert_int_eq(dc->log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(dc->shutdown_timeout, 5);
	ck_assert_uint_eq(dc->nservices, 2);
	ck_assert_str_eq(dc->services[0]->name, "echo");
	ck_assert_uint_eq(dc->services[0]->nlisten, 2);
	ck_assert_uint_eq(dc->services[0]->nallow, 2);
	ck_assert_int_eq(dc->services[0]->per_source, 3);
	ck_assert_int_eq(dc->services[0]->idle_timeout, 300);
	ck_assert(dc->services[0]->enabled);
	ck_assert(!dc->services[1]->enabled);
	cfg_free(dc);
}
END_TEST

START_TEST(config_errors)
{
	const char *svc = "services = ( { name = \"e\"; type = \"echo\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); %s } );";
	char text[512];

	expect_error("services = ( { name = \"e\"; type = \"echo\";\n"
	    "listen = ( \"tcp://0.0.0.0:70000\" ); } );",
	    ":2: services.[0].listen: tcp://0.0.0.0:70000: port 70000 out of range");
	expect_error("services = ( { name = \"e\"; type = \"nope\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); } );", "unknown type \"nope\"");
	expect_error("services = ( { type = \"echo\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); } );", "services.[0].name: missing");
	expect_error("services = ( { name = \"Bad Name\"; type = \"echo\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); } );", "is not [a-z0-9_-]{1,32}");
	expect_error("services = ( { name = \"e\"; type = \"echo\"; } );",
	    "services.[0].listen: missing");
	expect_error("services = ( { name = \"e\"; type = \"echo\"; "
	    "listen = ( ); } );", "services.[0].listen: expected a list");
	snprintf(text, sizeof(text), svc, "colour = 3;");
	expect_error(text, "services.[0].colour: unknown key");
	snprintf(text, sizeof(text), svc, "max_connections = \"x\";");
	expect_error(text, "services.[0].max_connections: expected an integer");
	snprintf(text, sizeof(text), svc, "max_connections = -1;");
	expect_error(text, "out of range");
	snprintf(text, sizeof(text), svc, "enabled = 1;");
	expect_error(text, "expected true or false");
	snprintf(text, sizeof(text), svc, "allow = ( \"10.0.0.0/40\" );");
	expect_error(text, "prefix length out of range");
	snprintf(text, sizeof(text), svc, "utc = true;");
	expect_error(text, "services.[0].utc: unknown key");  /* not echo's */
	expect_error("services = ( { name = \"e\"; type = \"daytime\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); utc = 5; } );",
	    "services.[0].utc: expected true or false");
	expect_error("services = ( { name = \"g\"; type = \"chat\"; "
	    "listen = ( \"udp://127.0.0.1:0\" ); } );", "type chat has no udp");
	expect_error("daemon = { log_level = \"loud\"; };\n"
	    "services = ( );", "daemon.log_level: unknown value \"loud\"");
	expect_error("daemon = { user = \"no-such-user-here\"; };\n"
	    "services = ( );", "user \"no-such-user-here\" does not exist");
	expect_error("daemon = { };\nextra = 1;\nservices = ( );",
	    ":2: extra: unknown key");
	expect_error("daemon = { };\n", "services: missing");
	expect_error("services = ( { name = \"e\" ", ": syntax error");
}
END_TEST

START_TEST(config_conflicts)
{
	expect_error("services = (\n"
	    " { name = \"a\"; type = \"echo\"; listen = ( \"tcp://0.0.0.0:7777\" ); },\n"
	    " { name = \"a\"; type = \"discard\"; listen = ( \"udp://0.0.0.0:7777\" ); }\n"
	    ");", ":3: services.[1]: name \"a\" is used twice");
	expect_error("services = (\n"
	    " { name = \"a\"; type = \"echo\"; listen = ( \"tcp://0.0.0.0:7777\" ); },\n"
	    " { name = \"b\"; type = \"discard\"; listen = ( \"tcp://127.0.0.1:7777\" ); }\n"
	    ");", "tcp://127.0.0.1:7777 is also used by service \"a\"");
	expect_error("services = (\n"
	    " { name = \"a\"; type = \"echo\"; listen = ( \"tcp://127.0.0.1:7777\", "
	    "\"tcp://127.0.0.1:7777\" ); } );", "listed twice");
}
END_TEST

START_TEST(config_include)
{
	char inc[] = "/tmp/check_core_incXXXXXX";
	const char *body = "services = ( { name = \"e\"; type = \"echo\"; "
	    "listen = ( \"tcp://127.0.0.1:0\" ); } );";
	char text[256];
	struct cfg_errors errs;
	struct daemon_conf *dc;
	int fd = mkstemp(inc);

	ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
	/* Relative to the directory of the including file, like the rest of
	 * the paths in the configuration; the included file holds its own
	 * services list. */
	snprintf(text, sizeof(text), "daemon = { };\n@include \"%s\"\n",
	    inc + strlen("/tmp/"));
	dc = load(text, &errs);
	unlink(inc);
	ck_assert_msg(dc != NULL, "%s", errs.n ? errs.msg[0] : "?");
	ck_assert_str_eq(dc->services[0]->name, "e");
	cfg_free(dc);
}
END_TEST

START_TEST(config_missing_file)
{
	struct cfg_errors errs;

	ck_assert_ptr_null(cfg_load("/nonexistent/multid.conf", 0, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.msg[0], "/nonexistent/multid.conf"));
	ck_assert_ptr_nonnull(strstr(errs.msg[0], "No such file"));
	cfg_errors_free(&errs);
}
END_TEST

static Suite *
core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *t;

	t = tcase_create("addr");
	tcase_add_test(t, listen_ipv4);
	tcase_add_test(t, listen_ipv6_and_any);
	tcase_add_test(t, listen_errors);
	tcase_add_test(t, listen_conflicts);
	tcase_add_test(t, cidr_match);
	tcase_add_test(t, cidr_errors);
	tcase_add_test(t, addr_texts);
	suite_add_tcase(s, t);
	t = tcase_create("ev");
	tcase_add_test(t, ev_no_wait_skips_the_sleep);
	tcase_set_timeout(t, 60);
	suite_add_tcase(s, t);

	t = tcase_create("line");
	tcase_add_test(t, line_basic);
	tcase_add_test(t, line_telnet_iac);
	tcase_add_test(t, line_too_long);
	tcase_add_test(t, line_stop);
	suite_add_tcase(s, t);
	t = tcase_create("buf");
	tcase_add_test(t, outq_mixed);
	tcase_add_test(t, outq_large_partial);
	tcase_add_test(t, buf_keeps_order);
	suite_add_tcase(s, t);
	t = tcase_create("config");
	tcase_add_test(t, config_valid);
	tcase_add_test(t, config_errors);
	tcase_add_test(t, config_conflicts);
	tcase_add_test(t, config_include);
	tcase_add_test(t, config_missing_file);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(core_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
