/*
 * listener.c - listening sockets, accepting, and UDP batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "admit.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "server.h"

#define ACCEPT_BURST   64             /* accepts per wakeup, for fairness */
#define UDP_BATCH      64             /* datagrams per recvmmsg */
#define UDP_MAX        65536          /* largest datagram */
#define UDP_DRAIN_BATCHES 1024       /* batches read at most when stopping */
#define REPLY_ARENA    (256 * 1024)   /* bytes of replies per batch */
#define LISTEN_BACKLOG 4096           /* the kernel caps it at somaxconn */
#define UDP_RCVBUF     (1 << 20)      /* receive buffer asked for UDP */

/* Receive buffers for one batch, shared by every UDP listener. */
static char               udp_bufs[UDP_BATCH][UDP_MAX];
static struct sockaddr_storage udp_from[UDP_BATCH];
static struct iovec       udp_iov[UDP_BATCH];
static struct mmsghdr     udp_msgs[UDP_BATCH];
/* Their control data: where each was sent (IP_PKTINFO, IPV6_PKTINFO). */
static union {
	struct cmsghdr align;                 /* aligns the bytes */
	char bytes[CMSG_SPACE(sizeof(struct in_pktinfo)) +
	    CMSG_SPACE(sizeof(struct in6_pktinfo))];
} udp_ctl[UDP_BATCH];

/* Replies queued by datagram hooks, sent together with sendmmsg. */
static struct {
	char                    arena[REPLY_ARENA]; /* reply payloads */
	size_t                  used;               /* bytes of arena used */
	struct mmsghdr          msgs[UDP_BATCH];    /* one per reply */
	struct iovec            iov[UDP_BATCH];     /* their payloads */
	struct sockaddr_storage to[UDP_BATCH];      /* their destinations */
	struct listener        *from[UDP_BATCH];    /* socket to send on */
	unsigned                n;                  /* replies queued */
} replies;

static void listener_on_accept(struct ev_loop *, int, void *, int);
static void listener_on_datagram(struct ev_loop *, int, void *, int);
static void listener_flush_replies(void);

/* A burst of datagrams waits in the socket's receive buffer while the
 * reactor is busy elsewhere, and the kernel's default (about 200 KiB of
 * accounted memory, a few hundred small datagrams) overflows first.
 * SO_RCVBUFFORCE may pass net.core.rmem_max while we are still root;
 * otherwise SO_RCVBUF raises it as far as rmem_max allows.  Sockets
 * handed over by systemd keep what their unit set (ReceiveBuffer=). */
static void
listener_set_rcvbuf(int fd)
{
	int want = UDP_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
}

/* Asks the kernel to tell where each datagram was sent, so that a
 * service on a wildcard address can answer from the address the client
 * wrote to (a dual-stack socket gets both kinds). */
static void
listener_set_pktinfo(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
}

/* Creates, configures and binds a socket for la.  '*' is a dual-stack
 * IPv6 socket, or plain 0.0.0.0 on a kernel without IPv6. */
static int
listener_bind(const struct listen_addr *la, char *err, size_t errlen)
{
	int type = la->proto == PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int fd = socket(la->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, v6only = la->any ? 0 : 1;
	struct listen_addr v4;

	if (fd < 0 && la->any && errno == EAFNOSUPPORT) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&v4.ss;
		memset(&v4, 0, sizeof(v4));
		v4.proto = la->proto;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(addr_port((const struct sockaddr *)&la->ss));
		v4.sslen = sizeof(*s4);
		la = &v4;
		fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	/* SO_REUSEADDR only for TCP, where it just skips TIME_WAIT.  On a
	 * Linux UDP socket it lets a second socket bind the very same address
	 * and port: two daemons, or two ":0" services, would share a port
	 * and split its datagrams without an error. */
	if (la->proto == PROTO_TCP) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (la->proto == PROTO_UDP)
		listener_set_rcvbuf(fd);
	if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) != 0 ||
	    (la->proto == PROTO_TCP && listen(fd, LISTEN_BACKLOG) != 0)) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct listener *
listener_open(struct svc *svc, const struct listen_addr *la, int fd,
    char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct listen_addr real;

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	l->adopted = fd >= 0;
	if (fd < 0 && (fd = listener_bind(la, err, errlen)) < 0) {
		free(l);
		return NULL;
	}
	l->fd = fd;
	l->addr = *la;
	l->svc = svc;
	if (la->proto == PROTO_UDP)
		listener_set_pktinfo(fd);
	/* Report the real port, so ":0" in the file tells where it went. */
	real = *la;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0) {
		memcpy(&real.ss, &ss, sslen);
		real.sslen = sslen;
	}
	addr_listen_text(&real, l->text, sizeof(l->text));
	if (svc->conf->type->bound != NULL)
		svc->conf->type->bound(svc, fd, la->proto);
	return l;
}

int
listener_start(struct listener *l)
{
	if (l->addr.proto == PROTO_TCP)
		return ev_add(server.loop, l->fd, EV_READABLE, listener_on_accept, l);
	return ev_add(server.loop, l->fd, EV_READABLE, listener_on_datagram, l);
}

void
listener_close(struct listener *l)
{
	conn_forget_listener(l);
	ev_del(server.loop, l->fd, EV_READABLE | EV_WRITABLE);
	close(l->fd);
	free(l);
}

/* Out of fds: accept and drop one pending connection with the spare fd,
 * so the listen queue does not fill up (the libuv trick). */
static void
listener_shed(struct listener *l)
{
	int fd;

	if (server.reserve_fd < 0)
		return;
	close(server.reserve_fd);
	server.reserve_fd = -1;
	if ((fd = accept(l->fd, NULL, NULL)) >= 0)
		close(fd);
	server.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Admits, refuses with the busy line, or silently drops one connection. */
static void
listener_admit(struct listener *l, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	struct svc *svc = l->svc;
	struct ip_key ip;
	int reason;

	addr_key(peer, &ip);
	if (!admit_allowed(svc->conf, &ip)) {
		svc->stats.rejected[REJECT_ALLOW]++;
		close(fd);
		return;
	}
	if ((reason = admit_conn(svc, &ip)) >= 0) {
		svc->stats.rejected[reason]++;
		conn_reject(svc, l, fd, peer, peerlen);
		return;
	}
	if (conn_new(svc, l, fd, peer, peerlen) == NULL) {
		admit_release(svc, &ip);
		close(fd);
	}
}

static void
listener_on_accept(struct ev_loop *loop, int lfd, void *data, int mask)
{
	struct listener *l = data;

	(void)loop;
	(void)mask;
	for (int i = 0; i < ACCEPT_BURST && !l->svc->removed; i++) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof(peer);
		int fd = accept4(lfd, (struct sockaddr *)&peer, &peerlen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				listener_shed(l);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				svc_log(l->svc, LOG_LVL_WARNING, "%s: accept: %s",
				    l->text, strerror(errno));
			return;
		}
		listener_admit(l, fd, (struct sockaddr *)&peer, peerlen);
	}
}

void
dgram_reply(struct dgram *d, const void *data, size_t len)
{
	unsigned i;

	if (replies.n == UDP_BATCH || replies.used + len > REPLY_ARENA)
		listener_flush_replies();
	if (len > REPLY_ARENA) {
		d->listener->svc->stats.datagrams_dropped++;
		return;
	}
	i = replies.n++;
	memcpy(replies.arena + replies.used, data, len);
	replies.iov[i].iov_base = replies.arena + replies.used;
	replies.iov[i].iov_len = len;
	replies.used += len;
	memcpy(&replies.to[i], d->from, d->fromlen);
	memset(&replies.msgs[i], 0, sizeof(replies.msgs[i]));
	replies.msgs[i].msg_hdr.msg_name = &replies.to[i];
	replies.msgs[i].msg_hdr.msg_namelen = d->fromlen;
	replies.msgs[i].msg_hdr.msg_iov = &replies.iov[i];
	replies.msgs[i].msg_hdr.msg_iovlen = 1;
	replies.from[i] = d->listener;
}

/* Sends queued replies, runs of the same socket in one sendmmsg.  A reply
 * the socket will not take now is dropped, as UDP allows.  Replies are
 * made only inside datagram hooks, so a batch ends with none left. */
static void
listener_flush_replies(void)
{
	unsigned i = 0;

	while (i < replies.n) {
		struct listener *l = replies.from[i];
		unsigned run = 1;
		int sent;

		while (i + run < replies.n && replies.from[i + run] == l)
			run++;
		sent = sendmmsg(l->fd, &replies.msgs[i], run, MSG_DONTWAIT);
		if (sent < 0)
			sent = 0;
		for (int k = 0; k < sent; k++)
			l->svc->stats.bytes_sent += replies.iov[i + k].iov_len;
		/* sendmmsg stops at the first failure; skip that one. */
		if ((unsigned)sent < run)
			l->svc->stats.datagrams_dropped++;
		i += (unsigned)sent < run ? (unsigned)sent + 1 : run;
	}
	replies.n = 0;
	replies.used = 0;
}

/* The local address h was sent to, from its control data, in the family
 * of the socket (an IPv4 one as ::ffff:a.b.c.d on an IPv6 socket, which
 * always gives IPV6_PKTINFO), port 0; its length, or 0 when the kernel
 * did not say.  IPv4's ipi_spec_dst is the address to answer from, also
 * for a broadcast. */
static socklen_t
listener_local(struct msghdr *h, struct sockaddr_storage *out)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	struct sockaddr_in *s4 = (struct sockaddr_in *)out;
	struct in6_addr a6 = IN6ADDR_ANY_INIT;
	struct in_addr a4 = { 0 };
	unsigned ifindex = 0;
	bool have4 = false, have6 = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL;
	    c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			a4 = pi.ipi_spec_dst;
			have4 = true;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			a6 = pi.ipi6_addr;
			ifindex = pi.ipi6_ifindex;
			have6 = true;
		}
	}
	memset(out, 0, sizeof(*out));
	if (!have6 && have4) {
		s4->sin_family = AF_INET;
		s4->sin_addr = a4;
		return sizeof(*s4);
	}
	if (!have6)
		return 0;
	s6->sin6_family = AF_INET6;
	if (have4) {
		s6->sin6_addr.s6_addr[10] = s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
	} else {
		s6->sin6_addr = a6;
		if (IN6_IS_ADDR_LINKLOCAL(&a6))
			s6->sin6_scope_id = ifindex;
	}
	return sizeof(*s6);
}

/* Filters one datagram through allow and the loop guard, then hands it
 * to the service. */
static void
listener_dispatch(struct listener *l, struct mmsghdr *m, char *data)
{
	struct svc *svc = l->svc;
	const struct sockaddr *from = m->msg_hdr.msg_name;
	struct sockaddr_storage local;
	struct ip_key ip;
	struct dgram d;

	svc->stats.datagrams_received++;
	svc->stats.bytes_received += m->msg_len;
	addr_key(from, &ip);
	if (!admit_allowed(svc->conf, &ip)) {
		svc->stats.rejected[REJECT_ALLOW]++;
		svc->stats.datagrams_dropped++;
		return;
	}
	/* A forged request from another UDP service (chargen to echo) would
	 * start an endless loop; such ports are below 1024. */
	if (svc->conf->type->udp_loop_guard && addr_port(from) < 1024) {
		svc->stats.datagrams_dropped++;
		return;
	}
	d.listener = l;
	d.from = from;
	d.fromlen = m->msg_hdr.msg_namelen;
	d.locallen = listener_local(&m->msg_hdr, &local);
	d.local = d.locallen > 0 ? (const struct sockaddr *)&local : NULL;
	d.data = data;
	d.len = m->msg_len;
	d.truncated = (m->msg_hdr.msg_flags & MSG_TRUNC) != 0;
	svc->conf->type->datagram(svc, &d);
}

static void
listener_on_datagram(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct listener *l = data;
	int n;

	(void)loop;
	(void)mask;
	/* recvmmsg writes back only the lengths and flags. */
	for (int i = 0; i < UDP_BATCH; i++) {
		if (udp_msgs[i].msg_hdr.msg_iov == NULL) {
			udp_iov[i].iov_base = udp_bufs[i];
			udp_iov[i].iov_len = UDP_MAX;
			udp_msgs[i].msg_hdr.msg_name = &udp_from[i];
			udp_msgs[i].msg_hdr.msg_iov = &udp_iov[i];
			udp_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		udp_msgs[i].msg_hdr.msg_namelen = sizeof(udp_from[i]);
		udp_msgs[i].msg_hdr.msg_control = udp_ctl[i].bytes;
		udp_msgs[i].msg_hdr.msg_controllen = sizeof(udp_ctl[i].bytes);
	}
	n = recvmmsg(fd, udp_msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n && !l->svc->removed; i++)
		listener_dispatch(l, &udp_msgs[i], udp_bufs[i]);
	listener_flush_replies();
}

void
listener_drain(struct listener *l)
{
	int next = 0;

	for (int i = 0; i < UDP_DRAIN_BATCHES && l->addr.proto == PROTO_UDP &&
	    ioctl(l->fd, FIONREAD, &next) == 0 && next > 0; i++)
		listener_on_datagram(server.loop, l->fd, l, EV_READABLE);
}
