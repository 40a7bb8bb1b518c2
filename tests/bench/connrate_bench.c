/*
 * connrate_bench.c - connection rate of a one-shot TCP service.
 *
 *   connrate_bench -a HOST:PORT -m daytime|time|http [-P PATH] [-c CONC]
 *                  [-t SECONDS] [-w WARMUP]
 *
 * CONC connections are kept going at once; each connects, (http: sends
 * "GET PATH HTTP/1.0"), reads to EOF, checks the answer and closes, and a
 * new one takes its place.  Answers are checked: daytime one printable
 * line ending in LF with a time in it; time four bytes within 5 s of the
 * clock; http a 200 status whose body length equals Content-Length.
 *
 * Output, one line:  conn_s=... p50_us=... p99_us=... errors=... total=...
 * (total: good connections, the warm-up's included).
 */
#include <ctype.h>
#include <strings.h>
#include <sys/epoll.h>

#include "bench.h"

#define ANSWER_MAX (64 * 1024)   /* bytes of one answer kept */

enum mode { MODE_DAYTIME, MODE_TIME, MODE_HTTP };

struct slot {
	int      fd;                 /* the connection, -1 between them */
	int      sent;               /* the request went out (http) */
	int64_t  start;              /* ns when connect started */
	size_t   len;                /* bytes of answer so far */
	char     buf[ANSWER_MAX];    /* the answer */
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static enum mode mode = MODE_DAYTIME;
static char request[512];
static size_t reqlen;
static struct hist lat;
static uint64_t done, errors, last_errno_count;
static uint64_t total;              /* good ones, warm-up included */

static int
check_daytime(const char *p, size_t len)
{
	int digits = 0, colon = 0;

	if (len < 8 || len > 200 || p[len - 1] != '\n')
		return -1;
	for (size_t i = 0; i + 1 < len; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\r' && i + 2 == len)
			continue;
		if (ch < 32 || ch > 126)
			return -1;
		digits += isdigit(ch) != 0;
		colon += ch == ':';
	}
	return digits >= 4 && colon >= 1 ? 0 : -1;
}

static int
check_time(const unsigned char *p, size_t len)
{
	uint32_t v, now = (uint32_t)((uint64_t)time(NULL) + 2208988800u);
	int32_t diff;

	if (len != 4)
		return -1;
	v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	diff = (int32_t)(v - now);
	return diff >= -5 && diff <= 5 ? 0 : -1;
}

static int
check_http(char *p, size_t len)
{
	char *end, *cl;
	size_t head;

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || memcmp(p + 8, " 200", 4))
		return -1;
	p[len < ANSWER_MAX ? len : ANSWER_MAX - 1] = '\0';
	if ((end = strstr(p, "\r\n\r\n")) == NULL)
		return -1;
	head = (size_t)(end - p) + 4;
	*end = '\0';
	if ((cl = strcasestr(p, "\r\ncontent-length:")) == NULL)
		return -1;
	return strtoul(cl + 17, NULL, 10) == len - head ? 0 : -1;
}

static int
check_answer(struct slot *s)
{
	switch (mode) {
	case MODE_DAYTIME: return check_daytime(s->buf, s->len);
	case MODE_TIME: return check_time((unsigned char *)s->buf, s->len);
	case MODE_HTTP: return check_http(s->buf, s->len);
	}
	return -1;
}

/* Starts the slot's next connection. */
static void
slot_start(int ep, struct slot *s)
{
	struct epoll_event ev = { .data.ptr = s };

	s->len = 0;
	s->sent = 0;
	s->start = bench_now_ns();
	if ((s->fd = bench_tcp_connect(&addr, addrlen)) < 0) {
		errors++;
		last_errno_count++;
		return;
	}
	ev.events = EPOLLIN | (mode == MODE_HTTP ? EPOLLOUT : 0);
	epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void
slot_finish(int ep, struct slot *s, int ok, int64_t t0, int64_t t1)
{
	int64_t now = bench_now_ns();

	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	total += ok != 0;
	if (now >= t0 && now < t1) {
		if (ok) {
			done++;
			hist_add(&lat, now - s->start);
		} else {
			errors++;
		}
	}
	if (now < t1)
		slot_start(ep, s);
}

static void
slot_event(int ep, struct slot *s, uint32_t events, int64_t t0, int64_t t1)
{
	if (mode == MODE_HTTP && !s->sent && (events & EPOLLOUT)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

		if (write(s->fd, request, reqlen) != (ssize_t)reqlen) {
			slot_finish(ep, s, 0, t0, t1);
			return;
		}
		s->sent = 1;
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->len, ANSWER_MAX - 1 - s->len);

		if (n > 0) {
			s->len += (size_t)n;
			if (s->len < ANSWER_MAX - 1)
				continue;
			slot_finish(ep, s, 0, t0, t1);   /* too long */
			return;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		slot_finish(ep, s, n == 0 && check_answer(s) == 0, t0, t1);
		return;
	}
}

int
main(int argc, char **argv)
{
	const char *path = "/", *m = "daytime";
	int conc = 10, opt, have = 0, ep;
	double secs = 5, warmup = 1;
	struct slot *slots;

	while ((opt = getopt(argc, argv, "a:m:P:c:t:w:")) != -1) {
		switch (opt) {
		case 'a':
			have = bench_parse_addr(optarg, &addr, &addrlen) == 0;
			break;
		case 'm': m = optarg; break;
		case 'P': path = optarg; break;
		case 'c': conc = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		default: have = 0; optind = argc; break;
		}
	}
	if (strcmp(m, "daytime") == 0)
		mode = MODE_DAYTIME;
	else if (strcmp(m, "time") == 0)
		mode = MODE_TIME;
	else if (strcmp(m, "http") == 0)
		mode = MODE_HTTP;
	else
		have = 0;
	if (!have || conc < 1 || secs <= 0) {
		fprintf(stderr, "usage: connrate_bench -a HOST:PORT "
		    "-m daytime|time|http [-P PATH] [-c CONC] [-t SECONDS] "
		    "[-w WARMUP]\n");
		return 2;
	}
	reqlen = (size_t)snprintf(request, sizeof(request),
	    "GET %s HTTP/1.0\r\nHost: bench\r\nUser-Agent: connrate_bench\r\n\r\n",
	    path);
	bench_raise_nofile();
	if ((slots = calloc((size_t)conc, sizeof(*slots))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("connrate_bench: setup");
	int64_t t0 = bench_now_ns() + (int64_t)(warmup * 1e9);
	int64_t t1 = t0 + (int64_t)(secs * 1e9);

	for (int i = 0; i < conc; i++)
		slot_start(ep, &slots[i]);
	while (bench_now_ns() < t1) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, 10);

		for (int i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;

			if (s->fd >= 0)
				slot_event(ep, s, evs[i].events, t0, t1);
		}
		/* A slot whose connect failed at once tries again. */
		for (int i = 0; i < conc && bench_now_ns() < t1; i++)
			if (slots[i].fd < 0)
				slot_start(ep, &slots[i]);
	}
	for (int i = 0; i < conc; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	printf("conn_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu total=%llu\n",
	    (double)done / secs, (double)hist_quantile(&lat, 0.5) / 1e3,
	    (double)hist_quantile(&lat, 0.99) / 1e3, (unsigned long long)errors,
	    (unsigned long long)total);
	if (errors)
		fprintf(stderr, "connrate_bench: %llu failed connections "
		    "(%llu could not start)\n", (unsigned long long)errors,
		    (unsigned long long)last_errno_count);
	return 0;
}
