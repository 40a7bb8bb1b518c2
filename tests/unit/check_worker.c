/*
 * check_worker.c - unit tests of the worker threads: jobs run off the
 * loop thread, completions come back on it in order, a batch worker hands
 * over everything queued at once, and stopping drains the queue.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "ev.h"
#include "worker.h"

#define NJOBS 200

struct test_job {
	struct worker_job job;        /* first, so the cast below is valid */
	int               seq;        /* submission order */
	pthread_t         ran_on;     /* the thread that ran it */
};

static struct ev_loop *loop;
static pthread_t       loop_thread;
static int             done_count;
static int             done_order[NJOBS];
static bool            done_on_loop = true;
static atomic_int      ran_count;

static void
test_run(struct worker_job *job)
{
	((struct test_job *)job)->ran_on = pthread_self();
	atomic_fetch_add(&ran_count, 1);
}

static void
test_done(struct worker_job *job)
{
	struct test_job *tj = (struct test_job *)job;

	if (!pthread_equal(pthread_self(), loop_thread) ||
	    pthread_equal(tj->ran_on, loop_thread))
		done_on_loop = false;
	if (done_count < NJOBS)
		done_order[done_count] = tj->seq;
	done_count++;
	if (done_count == NJOBS)
		ev_stop(loop);
}

static long
give_up(struct ev_loop *l, long long id, void *data)
{
	(void)id;
	(void)data;
	ev_stop(l);
	return -1;
}

static void
setup(void)
{
	loop = ev_create(1024);
	loop_thread = pthread_self();
	done_count = 0;
	done_on_loop = true;
	atomic_store(&ran_count, 0);
	ev_timer_add(loop, 10000, give_up, NULL);
}

static void
teardown(void)
{
	ev_destroy(loop);
}

static struct test_job *
make_jobs(void)
{
	struct test_job *jobs = calloc(NJOBS, sizeof(*jobs));

	for (int i = 0; i < NJOBS; i++) {
		jobs[i].seq = i;
		jobs[i].job.run = test_run;
		jobs[i].job.done = test_done;
	}
	return jobs;
}

START_TEST(jobs_run_on_threads_and_complete_on_the_loop)
{
	const struct worker_config wc = { .name = "test", .threads = 3 };
	struct test_job *jobs = make_jobs();
	int err = 1;
	struct worker *w = worker_start(loop, &wc, &err);

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(err, 0);
	for (int i = 0; i < NJOBS; i++)
		ck_assert_int_eq(worker_submit(w, &jobs[i].job), 0);
	ck_assert_uint_eq(worker_pending(w), NJOBS);
	ev_run(loop);
	ck_assert_int_eq(done_count, NJOBS);
	ck_assert_int_eq(atomic_load(&ran_count), NJOBS);
	ck_assert(done_on_loop);
	ck_assert_uint_eq(worker_pending(w), 0);
	worker_stop(w);
	free(jobs);
}
END_TEST

/* The batch procedure holds the first batch until the test says so, so
 * every job submitted meanwhile must arrive as one second batch. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  gate_cond = PTHREAD_COND_INITIALIZER;
static bool            gate_entered, gate_open;
static size_t          batch_sizes[NJOBS];
static int             nbatches;
static bool            batch_in_order;

static void
test_batch(void *ctx, struct worker_job *jobs, size_t n)
{
	size_t seen = 0;
	int last = -1;

	(void)ctx;
	pthread_mutex_lock(&gate_lock);
	gate_entered = true;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (struct worker_job *j = jobs; j != NULL; j = j->next) {
		struct test_job *tj = (struct test_job *)j;
		if (tj->seq <= last)
			batch_in_order = false;
		last = tj->seq;
		tj->ran_on = pthread_self();
		seen++;
	}
	if (seen != n)
		batch_in_order = false;
	batch_sizes[nbatches++] = n;
}

START_TEST(batch_takes_everything_queued)
{
	const struct worker_config wc = { .name = "test", .threads = 1,
	    .batch = test_batch };
	struct test_job *jobs = make_jobs();
	int err;
	struct worker *w = worker_start(loop, &wc, &err);

	ck_assert_ptr_nonnull(w);
	nbatches = 0;
	batch_in_order = true;
	gate_entered = gate_open = false;
	worker_submit(w, &jobs[0].job);
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (int i = 1; i < NJOBS; i++)
		worker_submit(w, &jobs[i].job);
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	ev_run(loop);
	ck_assert_int_eq(done_count, NJOBS);
	ck_assert_int_eq(nbatches, 2);
	ck_assert_uint_eq(batch_sizes[0], 1);
	ck_assert_uint_eq(batch_sizes[1], NJOBS - 1);
	ck_assert(batch_in_order);
	for (int i = 0; i < NJOBS; i++)
		ck_assert_int_eq(done_order[i], i);
	worker_stop(w);
	free(jobs);
}
END_TEST

static void
slow_run(struct worker_job *job)
{
	usleep(1000);
	test_run(job);
}

START_TEST(stop_drains_the_queue)
{
	const struct worker_config wc = { .name = "test", .threads = 2 };
	struct test_job *jobs = make_jobs();
	int err;
	struct worker *w = worker_start(loop, &wc, &err);

	ck_assert_ptr_nonnull(w);
	for (int i = 0; i < 50; i++) {
		jobs[i].job.run = slow_run;
		worker_submit(w, &jobs[i].job);
	}
	/* No loop runs: the completions are called by worker_stop itself. */
	worker_stop(w);
	ck_assert_int_eq(atomic_load(&ran_count), 50);
	ck_assert_int_eq(done_count, 50);
	ck_assert(done_on_loop);
	free(jobs);
}
END_TEST

static Suite *
worker_suite(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("worker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, jobs_run_on_threads_and_complete_on_the_loop);
	tcase_add_test(tc, batch_takes_everything_queued);
	tcase_add_test(tc, stop_drains_the_queue);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(worker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
