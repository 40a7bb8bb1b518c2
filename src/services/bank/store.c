/*
 * store.c - the asynchronous front of a bank store: requests queue for
 * the store's thread, which runs them in groups of one transaction and
 * one commit, and their callbacks come back on the reactor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../log.h"
#include "../../service.h"
#include "store.h"

#define BANK_GROUP_MAX     4096       /* operations per commit at most */

const char *const bank_kind_names[BANK_KINDS] = {
	[BANK_DEPOSIT] = "deposit",
	[BANK_WITHDRAW] = "withdraw",
	[BANK_TRANSFER_IN] = "transfer-in",
	[BANK_TRANSFER_OUT] = "transfer-out",
};

static struct bank_req *
bank_req_of(struct worker_job *job)
{
	return (struct bank_req *)((char *)job -
	    offsetof(struct bank_req, job));
}

/* Runs one request inside the open transaction. */
static int
bank_store_apply(struct bank_store *s, struct bank_req *req)
{
	const struct bank_store_ops *o = s->ops;

	req->status = BANK_OK;
	switch (req->op) {
	case BANK_OP_CREATE:   return o->create(s, req);
	case BANK_OP_FIND:     return o->find(s, req);
	case BANK_OP_BALANCE:  return o->balance(s, req);
	case BANK_OP_DEPOSIT:  return o->deposit(s, req);
	case BANK_OP_WITHDRAW: return o->withdraw(s, req);
	case BANK_OP_TRANSFER: return o->transfer(s, req);
	case BANK_OP_HISTORY:  return o->history(s, req);
	}
	return -EINVAL;
}

/* Every request of a lost group fails, and none of its changes counts as
 * made. */
static void
bank_store_fail_all(struct worker_job *jobs)
{
	for (struct worker_job *j = jobs; j != NULL; j = j->next) {
		struct bank_req *req = bank_req_of(j);

		req->status = BANK_FAILED;
		req->wrote = false;
		free(req->entries);
		req->entries = NULL;
		req->nentries = 0;
	}
}

/* The store thread's batch: one transaction, one commit, one fsync for
 * everything that queued up while the previous commit was running. */
static void
bank_store_group(void *ctx, struct worker_job *jobs, size_t n)
{
	struct bank_store *s = ctx;
	struct bank_req *first = bank_req_of(jobs);
	int64_t now = (int64_t)time(NULL);
	bool ok, wrote = false;

	(void)n;
	ok = s->ops->begin(s, first) == 0;
	for (struct worker_job *j = jobs; ok && j != NULL; j = j->next) {
		struct bank_req *req = bank_req_of(j);
		int rc;

		req->now = now;
		req->wrote = false;
		rc = bank_store_apply(s, req);
		if (rc == -ECANCELED)
			ok = false;
		else if (rc != 0)
			req->status = BANK_FAILED;
		if (req->status != BANK_OK)
			req->wrote = false;
		wrote = wrote || req->wrote;
	}
	if (ok && s->ops->commit(s, first) != 0)
		ok = false;
	if (!ok) {
		s->ops->rollback(s);
		bank_store_fail_all(jobs);
	} else if (wrote) {
		atomic_fetch_add(&s->commits, 1);
	}
}

static void
bank_store_done(struct worker_job *job)
{
	struct bank_req *req = bank_req_of(job);

	req->done(req);
}

int
bank_store_submit(struct bank_store *s, struct bank_req *req,
    bank_req_done_proc *done)
{
	req->done = done;
	req->status = BANK_FAILED;
	req->error[0] = '\0';
	req->entries = NULL;
	req->nentries = 0;
	req->wrote = false;
	req->job.run = NULL;
	req->job.done = bank_store_done;
	req->job.next = NULL;
	if (s->ops->submit != NULL)
		return s->ops->submit(s, req);
	return worker_submit(s->worker, &req->job);
}

uint64_t
bank_store_commits(struct bank_store *s)
{
	return atomic_load(&s->commits);
}

/* An asynchronous store: no thread, it runs on the reactor. */
static struct bank_store *
bank_store_start(struct bank_store *s, struct ev_loop *loop, int *err)
{
	if ((*err = s->ops->start(s, loop)) != 0) {
		s->ops->close(s);
		return NULL;
	}
	return s;
}

struct bank_store *
bank_store_open(const struct bank_store_ops *ops, const char *where,
    struct svc *svc, struct ev_loop *loop,
    const struct bank_store_meters *meters, int *err)
{
	struct bank_store *s = NULL;
	struct worker_config wc = {
		.name = "multid-bank-db", .threads = 1,
		.batch = bank_store_group, .batch_max = BANK_GROUP_MAX,
	};

	if ((*err = ops->open(&s, where, svc)) != 0)
		return NULL;
	s->ops = ops;
	s->svc = svc;
	atomic_init(&s->commits, 0);
	if (meters != NULL)
		s->meters = *meters;
	if (ops->submit != NULL)
		return bank_store_start(s, loop, err);
	wc.ctx = s;
	if ((*err = ops->schema(s)) == 0 &&
	    (s->worker = worker_start(loop, &wc, err)) == NULL)
		svc_log(svc, LOG_LVL_ERROR, "cannot start threads: %s",
		    strerror(-*err));
	if (s->worker == NULL) {
		ops->close(s);
		return NULL;
	}
	return s;
}

void
bank_store_close(struct bank_store *s)
{
	if (s == NULL)
		return;
	if (s->worker != NULL)
		worker_stop(s->worker);
	s->ops->close(s);
}
