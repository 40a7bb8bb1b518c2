/*
 * transfer.c - one TFTP transfer, on a UDP socket of its own (its TID)
 * bound on the listener's address and registered with the reactor.
 *
 * Reading: blocks are read with small pread calls into a window of slots
 * (RFC 7440; a window of one is RFC 1350's stop and wait) and kept there
 * until acknowledged, so a retransmission sends the same bytes again,
 * netascii included.  Only the sweep's timeout sends a block a second
 * time: a duplicate ACK is never answered (the Sorcerer's Apprentice
 * bug of RFC 1350, RFC 1123 4.2.3.1).
 *
 * Writing: blocks are gathered in one of two buffers and written by a
 * worker thread while the other fills, so the disk never stalls the
 * reactor; when both are busy the ACK waits.  The file is anonymous
 * (O_TMPFILE) until the last block: then durable.h syncs it and gives it
 * its name, which must not exist (error 6), and only then is the last
 * ACK sent.  An upload abandoned at any point leaves nothing, as an
 * anonymous file vanishes with its descriptor.
 *
 * A packet from another address or port gets error 5 and changes
 * nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../fsroot.h"
#include "../../listener.h"
#include "../../log.h"
#include "../../server.h"
#include "tftp.h"

#define TFTP_RECV_BURST  64           /* datagrams per wakeup, at most */
#define TFTP_SOCK_BUF    (1 << 20)    /* socket buffers asked for */
#define TFTP_FILE_MODE   0644         /* of an uploaded file */

static void tftp_xfer_free(struct tftp_xfer *x);

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

static void
tftp_send(struct tftp_xfer *x, const void *p, size_t len)
{
	tftp_send_to(x, p, len, (const struct sockaddr *)&x->peer, x->peerlen);
}

/* A socket on the listener's address with a port of the kernel's
 * choosing; a dual-stack listener ('*') gives a dual-stack socket, so a
 * client that came over IPv4 is answered over IPv4.  The fd or a
 * negative errno. */
static int
tftp_socket(const struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), optlen;
	int fd, v6only = 1, bufsz = TFTP_SOCK_BUF, err;

	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
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
static int
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
static void
tftp_xfer_fail(struct tftp_xfer *x, int err)
{
	const char *msg;
	int code = tftp_errno_code(err, &msg);

	tftp_xfer_end(x, false, code, msg);
}

/* ---- reading ----------------------------------------------------------- */

static char *
tftp_rd_slot(const struct tftp_xfer *x, uint64_t k)
{
	return x->rd.slots + (k % x->window) * (size_t)(TFTP_HDR + x->blksize);
}

/* Sends blocks from..to (at most a window) from their slots with one
 * sendmmsg; what the socket will not take now is lost, as in tftp_send. */
static void
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

/* Fills the window from base and sends the blocks not sent yet; false
 * when the file could not be read (the transfer has ended then). */
static bool
tftp_rd_advance(struct tftp_xfer *x)
{
	uint64_t top = x->rd.base + x->window - 1;
	int rc;

	while (x->rd.made < top && x->rd.last == 0)
		if ((rc = tftp_rd_make(x)) < 0) {
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
static int
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
static int
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

/* ---- writing ----------------------------------------------------------- */

static bool
tftp_wr_room(const struct tftp_xfer *x)
{
	return TFTP_WCHUNK - x->wr.filllen >= (size_t)x->blksize + 1;
}

/* Acknowledges the last block received in order (before the first, the
 * OACK or ACK 0 again), and remembers it for a retransmission. */
static void
tftp_wr_ack(struct tftp_xfer *x)
{
	if (x->wr.got > 0) {
		tftp_put_header(x->ctl, TFTP_ACK, tftp_wire_block(x->wr.got));
		x->ctllen = TFTP_HDR;
	}
	tftp_send(x, x->ctl, x->ctllen);
	x->wr.inwin = 0;
}

static struct tftp_xfer *
tftp_xfer_of_wjob(struct worker_job *job)
{
	struct tftp_wjob *j = (struct tftp_wjob *)(void *)((char *)job -
	    offsetof(struct tftp_wjob, job));

	return j->x;
}

/* On the worker: writes one buffer of the upload. */
static void
tftp_wjob_run(struct worker_job *job)
{
	struct tftp_wjob *j = (struct tftp_wjob *)(void *)((char *)job -
	    offsetof(struct tftp_wjob, job));
	size_t done = 0;

	j->result = 0;
	while (done < j->len) {
		ssize_t n = pwrite(j->fd, j->p + done, j->len - done,
		    j->off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			j->result = n < 0 ? -errno : -EIO;
			return;
		}
		done += (size_t)n;
	}
}

static void tftp_wjob_done(struct worker_job *job);
static void tftp_placed(struct durable_req *req);

/* The upload is complete and written: durable syncs it and names it. */
static int
tftp_wr_place(struct tftp_xfer *x)
{
	struct durable_req *r = &x->wr.dreq;

	memset(r, 0, sizeof(*r));
	r->dirfd = x->wr.dirfd;
	r->tmpdirfd = -1;
	r->name = x->wr.name;
	r->fd = x->file;
	r->mode = TFTP_FILE_MODE;
	r->flags = DURABLE_NOREPLACE;
	if (durable_submit(x->ts->durable, r, tftp_placed) != 0) {
		tftp_xfer_end(x, false, TFTP_EUNDEF, "server stopping");
		return -1;
	}
	x->file = -1;
	x->busy = true;
	return 0;
}

/* Moves an upload along: a full buffer (or, after the last block, what
 * is left) goes to the worker, an ACK owed for want of room goes out,
 * and once everything is written the file is placed.  -1 when the
 * transfer ended. */
static int
tftp_wr_pump(struct tftp_xfer *x)
{
	struct tftp_wjob *j = &x->wr.wjob;
	char *full = x->wr.fill;

	if (x->busy)
		return 0;
	if (x->wr.filllen == 0 || (tftp_wr_room(x) && x->state != XFER_CLOSING))
		return x->state == XFER_CLOSING ? tftp_wr_place(x) : 0;
	j->x = x;
	j->fd = x->file;
	j->p = full;
	j->len = x->wr.filllen;
	j->off = x->wr.off;
	j->job.run = tftp_wjob_run;
	j->job.done = tftp_wjob_done;
	if (worker_submit(x->ts->writer, &j->job) != 0) {
		tftp_xfer_end(x, false, TFTP_EUNDEF, "server stopping");
		return -1;
	}
	x->busy = true;
	x->wr.fill = x->wr.spare;
	x->wr.spare = full;
	x->wr.off += (off_t)x->wr.filllen;
	x->wr.filllen = 0;
	if (x->wr.ack_owed) {
		x->wr.ack_owed = false;
		tftp_wr_ack(x);
	}
	return 0;
}

/* Back on the reactor after a buffer was written. */
static void
tftp_wjob_done(struct worker_job *job)
{
	struct tftp_xfer *x = tftp_xfer_of_wjob(job);
	int rc = x->wr.wjob.result;

	x->busy = false;
	if (x->orphan) {
		tftp_xfer_free(x);
		return;
	}
	if (rc < 0) {
		svc_log(x->ts->svc, LOG_LVL_WARNING, "%s: write: %s", x->path,
		    strerror(-rc));
		tftp_xfer_fail(x, rc);
		return;
	}
	tftp_wr_pump(x);
}

/* Back on the reactor once the upload is synced and named, or not. */
static void
tftp_placed(struct durable_req *req)
{
	struct tftp_xfer *x = (struct tftp_xfer *)(void *)((char *)req -
	    offsetof(struct tftp_xfer, wr.dreq));
	struct tftp_state *ts = x->ts;

	x->busy = false;
	if (x->orphan) {
		tftp_xfer_free(x);
		return;
	}
	if (req->result < 0) {
		if (req->result != -EEXIST)
			svc_log(ts->svc, LOG_LVL_WARNING, "%s: cannot place: %s",
			    x->path, strerror(-req->result));
		tftp_xfer_fail(x, req->result);
		return;
	}
	ts->svc->stats.custom[TFTP_C_WRITES]++;
	ts->svc->stats.custom[TFTP_C_BYTES] += x->wr.size;
	svc_log(ts->svc, LOG_LVL_INFO, "received %s (%llu bytes)", x->path,
	    (unsigned long long)x->wr.size);
	/* The last ACK may be lost: a repeated last block gets it again
	 * for two timeouts (RFC 1350's dally). */
	tftp_wr_ack(x);
	x->state = XFER_DALLY;
	x->tries = 0;
	x->deadline = ev_now(server.loop) + 2 * x->timeout_ms;
}

/* Appends a block's payload to the fill buffer (there is room). */
static void
tftp_wr_append(struct tftp_xfer *x, const char *data, size_t len, bool last)
{
	char *out = x->wr.fill + x->wr.filllen;
	size_t n = len;

	if (x->mode == TFTP_MODE_NETASCII) {
		n = tftp_netascii_decode(&x->asc, data, len, out);
		if (last)
			n += tftp_netascii_decode_end(&x->asc, out + n);
	} else
		memcpy(out, data, len);
	x->wr.filllen += n;
	x->wr.size += n;
}

/* A DATA packet of an upload; -1 when the transfer ended. */
static int
tftp_wr_data(struct tftp_xfer *x, const char *data, size_t len,
    uint16_t wire)
{
	bool last = len < (size_t)x->blksize;

	if (x->state == XFER_DALLY) {
		if (wire == tftp_wire_block(x->wr.got))
			tftp_send(x, x->ctl, x->ctllen);
		return 0;
	}
	if (x->state == XFER_CLOSING)
		return 0;
	if (wire != tftp_wire_block(x->wr.got + 1)) {
		/* Sent again, or after a lost one (RFC 7440): the last block
		 * in order is acknowledged again, unless its ACK waits. */
		if (!x->wr.ack_owed)
			tftp_wr_ack(x);
		return 0;
	}
	if (x->wr.ack_owed)
		return 0;              /* no room yet: the client sends it again */
	if (len > (size_t)x->blksize) {
		tftp_xfer_end(x, false, TFTP_EBADOP, "block larger than blksize");
		return -1;
	}
	if (x->wr.size + len > x->max_size) {
		tftp_xfer_end(x, false, TFTP_ENOSPACE, "file too large (max_size)");
		return -1;
	}
	tftp_wr_append(x, data, len, last);
	x->wr.got++;
	x->wr.inwin++;
	x->tries = 0;
	x->deadline = ev_now(server.loop) + x->timeout_ms;
	if (last) {
		x->state = XFER_CLOSING;
		return tftp_wr_pump(x);
	}
	if (!tftp_wr_room(x) && tftp_wr_pump(x) != 0)
		return -1;
	if (!tftp_wr_room(x))
		x->wr.ack_owed = true;
	else if (x->wr.inwin >= x->window)
		tftp_wr_ack(x);
	return 0;
}

/* Checks a WRQ and creates its anonymous file; -1, or the error code for
 * the client with *msg. */
static int
tftp_wr_open(struct tftp_xfer *x, const struct tftp_conf *tc,
    const struct tftp_request *req, struct tftp_options *acc,
    const char **msg)
{
	struct tftp_state *ts = x->ts;
	char *slash, *dir;
	struct stat st;
	int rc;

	if (!tc->write) {
		*msg = "writing is not enabled";
		return TFTP_EACCESS;
	}
	if ((req->opts.seen & TFTP_OPT_TSIZE) && req->opts.tsize > x->max_size) {
		*msg = "file too large (max_size)";
		return TFTP_ENOSPACE;
	}
	if (req->opts.seen & TFTP_OPT_TSIZE) {
		acc->seen |= TFTP_OPT_TSIZE;
		acc->tsize = req->opts.tsize;
	}
	if ((rc = fsroot_check(x->path)) < 0)
		return tftp_errno_code(rc, msg);
	if ((dir = strdup(x->path)) == NULL)
		return tftp_errno_code(-ENOMEM, msg);
	slash = strrchr(dir, '/');
	x->wr.name = strdup(slash != NULL ? slash + 1 : dir);
	if (slash != NULL)
		*slash = '\0';
	rc = x->wr.name == NULL ? -ENOMEM : fsroot_open(tc->rootfd,
	    slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	free(dir);
	if (rc < 0)
		return tftp_errno_code(rc, msg);
	x->wr.dirfd = rc;
	if (!fsroot_name_ok(x->wr.name))
		return tftp_errno_code(-EACCES, msg);
	if (fstatat(x->wr.dirfd, x->wr.name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return tftp_errno_code(-EEXIST, msg);
	if ((rc = durable_tmpfile(x->wr.dirfd, TFTP_FILE_MODE)) < 0) {
		if (rc != -EOPNOTSUPP)
			return tftp_errno_code(rc, msg);
		*msg = "uploads need a file system with O_TMPFILE";
		return TFTP_EUNDEF;
	}
	x->file = rc;
	rc = 0;
	if (ts->writer == NULL) {
		const struct worker_config wc = { .name = "tftp-write",
		    .threads = 1 };
		ts->writer = worker_start(server.loop, &wc, &rc);
	}
	if (ts->writer != NULL && ts->durable == NULL)
		ts->durable = durable_start(server.loop, "tftp-sync", &rc);
	x->wr.fill = malloc(TFTP_WCHUNK);
	x->wr.spare = malloc(TFTP_WCHUNK);
	if (ts->durable == NULL || x->wr.fill == NULL || x->wr.spare == NULL)
		return tftp_errno_code(rc < 0 ? rc : -ENOMEM, msg);
	return -1;
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

static void
tftp_xfer_free(struct tftp_xfer *x)
{
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
	tftp_source_release(ts, &x->ip);
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
tftp_xfer_link(struct tftp_xfer *x, const struct listener *l)
{
	struct tftp_state *ts = x->ts;
	int rc;

	if ((x->fd = tftp_socket(l)) < 0) {
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
	if (code < 0 && (rc = tftp_xfer_link(x, d->listener)) < 0) {
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
