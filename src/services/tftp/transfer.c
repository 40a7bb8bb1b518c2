/*
 * transfer.c - one TFTP transfer, on a UDP socket of its own (its TID)
 * bound on the address the request was sent to and registered with the reactor: the
 * socket, the packets of its client, the sweep's timeouts, the start and
 * the end.  read.c sends a file, write.c receives one.
 *
 * A packet from another address or port gets error 5 and changes
 * nothing.  A transfer whose disk job is still at a thread when it ends
 * is freed by that job's completion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../../admit.h"
#include "../../listener.h"
#include "../../log.h"
#include "../../server.h"
#include "tftp.h"

#define TFTP_RECV_BURST  64           /* datagrams per wakeup, at most */
#define TFTP_SOCK_BUF    (1 << 20)    /* socket buffers asked for */

/* ---- sockets ----------------------------------------------------------- */

static bool
tftp_same_peer(const struct tftp_xfer *x, const struct sockaddr *sa)
{
	if (sa->sa_family != x->peer.ss_family)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		const struct sockaddr_in *b = (const struct sockaddr_in *)&x->peer;
		return a->sin_port == b->sin_port &&
		    a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)&x->peer;
		return a->sin6_port == b->sin6_port &&
		    memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
	}
	return false;
}

/* Sends one datagram from x's socket; one the socket will not take now
 * is lost, as UDP allows, and the timeout sends it again. */
static void
tftp_send_to(struct tftp_xfer *x, const void *p, size_t len,
    const struct sockaddr *to, socklen_t tolen)
{
	if (sendto(x->fd, p, len, MSG_DONTWAIT, to, tolen) == (ssize_t)len)
		x->ts->svc->stats.bytes_sent += len;
}

void
tftp_send(struct tftp_xfer *x, const void *p, size_t len)
{
	tftp_send_to(x, p, len, (const struct sockaddr *)&x->peer, x->peerlen);
}

/* The address a transfer of d binds: the one the client wrote to, so
 * that on a wildcard listener the reply comes from there (as tftpd-hpa
 * does), else the listener's own; the port is the kernel's choice.  A
 * multicast destination is no address to answer from.  0 or -errno. */
static int
tftp_bind_addr(const struct dgram *d, struct sockaddr_storage *ss,
    socklen_t *len)
{
	*len = sizeof(*ss);
	if (getsockname(d->listener->fd, (struct sockaddr *)ss, len) != 0)
		return -errno;
	if (d->local == NULL || d->local->sa_family != ss->ss_family ||
	    d->locallen > sizeof(*ss))
		return 0;
	if (d->local->sa_family == AF_INET6 && IN6_IS_ADDR_MULTICAST(
	    &((const struct sockaddr_in6 *)d->local)->sin6_addr))
		return 0;
	if (d->local->sa_family == AF_INET && IN_MULTICAST(ntohl(
	    ((const struct sockaddr_in *)d->local)->sin_addr.s_addr)))
		return 0;
	memcpy(ss, d->local, d->locallen);
	*len = d->locallen;
	return 0;
}

/* A socket on the address tftp_bind_addr gives for d; a dual-stack
 * listener ('*') gives a dual-stack socket, so a client that came over
 * IPv4 is answered over IPv4.  The fd or a negative errno. */
static int
tftp_socket(const struct dgram *d)
{
	const struct listener *l = d->listener;
	struct sockaddr_storage ss;
	socklen_t len, optlen;
	int fd, v6only = 1, bufsz = TFTP_SOCK_BUF, err;

	if ((err = tftp_bind_addr(d, &ss, &len)) < 0)
		return err;
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ss.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&ss)->sin6_port = 0;
		optlen = sizeof(v6only);
		if (getsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    &optlen) == 0)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
			    sizeof(v6only));
	} else
		((struct sockaddr_in *)&ss)->sin_port = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The TFTP error for a failed lookup, open or write. */
int
tftp_errno_code(int err, const char **msg)
{
	switch (-err) {
	case ENOENT:
	case ENOTDIR:
		*msg = "file not found";
		return TFTP_ENOTFOUND;
	case EXDEV:
	case ELOOP:
	case EACCES:
	case EPERM:
	case EISDIR:
	case ENAMETOOLONG:
	case EROFS:
		*msg = "access violation";
		return TFTP_EACCESS;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		*msg = "disk full or allocation exceeded";
		return TFTP_ENOSPACE;
	case EEXIST:
		*msg = "file already exists";
		return TFTP_EEXISTS;
	default:
		*msg = strerror(-err);
		return TFTP_EUNDEF;
	}
}

/* Ends x with the error that err (a negative errno) means. */
void
tftp_xfer_fail(struct tftp_xfer *x, int err)
{
	const char *msg;
	int code = tftp_errno_code(err, &msg);

	tftp_xfer_end(x, false, code, msg);
}
/* ---- the transfer ------------------------------------------------------ */

/* One packet from the client; -1 when the transfer ended.  Garbage is
 * ignored; a packet of the wrong kind ends the transfer (error 4). */
static int
tftp_xfer_input(struct tftp_xfer *x, const char *pkt, size_t len)
{
	struct tftp_packet p;

	if (tftp_parse(pkt, len, &p) != 0)
		return 0;
	if (p.op == TFTP_ERROR) {
		svc_log(x->ts->svc, LOG_LVL_INFO, "%s: the client gave up: "
		    "error %u", x->path, p.code);
		tftp_xfer_end(x, false, -1, NULL);
		return -1;
	}
	if (x->op == TFTP_RRQ && p.op == TFTP_ACK)
		return tftp_rd_ack(x, p.block);
	if (x->op == TFTP_WRQ && p.op == TFTP_DATA)
		return tftp_wr_data(x, p.data, p.len, p.block);
	tftp_xfer_end(x, false, TFTP_EBADOP, "unexpected packet");
	return -1;
}

/* The transfer's socket is readable: its client's packets are handled,
 * and a stranger's get error 5. */
static void
tftp_on_packet(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct tftp_xfer *x = data;
	struct tftp_state *ts = x->ts;
	struct svc *svc = ts->svc;
	char err[TFTP_ERROR_MAX];

	(void)loop;
	(void)mask;
	for (int i = 0; i < TFTP_RECV_BURST; i++) {
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, ts->pkt, sizeof(ts->pkt), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);

		if (n < 0)
			return;
		svc->stats.datagrams_received++;
		svc->stats.bytes_received += (uint64_t)n;
		if (!tftp_same_peer(x, (struct sockaddr *)&from)) {
			tftp_send_to(x, err, tftp_build_error(err, TFTP_EBADID,
			    "unknown transfer ID"), (struct sockaddr *)&from,
			    fromlen);
			continue;
		}
		if (tftp_xfer_input(x, ts->pkt, (size_t)n) != 0)
			return;
	}
}

void
tftp_xfer_timeout(struct tftp_xfer *x)
{
	struct svc *svc = x->ts->svc;
	uint64_t resent = 0;

	if (x->state == XFER_DALLY) {
		tftp_xfer_end(x, true, -1, NULL);
		return;
	}
	x->deadline = ev_now(server.loop) + x->timeout_ms;
	if (x->busy || x->state == XFER_CLOSING || x->wr.ack_owed)
		return;                /* the disk, not the client, is slow */
	if (x->tries >= x->retries) {
		svc_log(svc, LOG_LVL_INFO, "%s: abandoned after %u "
		    "retransmissions", x->path, x->tries);
		tftp_xfer_end(x, false, -1, NULL);
		return;
	}
	x->tries++;
	if (x->state == XFER_SEND) {
		tftp_rd_send(x, x->rd.base, x->rd.sent);
		resent = x->rd.sent - x->rd.base + 1;
	} else if (x->state == XFER_RECV) {
		tftp_wr_ack(x);
		resent = 1;
	} else {
		tftp_send(x, x->ctl, x->ctllen);
		resent = 1;
	}
	svc->stats.custom[TFTP_C_RETRANSMITS] += resent;
}

bool
tftp_mem_take(struct tftp_xfer *x, size_t len, const char **msg)
{
	if (x->ts->mem + len > TFTP_MEM_MAX) {
		*msg = "server busy: out of buffer memory";
		return false;
	}
	x->ts->mem += len;
	x->mem += len;
	return true;
}

void
tftp_xfer_free(struct tftp_xfer *x)
{
	x->ts->mem -= x->mem;
	if (x->file >= 0)
		close(x->file);
	if (x->wr.dirfd >= 0)
		close(x->wr.dirfd);
	free(x->rd.slots);
	free(x->rd.lens);
	free(x->rd.raw);
	free(x->wr.fill);
	free(x->wr.spare);
	free(x->wr.name);
	free(x->path);
	free(x);
}

void
tftp_xfer_end(struct tftp_xfer *x, bool ok, int code, const char *msg)
{
	struct tftp_state *ts = x->ts;
	char pkt[TFTP_ERROR_MAX];

	if (code >= 0 && x->fd >= 0)
		tftp_send(x, pkt, tftp_build_error(pkt, (uint16_t)code, msg));
	if (!ok)
		ts->svc->stats.custom[TFTP_C_FAILED]++;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else if (ts->xfers == x)
		ts->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	ts->nxfers--;
	admit_release(ts->svc, &x->ip);
	if (x->fd >= 0) {
		ev_del(server.loop, x->fd, EV_READABLE);
		close(x->fd);
		x->fd = -1;
	}
	/* A job at a thread still uses the file and the buffers. */
	if (x->busy)
		x->orphan = true;
	else
		tftp_xfer_free(x);
}

/* The options the server takes: blksize and timeout as asked, windowsize
 * at most what a window may hold in memory. */
static void
tftp_xfer_options(struct tftp_xfer *x, const struct tftp_request *req,
    struct tftp_options *acc)
{
	const struct tftp_options *o = &req->opts;
	long cap;

	if (o->seen & TFTP_OPT_BLKSIZE) {
		acc->seen |= TFTP_OPT_BLKSIZE;
		acc->blksize = x->blksize = o->blksize;
	}
	if (o->seen & TFTP_OPT_TIMEOUT) {
		acc->seen |= TFTP_OPT_TIMEOUT;
		acc->timeout = o->timeout;
		x->timeout_ms = o->timeout * 1000;
	}
	if (o->seen & TFTP_OPT_WINDOWSIZE) {
		cap = req->op == TFTP_RRQ ?
		    TFTP_WINDOW_BYTES / (TFTP_HDR + x->blksize) :
		    TFTP_WCHUNK / (x->blksize + 1);
		cap = cap < 1 ? 1 : cap > TFTP_WINDOW_CAP ? TFTP_WINDOW_CAP : cap;
		acc->seen |= TFTP_OPT_WINDOWSIZE;
		acc->windowsize = o->windowsize < cap ? o->windowsize : cap;
		x->window = (unsigned)acc->windowsize;
	}
}

/* A new transfer of req for d's sender, before its file is looked at. */
static struct tftp_xfer *
tftp_xfer_new(struct tftp_state *ts, const struct dgram *d,
    const struct tftp_request *req, const char *rel)
{
	const struct tftp_conf *tc = ts->svc->conf->tconf;
	struct tftp_xfer *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->path = strdup(rel)) == NULL) {
		free(x);
		return NULL;
	}
	x->ts = ts;
	x->fd = x->file = x->wr.dirfd = -1;
	x->op = req->op;
	x->mode = req->mode;
	memcpy(&x->peer, d->from, d->fromlen);
	x->peerlen = d->fromlen;
	addr_key(d->from, &x->ip);
	x->blksize = TFTP_BLKSIZE_DEFAULT;
	x->window = 1;
	x->timeout_ms = tc->timeout * 1000;
	x->retries = (unsigned)tc->retries;
	x->max_size = (uint64_t)tc->max_size;
	return x;
}

/* The first packet: an OACK when an option was taken, else block 1 of a
 * read or ACK 0 of a write.  false when the transfer ended. */
static bool
tftp_xfer_begin(struct tftp_xfer *x, const struct tftp_options *acc)
{
	if (acc->seen != 0) {
		x->ctllen = tftp_build_oack(x->ctl, acc);
		x->state = x->op == TFTP_RRQ ? XFER_OACK : XFER_RECV;
	} else if (x->op == TFTP_WRQ) {
		tftp_put_header(x->ctl, TFTP_ACK, 0);
		x->ctllen = TFTP_HDR;
		x->state = XFER_RECV;
	} else {
		x->state = XFER_SEND;
		return tftp_rd_advance(x);
	}
	tftp_send(x, x->ctl, x->ctllen);
	x->deadline = ev_now(server.loop) + x->timeout_ms;
	return true;
}

/* Gives x its socket and links it in; 0, or a negative errno with
 * nothing done. */
static int
tftp_xfer_link(struct tftp_xfer *x, const struct dgram *d)
{
	struct tftp_state *ts = x->ts;
	int rc;

	if ((x->fd = tftp_socket(d)) < 0) {
		rc = x->fd;
		x->fd = -1;
		return rc;
	}
	if ((rc = ev_add(server.loop, x->fd, EV_READABLE, tftp_on_packet, x)) < 0) {
		close(x->fd);
		x->fd = -1;
		return rc;
	}
	x->next = ts->xfers;
	if (ts->xfers != NULL)
		ts->xfers->prev = x;
	ts->xfers = x;
	ts->nxfers++;
	tftp_sweep_arm(ts);
	return 0;
}

int
tftp_xfer_start(struct tftp_state *ts, struct dgram *d,
    const struct tftp_request *req, const char *rel)
{
	const struct tftp_conf *tc = ts->svc->conf->tconf;
	struct tftp_options acc = { 0 };
	struct tftp_xfer *x = tftp_xfer_new(ts, d, req, rel);
	const char *msg = "out of memory";
	char pkt[TFTP_ERROR_MAX];
	int code = TFTP_EUNDEF, rc;

	if (x != NULL) {
		tftp_xfer_options(x, req, &acc);
		code = x->op == TFTP_RRQ ? tftp_rd_open(x, tc, req, &acc, &msg) :
		    tftp_wr_open(x, tc, req, &acc, &msg);
	}
	if (code < 0 && (rc = tftp_xfer_link(x, d)) < 0) {
		svc_log(ts->svc, LOG_LVL_WARNING, "transfer socket: %s",
		    strerror(-rc));
		code = TFTP_EUNDEF;
		msg = "server busy: no socket";
	}
	if (code >= 0) {
		ts->svc->stats.custom[TFTP_C_FAILED]++;
		dgram_reply(d, pkt, tftp_build_error(pkt, (uint16_t)code, msg));
		if (x != NULL)
			tftp_xfer_free(x);
		return -1;
	}
	svc_log(ts->svc, LOG_LVL_DEBUG, "%s %s", x->op == TFTP_RRQ ? "RRQ" :
	    "WRQ", x->path);
	/* A read that fails at its first block has ended, and said so. */
	tftp_xfer_begin(x, &acc);
	return 0;
}
