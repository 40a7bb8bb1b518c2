/*
 * worker.h - background threads for work the reactor must not wait for.
 *
 * A worker is a job queue, one or more threads that take jobs from it,
 * and an eventfd registered with the reactor: when a thread has finished
 * a job it queues it on a done list and wakes the loop, and the job's done
 * callback runs on the reactor thread, where it may touch connections
 * again.  The shape is redis's bio.c (a mutex, a condition variable and a
 * list per kind of work) with the completion path of libuv's threadpool
 * (uv_async_send: an eventfd the loop polls).
 *
 * A worker made with a batch procedure hands its thread everything queued
 * at once, in submission order, instead of one job at a time: what arrives
 * while a batch runs forms the next batch.  That is how a database thread
 * commits many operations with one fsync (group commit).
 */
#ifndef MULTID_WORKER_H
#define MULTID_WORKER_H

#include <stddef.h>

struct ev_loop;
struct worker;
struct worker_job;

/* Runs on a worker thread: the blocking part of the job. */
typedef void worker_run_proc(struct worker_job *job);
/* Runs on the reactor thread once the job has run. */
typedef void worker_done_proc(struct worker_job *job);
/* Runs on the worker thread with n jobs linked through next, in the order
 * they were submitted; used instead of each job's run procedure. */
typedef void worker_batch_proc(void *ctx, struct worker_job *jobs, size_t n);

/* Embedded in the caller's own job struct (container_of style). */
struct worker_job {
	worker_run_proc   *run;       /* the work, unless the worker batches */
	worker_done_proc  *done;      /* the completion, on the reactor */
	struct worker_job *next;      /* queue and batch link; the worker's */
};

struct worker_config {
	const char        *name;      /* thread name, for ps and top */
	unsigned           threads;   /* 1.., a batch worker takes exactly 1 */
	worker_batch_proc *batch;     /* NULL: jobs run one by one */
	void              *ctx;       /* passed to batch */
	size_t             batch_max; /* jobs per batch at most, 0 = all */
};

/* Starts the threads and registers the eventfd with loop.  Returns the
 * worker, or NULL with *err set to a negative errno. */
struct worker *worker_start(struct ev_loop *loop,
    const struct worker_config *wc, int *err);

/* Queues a job (reactor thread only); 0, or -ESHUTDOWN once stopping. */
int worker_submit(struct worker *w, struct worker_job *job);

/* How many jobs are queued or running. */
size_t worker_pending(const struct worker *w);

/* Lets the threads finish every queued job, joins them, runs the done
 * callbacks still owed, and frees the worker.  Blocks the caller, so it is
 * for stopping a service, not for its normal work. */
void worker_stop(struct worker *w);

#endif
