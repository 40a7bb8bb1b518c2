/*
 * extract.c - an upload unpacked as a tar archive as it arrives: the
 * reactor's side, and the bounded queue between it and the thread.
 *
 * libarchive pulls its input through a callback that blocks, so the
 * extraction runs as one long job on a thread of the service's unpack
 * worker (unpack.c), and the reactor feeds it.  Each read is copied into
 * a chunk and queued; once FILES_PIPE_MAX bytes wait, the connection is
 * paused, and the thread wakes the reactor (an eventfd) when it has taken
 * the queue down to half, so a slow disk or a slow archive slows the
 * client instead of growing the daemon.
 *
 * The half-close ends the queue; the thread then places the tree under
 * its final name.  A reset, a timeout or max_size aborts it, and the
 * thread removes what it wrote.  An upload the thread refused (an unsafe
 * entry, a broken archive) is answered at once, and the rest of the input
 * is thrown away until the half-close, so that nc shows the answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <archive.h>

#include "../../conn.h"
#include "unpack.h"

/* ---- the queue, thread side ------------------------------------------ */

ssize_t
unpack_pipe_read(struct archive *a, void *xp, const void **buf)
{
	struct unpacking *x = xp;
	struct unpack_chunk *ch;
	bool wake;

	free(x->taken);
	x->taken = NULL;
	pthread_mutex_lock(&x->lock);
	while (x->head == NULL && !x->ended && !x->aborted)
		pthread_cond_wait(&x->more, &x->lock);
	if (x->aborted || x->head == NULL) {
		bool aborted = x->aborted;

		pthread_mutex_unlock(&x->lock);
		if (!aborted)
			return 0;
		x->cut = true;
		if (a != NULL)
			archive_set_error(a, ECANCELED, "upload aborted");
		return -1;
	}
	ch = x->head;
	x->head = ch->next;
	if (x->head == NULL)
		x->tail = NULL;
	x->queued -= ch->len;
	wake = x->waiting && x->queued <= FILES_PIPE_MAX / 2;
	if (wake)
		x->waiting = false;
	pthread_mutex_unlock(&x->lock);
	if (wake)
		files_wake(x->fs);
	x->taken = ch;
	*buf = ch->data;
	return (ssize_t)ch->len;
}

int
unpack_pipe_drain(struct unpacking *x)
{
	const void *buf;
	ssize_t n;

	while ((n = unpack_pipe_read(NULL, x, &buf)) > 0)
		;
	free(x->taken);
	x->taken = NULL;
	return n == 0 ? 0 : -1;
}

/* ---- the reactor's side ---------------------------------------------- */

static void
x_chunks_free(struct unpack_chunk *ch)
{
	while (ch != NULL) {
		struct unpack_chunk *next = ch->next;
		free(ch);
		ch = next;
	}
}

/* Frees an extraction whose thread is done. */
static void
x_free(struct unpacking *x)
{
	x_chunks_free(x->head);
	free(x->taken);
	pthread_cond_destroy(&x->more);
	pthread_mutex_destroy(&x->lock);
	svc_conf_unref(x->conf);
	free(x);
}

/* Tells the thread to give up: it removes what it wrote. */
static void
x_abort(struct unpacking *x)
{
	pthread_mutex_lock(&x->lock);
	x->aborted = true;
	pthread_cond_signal(&x->more);
	pthread_mutex_unlock(&x->lock);
}

/* The upload fails; reply (NULL: none) goes to a client still there. */
static void
x_fail(struct unpacking *x, const char *reply)
{
	if (x->failed)
		return;
	x->failed = true;
	x->fs->svc->stats.custom[FILES_UPLOADS_FAILED]++;
	if (x->c == NULL)
		return;
	if (reply != NULL) {
		svc_log(x->fs->svc, LOG_LVL_INFO, "upload from %s: %s",
		    conn_peer_text(x->c), reply);
		conn_reply(x->c, "%s", reply);
	}
	if (x->eof)
		conn_close_after_flush(x->c);
	else
		files_discard_rest(x->c);
	conn_resume(x->c);
}

static void
x_stored(struct unpacking *x)
{
	struct svc *svc = x->fs->svc;

	svc->stats.custom[FILES_UPLOADS]++;
	svc->stats.custom[FILES_UPLOAD_BYTES] += x->bytes;
	svc_log(svc, LOG_LVL_INFO, "unpacked %s, %lu files from %llu bytes",
	    x->name, x->files, (unsigned long long)x->bytes);
	if (x->c == NULL)
		return;
	conn_reply(x->c, "OK %s %lu %llu", x->name, x->files,
	    (unsigned long long)x->bytes);
	conn_close_after_flush(x->c);
}

/* The thread is done: answer, and free once the connection is gone. */
static void
x_done(struct worker_job *job)
{
	struct unpacking *x = unpacking_of(job);
	char reply[FILES_WHY_MAX + 32];

	x->busy = false;
	switch (x->outcome) {
	case UNPACK_OK:
		x_stored(x);
		break;
	case UNPACK_UNSAFE:
		snprintf(reply, sizeof(reply), "ERR unsafe entry %s", x->why);
		x_fail(x, reply);
		break;
	case UNPACK_BAD:
		snprintf(reply, sizeof(reply), "ERR bad archive: %s", x->why);
		x_fail(x, reply);
		break;
	case UNPACK_TOO_LARGE:
		x_fail(x, "ERR too large");
		break;
	case UNPACK_ERROR:
		snprintf(reply, sizeof(reply), "ERR cannot store upload: %s",
		    x->why);
		x_fail(x, reply);
		break;
	case UNPACK_ABORTED:
		x_fail(x, NULL);
		break;
	}
	x_chunks_free(x->head);
	x->head = x->tail = NULL;
	x->queued = 0;
	if (x->c == NULL)
		x_free(x);
}

int
files_extract_open(struct conn *c)
{
	const struct files_conf *conf = c->conf->tconf;
	struct worker *w = files_unpack(c->svc->state);
	struct unpacking *x;

	if (w == NULL || (x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->more, NULL);
	x->c = c;
	x->fs = c->svc->state;
	x->conf = svc_conf_ref(c->conf);
	x->dirfd = conf->dirfd;
	x->max_size = (uint64_t)conf->max_size;
	files_final_name(x->base, sizeof(x->base),
	    (const struct sockaddr *)&c->peer, (int64_t)time(NULL));
	x->job.run = unpack_run;
	x->job.done = x_done;
	if (worker_submit(w, &x->job) != 0) {
		x_free(x);
		return -1;
	}
	x->busy = true;
	c->data = x;
	files_touch(c);
	return 0;
}

size_t
files_extract_read(struct conn *c, const char *data, size_t len)
{
	const struct files_conf *conf = c->conf->tconf;
	struct unpacking *x = c->data;
	struct unpack_chunk *ch;
	bool full;

	if (x->failed)
		return len;
	if (x->bytes + len > (uint64_t)conf->max_size) {
		x_abort(x);
		x_fail(x, "ERR too large");
		return len;
	}
	if ((ch = malloc(sizeof(*ch) + len)) == NULL) {
		conn_close(c, CLOSE_ERROR);
		return len;
	}
	ch->next = NULL;
	ch->len = len;
	memcpy(ch->data, data, len);
	pthread_mutex_lock(&x->lock);
	if (x->tail != NULL)
		x->tail->next = ch;
	else
		x->head = ch;
	x->tail = ch;
	x->queued += len;
	full = x->queued >= FILES_PIPE_MAX;
	if (full)
		x->waiting = true;
	pthread_cond_signal(&x->more);
	pthread_mutex_unlock(&x->lock);
	x->bytes += len;
	files_touch(c);
	if (full)
		conn_pause(c);
	return len;
}

void
files_extract_eof(struct conn *c)
{
	struct unpacking *x = c->data;

	if (x->failed) {
		conn_close_after_flush(c);
		return;
	}
	x->eof = true;
	files_touch(c);
	pthread_mutex_lock(&x->lock);
	x->ended = true;
	pthread_cond_signal(&x->more);
	pthread_mutex_unlock(&x->lock);
}

void
files_extract_close(struct conn *c)
{
	struct unpacking *x = c->data;

	c->data = NULL;
	x->c = NULL;
	if (!x->busy) {
		x_free(x);
		return;
	}
	x_abort(x);             /* its completion counts and frees it */
}

void
files_extract_wake(struct svc *svc)
{
	for (struct conn *c = svc->conns; c != NULL; c = c->next) {
		const struct files_conf *conf = c->conf->tconf;
		struct unpacking *x = c->data;
		bool waiting;

		if (c->rejected || x == NULL || !c->paused ||
		    c->state != CONN_OPEN || conf->mode != FILES_RECEIVE ||
		    !conf->extract)
			continue;
		pthread_mutex_lock(&x->lock);
		waiting = x->waiting;
		pthread_mutex_unlock(&x->lock);
		if (!waiting) {
			files_touch(c);
			conn_resume(c);
		}
	}
}
