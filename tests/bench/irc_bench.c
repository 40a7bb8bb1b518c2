/*
 * irc_bench.c - IRC load: one channel's fan-out, or many idle clients,
 * against multid's chat (protocol = "irc") or ngIRCd.
 *
 *   irc_bench -a HOST:PORT [-n CLIENTS] [-S SENDERS] [-r RATE] [-t SECONDS]
 *             [-W WINDOW] [-i] [-P PID]
 *
 * CLIENTS connect and register (NICK bPIDxN, USER, wait for 001), join
 * #bench and wait for its 366; PINGs are answered.  The first SENDERS
 * then send
 *
 *     PRIVMSG #bench :M SENDER SEQ SEND_NS
 *
 * and every other client receives it with the sender's prefix.  A
 * receiver checks that SEQ is the next one from that sender (a gap is
 * loss); the latency is receive time minus SEND_NS (one clock).
 *
 * Paced (-r RATE > 0): RATE messages a second in all, spread over the
 * senders on a 1 ms tick, whatever the server does (open loop).
 * Unpaced (-r 0): each sender keeps at most WINDOW messages that have not
 * reached every receiver yet (closed loop).  After SECONDS the senders
 * stop and the clients read until every message arrived, 3 s at most.
 *
 * Idle (-i): CLIENTS register and stay, joining nothing; with -P PID the
 * server's resident memory is read once they are all registered.
 *
 * Output, one line:
 *   deliveries_s=... msgs_s=... p50_us=... p99_us=... lost=... sent=...
 *   errors=... cpu_ns_per_delivery=...   (fan-out; the last with -P PID:
 *   the server's CPU time, user and system, over the deliveries)
 *   clients=... rss_kb=... registered_s=...   (idle)
 */
#include <poll.h>
#include <stdarg.h>
#include <sys/epoll.h>

#include "bench.h"

#define IN_MAX    131072              /* input buffer per client: big reads keep
                                         the generator's own cost down */
#define DRAIN_NS  3000000000LL        /* time allowed for the last deliveries */

struct client {
	int      fd;                  /* the socket */
	int      id;                  /* index, the N of its nick bN */
	int      state;               /* 0 registering, 1 joining, 2 in */
	char     in[IN_MAX];          /* input not yet a whole line */
	size_t   len;                 /* bytes in it */
	uint64_t seq;                 /* sender: next SEQ */
};

static struct client *clients;
static int nclients = 100, nsenders = 10, idle, epfd;
static long rate = 10000, window = 64;
static double seconds = 5;
static uint64_t *next_seq;            /* [receiver * nsenders + sender] */
static uint64_t *delivered;           /* per sender: deliveries so far */
static uint64_t deliveries, lost, errors, ready;
static struct hist lat;

static void
client_send(struct client *c, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, text, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

			/* Rare: the kernel's buffer is full. */
			if (poll(&pfd, 1, 1000) <= 0) {
				errors++;
				return;
			}
			continue;
		}
		if (n <= 0) {
			errors++;
			return;
		}
		text += n;
		len -= (size_t)n;
	}
}

static void
client_printf(struct client *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	client_send(c, buf, (size_t)n);
}

/* One message from a sender, seen by client c. */
static void
on_privmsg(struct client *c, const char *text, int64_t now)
{
	long long s, seq, ns;
	uint64_t *want;
	char *end;

	/* strtoll, not sscanf: a million of these a second is the load. */
	if (text[0] != 'M' || text[1] != ' ' ||
	    (s = strtoll(text + 2, &end, 10)) < 0 || s >= nsenders ||
	    *end != ' ' || (seq = strtoll(end + 1, &end, 10)) < 0 ||
	    *end != ' ' || (ns = strtoll(end + 1, &end, 10)) <= 0) {
		errors++;
		return;
	}
	want = &next_seq[(size_t)c->id * (size_t)nsenders + (size_t)s];
	if ((uint64_t)seq > *want)
		lost += (uint64_t)seq - *want;
	*want = (uint64_t)seq + 1;
	deliveries++;
	delivered[s]++;
	hist_add(&lat, now - ns);
}

static void
on_line(struct client *c, char *line, int64_t now)
{
	char *cmd = line, *p;

	if (strncmp(line, "PING ", 5) == 0) {
		line[1] = 'O';
		client_printf(c, "%s\r\n", line);
		return;
	}
	if (line[0] == ':' && (cmd = strchr(line, ' ')) != NULL)
		cmd++;
	else
		cmd = line;
	if (strncmp(cmd, "PRIVMSG ", 8) == 0 && (p = strstr(cmd, " :")) != NULL) {
		on_privmsg(c, p + 2, now);
	} else if (c->state == 0 && strncmp(cmd, "001 ", 4) == 0) {
		c->state = 1;
		if (idle) {
			c->state = 2;
			ready++;
		} else {
			client_printf(c, "JOIN #bench\r\n");
		}
	} else if (c->state == 1 && strncmp(cmd, "366 ", 4) == 0) {
		c->state = 2;
		ready++;
	} else if (strncmp(cmd, "ERROR", 5) == 0 || (cmd[0] == '4' &&
	    cmd[3] == ' ' && strncmp(cmd, "422 ", 4) != 0)) {
		fprintf(stderr, "b%d: %s\n", c->id, line);
		errors++;
	}
}

static void
on_readable(struct client *c, int64_t now)
{
	for (;;) {
		size_t room = IN_MAX - c->len;
		ssize_t n = recv(c->fd, c->in + c->len, room, 0);
		char *start = c->in, *lf;

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			errors++;
			epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
			return;
		}
		c->len += (size_t)n;
		while ((lf = memchr(start, '\n', c->len - (size_t)(start - c->in)))) {
			*lf = '\0';
			if (lf > start && lf[-1] == '\r')
				lf[-1] = '\0';
			on_line(c, start, now);
			start = lf + 1;
		}
		c->len -= (size_t)(start - c->in);
		memmove(c->in, start, c->len);
		if (c->len == IN_MAX)
			c->len = 0;           /* a line too long to be ours */
		/* Level-triggered: a short read drained the socket, and one
		 * more recv just to hear EAGAIN is a syscall per event. */
		if ((size_t)n < room)
			return;
	}
}

/* Reads whatever is ready, for at most timeout_ms. */
static void
poll_once(int timeout_ms)
{
	struct epoll_event ev[256];
	int n = epoll_wait(epfd, ev, 256, timeout_ms);
	int64_t now = bench_now_ns();

	for (int i = 0; i < n; i++)
		on_readable(&clients[ev[i].data.u32], now);
}

static void
connect_all(const struct sockaddr_storage *ss, socklen_t sl)
{
	for (int i = 0; i < nclients; i++) {
		struct client *c = &clients[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		struct pollfd pfd = { .events = POLLOUT };

		c->id = i;
		if ((c->fd = bench_tcp_connect(ss, sl)) < 0)
			bench_die("connect");
		epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
		/* The connection is made before anything is written to it. */
		pfd.fd = c->fd;
		if (poll(&pfd, 1, 5000) != 1)
			bench_die("connect");
		client_printf(c, "NICK b%dx%d\r\nUSER b%d 0 * :bench\r\n",
		    (int)(getpid() % 10000), i, i);
		if (i % 100 == 99)
			poll_once(0);
	}
}

static long
rss_kb(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The CPU time the process has used, user and system, in ns; -1 when
 * it cannot be read. */
static int64_t
cpu_ns(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the command's closing paren. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return -1;
	return (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)
	    sysconf(_SC_CLK_TCK)));
}

/* Sends what the senders owe: paced by the clock, or within the window. */
static uint64_t
send_due(int64_t start, int64_t now)
{
	static char out[16384];
	uint64_t sent = 0;

	for (int s = 0; s < nsenders; s++) {
		struct client *c = &clients[s];
		uint64_t due;

		if (rate > 0)
			due = (uint64_t)((double)(now - start) / 1e9 * (double)rate /
			    nsenders);
		else
			due = delivered[s] / (uint64_t)(nclients - 1) +
			    (uint64_t)window;
		/* One send per sender and round: a syscall per message would
		 * make the generator, not the server, the bound. */
		size_t len = 0;
		int64_t ns = bench_now_ns();

		while (c->seq < due && len + 128 <= sizeof(out)) {
			len += (size_t)snprintf(out + len, sizeof(out) - len,
			    "PRIVMSG #bench :M %d %llu %lld\r\n", s,
			    (unsigned long long)c->seq, (long long)ns);
			c->seq++;
			sent++;
		}
		if (len > 0)
			client_send(c, out, len);
	}
	return sent;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *addr = NULL;
	long pid = 0;
	int64_t t0, start, end, cpu0, cpu1;
	uint64_t sent = 0, expected;
	int opt;

	while ((opt = getopt(argc, argv, "a:n:S:r:t:W:iP:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'n': nclients = atoi(optarg); break;
		case 'S': nsenders = atoi(optarg); break;
		case 'r': rate = atol(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 'W': window = atol(optarg); break;
		case 'i': idle = 1; break;
		case 'P': pid = atol(optarg); break;
		default:
			fprintf(stderr, "usage: irc_bench -a HOST:PORT [-n CLIENTS] "
			    "[-S SENDERS] [-r RATE] [-t SECONDS] [-W WINDOW] [-i] "
			    "[-P PID]\n");
			return 2;
		}
	}
	if (addr == NULL || bench_parse_addr(addr, &ss, &sl) != 0 ||
	    nclients < 2 || nsenders < 1 || nsenders >= nclients) {
		fprintf(stderr, "irc_bench: bad arguments\n");
		return 2;
	}
	bench_raise_nofile();
	clients = calloc((size_t)nclients, sizeof(*clients));
	next_seq = calloc((size_t)nclients * (size_t)nsenders, sizeof(*next_seq));
	delivered = calloc((size_t)nsenders, sizeof(*delivered));
	if (clients == NULL || next_seq == NULL || delivered == NULL ||
	    (epfd = epoll_create1(0)) < 0)
		bench_die("set-up");
	t0 = bench_now_ns();
	connect_all(&ss, sl);
	while (ready < (uint64_t)nclients && bench_now_ns() - t0 < 120000000000LL)
		poll_once(10);
	if (ready < (uint64_t)nclients) {
		fprintf(stderr, "irc_bench: only %llu of %d clients ready\n",
		    (unsigned long long)ready, nclients);
		return 1;
	}
	if (idle) {
		printf("clients=%d rss_kb=%ld registered_s=%.2f errors=%llu\n",
		    nclients, pid > 0 ? rss_kb(pid) : -1,
		    (double)(bench_now_ns() - t0) / 1e9,
		    (unsigned long long)errors);
		return errors != 0;
	}
	cpu0 = pid > 0 ? cpu_ns(pid) : -1;
	start = bench_now_ns();
	end = start + (int64_t)(seconds * 1e9);
	for (int64_t now = start; now < end; now = bench_now_ns()) {
		sent += send_due(start, now);
		poll_once(1);         /* returns as soon as anything is ready */
	}
	expected = sent * (uint64_t)(nclients - 1);
	for (int64_t stop = bench_now_ns() + DRAIN_NS;
	    deliveries + lost < expected && bench_now_ns() < stop;)
		poll_once(10);
	lost = expected > deliveries ? expected - deliveries : 0;
	end = bench_now_ns();
	cpu1 = cpu0 >= 0 ? cpu_ns(pid) : -1;
	printf("deliveries_s=%.0f msgs_s=%.0f p50_us=%.0f p99_us=%.0f lost=%llu "
	    "sent=%llu errors=%llu cpu_ns_per_delivery=%.1f\n",
	    (double)deliveries / ((double)(end - start) / 1e9),
	    (double)sent / seconds,
	    (double)hist_quantile(&lat, 0.50) / 1e3,
	    (double)hist_quantile(&lat, 0.99) / 1e3,
	    (unsigned long long)lost, (unsigned long long)sent,
	    (unsigned long long)errors,
	    cpu1 >= 0 && deliveries > 0 ?
	    (double)(cpu1 - cpu0) / (double)deliveries : -1.0);
	return 0;
}
