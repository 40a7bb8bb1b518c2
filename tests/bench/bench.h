/*
 * bench.h - small helpers shared by the load generators: clocks, a
 * log-linear latency histogram, address parsing and socket set-up.
 *
 * Every generator prints its result as one line of KEY=VALUE pairs on
 * stdout, so that run.sh can pick figures out with a pattern; errors and
 * progress go to stderr.
 */
#ifndef MULTID_BENCH_H
#define MULTID_BENCH_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Nanoseconds on the monotonic clock. */
static inline int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void
bench_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(2);
}

/*
 * Latency histogram: values in nanoseconds, 32 linear sub-buckets per
 * power of two, so every percentile is within about 3 % of the truth
 * (the scheme of HdrHistogram, much reduced).
 */
#define HIST_SUB   32
#define HIST_SLOTS (64 * HIST_SUB)

struct hist {
	uint64_t count[HIST_SLOTS];   /* samples per bucket */
	uint64_t total;               /* samples in all */
};

static inline unsigned
hist_slot(uint64_t v)
{
	unsigned msb, shift;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - 5;
	return (msb - 4) * HIST_SUB + (unsigned)((v >> shift) & (HIST_SUB - 1));
}

/* The lowest value of a bucket's range. */
static inline uint64_t
hist_value(unsigned slot)
{
	unsigned major = slot / HIST_SUB, sub = slot % HIST_SUB;

	if (major == 0)
		return sub;
	return (uint64_t)(HIST_SUB + sub) << (major - 1);
}

static inline void
hist_add(struct hist *h, int64_t v)
{
	h->count[hist_slot(v < 0 ? 0 : (uint64_t)v)]++;
	h->total++;
}

static inline void
hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_SLOTS; i++)
		into->count[i] += from->count[i];
	into->total += from->total;
}

/* The value at quantile q (0..1), or 0 without samples. */
static inline uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->total), seen = 0;

	if (h->total == 0)
		return 0;
	if (want >= h->total)
		want = h->total - 1;
	for (unsigned i = 0; i < HIST_SLOTS; i++) {
		seen += h->count[i];
		if (seen > want)
			return hist_value(i);
	}
	return hist_value(HIST_SLOTS - 1);
}

/* Parses "HOST:PORT" (IPv4, or [IPv6]:PORT) into ss. */
static inline int
bench_parse_addr(const char *text, struct sockaddr_storage *ss,
    socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(text, ':');
	size_t hl;

	if (colon == NULL || (hl = (size_t)(colon - text)) >= sizeof(host))
		return -1;
	memcpy(host, text, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(colon + 1));
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)atoi(colon + 1));
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

/* Starts a non-blocking TCP connect; returns the socket or -1. */
static inline int
bench_tcp_connect(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)ss, len) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Raises the open-files limit to its hard maximum. */
static inline void
bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

#endif
