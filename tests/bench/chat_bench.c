/*
 * chat_bench.c - fan-out load for a chat server: multid's chat or
 * `ncat --broker --chat`.
 *
 *   chat_bench -a HOST:PORT [-p multid|ncat] [-n CLIENTS] [-S SENDERS]
 *              [-r RATE] [-t SECONDS] [-w WARMUP] [-W WINDOW] [-l PAD]
 *              [-N COUNT] [-L BYTES] [-C COURSE -A HOST:PORT] [-P PID]
 *
 * CLIENTS connect and log in (multid: nickname line, wait for "* hello
 * NAME"; ncat: wait for its "<announce> ... connected as <userN>." line,
 * which names the client).  The first SENDERS of them then send lines
 *
 *     M SENDER SEQ SEND_NS PAD
 *
 * that every other client receives as "<NAME> M ...".  A receiver checks
 * each such line: the name must be the sender's, the padding right, and
 * SEQ the next one from that sender (a gap is loss, an old one garbled).
 * The end-to-end latency is receive time minus SEND_NS (one clock).
 * ncat puts its "<userN> " prefix before each chunk it forwards rather
 * than each line, so for ncat a bare "M ..." line belongs to the sender
 * of the last prefix that client saw.
 *
 * Paced (-r RATE > 0): RATE messages per second in all, spread over the
 * senders, sent on a 1 ms tick whatever the server does (open loop, so a
 * slow server shows as latency, not as a lower rate).  Unpaced (-r 0):
 * each sender keeps at most WINDOW messages not yet received by everyone
 * (closed loop, so a correct server never needs to drop a slow reader).
 *
 * After the measured interval the senders stop and the clients read until
 * every message has arrived everywhere, 3 s at most.
 *
 * -N COUNT sends COUNT messages in all instead, and the figures are over
 * the whole run, from the first message sent to the last delivery (as a
 * generator that sends a fixed number of messages measures); -W 0 then
 * sends without a window, as fast as the sockets take them.  -L BYTES
 * makes every message line exactly BYTES long, its LF included (the
 * padding makes up the difference).  -C COURSE makes the last COURSE
 * clients speak multid's course protocol on the listener -A HOST:PORT
 * (login "/login NAME\0", messages arrive as "NAME:M ...\0"), so that a
 * room holds receivers of both protocols.  -P PID adds the CPU time the
 * server process used during the run, beside the generator's own.
 *
 * Output, one line:
 *   deliveries_s=... msgs_s=... p50_us=... p99_us=... lost=... garbled=...
 *   errors=... sent=... wall_s=... bench_cpu_s=... server_cpu_s=...
 *   mid_deliveries_s=... first10_s=... last10_s=...
 * (the last three with -N: the rate between 10 % and 90 % of the
 * deliveries, and the seconds the first and the last 10 % took).
 */
#include <sys/epoll.h>

#include "bench.h"

#define IN_MAX     (128 * 1024)   /* input buffer per client */
#define OUT_MAX    (256 * 1024)   /* unsent output per sender */
#define NAME_MAX_  32             /* nickname bytes */
#define DRAIN_NS   3000000000LL   /* time allowed for the last deliveries */

enum peer { PEER_MULTID, PEER_NCAT };

struct client {
	int       fd;                 /* the connection, -1 when lost */
	int       idx;                /* its number */
	int       course;             /* speaks the course protocol (NUL frames) */
	int       logged;             /* login answered */
	char      name[NAME_MAX_];    /* nickname the server uses */
	size_t    namelen;            /* its length */
	char      in[IN_MAX];         /* partial input line(s) */
	size_t    inlen;              /* bytes in in */
	uint64_t *next;               /* expected SEQ per sender */
	char      from[NAME_MAX_];    /* ncat: the last "<NAME>" prefix seen */
	size_t    fromlen;            /* its length, 0 before the first */
	/* sender side */
	char     *out;                /* output not yet written */
	size_t    outlen;             /* bytes in out */
	int       want_out;           /* EPOLLOUT armed */
	uint64_t  sent;               /* messages queued */
	uint64_t  quota;              /* -N: messages it is to send */
	uint64_t  delivered;          /* deliveries of its messages */
};

static enum peer peer = PEER_MULTID;
static int nclients = 100, nsenders = 10, pad = 8;
static double rate;                 /* messages/s in all; 0: unpaced */
static uint64_t window = 64;        /* unpaced: messages in flight */
static struct client *clients;
static int ep;
static int64_t t0, t1;              /* the measured interval */
static struct hist lat;
static uint64_t counted, garbled, errors, deliveries_total;
static char pads[26][256];          /* padding by SEQ % 26 */
static uint64_t count;              /* -N: messages in all; 0: timed */
static int msg_bytes;               /* -L: bytes per message line; 0: pad */
static int ncourse;                 /* -C: clients of the course protocol */
static int64_t first_ns, last_ns;   /* first send, last delivery */
static uint64_t mark10, mark90;     /* -N: 10 % and 90 % of the deliveries */
static int64_t t10_ns, t90_ns;      /* when they were reached */

static void
client_lost(struct client *c, const char *why)
{
	fprintf(stderr, "chat_bench: client %d: %s\n", c->idx, why);
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	errors++;
}

static void
arm_out(struct client *c, int want)
{
	struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
	    .data.ptr = c };

	if (want == c->want_out || c->fd < 0)
		return;
	c->want_out = want;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
flush_out(struct client *c)
{
	while (c->outlen > 0 && c->fd >= 0) {
		ssize_t w = write(c->fd, c->out, c->outlen);

		if (w < 0) {
			if (errno != EAGAIN)
				client_lost(c, strerror(errno));
			break;
		}
		memmove(c->out, c->out + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
	arm_out(c, c->outlen > 0);
}

static void
queue_text(struct client *c, const char *text, size_t len)
{
	if (c->outlen + len > OUT_MAX)
		return;
	memcpy(c->out + c->outlen, text, len);
	c->outlen += len;
}

/* Queues up to n messages from sender c, as far as its buffer holds. */
static void
queue_messages(struct client *c, uint64_t n)
{
	int64_t now = bench_now_ns();

	if (count > 0 && n > c->quota - c->sent)
		n = c->quota - c->sent;
	if (first_ns == 0 && n > 0)
		first_ns = now;
	while (n-- > 0 && c->outlen + 128 + 256 <= OUT_MAX) {
		char *p = c->out + c->outlen;
		int len = sprintf(p, "M %d %llu %lld ", c->idx,
		    (unsigned long long)c->sent, (long long)now);
		int padlen = msg_bytes > 0 ? msg_bytes - 1 - len : pad;

		if (padlen < 1 || padlen > 255) {
			fprintf(stderr, "chat_bench: -L %d leaves %d bytes of "
			    "padding\n", msg_bytes, padlen);
			exit(2);
		}
		memcpy(p + len, pads[c->sent % 26], (size_t)padlen);
		p[len + padlen] = '\n';
		c->outlen += (size_t)(len + padlen + 1);
		c->sent++;
	}
}

/* Parses a decimal number; advances *p past it and one space. */
static int
parse_num(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9')
		x = x * 10 + (uint64_t)(*s++ - '0');
	if (s < end && *s == ' ')
		s++;
	*p = s;
	*v = x;
	return 0;
}

/* A message line "<NAME> M S SEQ NS PAD" arrived at client r. */
static void
on_message(struct client *r, const char *name, size_t namelen,
    const char *p, const char *end, int64_t now)
{
	uint64_t s, seq, ns;
	struct client *snd;

	const char *msg = p - 2;          /* "M " */
	size_t padlen;

	if (parse_num(&p, end, &s) || parse_num(&p, end, &seq) ||
	    parse_num(&p, end, &ns) || s >= (uint64_t)nsenders) {
		garbled++;
		return;
	}
	padlen = msg_bytes > 0 ? (size_t)msg_bytes - 1 - (size_t)(p - msg) :
	    (size_t)pad;
	if ((size_t)(end - p) != padlen || padlen > 255 ||
	    memcmp(p, pads[seq % 26], padlen) != 0) {
		garbled++;
		return;
	}
	snd = &clients[s];
	if (r->course && snd->namelen >= 2) {
		/* A course client sees the name without its brackets. */
		if (namelen != snd->namelen - 2 ||
		    memcmp(name, snd->name + 1, namelen) != 0) {
			garbled++;
			return;
		}
		name = snd->name;
		namelen = snd->namelen;
	}
	if (namelen != snd->namelen || memcmp(name, snd->name, namelen) != 0 ||
	    snd == r || seq < r->next[s] || seq >= snd->sent) {
		garbled++;
		return;
	}
	r->next[s] = seq + 1;   /* a gap shows at the end as lost */
	snd->delivered++;
	deliveries_total++;
	last_ns = now;
	if (deliveries_total == mark10)
		t10_ns = now;
	if (deliveries_total == mark90)
		t90_ns = now;
	if (now >= t0 && now < t1) {
		counted++;
		hist_add(&lat, now - (int64_t)ns);
	}
}

/* Learns the client's own name from its login answer. */
static void
on_login_line(struct client *c, const char *line, size_t len)
{
	const char *lt, *gt;

	if (c->course) {
		if (len >= 4 && memcmp(line, "/ok ", 4) == 0)
			c->logged = 1;
		else
			client_lost(c, "login refused");
		return;
	}
	if (peer == PEER_MULTID) {
		char want[64];
		int n = snprintf(want, sizeof(want), "* hello b%d", c->idx);

		if (len >= (size_t)n && memcmp(line, want, (size_t)n) == 0)
			c->logged = 1;
		else if (len >= 2 && line[0] == '!' && line[1] == ' ')
			client_lost(c, "nickname refused");
		return;
	}
	/* "<announce> 127.0.0.1 is connected as <user5>." */
	if (len < 10 || memcmp(line, "<announce>", 10) != 0 ||
	    (lt = memmem(line, len, "connected as <", 14)) == NULL)
		return;
	lt += 13;
	if ((gt = memchr(lt, '>', (size_t)(line + len - lt))) == NULL ||
	    (size_t)(gt - lt) + 1 >= NAME_MAX_)
		return;
	c->namelen = (size_t)(gt - lt) + 1;
	memcpy(c->name, lt, c->namelen);
	c->logged = 1;
}

static void
on_line(struct client *c, const char *line, size_t len, int64_t now)
{
	const char *gt;

	if (len > 0 && line[len - 1] == '\r' && !c->course)
		len--;
	if (!c->logged) {
		on_login_line(c, line, len);
		return;
	}
	if (c->course) {
		/* "NAME:M ..." */
		const char *colon = memchr(line, ':', len);

		if (colon == NULL || colon + 3 > line + len || colon[1] != 'M' ||
		    colon[2] != ' ') {
			garbled++;
			return;
		}
		on_message(c, line, (size_t)(colon - line), colon + 3, line + len,
		    now);
		return;
	}
	if (len == 0 || (len >= 2 && line[0] == '*' && line[1] == ' ') ||
	    (len >= 10 && memcmp(line, "<announce>", 10) == 0))
		return;   /* notices: joins, leaves */
	/* ncat prefixes each chunk it forwards, not each line: a bare line
	 * comes from the sender named by the last prefix. */
	if (peer == PEER_NCAT && len >= 2 && line[0] == 'M' && line[1] == ' ' &&
	    c->fromlen > 0) {
		on_message(c, c->from, c->fromlen, line + 2, line + len, now);
		return;
	}
	if (line[0] != '<' || (gt = memchr(line, '>', len)) == NULL ||
	    gt + 4 > line + len || gt[1] != ' ' || gt[2] != 'M' ||
	    gt[3] != ' ' || (size_t)(gt - line) + 1 >= NAME_MAX_) {
		garbled++;
		return;
	}
	c->fromlen = (size_t)(gt - line) + 1;
	memcpy(c->from, line, c->fromlen);
	on_message(c, line, c->fromlen, gt + 4, line + len, now);
}

static void
read_client(struct client *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, IN_MAX - c->inlen);
	int64_t now = bench_now_ns();
	char *p, *end, *nl;

	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		client_lost(c, n == 0 ? "closed by the server" : strerror(errno));
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	p = c->in;
	end = c->in + c->inlen;
	while ((nl = memchr(p, c->course ? '\0' : '\n',
	    (size_t)(end - p))) != NULL) {
		on_line(c, p, (size_t)(nl - p), now);
		p = nl + 1;
	}
	c->inlen = (size_t)(end - p);
	if (c->inlen == IN_MAX) {
		garbled++;       /* a line longer than the buffer */
		c->inlen = 0;
	} else if (p != c->in) {
		memmove(c->in, p, c->inlen);
	}
}

static void
poll_once(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(ep, evs, 256, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct client *c = evs[i].data.ptr;

		if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			read_client(c);
		if (c->fd >= 0 && (evs[i].events & EPOLLOUT))
			flush_out(c);
	}
}

static void
connect_all(const struct sockaddr_storage *ss, socklen_t sl,
    const struct sockaddr_storage *css, socklen_t csl)
{
	int64_t deadline;
	int logged;

	for (int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];
		int course = i >= nclients - ncourse;
		const struct sockaddr_storage *to = course ? css : ss;
		int fd = socket(to->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

		if (fd < 0 || connect(fd, (const struct sockaddr *)to,
		    course ? csl : sl) != 0)
			bench_die("chat_bench: connect");
		c->course = course;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		c->fd = fd;
		c->idx = i;
		c->next = calloc((size_t)nsenders, sizeof(*c->next));
		c->out = malloc(OUT_MAX);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		if (peer == PEER_MULTID) {
			c->namelen = (size_t)snprintf(c->name, NAME_MAX_, "<b%d>", i);
			/* The server greets by the name without brackets. */
			char line[40];
			int n = course ?
			    snprintf(line, sizeof(line), "/login b%d", i) + 1 :
			    snprintf(line, sizeof(line), "b%d\n", i);
			queue_text(c, line, (size_t)n);
			flush_out(c);
		}
		/* Let each login finish before the next, as people arrive. */
		deadline = bench_now_ns() + 2000000000LL;
		while (!c->logged && c->fd >= 0 && bench_now_ns() < deadline)
			poll_once(5);
	}
	logged = 0;
	for (int i = 0; i < nclients; i++)
		logged += clients[i].logged && clients[i].fd >= 0;
	if (logged != nclients) {
		fprintf(stderr, "chat_bench: only %d of %d clients logged in\n",
		    logged, nclients);
		exit(1);
	}
	/* Let the join notices settle. */
	deadline = bench_now_ns() + 300000000LL;
	while (bench_now_ns() < deadline)
		poll_once(10);
}

/* Paced: sends what the schedule says is due by now. */
static void
send_paced(int64_t start, int64_t now)
{
	double per = rate / nsenders;
	double elapsed = (double)(now - start) / 1e9;

	for (int i = 0; i < nsenders; i++) {
		struct client *c = &clients[i];
		uint64_t due = (uint64_t)(elapsed * per) + 1;

		if (c->fd < 0 || due <= c->sent)
			continue;
		queue_messages(c, due - c->sent);
		flush_out(c);
	}
}

/* Unpaced: tops every sender's window up once a quarter of it is free. */
static void
send_window(void)
{
	uint64_t receivers = (uint64_t)nclients - 1;

	for (int i = 0; i < nsenders; i++) {
		struct client *c = &clients[i];
		uint64_t inflight = c->sent - c->delivered / receivers;

		if (c->fd < 0)
			continue;
		if (window == 0) {
			if (c->outlen == 0)
				queue_messages(c, UINT64_MAX);
			flush_out(c);
			continue;
		}
		if (inflight > window - window / 4)
			continue;
		queue_messages(c, window - inflight);
		flush_out(c);
	}
}

static uint64_t
deliveries_expected(void)
{
	uint64_t sum = 0;

	for (int i = 0; i < nsenders; i++)
		sum += clients[i].sent * (uint64_t)(nclients - 1);
	return sum;
}

/* CPU seconds (user + system) of process pid so far, or -1. */
static double
proc_cpu_s(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Timed: the senders send for warmup + secs, then everything drains. */
static void
run_timed(double secs, double warmup)
{
	int64_t start = bench_now_ns(), deadline;

	t0 = start + (int64_t)(warmup * 1e9);
	t1 = t0 + (int64_t)(secs * 1e9);
	for (int64_t now = start; now < t1; now = bench_now_ns()) {
		if (rate > 0)
			send_paced(start, now);
		else
			send_window();
		poll_once(1);
	}
	deadline = bench_now_ns() + DRAIN_NS;
	while (deliveries_total < deliveries_expected() &&
	    bench_now_ns() < deadline) {
		for (int i = 0; i < nsenders; i++)
			if (clients[i].fd >= 0 && clients[i].outlen > 0)
				flush_out(&clients[i]);
		poll_once(5);
	}
}

/* -N: count messages in all, every delivery counted; returns the seconds
 * from the first message sent to the last delivery. */
static double
run_count(void)
{
	uint64_t want = count * (uint64_t)(nclients - 1);
	int64_t deadline = bench_now_ns() + 60 * 1000000000LL;

	for (int i = 0; i < nsenders; i++)
		clients[i].quota = count / (uint64_t)nsenders +
		    ((uint64_t)i < count % (uint64_t)nsenders);
	t0 = 0;
	t1 = INT64_MAX;
	mark10 = want / 10;
	mark90 = want - want / 10;
	while (deliveries_total < want && bench_now_ns() < deadline) {
		send_window();
		poll_once(1);
	}
	return last_ns > first_ns ? (double)(last_ns - first_ns) / 1e9 : 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss, css;
	socklen_t sl = 0, csl = 0;
	double secs = 5, warmup = 1, wall, cpu0, srv0 = -1;
	long server_pid = 0;
	int opt, have = 0, have_course = 0;

	while ((opt = getopt(argc, argv, "a:p:n:S:r:t:w:W:l:N:L:C:A:P:")) != -1) {
		switch (opt) {
		case 'a': have = bench_parse_addr(optarg, &ss, &sl) == 0; break;
		case 'p': peer = strcmp(optarg, "ncat") == 0 ? PEER_NCAT : PEER_MULTID;
			break;
		case 'n': nclients = atoi(optarg); break;
		case 'S': nsenders = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'W': window = (uint64_t)atol(optarg); break;
		case 'l': pad = atoi(optarg); break;
		case 'N': count = (uint64_t)atoll(optarg); break;
		case 'L': msg_bytes = atoi(optarg); break;
		case 'C': ncourse = atoi(optarg); break;
		case 'A':
			have_course = bench_parse_addr(optarg, &css, &csl) == 0;
			break;
		case 'P': server_pid = atol(optarg); break;
		default: have = 0; optind = argc; break;
		}
	}
	if (!have || nclients < 2 || nsenders < 1 || nsenders > nclients ||
	    pad < 1 || pad > 255 || (window < 4 && (window != 0 || count == 0)) ||
	    secs <= 0 || (msg_bytes != 0 && (msg_bytes < 32 || msg_bytes > 280)) ||
	    ncourse < 0 || ncourse > nclients - nsenders ||
	    (ncourse > 0 && (!have_course || peer != PEER_MULTID))) {
		fprintf(stderr, "usage: chat_bench -a HOST:PORT [-p multid|ncat] "
		    "[-n CLIENTS] [-S SENDERS] [-r RATE] [-t SECONDS] [-w WARMUP] "
		    "[-W WINDOW] [-l PAD] [-N COUNT] [-L BYTES] "
		    "[-C COURSE -A HOST:PORT] [-P PID]\n");
		return 2;
	}
	for (int i = 0; i < 26; i++)
		memset(pads[i], 'a' + i, 255);
	bench_raise_nofile();
	if ((clients = calloc((size_t)nclients, sizeof(*clients))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("chat_bench: setup");
	connect_all(&ss, sl, &css, csl);

	cpu0 = self_cpu_s();
	if (server_pid > 0)
		srv0 = proc_cpu_s(server_pid);
	if (count > 0) {
		wall = run_count();
		secs = wall > 0 ? wall : 1;
	} else {
		run_timed(secs, warmup);
		wall = secs;
	}
	double cpu = self_cpu_s() - cpu0;
	double srv = srv0 >= 0 ? proc_cpu_s(server_pid) - srv0 : -1;
	uint64_t sent = 0;
	for (int i = 0; i < nsenders; i++)
		sent += clients[i].sent;
	uint64_t expected = deliveries_expected();
	uint64_t lost = expected > deliveries_total ? expected - deliveries_total : 0;

	/* -N: the rate between 10 % and 90 % of the deliveries, without the
	 * start and the end of the run. */
	double mid = t90_ns > t10_ns ? (double)(mark90 - mark10) /
	    ((double)(t90_ns - t10_ns) / 1e9) : 0;

	printf("deliveries_s=%.0f msgs_s=%.0f p50_us=%.1f p99_us=%.1f "
	    "lost=%llu garbled=%llu errors=%llu sent=%llu wall_s=%.3f "
	    "bench_cpu_s=%.3f server_cpu_s=%.3f mid_deliveries_s=%.0f "
	    "first10_s=%.3f last10_s=%.3f\n",
	    (double)counted / secs, (double)counted / secs / (nclients - 1),
	    (double)hist_quantile(&lat, 0.5) / 1e3,
	    (double)hist_quantile(&lat, 0.99) / 1e3, (unsigned long long)lost,
	    (unsigned long long)garbled, (unsigned long long)errors,
	    (unsigned long long)sent, wall, cpu, srv, mid,
	    t10_ns > first_ns ? (double)(t10_ns - first_ns) / 1e9 : 0,
	    last_ns > t90_ns && t90_ns > 0 ? (double)(last_ns - t90_ns) / 1e9 : 0);
	for (int i = 0; i < nclients; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	return 0;
}
