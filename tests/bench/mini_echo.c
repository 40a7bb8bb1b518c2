/*
 * mini_echo.c - the smallest fast echo server: one thread, one epoll
 * loop, TCP and UDP.  It is the yardstick for multid's echo: nothing but
 * the system calls an echo needs, so its throughput is the practical limit
 * of this machine for one reactor thread.
 *
 *   mini_echo [-a HOST] [-p PORT]
 *
 * Prints "mini_echo listening on tcp://HOST:PORT" and the same for udp
 * (PORT 0 takes a free port; both get the same one when they can), and
 * "mini_echo listening on daytime://HOST:PORT" for a TCP daytime on a free
 * port, then serves until SIGTERM or SIGINT.
 *
 * TCP: read, then write the same bytes at once; what the socket will not
 * take is kept and the connection is not read until it is sent
 * (backpressure).  UDP: recvmmsg a batch, sendmmsg it back.  daytime:
 * accept, one send of the ctime line, close; the least a server can do
 * per connection, so its connection rate is the practical limit of the
 * machine together with the load generator.
 */
#include <signal.h>
#include <sys/epoll.h>

#include "bench.h"

#define READ_MAX  (64 * 1024)   /* bytes read per wakeup */
#define UDP_BATCH 64            /* datagrams per recvmmsg */
#define UDP_MAX   65536         /* largest datagram */

struct client {
	int    fd;                   /* the connection */
	char  *pend;                 /* bytes the socket did not take */
	size_t plen;                 /* how many */
};

static volatile sig_atomic_t stopping;
static char rbuf[READ_MAX];
static char ubuf[UDP_BATCH][UDP_MAX];

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int
bind_socket(int type, const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	if (type == SOCK_STREAM)	/* on UDP it would allow a shared port */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 4096) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
client_free(struct client *c)
{
	close(c->fd);
	free(c->pend);
	free(c);
}

static void
set_interest(int ep, struct client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes data; keeps the rest and waits for EPOLLOUT.  -1: drop. */
static int
client_write(int ep, struct client *c, const char *data, size_t len)
{
	ssize_t w = write(c->fd, data, len);

	if (w < 0) {
		if (errno != EAGAIN)
			return -1;
		w = 0;
	}
	if ((size_t)w == len)
		return 0;
	c->plen = len - (size_t)w;
	c->pend = malloc(c->plen);
	if (c->pend == NULL)
		return -1;
	memcpy(c->pend, data + w, c->plen);
	set_interest(ep, c, EPOLLOUT);
	return 0;
}

static int
client_event(int ep, struct client *c, uint32_t events)
{
	if (c->plen > 0) {
		ssize_t w = write(c->fd, c->pend, c->plen);

		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		memmove(c->pend, c->pend + w, c->plen - (size_t)w);
		c->plen -= (size_t)w;
		if (c->plen == 0) {
			free(c->pend);
			c->pend = NULL;
			set_interest(ep, c, EPOLLIN);
		}
		return 0;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(c->fd, rbuf, sizeof(rbuf));

		if (n == 0 || (n < 0 && errno != EAGAIN))
			return -1;
		if (n > 0)
			return client_write(ep, c, rbuf, (size_t)n);
	}
	return 0;
}

static void
accept_all(int ep, int lfd)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct client *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Answers every pending connection with the time and closes it. */
static void
daytime_all(int lfd)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		char line[64];
		time_t now = time(NULL);
		struct tm tm;
		size_t n;

		if (fd < 0)
			return;
		localtime_r(&now, &tm);
		n = strftime(line, sizeof(line) - 2, "%a %b %e %H:%M:%S %Y", &tm);
		memcpy(line + n, "\r\n", 2);
		/* MSG_MORE: the FIN of the close rides on the line. */
		if (send(fd, line, n + 2, MSG_MORE | MSG_NOSIGNAL) < 0) {
			/* the client went away: nothing to answer */
		}
		close(fd);
	}
}

static void
udp_echo(int ufd)
{
	static struct mmsghdr mm[UDP_BATCH];
	static struct iovec iov[UDP_BATCH];
	static struct sockaddr_storage from[UDP_BATCH];
	int n;

	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = ubuf[i];
		iov[i].iov_len = UDP_MAX;
		memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
		mm[i].msg_hdr.msg_name = &from[i];
		mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(ufd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (int i = 0; i < n; i++)
		iov[i].iov_len = mm[i].msg_len;
	for (int off = 0; off < n; ) {
		int sent = sendmmsg(ufd, mm + off, (unsigned)(n - off), MSG_DONTWAIT);

		/* A reply the socket refuses is dropped, as UDP allows. */
		off += sent > 0 ? sent : 1;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	const char *host = "127.0.0.1";
	int port = 0, opt, tfd, ufd, dfd, ep;
	static int tmark, umark, dmark;   /* epoll tags of the listeners */

	while ((opt = getopt(argc, argv, "a:p:")) != -1) {
		if (opt == 'a')
			host = optarg;
		else if (opt == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: mini_echo [-a HOST] [-p PORT]\n");
			return 2;
		}
	}
	bench_raise_nofile();
	inet_pton(AF_INET, host, &sin.sin_addr);
	sin.sin_port = htons((uint16_t)port);
	if ((tfd = bind_socket(SOCK_STREAM, &sin)) < 0)
		bench_die("mini_echo: tcp");
	getsockname(tfd, (struct sockaddr *)&got, &gl);
	sin.sin_port = got.sin_port;
	if ((ufd = bind_socket(SOCK_DGRAM, &sin)) < 0) {
		sin.sin_port = 0;
		if ((ufd = bind_socket(SOCK_DGRAM, &sin)) < 0)
			bench_die("mini_echo: udp");
	}
	fprintf(stderr, "mini_echo listening on tcp://%s:%d\n", host,
	    ntohs(got.sin_port));
	gl = sizeof(got);
	getsockname(ufd, (struct sockaddr *)&got, &gl);
	fprintf(stderr, "mini_echo listening on udp://%s:%d\n", host,
	    ntohs(got.sin_port));
	sin.sin_port = 0;
	if ((dfd = bind_socket(SOCK_STREAM, &sin)) < 0)
		bench_die("mini_echo: daytime");
	gl = sizeof(got);
	getsockname(dfd, (struct sockaddr *)&got, &gl);
	fprintf(stderr, "mini_echo listening on daytime://%s:%d\n", host,
	    ntohs(got.sin_port));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tmark };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.ptr = &umark;
	epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev);
	ev.data.ptr = &dmark;
	epoll_ctl(ep, EPOLL_CTL_ADD, dfd, &ev);
	while (!stopping) {
		struct epoll_event evs[512];
		int n = epoll_wait(ep, evs, 512, 200);

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &tmark)
				accept_all(ep, tfd);
			else if (p == &umark)
				udp_echo(ufd);
			else if (p == &dmark)
				daytime_all(dfd);
			else if (client_event(ep, p, evs[i].events) != 0)
				client_free(p);
		}
	}
	return 0;
}
