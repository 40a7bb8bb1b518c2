/*
 * log_bench.c - how many syslog datagrams reach a log file, at a given
 * rate.
 *
 *   log_bench HOST PORT RATE SECONDS FILE
 *
 * Sends RATE numbered 100-byte RFC 3164 datagrams per second for SECONDS
 * to HOST:PORT, paced every millisecond, then waits until FILE stops
 * growing and counts the distinct numbers of this run that arrived in it
 * (after the size FILE had at the start).  Prints one line:
 *
 *   rate=200000/s sent=1000000 received=999876 loss=0.012% ...
 *
 * The sender's socket is blocking, so nothing is lost on our side; what
 * the kernel drops because the receiver's socket buffer was full shows as
 * the growth of RcvbufErrors in /proc/net/snmp (IPv4 and IPv6 together).
 */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define DGRAM_LEN   100               /* bytes per datagram */
#define BATCH       64                /* datagrams per sendmmsg */
#define SETTLE_MS   700               /* FILE unchanged this long: done */
#define WAIT_MAX_MS 30000             /* give up waiting after this */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static off_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Sum of the RcvbufErrors columns of the Udp: and Udp6 counters. */
static long long
rcvbuf_errors(void)
{
	char head[1024], vals[1024], line[256];
	long long total = 0;
	FILE *f = fopen("/proc/net/snmp", "r");

	while (f != NULL && fgets(head, sizeof(head), f) != NULL) {
		char *hs, *vs, *h, *v;

		if (strncmp(head, "Udp:", 4) != 0 ||
		    fgets(vals, sizeof(vals), f) == NULL)
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		for (; h != NULL && v != NULL; h = strtok_r(NULL, " \n", &hs),
		    v = strtok_r(NULL, " \n", &vs))
			if (strcmp(h, "RcvbufErrors") == 0)
				total += atoll(v);
		break;
	}
	if (f != NULL)
		fclose(f);
	if ((f = fopen("/proc/net/snmp6", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "Udp6RcvbufErrors", 16) == 0)
				total += atoll(line + 16);
		fclose(f);
	}
	return total;
}

static int
udp_connect(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai;
	int fd, sndbuf = 4 << 20;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* Sends datagrams first..first+n-1 in batches. */
static void
send_run(int fd, unsigned run, uint64_t first, uint64_t n)
{
	static char buf[BATCH][DGRAM_LEN];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];

	while (n > 0) {
		unsigned k = n < BATCH ? (unsigned)n : BATCH;
		int sent;

		for (unsigned i = 0; i < k; i++) {
			int len = snprintf(buf[i], DGRAM_LEN,
			    "<14>Nov 22 10:15:30 benchhost lbench: r%08x %010llu ",
			    run, (unsigned long long)(first + i));
			memset(buf[i] + len, 'x', DGRAM_LEN - (size_t)len);
			iov[i].iov_base = buf[i];
			iov[i].iov_len = DGRAM_LEN;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		for (unsigned done = 0; done < k; done += (unsigned)sent) {
			sent = sendmmsg(fd, msgs + done, k - done, 0);
			if (sent < 0) {
				if (errno == EINTR || errno == ENOBUFS ||
				    errno == ECONNREFUSED) {
					sent = 0;
					continue;
				}
				perror("sendmmsg");
				exit(1);
			}
		}
		first += k;
		n -= k;
	}
}

/* Waits until path has not grown for SETTLE_MS. */
static void
wait_settled(const char *path)
{
	int64_t start = now_us(), last_change = start;
	off_t last = file_size(path);

	while (now_us() - last_change < SETTLE_MS * 1000 &&
	    now_us() - start < WAIT_MAX_MS * 1000LL) {
		off_t size;

		usleep(50000);
		if ((size = file_size(path)) != last) {
			last = size;
			last_change = now_us();
		}
	}
}

/* Counts the distinct numbers below total of this run in path, after
 * offset. */
static uint64_t
count_received(const char *path, off_t offset, unsigned run, uint64_t total,
    uint64_t *dups)
{
	uint8_t *seen = calloc(total / 8 + 1, 1);
	char marker[32], line[4096];
	uint64_t n = 0;
	FILE *f = fopen(path, "r");

	snprintf(marker, sizeof(marker), "lbench: r%08x ", run);
	if (f == NULL || seen == NULL || fseeko(f, offset, SEEK_SET) != 0) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, marker);
		unsigned long long seq;

		if (p == NULL || sscanf(p + strlen(marker), "%llu", &seq) != 1 ||
		    seq >= total)
			continue;
		if (seen[seq / 8] & (1u << (seq % 8))) {
			(*dups)++;
			continue;
		}
		seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
		n++;
	}
	fclose(f);
	free(seen);
	return n;
}

int
main(int argc, char **argv)
{
	uint64_t rate, total, sent = 0, got, dups = 0;
	int64_t start, elapsed_us;
	long long drops_before;
	double seconds;
	unsigned run;
	off_t offset;
	int fd;

	if (argc != 6) {
		fprintf(stderr, "usage: log_bench HOST PORT RATE SECONDS FILE\n");
		return 2;
	}
	rate = strtoull(argv[3], NULL, 10);
	seconds = atof(argv[4]);
	total = (uint64_t)((double)rate * seconds);
	if ((fd = udp_connect(argv[1], argv[2])) < 0) {
		fprintf(stderr, "log_bench: cannot reach %s:%s\n", argv[1], argv[2]);
		return 1;
	}
	run = (unsigned)(now_us() ^ getpid()) & 0xffffffffu;
	offset = file_size(argv[5]);
	drops_before = rcvbuf_errors();
	start = now_us();
	/* Every millisecond, catch up with where the rate says we should be. */
	while (sent < total) {
		uint64_t due = (uint64_t)((now_us() - start) * (double)rate / 1e6);

		if (due > total)
			due = total;
		if (due > sent) {
			send_run(fd, run, sent, due - sent);
			sent = due;
		} else {
			usleep(1000);
		}
	}
	elapsed_us = now_us() - start;
	wait_settled(argv[5]);
	got = count_received(argv[5], offset, run, total, &dups);
	printf("rate=%llu/s sent=%llu in %.2fs (%.0f/s) received=%llu "
	    "loss=%.3f%% duplicates=%llu kernel_rcvbuf_drops=%lld\n",
	    (unsigned long long)rate, (unsigned long long)sent,
	    elapsed_us / 1e6, sent / (elapsed_us / 1e6),
	    (unsigned long long)got,
	    total > 0 ? 100.0 * (double)(total - got) / (double)total : 0.0,
	    (unsigned long long)dups, rcvbuf_errors() - drops_before);
	close(fd);
	return 0;
}
