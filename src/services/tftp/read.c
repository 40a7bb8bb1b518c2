/*
 * read.c - sending a file (RRQ).
 *
 * Blocks are read into a window of slots (RFC 7440; a window of one is
 * RFC 1350's stop and wait), octet blocks with one preadv a window,
 * netascii a block at a time through its encoder, and kept there
 * until acknowledged, so a retransmission sends the same bytes again,
 * netascii included; a window goes out with one sendmmsg.  Only the
 * sweep's timeout sends a block a second time: a duplicate ACK is never
 * answered (the Sorcerer's Apprentice bug of RFC 1350, RFC 1123 4.2.3.1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "../../fsroot.h"
#include "../../log.h"
#include "../../server.h"
#include "tftp.h"

static char *
tftp_rd_slot(const struct tftp_xfer *x, uint64_t k)
{
	return x->rd.slots + (k % x->window) * (size_t)(TFTP_HDR + x->blksize);
}

/* Sends blocks from..to (at most a window) from their slots with one
 * sendmmsg; what the socket will not take now is lost, as in tftp_send. */
void
tftp_rd_send(struct tftp_xfer *x, uint64_t from, uint64_t to)
{
	struct mmsghdr msgs[TFTP_WINDOW_CAP];
	struct iovec iov[TFTP_WINDOW_CAP];
	unsigned n = 0;
	int sent;

	for (uint64_t k = from; k <= to && n < TFTP_WINDOW_CAP; k++, n++) {
		iov[n].iov_base = tftp_rd_slot(x, k);
		iov[n].iov_len = x->rd.lens[k % x->window];
		memset(&msgs[n], 0, sizeof(msgs[n]));
		msgs[n].msg_hdr.msg_name = &x->peer;
		msgs[n].msg_hdr.msg_namelen = x->peerlen;
		msgs[n].msg_hdr.msg_iov = &iov[n];
		msgs[n].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(x->fd, msgs, n, MSG_DONTWAIT);
	for (int i = 0; i < sent; i++)
		x->ts->svc->stats.bytes_sent += iov[i].iov_len;
}

/* pread until len bytes or the end of the file; the count or -errno. */
static ssize_t
tftp_pread(struct tftp_xfer *x, char *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(x->file, out + got, len - got, x->rd.off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
		x->rd.off += n;
	}
	return (ssize_t)got;
}

/* One block of netascii: file bytes encoded until the block is full or
 * the file and the encoder are both done. */
static ssize_t
tftp_rd_ascii(struct tftp_xfer *x, char *out)
{
	struct tftp_rd *rd = &x->rd;
	size_t o = 0, used, w;

	while (o < (size_t)x->blksize) {
		if (rd->rawpos == rd->rawlen && !rd->eof) {
			ssize_t n = tftp_pread(x, rd->raw, (size_t)x->blksize);

			if (n < 0)
				return n;
			rd->eof = n == 0;
			rd->rawlen = (size_t)n;
			rd->rawpos = 0;
		}
		w = tftp_netascii_encode(&x->asc, rd->raw + rd->rawpos,
		    rd->rawlen - rd->rawpos, &used, out + o, (size_t)x->blksize - o);
		rd->rawpos += used;
		o += w;
		if (w == 0 && used == 0 && rd->eof)
			break;
	}
	return (ssize_t)o;
}

/* Reads the next block into its slot; 0 or a negative errno. */
static int
tftp_rd_make(struct tftp_xfer *x)
{
	uint64_t k = x->rd.made + 1;
	char *pkt = tftp_rd_slot(x, k);
	ssize_t n = x->mode == TFTP_MODE_NETASCII ?
	    tftp_rd_ascii(x, pkt + TFTP_HDR) :
	    tftp_pread(x, pkt + TFTP_HDR, (size_t)x->blksize);

	if (n < 0)
		return (int)n;
	tftp_put_header(pkt, TFTP_DATA, tftp_wire_block(k));
	x->rd.lens[k % x->window] = TFTP_HDR + (size_t)n;
	x->rd.made = k;
	if (n < x->blksize)
		x->rd.last = k;
	return 0;
}

/* Octet blocks made..top with one preadv into their slots, as many as
 * came whole; a short read (the end of the file) is left to
 * tftp_rd_make, which reads the last block again on its own.  0 or a
 * negative errno. */
static int
tftp_rd_make_many(struct tftp_xfer *x, uint64_t top)
{
	struct iovec iov[TFTP_WINDOW_CAP];
	uint64_t k = x->rd.made + 1;
	size_t bs = (size_t)x->blksize;
	int n = 0;
	ssize_t got;

	for (uint64_t b = k; b <= top && n < TFTP_WINDOW_CAP; b++, n++) {
		iov[n].iov_base = tftp_rd_slot(x, b) + TFTP_HDR;
		iov[n].iov_len = bs;
	}
	do
		got = preadv(x->file, iov, n, x->rd.off);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -errno;
	for (; got >= (ssize_t)bs; got -= (ssize_t)bs, k++) {
		tftp_put_header(tftp_rd_slot(x, k), TFTP_DATA, tftp_wire_block(k));
		x->rd.lens[k % x->window] = TFTP_HDR + bs;
		x->rd.made = k;
		x->rd.off += (off_t)bs;
	}
	return 0;
}

/* Fills the window from base and sends the blocks not sent yet; false
 * when the file could not be read (the transfer has ended then). */
bool
tftp_rd_advance(struct tftp_xfer *x)
{
	uint64_t top = x->rd.base + x->window - 1;
	int rc = 0;

	/* A window of octet blocks costs one read, not one a block. */
	if (x->mode == TFTP_MODE_OCTET && x->rd.made + 1 < top &&
	    x->rd.last == 0)
		rc = tftp_rd_make_many(x, top);
	while (rc == 0 && x->rd.made < top && x->rd.last == 0)
		rc = tftp_rd_make(x);
	if (rc < 0) {
		svc_log(x->ts->svc, LOG_LVL_WARNING, "%s: read: %s", x->path,
		    strerror(-rc));
		tftp_xfer_fail(x, rc);
		return false;
	}
	if (x->rd.sent < x->rd.made)
		tftp_rd_send(x, x->rd.sent + 1, x->rd.made);
	x->rd.sent = x->rd.made;
	x->deadline = ev_now(server.loop) + x->timeout_ms;
	return true;
}

/* An ACK of a read; -1 when the transfer ended.  One for a block before
 * the window (a duplicate) or one never sent changes nothing. */
int
tftp_rd_ack(struct tftp_xfer *x, uint16_t wire)
{
	struct tftp_state *ts = x->ts;
	uint64_t n;

	if (x->state == XFER_OACK) {
		if (wire != 0)
			return 0;
		x->state = XFER_SEND;
		x->tries = 0;
		return tftp_rd_advance(x) ? 0 : -1;
	}
	n = tftp_abs_block(x->rd.base - 1, wire);
	if (n < x->rd.base || n > x->rd.sent)
		return 0;
	x->rd.base = n + 1;
	x->tries = 0;
	if (x->rd.last != 0 && n == x->rd.last) {
		ts->svc->stats.custom[TFTP_C_READS]++;
		ts->svc->stats.custom[TFTP_C_BYTES] += (uint64_t)x->rd.off;
		svc_log(ts->svc, LOG_LVL_INFO, "sent %s (%lld bytes)", x->path,
		    (long long)x->rd.off);
		tftp_xfer_end(x, true, -1, NULL);
		return -1;
	}
	return tftp_rd_advance(x) ? 0 : -1;
}

/* Opens the file of an RRQ and takes its options; -1, or the error code
 * for the client with *msg. */
int
tftp_rd_open(struct tftp_xfer *x, const struct tftp_conf *tc,
    const struct tftp_request *req, struct tftp_options *acc,
    const char **msg)
{
	struct stat st;
	int fd = fsroot_check(x->path);

	if (fd == 0)
		fd = fsroot_open(tc->rootfd, x->path,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
	if (fd < 0)
		return tftp_errno_code(fd, msg);
	x->file = fd;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*msg = "not a regular file";
		return TFTP_EACCESS;
	}
	/* The size of a netascii transfer is known only once it is sent;
	 * and curl takes a tsize of 0 for an invalid answer, so an empty
	 * file goes without one (RFC 2349 lets a server leave it out). */
	if ((req->opts.seen & TFTP_OPT_TSIZE) && x->mode == TFTP_MODE_OCTET &&
	    st.st_size > 0) {
		acc->seen |= TFTP_OPT_TSIZE;
		acc->tsize = (uint64_t)st.st_size;
	}
	x->rd.base = 1;
	if (!tftp_mem_take(x, x->window * (TFTP_HDR + (size_t)x->blksize +
	    sizeof(*x->rd.lens)) + (size_t)x->blksize, msg))
		return TFTP_EUNDEF;
	x->rd.slots = malloc(x->window * (size_t)(TFTP_HDR + x->blksize));
	x->rd.lens = calloc(x->window, sizeof(*x->rd.lens));
	if (x->mode == TFTP_MODE_NETASCII)
		x->rd.raw = malloc((size_t)x->blksize);
	if (x->rd.slots == NULL || x->rd.lens == NULL ||
	    (x->mode == TFTP_MODE_NETASCII && x->rd.raw == NULL)) {
		*msg = "out of memory";
		return TFTP_EUNDEF;
	}
	return -1;
}
