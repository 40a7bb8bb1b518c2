/*
 * bank_bench.c - load generator for the bank service.
 *
 *   bank_bench HOST:PORT CLIENTS SECONDS [PREFIX]
 *   bank_bench --fsync-per-tx DIR SECONDS
 *
 * The first form opens CLIENTS connections from one epoll thread, gives
 * each its own account (PREFIXcN, opened or logged in to), then has every
 * client loop "DEPOSIT 1.00" for SECONDS, one command in flight each.
 * Every reply must be "OK BALANCE" with the balance one unit above the
 * last; at the end each client asks BALANCE, which must match what was
 * acknowledged.  It prints acknowledged transactions per second and the
 * latency percentiles of the acknowledgements.
 *
 * The second form measures what one fsync per transaction costs on the
 * disk holding DIR: it appends 8 KiB records (about the two WAL pages a
 * deposit writes) to a file with an fdatasync after each, for SECONDS.
 * That rate is the ceiling of any design that syncs once per transaction.
 *
 * Results are one line of KEY=VALUE pairs on stdout (bench.h); errors go
 * to stderr and make the exit status non-zero.
 */
#include <sys/epoll.h>

#include "bench.h"

#define LINE_MAX_BYTES  512           /* longest reply line kept */
#define DRAIN_NS        (5LL * 1000000000) /* wait for the last replies */
#define SECRET          "bench-secret"
#define RECORD_BYTES    8192          /* one fsync-per-tx record */

enum client_state {
	CL_OPENING,                   /* OPEN sent */
	CL_LOGGING_IN,                /* the account existed: LOGIN sent */
	CL_READY,                     /* logged in, waiting for the start */
	CL_DEPOSITING,                /* DEPOSIT in flight */
	CL_CHECKING,                  /* final BALANCE in flight */
	CL_DONE,                      /* checked */
};

struct client {
	int               fd;              /* the connection */
	enum client_state state;           /* see above */
	char              name[40];        /* its account */
	char              in[LINE_MAX_BYTES]; /* reply bytes not yet a line */
	size_t            len;             /* bytes in in */
	int64_t           balance;         /* cents, as last acknowledged */
	int64_t           sent_ns;         /* when the command in flight left */
	uint64_t          acked;           /* deposits acknowledged */
};

static struct hist latency;           /* acknowledgement latencies, ns */
static uint64_t    errors;            /* replies that were wrong */
static int64_t     deadline_ns;       /* no new deposits after this */

/* Parses "D.CC" (the bank always prints two decimals) into cents. */
static int
parse_cents(const char *s, int64_t *out)
{
	char *end;
	long long whole = strtoll(s, &end, 10);

	if (end == s || end[0] != '.' || end[1] < '0' || end[1] > '9' ||
	    end[2] < '0' || end[2] > '9' || end[3] != '\0')
		return -1;
	*out = whole * 100 + (end[1] - '0') * 10 + (end[2] - '0');
	return 0;
}

static void
client_send(struct client *c, const char *fmt, const char *arg)
{
	char line[128];
	int n = snprintf(line, sizeof(line), fmt, arg);

	c->sent_ns = bench_now_ns();
	/* One short command in flight: the socket buffer always has room. */
	if (write(c->fd, line, (size_t)n) != n)
		bench_die("write");
}

static void
client_fail(struct client *c, const char *line, const char *why)
{
	fprintf(stderr, "%s: %s: \"%s\"\n", c->name, why, line);
	errors++;
	c->state = CL_DONE;
}

static void
client_deposit(struct client *c)
{
	if (bench_now_ns() >= deadline_ns) {
		c->state = CL_CHECKING;
		client_send(c, "BALANCE\n", "");
		return;
	}
	c->state = CL_DEPOSITING;
	client_send(c, "DEPOSIT 1.00\n", "");
}

/* Handles one reply line of client c. */
static void
client_line(struct client *c, const char *line)
{
	int64_t cents;

	switch (c->state) {
	case CL_OPENING:
		if (strcmp(line, "ERR exists") == 0) {
			c->state = CL_LOGGING_IN;
			client_send(c, "LOGIN %s " SECRET "\n", c->name);
		} else if (strncmp(line, "OK opened ", 10) == 0) {
			c->balance = 0;
			c->state = CL_READY;
		} else {
			client_fail(c, line, "OPEN failed");
		}
		break;
	case CL_LOGGING_IN:
		if (strncmp(line, "OK balance ", 11) != 0 ||
		    parse_cents(line + 11, &c->balance) != 0)
			client_fail(c, line, "LOGIN failed");
		else
			c->state = CL_READY;
		break;
	case CL_DEPOSITING:
		if (strncmp(line, "OK ", 3) != 0 ||
		    parse_cents(line + 3, &cents) != 0 || cents != c->balance + 100) {
			client_fail(c, line, "wrong DEPOSIT reply");
			break;
		}
		hist_add(&latency, bench_now_ns() - c->sent_ns);
		c->balance = cents;
		c->acked++;
		client_deposit(c);
		break;
	case CL_CHECKING:
		if (strncmp(line, "OK ", 3) != 0 ||
		    parse_cents(line + 3, &cents) != 0 || cents != c->balance)
			client_fail(c, line, "BALANCE differs from the acknowledged");
		else
			c->state = CL_DONE;
		break;
	default:
		client_fail(c, line, "unexpected reply");
	}
}

/* Reads what arrived and handles each complete line. */
static void
client_read(struct client *c)
{
	ssize_t n = read(c->fd, c->in + c->len, sizeof(c->in) - 1 - c->len);
	char *start = c->in, *crlf;

	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fprintf(stderr, "%s: connection closed\n", c->name);
		errors++;
		c->state = CL_DONE;
		return;
	}
	c->len += (size_t)n;
	c->in[c->len] = '\0';
	while ((crlf = strstr(start, "\r\n")) != NULL) {
		*crlf = '\0';
		client_line(c, start);
		start = crlf + 2;
	}
	c->len -= (size_t)(start - c->in);
	memmove(c->in, start, c->len);
	if (c->len == sizeof(c->in) - 1) {
		client_fail(c, c->in, "reply line too long");
		c->len = 0;
	}
}

/* Runs the loop until every client is in state want (or done). */
static void
run_until(int ep, struct client *cl, int n, enum client_state want,
    int64_t limit_ns)
{
	struct epoll_event ev[64];

	for (;;) {
		int left = 0, k;

		for (int i = 0; i < n; i++)
			left += cl[i].state != want && cl[i].state != CL_DONE;
		if (left == 0)
			return;
		if (bench_now_ns() > limit_ns) {
			fprintf(stderr, "%d clients did not finish in time\n", left);
			errors += (uint64_t)left;
			return;
		}
		k = epoll_wait(ep, ev, 64, 100);
		for (int i = 0; i < k; i++)
			client_read(&cl[ev[i].data.u32]);
	}
}

static int
connect_all(int ep, struct client *cl, int n, const char *addr,
    const char *prefix)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (bench_parse_addr(addr, &ss, &sl) != 0) {
		fprintf(stderr, "bad address %s\n", addr);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) != 0)
			bench_die("connect");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		cl[i].fd = fd;
		snprintf(cl[i].name, sizeof(cl[i].name), "%sc%d", prefix, i);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0)
			bench_die("epoll_ctl");
		cl[i].state = CL_OPENING;
		client_send(&cl[i], "OPEN %s " SECRET "\n", cl[i].name);
	}
	return 0;
}

static int
bench_bank(const char *addr, int n, double seconds, const char *prefix)
{
	struct client *cl = calloc((size_t)n, sizeof(*cl));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int64_t t0, t1;
	uint64_t acked = 0;

	if (cl == NULL || ep < 0)
		bench_die("setup");
	bench_raise_nofile();
	if (connect_all(ep, cl, n, addr, prefix) != 0)
		return 2;
	run_until(ep, cl, n, CL_READY, bench_now_ns() + 60LL * 1000000000);
	if (errors > 0)
		return 1;
	t0 = bench_now_ns();
	deadline_ns = t0 + (int64_t)(seconds * 1e9);
	for (int i = 0; i < n; i++)
		client_deposit(&cl[i]);
	run_until(ep, cl, n, CL_CHECKING, deadline_ns + DRAIN_NS);
	t1 = bench_now_ns();
	run_until(ep, cl, n, CL_DONE, t1 + DRAIN_NS);
	for (int i = 0; i < n; i++) {
		acked += cl[i].acked;
		close(cl[i].fd);
	}
	printf("clients=%d seconds=%.2f acked=%llu tx_per_s=%.0f p50_ms=%.2f "
	    "p99_ms=%.2f max_ms=%.2f errors=%llu\n", n, (t1 - t0) / 1e9,
	    (unsigned long long)acked, acked / ((t1 - t0) / 1e9),
	    hist_quantile(&latency, 0.50) / 1e6,
	    hist_quantile(&latency, 0.99) / 1e6,
	    hist_quantile(&latency, 1.0) / 1e6, (unsigned long long)errors);
	free(cl);
	return errors == 0 ? 0 : 1;
}

/* One fsync per transaction: append a record, fdatasync, repeat. */
static int
bench_fsync(const char *dir, double seconds)
{
	char path[4096], record[RECORD_BYTES];
	int64_t t0, end, t1;
	uint64_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-per-tx.%d", dir, (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0600);
	if (fd < 0)
		bench_die(path);
	memset(record, 'x', sizeof(record));
	t0 = bench_now_ns();
	end = t0 + (int64_t)(seconds * 1e9);
	while (bench_now_ns() < end) {
		int64_t s = bench_now_ns();

		if (write(fd, record, sizeof(record)) != (ssize_t)sizeof(record) ||
		    fdatasync(fd) != 0)
			bench_die("write");
		hist_add(&latency, bench_now_ns() - s);
		n++;
	}
	t1 = bench_now_ns();
	close(fd);
	unlink(path);
	printf("mode=fsync-per-tx seconds=%.2f tx=%llu tx_per_s=%.0f "
	    "p50_ms=%.3f p99_ms=%.3f\n", (t1 - t0) / 1e9,
	    (unsigned long long)n, n / ((t1 - t0) / 1e9),
	    hist_quantile(&latency, 0.50) / 1e6,
	    hist_quantile(&latency, 0.99) / 1e6);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--fsync-per-tx") == 0)
		return bench_fsync(argv[2], atof(argv[3]));
	if (argc == 4 || argc == 5) {
		int n = atoi(argv[2]);
		double s = atof(argv[3]);

		if (n >= 1 && n <= 10000 && s > 0 && s <= 600)
			return bench_bank(argv[1], n, s, argc == 5 ? argv[4] : "b");
	}
	fprintf(stderr, "usage: bank_bench HOST:PORT CLIENTS SECONDS [PREFIX]\n"
	    "       bank_bench --fsync-per-tx DIR SECONDS\n");
	return 2;
}
