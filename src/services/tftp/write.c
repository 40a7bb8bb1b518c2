/*
 * write.c - receiving a file (WRQ).
 *
 * Blocks are gathered in one of two buffers and written by a worker
 * thread while the other fills, so the disk never stalls the reactor;
 * when both are busy the ACK waits.  The file is anonymous (O_TMPFILE)
 * until the last block: then durable.h syncs it and gives it its name,
 * which must not exist (error 6), and only then is the last ACK sent.
 * An upload abandoned at any point leaves nothing, as an anonymous file
 * vanishes with its descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../fsroot.h"
#include "../../log.h"
#include "../../server.h"
#include "tftp.h"

#define TFTP_FILE_MODE   0644         /* of an uploaded file */

static bool
tftp_wr_room(const struct tftp_xfer *x)
{
	return TFTP_WCHUNK - x->wr.filllen >= (size_t)x->blksize + 1;
}

/* Acknowledges the last block received in order (before the first, the
 * OACK or ACK 0 again), and remembers it for a retransmission. */
void
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
int
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
int
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
	if (!tftp_mem_take(x, 2 * TFTP_WCHUNK, msg))
		return TFTP_EUNDEF;
	x->wr.fill = malloc(TFTP_WCHUNK);
	x->wr.spare = malloc(TFTP_WCHUNK);
	if (ts->durable == NULL || x->wr.fill == NULL || x->wr.spare == NULL)
		return tftp_errno_code(rc < 0 ? rc : -ENOMEM, msg);
	return -1;
}
