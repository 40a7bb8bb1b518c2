/*
 * tftp_bench.c - TFTP reads as fast as one thread can take them, for
 * tests/bench/tftp.sh: N concurrent RRQs of one file, with blksize and
 * windowsize (RFC 7440: one ACK per window), each checked byte for byte
 * against the local copy of the file.
 *
 *   tftp_bench HOST:PORT NAME LOCALFILE BLKSIZE WINDOW CONCURRENCY
 *
 * Prints one line: "bytes=B secs=S mb_per_s=R ok=N corrupted=C failed=F".
 * A transfer that sees no packet for 1 s acknowledges its last block
 * again, and fails after 5 such timeouts.  Options the server leaves out
 * of its OACK (or no OACK at all) fall back to the RFC 1350 defaults.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_XFERS  256
#define PKT_MAX    65536
#define TIMEOUT_MS 1000
#define TRIES      5

struct xfer {
	int      fd;              /* this transfer's socket */
	struct sockaddr_in tid;   /* the server's transfer socket */
	bool     have_tid;        /* tid is known */
	long     blksize;         /* negotiated */
	long     window;          /* negotiated */
	uint16_t last;            /* last block taken in order */
	long     inwin;           /* blocks since the last ACK */
	uint64_t got;             /* bytes taken */
	int      idle;            /* timeouts in a row */
	bool     done, bad;       /* finished; corrupted or failed */
	bool     corrupted;       /* a byte differed */
};

static const unsigned char *file;
static size_t filelen;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
send_ack(struct xfer *x, uint16_t n)
{
	unsigned char p[4] = { 0, 4, n >> 8, n & 0xff };

	sendto(x->fd, p, 4, 0, (struct sockaddr *)&x->tid, sizeof(x->tid));
	x->inwin = 0;
}

/* Takes the options of an OACK; unknown ones are ignored. */
static void
take_oack(struct xfer *x, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *name = p + i, *val;
		size_t n = strnlen(name, len - i);
		if (i + n + 1 >= len)
			break;
		val = name + n + 1;
		i += n + 1 + strnlen(val, len - i - n - 1) + 1;
		if (strcasecmp(name, "blksize") == 0)
			x->blksize = atol(val);
		else if (strcasecmp(name, "windowsize") == 0)
			x->window = atol(val);
	}
}

static void
take_data(struct xfer *x, uint16_t block, const unsigned char *d, size_t len)
{
	if (block != (uint16_t)(x->last + 1)) {
		send_ack(x, x->last);           /* RFC 7440: resync */
		return;
	}
	if (x->got + len > filelen || memcmp(file + x->got, d, len) != 0)
		x->corrupted = true;
	x->got += len;
	x->last = block;
	x->inwin++;
	if ((long)len < x->blksize) {
		send_ack(x, block);
		x->done = true;
		if (x->got != filelen)
			x->corrupted = true;
	} else if (x->inwin >= x->window)
		send_ack(x, block);
}

static void
input(struct xfer *x)
{
	unsigned char p[PKT_MAX];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(x->fd, p, sizeof(p), MSG_DONTWAIT,
	    (struct sockaddr *)&from, &fl)) >= 4 && !x->done) {
		uint16_t op = p[0] << 8 | p[1], num = p[2] << 8 | p[3];

		x->idle = 0;
		if (!x->have_tid) {
			x->tid = from;
			x->have_tid = true;
		}
		if (op == 6) {
			take_oack(x, (char *)p + 2, (size_t)n - 2);
			send_ack(x, 0);
		} else if (op == 3)
			take_data(x, num, p + 4, (size_t)n - 4);
		else if (op == 5) {
			x->done = x->bad = true;
			fprintf(stderr, "error %u: %.*s\n", num, (int)n - 4, p + 4);
		}
		fl = sizeof(from);
	}
}

static size_t
build_rrq(char *p, const char *name, long blksize, long window)
{
	size_t n = 2;

	p[0] = 0;
	p[1] = 1;
	n += (size_t)sprintf(p + n, "%s", name) + 1;
	n += (size_t)sprintf(p + n, "octet") + 1;
	if (blksize != 512) {
		n += (size_t)sprintf(p + n, "blksize") + 1;
		n += (size_t)sprintf(p + n, "%ld", blksize) + 1;
	}
	if (window != 1) {
		n += (size_t)sprintf(p + n, "windowsize") + 1;
		n += (size_t)sprintf(p + n, "%ld", window) + 1;
	}
	return n;
}

static int
map_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	filelen = (size_t)st.st_size;
	file = filelen > 0 ? mmap(NULL, filelen, PROT_READ, MAP_PRIVATE, fd, 0) :
	    (const unsigned char *)"";
	close(fd);
	return file == MAP_FAILED ? -1 : 0;
}

int
main(int argc, char **argv)
{
	static struct xfer xs[MAX_XFERS];
	struct pollfd pfd[MAX_XFERS];
	struct sockaddr_in srv = { .sin_family = AF_INET };
	char host[64], rrq[600], *colon;
	long blksize, window;
	int n, ok = 0, corrupted = 0, failed = 0, left;
	size_t rlen;
	uint64_t bytes = 0;
	double t0, secs;

	if (argc != 7 || (colon = strrchr(argv[1], ':')) == NULL) {
		fprintf(stderr, "usage: tftp_bench HOST:PORT NAME LOCALFILE "
		    "BLKSIZE WINDOW CONCURRENCY\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[1]), argv[1]);
	srv.sin_port = htons((uint16_t)atoi(colon + 1));
	blksize = atol(argv[4]);
	window = atol(argv[5]);
	n = atoi(argv[6]);
	if (inet_pton(AF_INET, host, &srv.sin_addr) != 1 || n < 1 ||
	    n > MAX_XFERS || map_file(argv[3]) != 0) {
		fprintf(stderr, "tftp_bench: bad arguments\n");
		return 2;
	}
	rlen = build_rrq(rrq, argv[2], blksize, window);
	t0 = now();
	for (int i = 0; i < n; i++) {
		int buf = 4 << 20;
		xs[i].fd = socket(AF_INET, SOCK_DGRAM, 0);
		setsockopt(xs[i].fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
		xs[i].blksize = 512;
		xs[i].window = 1;
		sendto(xs[i].fd, rrq, rlen, 0, (struct sockaddr *)&srv, sizeof(srv));
		xs[i].tid = srv;
		pfd[i].fd = xs[i].fd;
		pfd[i].events = POLLIN;
	}
	for (left = n; left > 0;) {
		int r = poll(pfd, (nfds_t)n, TIMEOUT_MS);

		for (int i = 0; i < n; i++) {
			struct xfer *x = &xs[i];
			if (x->done)
				continue;
			if (r > 0 && (pfd[i].revents & POLLIN))
				input(x);
			else if (r == 0 && ++x->idle > TRIES)
				x->done = x->bad = true;
			else if (r == 0 && x->have_tid)
				send_ack(x, x->last);
			if (x->done) {
				pfd[i].fd = -1;
				left--;
			}
		}
	}
	secs = now() - t0;
	for (int i = 0; i < n; i++) {
		bytes += xs[i].got;
		if (xs[i].bad)
			failed++;
		else if (xs[i].corrupted)
			corrupted++;
		else
			ok++;
		close(xs[i].fd);
	}
	printf("bytes=%llu secs=%.3f mb_per_s=%.1f ok=%d corrupted=%d failed=%d\n",
	    (unsigned long long)bytes, secs, bytes / secs / 1e6, ok, corrupted,
	    failed);
	return failed == 0 && corrupted == 0 ? 0 : 1;
}
