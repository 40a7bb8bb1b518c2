/*
 * echo_bench.c - closed-loop load for an echo server, TCP or UDP.
 *
 *   echo_bench -a HOST:PORT [-u] [-c CONNS] [-d DEPTH] [-s SIZE]
 *              [-t SECONDS] [-w WARMUP] [-L echo|upper|upper-crlf]
 *
 * TCP: CONNS connections each keep DEPTH messages of SIZE bytes in flight
 * (a new one is sent as soon as a whole one has come back, the way
 * memtier keeps its pipeline full).  Every byte that comes back is
 * compared with what was sent; a difference, an early close or more
 * bytes than were sent is an error.
 *
 * UDP (-u): CONNS connected sockets each keep DEPTH datagrams in flight.
 * A datagram carries its sequence number and send time; the payload is
 * checked.  A socket that hears nothing for 50 ms writes its window off
 * (those datagrams are presumed lost) and sends a fresh one, so loss
 * cannot stall the load.  At the end the senders stop, late replies are
 * collected for 200 ms, and lost = sent - received.
 *
 * Lines (-L, TCP): every message is SIZE-1 lower-case letters and an LF,
 * for a line service: `echo` expects it back as sent (the course's echo),
 * `upper` in upper case with LF (transform upper, course protocol),
 * `upper-crlf` in upper case with CR LF (transform upper, line protocol).
 *
 * Only the interval after the warm-up counts.  Output, one line:
 *   msgs_s=... mb_s=... p50_us=... p99_us=... errors=... [lost=... loss_pct=...]
 */
#include <getopt.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include "bench.h"

#define SCRATCH    (256 * 1024)   /* bytes read per call at most */
#define UDP_BATCH  64             /* datagrams per recvmmsg/sendmmsg */
#define UDP_STALL  50000000       /* ns of silence before a window is lost */
#define UDP_DRAIN  200000000      /* ns to wait for late replies */

struct opts {
	struct sockaddr_storage addr;   /* the server */
	socklen_t addrlen;              /* its length */
	int       udp;                  /* datagram mode */
	int       conns;                /* connections or sockets */
	int       depth;                /* messages in flight per connection */
	size_t    size;                 /* bytes per message */
	double    secs;                 /* measured interval */
	double    warmup;               /* seconds before measuring */
	int       lines;                /* -L: LINES_* */
	size_t    esize;                /* bytes of each expected answer */
};

enum { LINES_OFF, LINES_ECHO, LINES_UPPER, LINES_UPPER_CRLF };

/* What the measured interval collected. */
struct result {
	struct hist lat;                /* round-trip times, ns */
	uint64_t    msgs;               /* messages completed */
	uint64_t    errors;             /* wrong bytes, early closes */
	uint64_t    sent;               /* UDP: datagrams sent (whole run) */
	uint64_t    received;           /* UDP: datagrams back (whole run) */
};

static struct result res;
static int64_t t_measure, t_end;   /* the measured interval, ns */
static char scratch[SCRATCH];

/* Byte k of message seq: cheap, and different for every message. */
static inline unsigned char
pattern_byte(uint64_t seq, size_t k)
{
	return (unsigned char)((seq * 131 + k * 7) >> 1);
}

static void
fill_message(char *p, uint64_t seq, int64_t stamp, size_t size)
{
	size_t k = 0;

	if (size >= 16) {
		memcpy(p, &seq, 8);
		memcpy(p + 8, &stamp, 8);
		k = 16;
	}
	for (; k < size; k++)
		p[k] = (char)pattern_byte(seq, k);
}

/* A line message and the answer the service gives to it. */
static void
fill_line(char *p, char *expect, uint64_t seq, const struct opts *o)
{
	size_t k;

	for (k = 0; k + 1 < o->size; k++) {
		p[k] = (char)('a' + pattern_byte(seq, k) % 26);
		expect[k] = o->lines == LINES_ECHO ? p[k] : (char)(p[k] - 32);
	}
	p[k] = '\n';
	if (o->lines == LINES_UPPER_CRLF)
		expect[k++] = '\r';
	expect[k] = '\n';
}

/* ---- TCP ------------------------------------------------------------- */

struct tconn {
	int       fd;          /* the connection, -1 when dead */
	char     *ring;        /* messages in flight, as sent */
	size_t    ringsz;      /* depth * size */
	char     *expect;      /* their answers (ring itself but for -L) */
	size_t    expectsz;    /* depth * esize */
	int64_t  *stamp;       /* send time per slot */
	uint64_t  gen;         /* bytes queued so far */
	uint64_t  sent;        /* bytes written so far */
	uint64_t  got;         /* bytes received and checked */
	int       want_out;    /* EPOLLOUT armed */
};

static void
tcp_kill(int ep, struct tconn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	res.errors++;
}

/* Queues new messages up to the window and writes what it can. */
static void
tcp_pump(int ep, struct tconn *c, const struct opts *o)
{
	int64_t now = bench_now_ns();

	while (c->gen - c->got / o->esize * o->size < c->ringsz) {
		uint64_t seq = c->gen / o->size;
		size_t off = (size_t)(c->gen % c->ringsz);

		if (o->lines != LINES_OFF)
			fill_line(c->ring + off, c->expect + (size_t)(seq %
			    (uint64_t)o->depth) * o->esize, seq, o);
		else
			fill_message(c->ring + off, seq, now, o->size);
		c->stamp[seq % (uint64_t)o->depth] = now;
		c->gen += o->size;
	}
	while (c->sent < c->gen) {
		size_t off = (size_t)(c->sent % c->ringsz);
		size_t left = (size_t)(c->gen - c->sent);
		struct iovec iov[2];
		int n = 1;
		ssize_t w;

		iov[0].iov_base = c->ring + off;
		iov[0].iov_len = left < c->ringsz - off ? left : c->ringsz - off;
		if (iov[0].iov_len < left) {
			iov[1].iov_base = c->ring;
			iov[1].iov_len = left - iov[0].iov_len;
			n = 2;
		}
		w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN)
				break;
			tcp_kill(ep, c);
			return;
		}
		c->sent += (uint64_t)w;
	}
	int want = c->sent < c->gen;
	if (want != c->want_out) {
		struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
		    .data.ptr = c };

		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
}

/* Checks n received bytes against the expected answers; counts finished
 * messages.  got counts answer bytes. */
static int
tcp_check(struct tconn *c, const char *data, size_t n, const struct opts *o)
{
	uint64_t first = c->got / o->esize, last;
	int64_t now;

	if (c->got + n > c->sent / o->size * o->esize)
		return -1;
	for (size_t done = 0; done < n; ) {
		size_t off = (size_t)((c->got + done) % c->expectsz);
		size_t chunk = n - done;

		if (chunk > c->expectsz - off)
			chunk = c->expectsz - off;
		if (memcmp(c->expect + off, data + done, chunk) != 0)
			return -1;
		done += chunk;
	}
	c->got += n;
	last = c->got / o->esize;
	if (last == first)
		return 0;
	now = bench_now_ns();
	if (now < t_measure || now >= t_end)
		return 0;
	for (uint64_t m = first; m < last; m++)
		hist_add(&res.lat, now - c->stamp[m % (uint64_t)o->depth]);
	res.msgs += last - first;
	return 0;
}

static void
tcp_event(int ep, struct tconn *c, uint32_t events, const struct opts *o)
{
	if (events & EPOLLIN) {
		ssize_t n = read(c->fd, scratch, sizeof(scratch));

		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			fprintf(stderr, "echo_bench: connection closed early\n");
			tcp_kill(ep, c);
			return;
		}
		if (n > 0 && tcp_check(c, scratch, (size_t)n, o) != 0) {
			fprintf(stderr, "echo_bench: wrong bytes echoed\n");
			tcp_kill(ep, c);
			return;
		}
	}
	if (c->fd >= 0)
		tcp_pump(ep, c, o);
}

static void
run_tcp(const struct opts *o)
{
	struct tconn *cs = calloc((size_t)o->conns, sizeof(*cs));
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (cs == NULL || ep < 0)
		bench_die("echo_bench: setup");
	for (int i = 0; i < o->conns; i++) {
		struct tconn *c = &cs[i];
		int fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;

		if (fd < 0 || connect(fd, (struct sockaddr *)&o->addr,
		    o->addrlen) != 0)
			bench_die("echo_bench: connect");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(fd, F_SETFL, O_NONBLOCK);
		c->fd = fd;
		c->ringsz = (size_t)o->depth * o->size;
		c->ring = malloc(c->ringsz);
		c->expectsz = (size_t)o->depth * o->esize;
		c->expect = o->lines != LINES_OFF ? malloc(c->expectsz) : c->ring;
		c->stamp = calloc((size_t)o->depth, sizeof(*c->stamp));
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	t_measure = bench_now_ns() + (int64_t)(o->warmup * 1e9);
	t_end = t_measure + (int64_t)(o->secs * 1e9);
	for (int i = 0; i < o->conns; i++)
		tcp_pump(ep, &cs[i], o);
	while (bench_now_ns() < t_end) {
		int n = epoll_wait(ep, evs, 256, 10);

		for (int i = 0; i < n; i++) {
			struct tconn *c = evs[i].data.ptr;

			if (c->fd >= 0)
				tcp_event(ep, c, evs[i].events, o);
		}
	}
	for (int i = 0; i < o->conns; i++)
		if (cs[i].fd >= 0)
			close(cs[i].fd);
}

/* ---- UDP ------------------------------------------------------------- */

struct usock {
	int      fd;            /* connected datagram socket */
	uint64_t next_seq;      /* sequence number of the next datagram */
	unsigned inflight;      /* sent, not yet back or written off */
	int64_t  last_heard;    /* ns of the last reply or refill */
};

static char udp_out[UDP_BATCH][2048];   /* datagrams being sent */

/* Sends up to want datagrams on s. */
static void
udp_send(struct usock *s, unsigned want, const struct opts *o)
{
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int64_t now = bench_now_ns();
	int sent;

	if (want > UDP_BATCH)
		want = UDP_BATCH;
	if (want == 0)
		return;
	memset(mm, 0, sizeof(mm[0]) * want);
	for (unsigned i = 0; i < want; i++) {
		fill_message(udp_out[i], s->next_seq + i, now, o->size);
		iov[i].iov_base = udp_out[i];
		iov[i].iov_len = o->size;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(s->fd, mm, want, MSG_DONTWAIT);
	if (sent <= 0)
		return;
	s->next_seq += (uint64_t)sent;
	s->inflight += (unsigned)sent;
	res.sent += (uint64_t)sent;
}

/* Checks one reply; returns its send time, or -1 when it is wrong. */
static int64_t
udp_check(const struct usock *s, const char *p, size_t len,
    const struct opts *o)
{
	uint64_t seq;
	int64_t stamp;

	if (len != o->size)
		return -1;
	memcpy(&seq, p, 8);
	memcpy(&stamp, p + 8, 8);
	if (seq >= s->next_seq)
		return -1;
	for (size_t k = 16; k < len; k++)
		if ((unsigned char)p[k] != pattern_byte(seq, k))
			return -1;
	return stamp;
}

static void
udp_receive(struct usock *s, const struct opts *o, int sending)
{
	static char bufs[UDP_BATCH][2048];
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int n;

	memset(mm, 0, sizeof(mm));
	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(s->fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	int64_t now = bench_now_ns();
	int counted = now >= t_measure && now < t_end;

	for (int i = 0; i < n; i++) {
		int64_t stamp = udp_check(s, bufs[i], mm[i].msg_len, o);

		if (stamp < 0) {
			res.errors++;
			continue;
		}
		res.received++;
		if (s->inflight > 0)
			s->inflight--;
		if (counted) {
			hist_add(&res.lat, now - stamp);
			res.msgs++;
		}
	}
	s->last_heard = now;
	if (sending)
		udp_send(s, (unsigned)o->depth - s->inflight, o);
}

static void
run_udp(const struct opts *o)
{
	struct usock *ss = calloc((size_t)o->conns, sizeof(*ss));
	struct epoll_event evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int64_t last_sweep = 0;

	if (ss == NULL || ep < 0 || o->size < 16 || o->size > 2048) {
		fprintf(stderr, "echo_bench: UDP needs 16 <= size <= 2048\n");
		exit(2);
	}
	for (int i = 0; i < o->conns; i++) {
		int fd = socket(o->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&o->addr,
		    o->addrlen) != 0)
			bench_die("echo_bench: udp socket");
		ss[i].fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ss[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	t_measure = bench_now_ns() + (int64_t)(o->warmup * 1e9);
	t_end = t_measure + (int64_t)(o->secs * 1e9);
	for (int i = 0; i < o->conns; i++) {
		ss[i].last_heard = bench_now_ns();
		udp_send(&ss[i], (unsigned)o->depth, o);
	}
	for (;;) {
		int64_t now = bench_now_ns();
		int sending = now < t_end;

		if (now >= t_end + UDP_DRAIN)
			break;
		int n = epoll_wait(ep, evs, 256, 5);
		for (int i = 0; i < n; i++)
			udp_receive(evs[i].data.ptr, o, sending);
		now = bench_now_ns();
		if (!sending || now - last_sweep < 5000000)
			continue;
		last_sweep = now;
		for (int i = 0; i < o->conns; i++) {
			struct usock *s = &ss[i];

			if (now - s->last_heard < UDP_STALL &&
			    s->inflight == (unsigned)o->depth)
				continue;
			if (now - s->last_heard >= UDP_STALL)
				s->inflight = 0;   /* written off; counted at the end */
			s->last_heard = now;
			udp_send(s, (unsigned)o->depth - s->inflight, o);
		}
	}
	for (int i = 0; i < o->conns; i++)
		close(ss[i].fd);
}

/* ---- main ------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr, "usage: echo_bench -a HOST:PORT [-u] [-c CONNS] "
	    "[-d DEPTH] [-s SIZE] [-t SECONDS] [-w WARMUP] "
	    "[-L echo|upper|upper-crlf]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { .conns = 50, .depth = 16, .size = 64, .secs = 5,
	    .warmup = 1 };
	int opt, have_addr = 0;

	while ((opt = getopt(argc, argv, "a:uc:d:s:t:w:L:")) != -1) {
		switch (opt) {
		case 'a':
			if (bench_parse_addr(optarg, &o.addr, &o.addrlen) != 0)
				usage();
			have_addr = 1;
			break;
		case 'u': o.udp = 1; break;
		case 'c': o.conns = atoi(optarg); break;
		case 'd': o.depth = atoi(optarg); break;
		case 's': o.size = (size_t)atol(optarg); break;
		case 't': o.secs = atof(optarg); break;
		case 'w': o.warmup = atof(optarg); break;
		case 'L':
			o.lines = strcmp(optarg, "echo") == 0 ? LINES_ECHO :
			    strcmp(optarg, "upper") == 0 ? LINES_UPPER :
			    strcmp(optarg, "upper-crlf") == 0 ? LINES_UPPER_CRLF :
			    (usage(), 0);
			break;
		default: usage();
		}
	}
	if (!have_addr || o.conns < 1 || o.depth < 1 || o.size < 1 ||
	    o.secs <= 0 || (o.lines != LINES_OFF && (o.udp || o.size < 2)))
		usage();
	o.esize = o.size + (o.lines == LINES_UPPER_CRLF);
	bench_raise_nofile();
	if (o.udp)
		run_udp(&o);
	else
		run_tcp(&o);
	printf("msgs_s=%.0f mb_s=%.2f p50_us=%.1f p99_us=%.1f errors=%llu",
	    (double)res.msgs / o.secs,
	    (double)res.msgs * (double)o.size / o.secs / 1e6,
	    (double)hist_quantile(&res.lat, 0.50) / 1e3,
	    (double)hist_quantile(&res.lat, 0.99) / 1e3,
	    (unsigned long long)res.errors);
	if (o.udp) {
		uint64_t lost = res.sent > res.received ? res.sent - res.received : 0;

		printf(" sent=%llu lost=%llu loss_pct=%.3f",
		    (unsigned long long)res.sent, (unsigned long long)lost,
		    res.sent ? 100.0 * (double)lost / (double)res.sent : 0.0);
	}
	printf("\n");
	return res.errors != 0;
}
