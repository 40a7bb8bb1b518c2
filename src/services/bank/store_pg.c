/*
 * store_pg.c - the bank's accounts in a PostgreSQL database that several
 * multid instances may share.
 *
 * This store is its own asynchronous front (store.h): libpq's
 * non-blocking API runs on the reactor thread, each connection's socket
 * registered with the reactor (readable always, writable while libpq has
 * output it could not send), so the reactor never waits for the database.
 * A small pool of connections (PG_LINKS) lets PostgreSQL commit the
 * transactions of several backends with one WAL flush.
 *
 * Each connection runs in pipeline mode.  A request is its statements
 * (store_pg_sql.c) followed by a sync, so it is a transaction of its own
 * and commits before its result comes back; the results of a connection
 * arrive in the order the requests were sent, and are matched to them
 * first in, first out.  A deadlock or serialization error is retried
 * (PG_RETRIES).
 *
 * A connection's life: its host names looked up on a thread
 * (store_pg_conn.c: libpq would block on getaddrinfo), connecting
 * (PQconnectPoll; the two bounded by PG_SETUP_MS),
 * the schema step (one query: session settings, then a DO block that
 * creates or checks the versioned schema under an advisory lock, so
 * instances starting together create it once), the statements prepared,
 * then serving.  When a connection is lost, its requests in flight end as
 * BANK_UNAVAILABLE (a write among them may or may not have committed;
 * nothing acknowledged is lost, since an OK is sent only for a result
 * that came back), and it is tried again after a backoff (PG_BACKOFF_*).
 * While no connection serves, requests end as BANK_UNAVAILABLE at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../../ev.h"
#include "../../log.h"
#include "../../service.h"
#include "store.h"
#include "store_pg_conn.h"
#include "store_pg_sql.h"

#define PG_LINKS           4          /* connections per service */
#define PG_PIPELINE_MAX    64         /* requests in flight on one */
#define PG_QUEUE_MAX       4096       /* requests waiting for a place */
#define PG_BACKOFF_MIN_MS  100        /* the first retry of a connection */
#define PG_BACKOFF_MAX_MS  5000       /* and the longest wait, doubling */
#define PG_SETUP_MS        10000      /* connecting and the schema, at most */
#define PG_DRAIN_MS        3000       /* at close, for requests in flight */
#define PG_RETRIES         3          /* tries after a deadlock or a
                                         serialization failure */

/* A connection's state. */
enum pg_link_state {
	LINK_DOWN,                    /* waiting for its next attempt */
	LINK_RESOLVING,               /* waiting for the host names */
	LINK_CONNECTING,              /* PQconnectPoll */
	LINK_SCHEMA,                  /* the schema step's query */
	LINK_PREPARING,               /* the statements being prepared */
	LINK_READY,                   /* serving requests */
};

struct pg_store;

/* One connection of the pool. */
struct pg_link {
	struct pg_store   *q;         /* its store */
	PGconn            *conn;      /* libpq's connection, or NULL */
	int                fd;        /* its socket as registered, or -1 */
	int                mask;      /* EV_READABLE, EV_WRITABLE wanted */
	enum pg_link_state state;     /* see above */
	struct bank_req   *head;      /* sent, oldest first (job.next) */
	struct bank_req   *tail;      /* and newest */
	unsigned           inflight;  /* requests in head..tail */
	bool               retry;     /* the head failed and goes again */
	bool               failed;    /* the head had its error (what
	                                 follows before its sync is aborted) */
	unsigned           rows;      /* row sets the head has had */
	long long          timer;     /* the retry or setup timer, or 0 */
	long               backoff;   /* the next retry's wait, ms */
	char               error[200]; /* what failed in the schema step or
	                                  the preparation */
};

/* The store. */
struct pg_store {
	struct bank_store base;       /* the front's part; first */
	struct svc       *svc;        /* for log lines */
	struct ev_loop   *loop;       /* the reactor */
	struct pg_conn_target target; /* where the database is */
	struct pg_conn_target resolved; /* target, its host names looked up
	                                 by the last look-up */
	struct worker    *resolver;   /* the look-up thread, or NULL */
	struct pg_lookup *lookup;     /* the look-up under way, or NULL */
	struct pg_link    links[PG_LINKS]; /* the pool */
	struct bank_req  *wait_head;  /* submitted, not sent yet */
	struct bank_req  *wait_tail;  /* (job.next) */
	unsigned          waiting;    /* requests in wait_head.. */
	struct bank_req  *done_head;  /* ended, callbacks not run yet */
	struct bank_req  *done_tail;  /* (job.next) */
	long long         done_timer; /* runs the callbacks, or 0 */
	bool              running;    /* pg_run_done is calling back */
	bool              starting;   /* no connection has come up or failed
	                                 yet: requests wait for the first */
	bool              up;         /* a connection serves */
	bool              closing;    /* the close has begun */
	struct log_limit  logs;       /* one line a second at most */
};

static void pg_link_connect(struct pg_link *l);
static void pg_link_fail(struct pg_link *l, const char *why);
static void pg_link_event(struct ev_loop *loop, int fd, void *data,
    int mask);
static void pg_dispatch(struct pg_store *q);

/* A look-up of the host names, on the resolver thread. */
struct pg_lookup {
	struct worker_job     job;    /* the worker's part; first */
	struct pg_store      *q;      /* NULL once the store is closing */
	const struct pg_conn_target *target; /* what to look up (the
	                                 store's, freed after this thread) */
	struct pg_conn_target out;    /* the addresses found */
	int                   rc;     /* pg_conn_resolve's result */
	char                  why[200]; /* and what failed */
};

static struct pg_store *
pg_of(struct bank_store *s)
{
	return (struct pg_store *)s;
}

/* ---- small helpers ------------------------------------------------------ */

/* A log line within the limit of one a second; those held back are
 * counted in the next one. */
__attribute__((format(printf, 3, 4)))
static void
pg_log(struct pg_store *q, int level, const char *fmt, ...)
{
	char text[400];
	unsigned long held;
	va_list ap;

	if (!log_limit_pass(&q->logs, ev_clock_ms(), &held))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (held > 0)
		svc_log(q->svc, level, "postgresql: %s (and %lu more lines not "
		    "logged)", text, held);
	else
		svc_log(q->svc, level, "postgresql: %s", text);
}

/* libpq's messages end with a newline (or several lines); the first line
 * is kept. */
static void
pg_copy_message(char *dst, size_t room, const char *msg)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	n = strcspn(msg, "\n");
	snprintf(dst, room, "%.*s", (int)n, msg);
}

static void
pg_count_error(struct pg_store *q)
{
	if (q->base.meters.errors != NULL)
		(*q->base.meters.errors)++;
}

/* Appends req to a list linked through job.next. */
static void
pg_list_push(struct bank_req **head, struct bank_req **tail,
    struct bank_req *req)
{
	req->job.next = NULL;
	if (*tail != NULL)
		(*tail)->job.next = &req->job;
	else
		*head = req;
	*tail = req;
}

static struct bank_req *
pg_next(const struct bank_req *req)
{
	struct worker_job *j = req->job.next;

	return j == NULL ? NULL :
	    (struct bank_req *)((char *)j - offsetof(struct bank_req, job));
}

static struct bank_req *
pg_list_pop(struct bank_req **head, struct bank_req **tail)
{
	struct bank_req *req = *head;

	if (req != NULL && (*head = pg_next(req)) == NULL)
		*tail = NULL;
	return req;
}

/* ---- callbacks --------------------------------------------------------- */

/* Runs the callbacks of ended requests, in the order they ended.  Called
 * at the end of every reactor event of the store, never from submit (the
 * protocol side is not ready for a callback inside its submit). */
static void
pg_run_done(struct pg_store *q)
{
	struct bank_req *req;

	if (q->running)
		return;
	q->running = true;
	while ((req = pg_list_pop(&q->done_head, &q->done_tail)) != NULL)
		req->done(req);
	q->running = false;
}

static long
pg_done_timer(struct ev_loop *loop, long long id, void *data)
{
	struct pg_store *q = data;

	(void)loop;
	(void)id;
	q->done_timer = 0;
	pg_run_done(q);
	return -1;
}

/* req has ended: its callback runs at the end of this event, or from a
 * timer at once when there is no event (a submit refused at once). */
static void
pg_end(struct pg_store *q, struct bank_req *req, enum bank_status status)
{
	if (status != BANK_OK) {
		req->status = status;
		req->wrote = false;
		free(req->entries);
		req->entries = NULL;
		req->nentries = 0;
	} else if (req->wrote) {
		atomic_fetch_add(&q->base.commits, 1);
	}
	pg_list_push(&q->done_head, &q->done_tail, req);
}

static void
pg_arm_done(struct pg_store *q)
{
	long long id;

	if (q->done_head == NULL || q->done_timer != 0 || q->closing)
		return;
	if ((id = ev_timer_add(q->loop, 0, pg_done_timer, q)) > 0)
		q->done_timer = id;
}

/* ---- the store's state ------------------------------------------------- */

/* Whether a connection serves; shows it, says it when it changes, and
 * when none does, ends the requests waiting for one. */
static void
pg_update_up(struct pg_store *q)
{
	bool up = false;
	struct bank_req *req;

	for (int i = 0; i < PG_LINKS; i++)
		up = up || q->links[i].state == LINK_READY;
	if (q->base.meters.up != NULL)
		*q->base.meters.up = up;
	if (q->closing) {
		q->up = false;
	} else if (up && !q->up) {
		PGconn *c = NULL;

		for (int i = 0; i < PG_LINKS && c == NULL; i++)
			if (q->links[i].state == LINK_READY)
				c = q->links[i].conn;
		svc_log(q->svc, LOG_LVL_NOTICE, "postgresql: connected to "
		    "database %s on %s port %s (schema %d)", PQdb(c), PQhost(c),
		    PQport(c), PG_SCHEMA);
	} else if (!up && q->up) {
		svc_log(q->svc, LOG_LVL_ERROR, "postgresql: no connection; "
		    "commands get ERR unavailable until one is back");
	}
	q->up = up;
	if (up || q->starting)
		return;
	while ((req = pg_list_pop(&q->wait_head, &q->wait_tail)) != NULL) {
		q->waiting--;
		pg_end(q, req, BANK_UNAVAILABLE);
	}
}

/* ---- the reactor ------------------------------------------------------- */

/* Registers the link's socket with exactly mask.  With reset, the
 * registration is made anew: while connecting, libpq may close its
 * socket and open another under the same number. */
static void
pg_link_watch(struct pg_link *l, int mask, bool reset)
{
	struct pg_store *q = l->q;
	int fd = l->conn != NULL ? PQsocket(l->conn) : -1;

	if (l->fd >= 0 && (reset || fd != l->fd)) {
		ev_del(q->loop, l->fd, EV_READABLE | EV_WRITABLE);
		l->mask = 0;
	}
	l->fd = fd;
	/* libpq drops a socket it found broken; the link would wait on
	 * nothing. */
	if (fd < 0 && mask != 0 && l->conn != NULL) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	if (fd < 0)
		return;
	if ((l->mask & ~mask) != 0)
		ev_del(q->loop, fd, l->mask & ~mask);
	if ((mask & ~l->mask) != 0 &&
	    ev_add(q->loop, fd, mask, pg_link_event, l) != 0) {
		l->mask = 0;
		pg_link_fail(l, "cannot watch the socket");
		return;
	}
	l->mask = mask;
}

/* Sends what libpq holds; writable interest stays while some is left. */
static int
pg_link_flush(struct pg_link *l)
{
	int rc = l->conn != NULL ? PQflush(l->conn) : -1;

	if (l->conn == NULL)
		return -1;
	if (rc < 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return -1;
	}
	pg_link_watch(l, EV_READABLE | (rc == 1 ? EV_WRITABLE : 0), false);
	return l->conn != NULL ? 0 : -1;
}

/* Output was queued: it goes out when the socket is next writable, which
 * on a quiet socket is the next turn of the loop, so the requests of one
 * turn leave together. */
static void
pg_link_want_flush(struct pg_link *l)
{
	pg_link_watch(l, EV_READABLE | EV_WRITABLE, false);
}

static long
pg_link_timer(struct ev_loop *loop, long long id, void *data)
{
	struct pg_link *l = data;

	(void)loop;
	(void)id;
	l->timer = 0;
	if (l->state == LINK_DOWN)
		pg_link_connect(l);
	else if (l->state != LINK_READY)
		pg_link_fail(l, "no answer in time while connecting");
	pg_run_done(l->q);
	return -1;
}

static void
pg_link_arm(struct pg_link *l, long ms)
{
	long long id;

	if (l->timer != 0)
		ev_timer_del(l->q->loop, l->timer);
	l->timer = 0;
	if ((id = ev_timer_add(l->q->loop, ms, pg_link_timer, l)) > 0)
		l->timer = id;
}

/* Ends the connection: its requests in flight end as unavailable (a
 * write among them may have committed), and the next attempt comes after
 * the backoff. */
static void
pg_link_fail(struct pg_link *l, const char *why)
{
	struct pg_store *q = l->q;
	struct bank_req *req;
	char text[200];

	pg_copy_message(text, sizeof(text), why);
	while ((req = pg_list_pop(&l->head, &l->tail)) != NULL)
		pg_end(q, req, BANK_UNAVAILABLE);
	l->inflight = 0;
	l->retry = false;
	l->failed = false;
	l->rows = 0;
	pg_link_watch(l, 0, true);
	l->fd = -1;
	if (l->conn != NULL)
		PQfinish(l->conn);
	l->conn = NULL;
	l->state = LINK_DOWN;
	q->starting = false;
	if (!q->closing) {
		pg_count_error(q);
		pg_log(q, LOG_LVL_ERROR, "%s; trying again in %ld ms", text,
		    l->backoff);
		pg_link_arm(l, l->backoff);
		l->backoff = l->backoff * 2 > PG_BACKOFF_MAX_MS ?
		    PG_BACKOFF_MAX_MS : l->backoff * 2;
	}
	pg_update_up(q);
}

/* libpq's notices would go to stderr; the schema step's are expected
 * ("already exists, skipping") and the statements raise none. */
static void
pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* ---- connecting and the schema ----------------------------------------- */

/* Starts connecting to t: libpq looks nothing up (store_pg_conn.c). */
static void
pg_link_start(struct pg_link *l, const struct pg_conn_target *t)
{
	l->error[0] = '\0';
	l->conn = PQconnectStartParams((const char *const *)t->keywords,
	    (const char *const *)t->values, 0);
	if (l->conn == NULL) {
		pg_link_fail(l, "out of memory");
		return;
	}
	PQsetNoticeProcessor(l->conn, pg_notice, l);
	if (PQstatus(l->conn) == CONNECTION_BAD) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	l->state = LINK_CONNECTING;
	pg_link_arm(l, PG_SETUP_MS);
	/* Before the first PQconnectPoll, as if it had said WRITING. */
	pg_link_watch(l, EV_WRITABLE, true);
}

static void
pg_lookup_run(struct worker_job *job)
{
	struct pg_lookup *k = (struct pg_lookup *)job;

	k->rc = pg_conn_resolve(k->target, &k->out, k->why,
	    sizeof(k->why));
}

/* The look-up ended: the links waiting for it connect, or fail. */
static void
pg_lookup_done(struct worker_job *job)
{
	struct pg_lookup *k = (struct pg_lookup *)job;
	struct pg_store *q = k->q;

	if (q != NULL && !q->closing) {
		q->lookup = NULL;
		if (k->rc == 0) {
			pg_conn_free(&q->resolved);
			q->resolved = k->out;
			memset(&k->out, 0, sizeof(k->out));
		}
		for (int i = 0; i < PG_LINKS; i++) {
			struct pg_link *l = &q->links[i];

			if (l->state != LINK_RESOLVING)
				continue;
			if (k->rc == 0)
				pg_link_start(l, &q->resolved);
			else
				pg_link_fail(l, k->why[0] != '\0' ? k->why :
				    strerror(-k->rc));
		}
	}
	pg_conn_free(&k->out);
	free(k);
	if (q != NULL && !q->closing)
		pg_run_done(q);
}

/* Looks the host names up again, unless a look-up is under way. */
static int
pg_lookup_start(struct pg_store *q)
{
	const struct worker_config wc = { .name = "multid-bank-dns",
	    .threads = 1 };
	struct pg_lookup *k;
	int rc = -ENOMEM;

	if (q->lookup != NULL)
		return 0;
	if (q->resolver == NULL &&
	    (q->resolver = worker_start(q->loop, &wc, &rc)) == NULL)
		return rc;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return -ENOMEM;
	k->q = q;
	k->target = &q->target;
	k->job.run = pg_lookup_run;
	k->job.done = pg_lookup_done;
	if ((rc = worker_submit(q->resolver, &k->job)) != 0) {
		free(k);
		return rc;
	}
	q->lookup = k;
	return 0;
}

/* A new attempt: host names are looked up first, on the resolver. */
static void
pg_link_connect(struct pg_link *l)
{
	struct pg_store *q = l->q;
	int rc;

	if (!q->target.lookup) {
		pg_link_start(l, &q->target);
		return;
	}
	l->state = LINK_RESOLVING;
	pg_link_arm(l, PG_SETUP_MS);
	if ((rc = pg_lookup_start(q)) != 0)
		pg_link_fail(l, strerror(-rc));
}

/* Connected: the schema step, the first query. */
static void
pg_link_connected(struct pg_link *l)
{
	if (PQsetnonblocking(l->conn, 1) != 0 ||
	    PQsendQuery(l->conn, pg_schema_sql) == 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	l->state = LINK_SCHEMA;
	pg_link_watch(l, EV_READABLE, true);
	pg_link_flush(l);
}

static void
pg_link_poll_connect(struct pg_link *l)
{
	switch (PQconnectPoll(l->conn)) {
	case PGRES_POLLING_FAILED:
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	case PGRES_POLLING_OK:
		pg_link_connected(l);
		return;
	case PGRES_POLLING_READING:
		pg_link_watch(l, EV_READABLE, true);
		return;
	default:
		pg_link_watch(l, EV_WRITABLE, true);
		return;
	}
}

/* The schema step went through: pipeline mode, and every statement
 * prepared in one go behind one sync. */
static void
pg_link_prepare(struct pg_link *l)
{
	if (PQenterPipelineMode(l->conn) == 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	for (int i = 0; i < PS_MAX; i++)
		if (PQsendPrepare(l->conn, pg_stmts[i].name, pg_stmts[i].sql,
		    pg_stmts[i].nparams, pg_stmts[i].types) == 0) {
			pg_link_fail(l, PQerrorMessage(l->conn));
			return;
		}
	if (PQpipelineSync(l->conn) == 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	l->state = LINK_PREPARING;
	pg_link_want_flush(l);
}

/* The schema step's results, one per statement, then NULL. */
static void
pg_link_schema_results(struct pg_link *l)
{
	char why[sizeof(l->error) + 16];

	while (l->conn != NULL && !PQisBusy(l->conn)) {
		PGresult *res = PQgetResult(l->conn);

		if (res == NULL) {
			if (l->error[0] == '\0') {
				pg_link_prepare(l);
				return;
			}
			snprintf(why, sizeof(why), "schema: %s", l->error);
			pg_link_fail(l, why);
			return;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    l->error[0] == '\0')
			pg_copy_message(l->error, sizeof(l->error),
			    PQresultErrorMessage(res));
		PQclear(res);
	}
}

/* One result of the preparation; its sync makes the link serve. */
static void
pg_link_prepare_result(struct pg_link *l, PGresult *res)
{
	char why[sizeof(l->error) + 16];

	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
		return;
	case PGRES_PIPELINE_SYNC:
		if (l->error[0] != '\0') {
			snprintf(why, sizeof(why), "prepare: %s", l->error);
			pg_link_fail(l, why);
			return;
		}
		l->state = LINK_READY;
		l->backoff = PG_BACKOFF_MIN_MS;
		if (l->timer != 0)
			ev_timer_del(l->q->loop, l->timer);
		l->timer = 0;
		l->q->starting = false;
		pg_update_up(l->q);
		return;
	default:
		if (l->error[0] == '\0')
			pg_copy_message(l->error, sizeof(l->error),
			    PQresultErrorMessage(res));
		return;
	}
}

/* ---- requests ---------------------------------------------------------- */

/* Sends req on l: its statement and a sync, so it is a transaction of
 * its own.  On a failure the link fails, and req with it. */
static void
pg_link_send(struct pg_link *l, struct bank_req *req)
{
	struct pg_params p;

	pg_params(req, &p);
	pg_list_push(&l->head, &l->tail, req);
	l->inflight++;
	req->tries++;
	if ((req->op == BANK_OP_TRANSFER &&
	    PQsendQueryPrepared(l->conn, pg_stmts[PS_LOCK].name, 2,
	    (const char *const[]){ p.v[0], req->name }, NULL, NULL, 0) == 0) ||
	    PQsendQueryPrepared(l->conn, pg_stmts[p.st].name,
	    pg_stmts[p.st].nparams, p.v, NULL, NULL, 0) == 0 ||
	    PQpipelineSync(l->conn) == 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	pg_link_want_flush(l);
}

/* The serving link with the fewest requests in flight and room for one
 * more, or NULL. */
static struct pg_link *
pg_pick(struct pg_store *q)
{
	struct pg_link *best = NULL;

	for (int i = 0; i < PG_LINKS; i++) {
		struct pg_link *l = &q->links[i];

		if (l->state == LINK_READY && l->inflight < PG_PIPELINE_MAX &&
		    (best == NULL || l->inflight < best->inflight))
			best = l;
	}
	return best;
}

/* Sends waiting requests while a link has room. */
static void
pg_dispatch(struct pg_store *q)
{
	struct pg_link *l;

	while (q->wait_head != NULL && (l = pg_pick(q)) != NULL) {
		struct bank_req *req = pg_list_pop(&q->wait_head,
		    &q->wait_tail);

		q->waiting--;
		pg_link_send(l, req);
	}
}

/* A failed statement.  A deadlock or a serialization failure goes again
 * (nothing of it was made); a lost connection or a server going down is
 * unavailable; anything else failed. */
static void
pg_req_error(struct pg_link *l, struct bank_req *req, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char msg[sizeof(req->error) - 16];

	pg_count_error(l->q);
	if (state != NULL && (strcmp(state, "40001") == 0 ||
	    strcmp(state, "40P01") == 0) && req->tries < PG_RETRIES) {
		l->retry = true;
		return;
	}
	if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED || state == NULL ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "53", 2) == 0) {
		req->status = BANK_UNAVAILABLE;
		return;
	}
	req->status = BANK_FAILED;
	pg_copy_message(msg, sizeof(msg), PQresultErrorMessage(res));
	snprintf(req->error, sizeof(req->error), "postgresql: %s", msg);
}

/* One result on a serving link: rows or an error for the oldest request,
 * then its sync, which ends it. */
static void
pg_link_result(struct pg_link *l, PGresult *res)
{
	struct pg_store *q = l->q;
	struct bank_req *req = l->head;

	if (req == NULL) {
		pg_link_fail(l, "a result no request waits for");
		return;
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		/* A transfer's first rows are its locks'. */
		if (req->op == BANK_OP_TRANSFER && l->rows++ == 0)
			return;
		req->status = pg_read_rows(req, res);
		return;
	case PGRES_PIPELINE_SYNC:
		pg_list_pop(&l->head, &l->tail);
		l->inflight--;
		l->rows = 0;
		l->failed = false;
		if (l->retry) {
			/* First in line again: it waited its turn once. */
			l->retry = false;
			req->job.next = NULL;
			if (q->wait_head != NULL)
				req->job.next = &q->wait_head->job;
			else
				q->wait_tail = req;
			q->wait_head = req;
			q->waiting++;
			return;
		}
		pg_end(q, req, req->status);
		return;
	default:
		if (!l->failed)
			pg_req_error(l, req, res);
		l->failed = true;
		return;
	}
}

/* Every result libpq has whole, by the link's state. */
static void
pg_link_results(struct pg_link *l)
{
	int nulls = 0;

	if (l->state == LINK_SCHEMA) {
		pg_link_schema_results(l);
		return;
	}
	/* In pipeline mode a NULL ends each query's results; two in a row
	 * mean nothing more has come. */
	while (l->conn != NULL && nulls < 2 && !PQisBusy(l->conn)) {
		PGresult *res = PQgetResult(l->conn);

		if (res == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		if (l->state == LINK_PREPARING)
			pg_link_prepare_result(l, res);
		else
			pg_link_result(l, res);
		PQclear(res);
	}
}

/* The socket of a connected link is ready. */
static void
pg_link_io(struct pg_link *l, int mask)
{
	if ((mask & EV_WRITABLE) && pg_link_flush(l) != 0)
		return;
	if ((mask & EV_READABLE) && PQconsumeInput(l->conn) == 0) {
		pg_link_fail(l, PQerrorMessage(l->conn));
		return;
	}
	pg_link_results(l);
	if (l->conn != NULL && PQstatus(l->conn) == CONNECTION_BAD)
		pg_link_fail(l, PQerrorMessage(l->conn));
}

static void
pg_link_event(struct ev_loop *loop, int fd, void *data, int mask)
{
	struct pg_link *l = data;
	struct pg_store *q = l->q;

	(void)loop;
	(void)fd;
	if (l->state == LINK_CONNECTING)
		pg_link_poll_connect(l);
	else if (l->conn != NULL)
		pg_link_io(l, mask);
	pg_dispatch(q);
	pg_run_done(q);
}

/* ---- the front --------------------------------------------------------- */

static int
pg_submit(struct bank_store *s, struct bank_req *req)
{
	struct pg_store *q = pg_of(s);

	if (q->closing)
		return -ESHUTDOWN;
	req->tries = 0;
	if ((!q->up && !q->starting) || q->waiting >= PG_QUEUE_MAX) {
		pg_end(q, req, BANK_UNAVAILABLE);
	} else {
		pg_list_push(&q->wait_head, &q->wait_tail, req);
		q->waiting++;
		pg_dispatch(q);
	}
	pg_arm_done(q);
	return 0;
}

static int
pg_open(struct bank_store **out, const char *where, struct svc *svc)
{
	struct pg_store *q = calloc(1, sizeof(*q));
	char why[200];
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = pg_conn_parse(where, &q->target, why, sizeof(why))) != 0) {
		svc_log(svc, LOG_LVL_ERROR, "conninfo: %s", why);
		free(q);
		return rc;
	}
	q->svc = svc;
	q->base.svc = svc;
	for (int i = 0; i < PG_LINKS; i++) {
		q->links[i].q = q;
		q->links[i].fd = -1;
		q->links[i].backoff = PG_BACKOFF_MIN_MS;
	}
	*out = &q->base;
	return 0;
}

/* Connecting begins; requests wait for the first connection (or fail
 * with the first failure). */
static int
pg_start(struct bank_store *s, struct ev_loop *loop)
{
	struct pg_store *q = pg_of(s);

	q->loop = loop;
	q->starting = true;
	if (q->base.meters.up != NULL)
		*q->base.meters.up = 0;
	for (int i = 0; i < PG_LINKS; i++)
		pg_link_connect(&q->links[i]);
	return 0;
}

/* At close, the requests in flight get PG_DRAIN_MS to end, waited for
 * here with poll(2): the service is stopping and has no clients left. */
static void
pg_drain(struct pg_store *q)
{
	int64_t until = ev_clock_ms() + PG_DRAIN_MS;

	for (;;) {
		struct pollfd p[PG_LINKS];
		struct pg_link *by[PG_LINKS];
		int n = 0;
		int64_t left = until - ev_clock_ms();

		pg_dispatch(q);
		for (int i = 0; i < PG_LINKS; i++) {
			struct pg_link *l = &q->links[i];

			if (l->state != LINK_READY || l->inflight == 0)
				continue;
			p[n] = (struct pollfd){ .fd = PQsocket(l->conn),
			    .events = POLLIN | (l->mask & EV_WRITABLE ?
			    POLLOUT : 0) };
			by[n++] = l;
		}
		if (n == 0 || left <= 0 || poll(p, (nfds_t)n, (int)left) < 0)
			return;
		for (int i = 0; i < n; i++)
			if (p[i].revents != 0)
				pg_link_io(by[i], (p[i].revents & POLLOUT ?
				    EV_WRITABLE : 0) | (p[i].revents &
				    ~POLLOUT ? EV_READABLE : 0));
	}
}

static void
pg_close(struct bank_store *s)
{
	struct pg_store *q = pg_of(s);
	struct bank_req *req;

	if (q->loop != NULL)
		pg_drain(q);
	q->closing = true;
	while ((req = pg_list_pop(&q->wait_head, &q->wait_tail)) != NULL)
		pg_end(q, req, BANK_UNAVAILABLE);
	for (int i = 0; i < PG_LINKS; i++) {
		struct pg_link *l = &q->links[i];

		if (l->timer != 0)
			ev_timer_del(q->loop, l->timer);
		l->timer = 0;
		if (l->conn != NULL)
			pg_link_fail(l, "closing");
	}
	if (q->done_timer != 0)
		ev_timer_del(q->loop, q->done_timer);
	pg_run_done(q);
	/* A look-up still running is waited for (getaddrinfo cannot be
	 * cancelled); its result is thrown away. */
	if (q->lookup != NULL)
		q->lookup->q = NULL;
	if (q->resolver != NULL)
		worker_stop(q->resolver);
	pg_conn_free(&q->target);
	pg_conn_free(&q->resolved);
	free(q);
}

const struct bank_store_ops bank_store_pg = {
	.name = "postgresql",
	.open = pg_open,
	.start = pg_start,
	.submit = pg_submit,
	.close = pg_close,
};
