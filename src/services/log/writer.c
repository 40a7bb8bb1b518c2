/*
 * writer.c - the thread that writes a log service's file or journal.
 *
 * Regular files block (a slow or stalled disk), and so may
 * sd_journal_sendv(3).  The reactor hands the thread its whole queue at a
 * time, swapping buffers under the lock, and takes note of what became
 * of the previous batch; the thread never touches the service.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"

/* The writer thread of a file or the journal, and what the reactor hands
 * it. */
struct log_writer {
	pthread_t       thread;       /* runs writer_main */
	pthread_mutex_t lock;         /* guards everything below */
	pthread_cond_t  wake;         /* a batch was handed over, or quit */
	pthread_cond_t  idle;         /* every batch handed over was written */
	enum log_sink   sink;         /* SINK_JOURNAL, or a file descriptor's */
	int             fd;           /* the file written to, or -1 */
	int             fd_next;      /* reopened file, taken before a batch */
	char           *batch;        /* encoded records being written */
	size_t          batch_len;    /* bytes in batch */
	char           *tail;         /* the last records, after batch */
	size_t          tail_len;     /* bytes in tail */
	bool            busy;         /* batch belongs to the thread */
	bool            quit;         /* exit once idle */
	int             refs;         /* the reactor and the thread */
	uint64_t        sent;         /* records written, in all */
	uint64_t        failed;       /* records refused, in all */
	int             error;        /* the last refusal, a negative errno */
};

/* Drops a reference; the last one frees the writer and its files. */
static void
writer_unref(struct log_writer *w)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->fd_next >= 0)
		close(w->fd_next);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	free(w->batch);
	free(w->tail);
	free(w);
}

/* Writes a batch of lines to a file, waiting as long as it takes.
 * Returns how many were not (or not wholly) written; *err the why. */
static uint64_t
file_send_batch(int fd, const char *b, size_t len, uint64_t *sent, int *err)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, b + done, len - done);

		if (n > 0) {
			done += (size_t)n;
		} else if (n == 0 || errno != EINTR) {
			*err = n == 0 ? -EIO : -errno;
			break;
		}
	}
	*sent += log_line_count(b, b + done);
	return log_line_count(b + done, b + len);
}

static void *
writer_main(void *arg)
{
	struct log_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		uint64_t sent = 0, failed;
		int err = 0, old = -1;

		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->busy)
			break;
		/* A reopened file takes every batch from now on. */
		if (w->fd_next >= 0) {
			old = w->fd;
			w->fd = w->fd_next;
			w->fd_next = -1;
		}
		pthread_mutex_unlock(&w->lock);
		if (old >= 0)
			close(old);
		failed = w->sink == SINK_JOURNAL ?
		    log_journal_send(w->batch, w->batch_len, &sent, &err) :
		    file_send_batch(w->fd, w->batch, w->batch_len, &sent, &err);
		pthread_mutex_lock(&w->lock);
		w->sent += sent;
		w->failed += failed;
		if (failed > 0)
			w->error = err;
		if (w->tail != NULL) {
			free(w->batch);
			w->batch = w->tail;
			w->batch_len = w->tail_len;
			w->tail = NULL;
			continue;
		}
		w->busy = false;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	writer_unref(w);
	return NULL;
}

/* Starts the writer thread of o, which owns fd (-1 for the journal) from
 * now on, also when it fails; 0 or -errno. */
int
log_writer_start(struct log_out *o, int fd)
{
	struct log_writer *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	w->sink = o->sink;
	w->fd = fd;
	w->fd_next = -1;
	w->refs = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((w->batch = malloc(LOG_QUEUE_MAX)) == NULL) {
		writer_unref(w);
		return -ENOMEM;
	}
	w->refs = 2;
	if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
		w->refs = 1;
		writer_unref(w);
		return -rc;
	}
	o->w = w;
	return 0;
}

/* Hands the queue to the thread when it is idle and takes note of what
 * it did with the previous batch.  True while work is left. */
bool
log_writer_handover(struct log_state *ls)
{
	struct log_out *o = ls->out;
	struct log_writer *w = o->w;
	uint64_t sent, failed;
	bool left;
	int err;

	pthread_mutex_lock(&w->lock);
	if (!w->busy && o->len > 0) {
		char *b = w->batch;

		w->batch = o->buf;
		w->batch_len = o->len;
		o->buf = b;
		o->len = 0;
		w->busy = true;
		pthread_cond_signal(&w->wake);
	}
	sent = w->sent - o->seen_sent;
	failed = w->failed - o->seen_failed;
	err = w->error;
	left = w->busy || o->len > 0;
	pthread_mutex_unlock(&w->lock);
	o->seen_sent += sent;
	o->seen_failed += failed;
	if (failed > 0)
		log_lose(ls, failed, strerror(-err));
	else if (sent > 0)
		log_recovered(ls);
	return left;
}

/* SIGHUP: the batches not yet begun go to fd, the reopened file. */
void
log_writer_reopen(struct log_writer *w, int fd)
{
	int unused;

	pthread_mutex_lock(&w->lock);
	unused = w->fd_next;
	w->fd_next = fd;
	pthread_mutex_unlock(&w->lock);
	if (unused >= 0)
		close(unused);
}

/* Gives the thread the rest of the queue and stops it, waiting at most
 * wait_ms for it to write everything.  A thread still busy then is left
 * to finish alone; at shutdown (wait_ms > 0) the records it has not begun
 * are reported lost, as the process is about to end. */
void
log_writer_stop(struct log_state *ls, int wait_ms)
{
	struct log_out *o = ls->out;
	struct log_writer *w = o->w;
	struct timespec deadline;
	uint64_t pending = 0;
	bool done;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	log_writer_handover(ls);
	pthread_mutex_lock(&w->lock);
	if (o->len > 0) {
		/* The thread is busy: the rest follows its batch. */
		w->tail = o->buf;
		w->tail_len = o->len;
		o->buf = NULL;
		o->len = 0;
	}
	w->quit = true;
	pthread_cond_signal(&w->wake);
	while (w->busy &&
	    pthread_cond_timedwait(&w->idle, &w->lock, &deadline) == 0)
		;
	done = !w->busy;
	if (w->tail != NULL)
		pending = log_records_count(w->sink, w->tail, w->tail + w->tail_len);
	pthread_mutex_unlock(&w->lock);
	log_writer_handover(ls);
	if (pending > 0 && wait_ms > 0)
		log_lose(ls, pending, "the output did not take the last records");
	if (done)
		pthread_join(w->thread, NULL);
	else
		pthread_detach(w->thread);
	writer_unref(w);
	o->w = NULL;
}
