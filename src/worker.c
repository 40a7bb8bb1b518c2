/*
 * worker.c - job queues served by background threads, with completions
 * handed back to the reactor through an eventfd.
 *
 * One mutex guards both lists of a worker; it is held only to link and
 * unlink jobs, never while a job runs, so the reactor thread waits for
 * nothing but a few pointer moves when it submits or collects.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "ev.h"
#include "worker.h"

struct worker {
	char               name[16];   /* thread name (15 bytes and NUL) */
	struct ev_loop    *loop;       /* where completions run */
	int                efd;        /* eventfd the threads write to */
	pthread_mutex_t    lock;       /* guards the fields down to stopping */
	pthread_cond_t     wake;       /* signalled when jobs are queued */
	struct worker_job *queue;      /* submitted, not yet taken */
	struct worker_job **queue_tail; /* where the next submission goes */
	struct worker_job *done;       /* run, completion not yet called */
	struct worker_job **done_tail; /* where the next finished job goes */
	bool               stopping;   /* no more submissions; threads end
	                                  once the queue is empty */
	worker_batch_proc *batch;      /* see struct worker_config */
	void              *ctx;        /* passed to batch */
	size_t             batch_max;  /* jobs per batch, 0 = all */
	size_t             pending;    /* submitted, done not yet called;
	                                  touched by the reactor thread only */
	unsigned           nthreads;   /* entries in threads that run */
	pthread_t         *threads;    /* the threads */
};

/* Takes the next job, or a whole batch, off the queue (lock held). */
static struct worker_job *
worker_take(struct worker *w, size_t *n)
{
	struct worker_job *first = w->queue, *last = first;
	size_t max = w->batch == NULL ? 1 : w->batch_max;

	*n = 1;
	while (last->next != NULL && (max == 0 || *n < max)) {
		last = last->next;
		(*n)++;
	}
	w->queue = last->next;
	if (w->queue == NULL)
		w->queue_tail = &w->queue;
	last->next = NULL;
	return first;
}

/* Moves finished jobs to the done list and wakes the loop if the list was
 * empty; when it was not, a wake-up is already owed. */
static void
worker_finish(struct worker *w, struct worker_job *jobs)
{
	struct worker_job *last = jobs;
	uint64_t one = 1;
	bool wake;

	while (last->next != NULL)
		last = last->next;
	pthread_mutex_lock(&w->lock);
	wake = w->done == NULL;
	*w->done_tail = jobs;
	w->done_tail = &last->next;
	pthread_mutex_unlock(&w->lock);
	if (wake)
		while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *jobs;
		size_t n;

		while (w->queue == NULL && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->queue == NULL)
			break;
		jobs = worker_take(w, &n);
		pthread_mutex_unlock(&w->lock);
		if (w->batch != NULL) {
			w->batch(w->ctx, jobs, n);
		} else {
			jobs->run(jobs);
		}
		worker_finish(w, jobs);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Calls the completions owed, in the order the jobs finished.  A done
 * callback may free its job or submit it again, so next is read first. */
static void
worker_run_done(struct worker *w)
{
	struct worker_job *list;

	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->lock);
	while (list != NULL) {
		struct worker_job *job = list;

		list = job->next;
		job->next = NULL;
		w->pending--;
		job->done(job);
	}
}

static void
worker_on_event(struct ev_loop *loop, int fd, void *data, int mask)
{
	uint64_t count;

	(void)loop;
	(void)mask;
	/* Reset the counter before taking the list: a thread that finishes
	 * in between then wakes the loop again rather than being missed. */
	while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	worker_run_done(data);
}

/* Starts the threads with every signal blocked, so signals keep going to
 * the main thread's signalfd; 0 or a negative errno. */
static int
worker_spawn(struct worker *w, unsigned want)
{
	sigset_t all, old;
	int rc = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (w->nthreads < want) {
		rc = pthread_create(&w->threads[w->nthreads], NULL, worker_main, w);
		if (rc != 0)
			break;
		pthread_setname_np(w->threads[w->nthreads], w->name);
		w->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

/* Tells the threads to stop once the queue is empty, and waits for them. */
static void
worker_join(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->wake);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	w->nthreads = 0;
}

/* Ends the threads that run and frees everything but nothing owed. */
static void
worker_free(struct worker *w)
{
	worker_join(w);
	if (w->efd >= 0)
		close(w->efd);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->threads);
	free(w);
}

struct worker *
worker_start(struct ev_loop *loop, const struct worker_config *wc, int *err)
{
	unsigned want = wc->batch != NULL ? 1 : wc->threads;
	struct worker *w;

	*err = -EINVAL;
	if (want == 0)
		return NULL;
	*err = -ENOMEM;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->threads = calloc(want, sizeof(pthread_t))) == NULL) {
		free(w);
		return NULL;
	}
	snprintf(w->name, sizeof(w->name), "%s", wc->name);
	w->loop = loop;
	w->queue_tail = &w->queue;
	w->done_tail = &w->done;
	w->batch = wc->batch;
	w->ctx = wc->ctx;
	w->batch_max = wc->batch_max;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		*err = -errno;
		worker_free(w);
		return NULL;
	}
	if ((*err = worker_spawn(w, want)) != 0) {
		worker_free(w);
		return NULL;
	}
	if ((*err = ev_add(loop, w->efd, EV_READABLE, worker_on_event, w)) != 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

int
worker_submit(struct worker *w, struct worker_job *job)
{
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return -ESHUTDOWN;
	}
	job->next = NULL;
	*w->queue_tail = job;
	w->queue_tail = &job->next;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	w->pending++;
	return 0;
}

size_t
worker_pending(const struct worker *w)
{
	return w->pending;
}

void
worker_stop(struct worker *w)
{
	worker_join(w);
	ev_del(w->loop, w->efd, EV_READABLE);
	worker_run_done(w);
	worker_free(w);
}
