/*
 * store.h - where the bank keeps its accounts: a table of operations each
 * kind of store fills in (SQLite now, PostgreSQL next), and the
 * asynchronous front the protocol side uses.
 *
 * The protocol never waits: it fills a struct bank_req, submits it with
 * bank_store_submit, and gets its callback on the reactor thread once the
 * operation is durable (or refused, or failed).  Behind the front, a
 * store's operations are plain blocking calls made on the store's own
 * thread (worker.h), grouped: every request queued while the previous
 * group was committing runs in one transaction with one commit, so one
 * fsync serves them all (group commit, as PostgreSQL flushes the WAL of
 * every backend waiting on it at once).
 *
 * A store whose client library has an asynchronous mode of its own
 * (PostgreSQL: libpq's pipeline, store_pg.c) is its own front instead: it
 * fills in start and submit, runs on the reactor thread, and calls each
 * request's callback there; the blocking operations stay NULL.  The
 * protocol side is the same for both.
 *
 * Inside a group, each operation stands alone: a refused or failed one
 * leaves no change behind, and the others go on.  Only when the store
 * loses the whole transaction (a commit that fails, an I/O error that
 * rolls everything back) does every operation of the group fail.
 */
#ifndef MULTID_BANK_STORE_H
#define MULTID_BANK_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../passwd.h"
#include "../../worker.h"

#define BANK_NAME_MAX      16         /* account names (name.h's rule) */

struct ev_loop;
struct svc;
struct bank_req;

/* What a request asks for. */
enum bank_req_op {
	BANK_OP_CREATE,               /* OPEN: a new account, logged in */
	BANK_OP_FIND,                 /* LOGIN: an account and its hash */
	BANK_OP_BALANCE,              /* the account's balance */
	BANK_OP_DEPOSIT,              /* add amount */
	BANK_OP_WITHDRAW,             /* take amount */
	BANK_OP_TRANSFER,             /* move amount to name */
	BANK_OP_HISTORY,              /* the newest count lines */
};

/* How it ended. */
enum bank_status {
	BANK_OK,                      /* done (and durable, if it wrote) */
	BANK_EXISTS,                  /* CREATE: the name is taken */
	BANK_NO_ACCOUNT,              /* FIND, TRANSFER: no such name */
	BANK_INSUFFICIENT,            /* a balance would go below 0 */
	BANK_LIMIT,                   /* a balance would pass its limit */
	BANK_NO_MEMORY,               /* HISTORY: no room for the lines */
	BANK_FAILED,                  /* the storage failed; nothing changed */
	BANK_UNAVAILABLE,             /* the database cannot be reached; a
	                                 write may or may not have been made */
};

/* What a history line says happened. */
enum bank_kind {
	BANK_DEPOSIT, BANK_WITHDRAW, BANK_TRANSFER_IN, BANK_TRANSFER_OUT,
	BANK_KINDS
};

/* The words of the kinds, as stored and as shown. */
extern const char *const bank_kind_names[BANK_KINDS];

/* One history line. */
struct bank_entry {
	int64_t        time;          /* seconds since the epoch */
	enum bank_kind kind;          /* what happened */
	int64_t        amount;        /* cents moved, > 0 */
	int64_t        balance;       /* cents after it */
	char           other[BANK_NAME_MAX + 1]; /* the other account of a
	                                 transfer, else "" */
};

/* Runs on the reactor thread when the request is done. */
typedef void bank_req_done_proc(struct bank_req *req);

/* One operation, embedded in the protocol's own struct (container_of
 * style); the store reads the inputs and fills the results. */
struct bank_req {
	struct worker_job  job;       /* the store thread's link */
	enum bank_req_op   op;        /* what to do */
	bank_req_done_proc *done;     /* the callback, on the reactor */
	/* Inputs. */
	int64_t            account;   /* the client's account id */
	char               self[BANK_NAME_MAX + 1]; /* and its name */
	char               name[BANK_NAME_MAX + 1]; /* CREATE, FIND: the
	                                 account; TRANSFER: the receiver.
	                                 FIND writes it as stored */
	const char        *hash;      /* CREATE: the secret's hash */
	int64_t            amount;    /* cents */
	long               count;     /* HISTORY: lines wanted */
	int64_t            now;       /* the group's time; the front's */
	/* Results. */
	enum bank_status   status;    /* how it ended */
	int64_t            id;        /* CREATE, FIND: the account's id */
	int64_t            balance;   /* the client's balance after it (FIND:
	                                 the account's) */
	char               stored[PASSWD_HASH_MAX]; /* FIND: its hash */
	struct bank_entry *entries;   /* HISTORY: newest first; malloc'd, the
	                                 caller frees */
	long               nentries;  /* how many */
	bool               wrote;     /* it changed the store */
	char               error[160]; /* a storage failure, for the log */
	unsigned           tries;     /* an asynchronous store's attempts */
};

struct bank_store;

/* A kind of store.  open and schema run on the reactor thread at start;
 * the rest on the store's thread, except close, which runs once that
 * thread has ended.  An operation returns 0 with req->status set (a
 * refusal changes nothing), -EIO when it failed alone (nothing changed,
 * req->error says why), or -ECANCELED when the store lost the whole
 * transaction.
 *
 * An asynchronous store fills in open, start, submit and close only; all
 * four run on the reactor thread. */
struct bank_store_ops {
	const char *name;             /* "sqlite", "postgresql" */
	/* Opens the store at where (a path, a connection string); 0 or a
	 * negative errno, logged through svc. */
	int  (*open)(struct bank_store **s, const char *where, struct svc *svc);
	/* Checks the store is the bank's and creates or upgrades its schema. */
	int  (*schema)(struct bank_store *s);
	/* Asynchronous: begins serving on loop (connecting, and setting up
	 * the schema, in the background); 0 or a negative errno. */
	int  (*start)(struct bank_store *s, struct ev_loop *loop);
	/* Asynchronous: takes req; req->done runs later on the reactor, never
	 * inside this call.  0, or -ESHUTDOWN once the store is closing. */
	int  (*submit)(struct bank_store *s, struct bank_req *req);
	/* A group: begin, its operations, then commit (or rollback). */
	int  (*begin)(struct bank_store *s, struct bank_req *first);
	int  (*commit)(struct bank_store *s, struct bank_req *first);
	void (*rollback)(struct bank_store *s);
	int  (*create)(struct bank_store *s, struct bank_req *req);
	int  (*find)(struct bank_store *s, struct bank_req *req);
	int  (*balance)(struct bank_store *s, struct bank_req *req);
	int  (*deposit)(struct bank_store *s, struct bank_req *req);
	int  (*withdraw)(struct bank_store *s, struct bank_req *req);
	int  (*transfer)(struct bank_store *s, struct bank_req *req);
	int  (*history)(struct bank_store *s, struct bank_req *req);
	void (*close)(struct bank_store *s);
};

/* Where a store shows the state of its backend: two of the service's own
 * counters, kept up to date on the reactor thread (NULL: not shown). */
struct bank_store_meters {
	uint64_t *up;                 /* 1 while the backend serves, else 0 */
	uint64_t *errors;             /* backend errors so far */
};

/* The part every store begins with; the front's fields are its own. */
struct bank_store {
	const struct bank_store_ops *ops; /* its kind */
	struct svc     *svc;          /* for log lines */
	struct worker  *worker;       /* the store's thread */
	atomic_uint_least64_t commits; /* groups that wrote, committed */
	struct bank_store_meters meters; /* its backend's state */
};

extern const struct bank_store_ops bank_store_sqlite;
extern const struct bank_store_ops bank_store_pg;

/* Opens a store of kind ops at where, sets up its schema and starts its
 * thread (an asynchronous store: starts it on loop); NULL with *err set
 * to a negative errno (already logged).  meters may be NULL. */
struct bank_store *bank_store_open(const struct bank_store_ops *ops,
    const char *where, struct svc *svc, struct ev_loop *loop,
    const struct bank_store_meters *meters, int *err);

/* Queues req; done runs on the reactor once it ended.  0, or -ESHUTDOWN
 * once the store is closing (done is then never called). */
int bank_store_submit(struct bank_store *s, struct bank_req *req,
    bank_req_done_proc *done);

/* Durable commits so far, each holding one or more operations that
 * wrote. */
uint64_t bank_store_commits(struct bank_store *s);

/* Runs every queued request and its callback, ends the thread and closes
 * the store.  An asynchronous store waits a bounded time for the requests
 * it has sent; the rest end as BANK_UNAVAILABLE. */
void bank_store_close(struct bank_store *s);

#endif
