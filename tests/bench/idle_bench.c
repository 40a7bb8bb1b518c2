/*
 * idle_bench.c - the memory a server spends on idle TCP connections.
 *
 *   idle_bench -a HOST:PORT -P PID [-n CONNS] [-b BURST]
 *
 * Reads the server's VmRSS, opens CONNS connections to an echo service
 * (at most BURST connects in progress at once), sends one byte on each and
 * waits for it to come back, so that the server really holds every one
 * of them, waits half a second and reads VmRSS again.  The connections
 * are closed on exit.
 *
 * Output, one line:  open=... rss_before_kb=... rss_kb=... per_conn_b=... errors=...
 */
#include <sys/epoll.h>

#include "bench.h"

enum { C_CONNECTING, C_WAITING, C_DONE };

struct iconn {
	int fd;                      /* the connection */
	int state;                   /* enum above */
};

static long
rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	int opt, have = 0, pid = 0, n = 10000, burst = 256, ep;
	int started = 0, done = 0, pending = 0;
	unsigned long errors = 0;
	struct iconn *cs;

	while ((opt = getopt(argc, argv, "a:P:n:b:")) != -1) {
		switch (opt) {
		case 'a': have = bench_parse_addr(optarg, &ss, &sl) == 0; break;
		case 'P': pid = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'b': burst = atoi(optarg); break;
		default: have = 0; optind = argc; break;
		}
	}
	if (!have || pid <= 0 || n < 1 || burst < 1) {
		fprintf(stderr, "usage: idle_bench -a HOST:PORT -P PID [-n CONNS] "
		    "[-b BURST]\n");
		return 2;
	}
	bench_raise_nofile();
	long before = rss_kb(pid);
	if ((cs = calloc((size_t)n, sizeof(*cs))) == NULL ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("idle_bench: setup");
	int64_t deadline = bench_now_ns() + 60000000000LL;

	while (done + (int)errors < n && bench_now_ns() < deadline) {
		while (started < n && pending < burst) {
			struct iconn *c = &cs[started++];
			struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

			if ((c->fd = bench_tcp_connect(&ss, sl)) < 0) {
				fprintf(stderr, "idle_bench: connect: %s\n", strerror(errno));
				errors++;
				continue;
			}
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			pending++;
		}
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < k; i++) {
			struct iconn *c = evs[i].data.ptr;
			char b;

			if (c->state == C_CONNECTING && (evs[i].events & EPOLLOUT) &&
			    !(evs[i].events & EPOLLERR) && write(c->fd, "x", 1) == 1) {
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

				c->state = C_WAITING;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			} else if (c->state == C_WAITING && read(c->fd, &b, 1) == 1 &&
			    b == 'x') {
				c->state = C_DONE;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				pending--;
				done++;
			} else if (c->state != C_DONE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				c->state = C_DONE;
				pending--;
				errors++;
			}
		}
	}
	usleep(500000);
	long after = rss_kb(pid);
	printf("open=%d rss_before_kb=%ld rss_kb=%ld per_conn_b=%.0f errors=%lu\n",
	    done, before, after,
	    done > 0 ? (double)(after - before) * 1024.0 / done : 0.0, errors);
	fflush(stdout);
	for (int i = 0; i < started; i++)
		if (cs[i].fd > 0)
			close(cs[i].fd);
	return done == n ? 0 : 1;
}
