/*
 * receive.c - an upload stored as one file.
 *
 * The reactor gathers input into buffers of FILES_CHUNK bytes; the full
 * ones go to a write job on the service's worker while the next fills,
 * and a job takes every buffer that filled while the one before ran.
 * With no buffer left the connection is paused until the job is done, so
 * a slow disk slows the client instead of growing the daemon.  An upload
 * holds two buffers, and up to FILES_BUFS_MAX while the service's uploads
 * together hold less than FILES_BUFS_BUDGET: one upload alone rides out
 * the disk's and the scheduler's hiccups, a hundred stay small.  The job
 * also feeds SHA-256, and the first one creates the temporary file, so
 * the reactor never touches the disk.  After the half-close a last job writes the rest, syncs the file,
 * renames it to its final name and syncs the directory; only then is the
 * client answered.  A reset, a timeout or a failure sends a job that
 * removes the temporary file.
 *
 * An upload outlives its connection while a job is in flight: c is then
 * NULL, and the job's completion cleans up and frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "../../conn.h"
#include "../../log.h"
#include "files.h"

#define FILES_FLUSH_STEP  (8 << 20)  /* bytes between starts of writeback */
#define FILES_BUFS_MAX    16        /* buffers of one upload, at most */
#define FILES_BUFS_BUDGET 64        /* buffers of all uploads, beyond two
                                       each (8 MB) */

/* One buffer of input. */
struct up_buf {
	struct up_buf *next;          /* list link */
	size_t         len;           /* bytes in data */
	char           data[FILES_CHUNK]; /* the input */
};

/* What the job in flight does. */
enum up_step {
	UP_WRITE,                     /* write the buffer */
	UP_FINISH,                    /* write the rest, sync, place */
	UP_DISCARD,                   /* remove the temporary file */
};

struct upload {
	struct worker_job job;        /* the job in flight */
	struct conn      *c;          /* NULL once the connection is gone */
	struct files_svc *fs;         /* workers and counters */
	struct svc_conf  *conf;       /* held, for its directory */
	int               dirfd;      /* that directory */
	enum up_step      step;       /* what the job does */
	int               result;     /* its 0 or -errno */
	int               fd;         /* the temporary file, or -1 */
	char              tmp[64];    /* its name; "" before it exists */
	uint64_t          written;    /* bytes in the file */
	uint64_t          flushed;    /* bytes whose writeback has begun */
	char              base[FILES_NAME_MAX]; /* the final name wanted */
	char              name[FILES_NAME_MAX]; /* the name it got */
	EVP_MD_CTX       *md;         /* SHA-256 of what was written */
	unsigned char     digest[32]; /* its value once finished */
	struct up_buf    *fill;       /* being filled by the reactor, or NULL */
	struct up_buf    *full;       /* full, waiting for the next job */
	struct up_buf   **full_tail;  /* where the next full one goes */
	struct up_buf    *work;       /* the job's buffers, in order */
	struct up_buf    *spare;      /* free buffers */
	unsigned          nbufs;      /* buffers this upload holds */
	uint64_t          bytes;      /* received so far */
	bool              busy;       /* a job is in flight */
	bool              eof;        /* the client half-closed */
	bool              failed;     /* nothing is kept; input is discarded */
	bool              stored;     /* placed under its final name */
};

static struct upload *
up_of(struct worker_job *job)
{
	return (struct upload *)((char *)job - offsetof(struct upload, job));
}

/* ---- on the worker ---------------------------------------------------- */

/* Writes one buffer. */
static int
up_write_buf(struct upload *up, const struct up_buf *b)
{
	const char *p = b->data;
	size_t left = b->len;

	while (left > 0) {
		ssize_t n = write(up->fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		left -= (size_t)n;
	}
	EVP_DigestUpdate(up->md, b->data, b->len);
	up->written += b->len;
	return 0;
}

/* Starts writing what has gathered to disk without waiting for it, so
 * that the sync at the end finds little left to do: the client's answer
 * comes about as soon as its last byte is on disk. */
static void
up_start_writeback(struct upload *up)
{
	if (up->written - up->flushed < FILES_FLUSH_STEP)
		return;
	(void)sync_file_range(up->fd, (off_t)up->flushed,
	    (off_t)(up->written - up->flushed), SYNC_FILE_RANGE_WRITE);
	up->flushed = up->written;
}

/* Writes the job's buffers, creating the temporary file first. */
static int
up_write(struct upload *up)
{
	if (up->fd < 0) {
		files_tmpname(up->tmp, sizeof(up->tmp), "up");
		up->fd = openat(up->dirfd, up->tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (up->fd < 0) {
			up->tmp[0] = '\0';
			return -errno;
		}
	}
	for (const struct up_buf *b = up->work; b != NULL; b = b->next) {
		int rc = up_write_buf(up, b);
		if (rc != 0)
			return rc;
	}
	up_start_writeback(up);
	return 0;
}

/* The bytes on disk before the name points at them. */
static int
up_finish(struct upload *up)
{
	int rc = up_write(up);

	if (rc == 0 && EVP_DigestFinal_ex(up->md, up->digest, NULL) != 1)
		rc = -EIO;
	if (rc == 0 && fsync(up->fd) != 0)
		rc = -errno;
	if (close(up->fd) != 0 && rc == 0)
		rc = -errno;
	up->fd = -1;
	if (rc == 0)
		rc = files_place(up->dirfd, up->tmp, up->base, up->name,
		    sizeof(up->name));
	return rc;
}

static void
up_discard(struct upload *up)
{
	if (up->fd >= 0)
		close(up->fd);
	up->fd = -1;
	if (up->tmp[0] != '\0')
		unlinkat(up->dirfd, up->tmp, 0);
	up->tmp[0] = '\0';
}

static void
up_run(struct worker_job *job)
{
	struct upload *up = up_of(job);

	switch (up->step) {
	case UP_WRITE:
		up->result = up_write(up);
		break;
	case UP_FINISH:
		up->result = up_finish(up);
		if (up->result != 0)
			up_discard(up);
		break;
	case UP_DISCARD:
		up_discard(up);
		up->result = 0;
		break;
	}
}

/* ---- on the reactor --------------------------------------------------- */

static void up_done(struct worker_job *job);

/* Frees a list of buffers and gives them back to the budget. */
static void
up_bufs_free(struct upload *up, struct up_buf *b)
{
	while (b != NULL) {
		struct up_buf *next = b->next;

		if (up->nbufs-- > 2)
			up->fs->upload_bufs--;
		free(b);
		b = next;
	}
}

static void
up_free(struct upload *up)
{
	EVP_MD_CTX_free(up->md);
	up_bufs_free(up, up->fill);
	up_bufs_free(up, up->full);
	up_bufs_free(up, up->work);
	up_bufs_free(up, up->spare);
	svc_conf_unref(up->conf);
	free(up);
}

/* A buffer to fill: a spare one, or a new one while the upload and the
 * budget allow; NULL when the upload must wait for its job. */
static struct up_buf *
up_buf_get(struct upload *up)
{
	struct up_buf *b = up->spare;

	if (b != NULL) {
		up->spare = b->next;
	} else if (up->nbufs < 2 || (up->nbufs < FILES_BUFS_MAX &&
	    up->fs->upload_bufs < FILES_BUFS_BUDGET)) {
		if ((b = malloc(sizeof(*b))) == NULL)
			return NULL;
		if (up->nbufs++ >= 2)
			up->fs->upload_bufs++;
	} else {
		return NULL;
	}
	b->next = NULL;
	b->len = 0;
	return b;
}

/* The full buffers (and for the last job the one being filled) become
 * the job's. */
static void
up_take(struct upload *up, bool last)
{
	if (last && up->fill != NULL) {
		*up->full_tail = up->fill;
		up->fill = NULL;
	}
	up->work = up->full;
	up->full = NULL;
	up->full_tail = &up->full;
}

/* Hands the job a step and the buffers it writes. */
static int
up_submit(struct upload *up, enum up_step step)
{
	struct worker *io = files_io(up->fs);

	if (step != UP_DISCARD)
		up_take(up, step == UP_FINISH);
	up->step = step;
	up->job.run = up_run;
	up->job.done = up_done;
	if (io == NULL || worker_submit(io, &up->job) != 0)
		return -ESHUTDOWN;
	up->busy = true;
	return 0;
}

/* Removes what was written; at once when the worker is gone (the daemon
 * is stopping).  Frees an upload without a connection. */
static void
up_clean(struct upload *up)
{
	if (up->fd < 0 && up->tmp[0] == '\0') {
		if (up->c == NULL)
			up_free(up);
		return;
	}
	if (up_submit(up, UP_DISCARD) == 0)
		return;
	up_discard(up);
	if (up->c == NULL)
		up_free(up);
}

/* The upload fails with reply (a failure after the reply was sent,
 * e.g. a reset, has none). */
static void
up_fail(struct upload *up, const char *reply)
{
	if (up->failed)
		return;
	up->failed = true;
	up->fs->svc->stats.custom[FILES_UPLOADS_FAILED]++;
	/* Input is discarded from now on: the buffers go back at once, but
	 * for those a job may still be writing. */
	up_bufs_free(up, up->fill);
	up_bufs_free(up, up->full);
	up_bufs_free(up, up->spare);
	up->fill = up->full = up->spare = NULL;
	up->full_tail = &up->full;
	if (up->c != NULL && reply != NULL) {
		svc_log(up->fs->svc, LOG_LVL_INFO, "upload from %s: %s",
		    conn_peer_text(up->c), reply);
		conn_reply(up->c, "%s", reply);
		if (up->eof)
			conn_close_after_flush(up->c);
		else
			files_discard_rest(up->c);
		conn_resume(up->c);
	}
	if (!up->busy)
		up_clean(up);
}

/* The client is answered and the upload counted. */
static void
up_stored(struct upload *up)
{
	struct svc *svc = up->fs->svc;
	char hex[65];

	up->stored = true;
	svc->stats.custom[FILES_UPLOADS]++;
	svc->stats.custom[FILES_UPLOAD_BYTES] += up->bytes;
	svc_log(svc, LOG_LVL_INFO, "stored %s, %llu bytes", up->name,
	    (unsigned long long)up->bytes);
	if (up->c == NULL)
		return;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", up->digest[i]);
	conn_reply(up->c, "OK %s %llu %s", up->name,
	    (unsigned long long)up->bytes, hex);
	conn_close_after_flush(up->c);
}

/* What follows a job that went well: the last one, or the next buffer. */
static void
up_next(struct upload *up)
{
	if (up->eof) {
		if (up_submit(up, UP_FINISH) != 0)
			up_fail(up, "ERR cannot store upload: stopping");
		return;
	}
	if (up->full != NULL && up_submit(up, UP_WRITE) != 0) {
		up_fail(up, "ERR cannot store upload: stopping");
		return;
	}
	files_touch(up->c);
	conn_resume(up->c);
}

static void
up_done(struct worker_job *job)
{
	struct upload *up = up_of(job);
	char why[FILES_WHY_MAX];

	up->busy = false;
	while (up->work != NULL) {              /* the buffers are free again */
		struct up_buf *b = up->work;
		up->work = b->next;
		b->next = up->spare;
		up->spare = b;
	}
	if (up->step == UP_DISCARD) {
		if (up->c == NULL)
			up_free(up);
		return;
	}
	if (up->result == 0 && up->step == UP_FINISH) {
		up_stored(up);
		if (up->c == NULL)
			up_free(up);
		return;
	}
	/* up_fail cleans up (and may free) an upload that had not failed;
	 * one that had, while the job ran, is cleaned here. */
	if (up->result != 0 && !up->failed) {
		log_warning("%s: upload from %s: %s", up->conf->name,
		    up->c != NULL ? conn_peer_text(up->c) : "a client",
		    strerror(-up->result));
		snprintf(why, sizeof(why), "ERR cannot store upload: %s",
		    strerror(-up->result));
		up_fail(up, why);
	} else if (up->c == NULL && !up->failed) {
		up_fail(up, NULL);      /* closed while the job ran */
	} else if (up->failed) {
		up_clean(up);
	} else {
		up_next(up);
	}
}

int
files_receive_open(struct conn *c)
{
	struct upload *up = calloc(1, sizeof(*up));

	if (up == NULL || (up->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(up->md, EVP_sha256(), NULL) != 1) {
		if (up != NULL)
			EVP_MD_CTX_free(up->md);
		free(up);
		return -1;
	}
	up->full_tail = &up->full;
	up->c = c;
	up->fs = c->svc->state;
	up->conf = svc_conf_ref(c->conf);
	up->dirfd = ((const struct files_conf *)c->conf->tconf)->dirfd;
	up->fd = -1;
	files_final_name(up->base, sizeof(up->base),
	    (const struct sockaddr *)&c->peer, (int64_t)time(NULL));
	c->data = up;
	return 0;
}

size_t
files_receive_read(struct conn *c, const char *data, size_t len)
{
	const struct files_conf *conf = c->conf->tconf;
	struct upload *up = c->data;
	size_t used = 0;

	if (up->failed)
		return len;
	if (up->bytes + len > (uint64_t)conf->max_size) {
		up_fail(up, "ERR too large");
		return len;
	}
	files_touch(c);
	while (used < len) {
		size_t n;

		if (up->fill == NULL && (up->fill = up_buf_get(up)) == NULL) {
			conn_pause(c);          /* every buffer is full */
			break;
		}
		n = FILES_CHUNK - up->fill->len;
		if (n > len - used)
			n = len - used;
		memcpy(up->fill->data + up->fill->len, data + used, n);
		up->fill->len += n;
		up->bytes += n;
		used += n;
		if (up->fill->len == FILES_CHUNK) {
			*up->full_tail = up->fill;
			up->full_tail = &up->fill->next;
			up->fill = NULL;
		}
	}
	if (!up->busy && up->full != NULL && up_submit(up, UP_WRITE) != 0) {
		up_fail(up, "ERR cannot store upload: stopping");
		return len;
	}
	return used;
}

void
files_receive_eof(struct conn *c)
{
	struct upload *up = c->data;

	if (up->failed) {
		conn_close_after_flush(c);
		return;
	}
	up->eof = true;
	files_touch(c);
	if (!up->busy && up_submit(up, UP_FINISH) != 0)
		up_fail(up, "ERR cannot store upload: stopping");
}

void
files_receive_close(struct conn *c)
{
	struct upload *up = c->data;

	c->data = NULL;
	up->c = NULL;
	if (up->busy)
		return;                 /* its completion cleans up */
	if (!up->stored && !up->failed)
		up_fail(up, NULL);      /* removes the file and frees */
	else
		up_free(up);
}
