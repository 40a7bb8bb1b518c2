/*
 * bank.c - the bank service: durable accounts in SQLite.
 *
 * Key: database (the SQLite file, created with its schema if missing).
 *
 * The reactor thread only parses commands and sends replies.  Everything
 * that may wait runs on two workers (worker.h):
 *
 *   - the database worker, one thread owning the only SQLite connection.
 *     It takes every operation queued while the previous commit was in
 *     flight and applies them in one transaction, each inside its own
 *     savepoint so a refused or failed operation leaves the others alone,
 *     then commits once: one fsync for all of them (group commit, as
 *     PostgreSQL flushes the WAL of every backend waiting on it at once).
 *     Replies go out only after that commit, so an OK is never sent for a
 *     change that is not on disk;
 *   - the password pool (passwd.h), which runs yescrypt for OPEN and
 *     LOGIN.  A hash costs tens of milliseconds of CPU and must stall
 *     neither the reactor nor the commits of other clients.
 *
 * A connection with a command in flight is paused, so its later commands
 * wait in the core's input buffer and replies keep the command order.
 * OPEN runs hash then database; LOGIN runs database (fetch the stored
 * hash) then hash (compare); every other command is one database step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "../cmd.h"
#include "../conn.h"
#include "../log.h"
#include "../passwd.h"
#include "../server.h"
#include "../worker.h"
#include "bank_amount.h"
#include "chat.h"

#define BANK_NAME_MAX      CHAT_NAME_MAX /* account names follow chat's rule */
#define BANK_SECRET_MIN    4          /* secret bytes, at least */
#define BANK_SECRET_MAX    72         /* and at most */
#define BANK_FAILURES_MAX  3          /* failed LOGINs before the close */
#define BANK_HISTORY_MAX   1000       /* HISTORY N at most */
#define BANK_HISTORY_DEF   10         /* and without N */
#define BANK_HASH_THREADS  2          /* yescrypt runs in parallel */
#define BANK_BATCH_MAX     4096       /* operations per commit at most */
#define BANK_BUSY_MS       5000       /* wait for another process' lock */
#define BANK_APP_ID        0x6d62616e /* PRAGMA application_id: "mban" */
#define BANK_SCHEMA        2          /* PRAGMA user_version we write */
#define BANK_REPLY_INLINE  96         /* one-line replies fit here */

/* ---- configuration --------------------------------------------------- */

struct bank_conf {
	char *database;               /* path of the SQLite file */
};

static const struct bank_conf bank_defaults = {
	.database = "/var/lib/multid/bank.db",
};

static const struct cfg_key bank_keys[] = {
	{ "database", CFG_PATH, offsetof(struct bank_conf, database), 1, 4096,
	  NULL },
	CFG_KEY_END
};

static const struct svc_counter bank_counters[] = {
	{ "multid_bank_commits_total",
	  "Durable commits, each holding one or more operations." },
	{ NULL, NULL }
};

enum { BANK_COUNTER_COMMITS };        /* index in bank_counters */

/* ---- state ------------------------------------------------------------ */

/* Prepared statements, made once at start. */
enum bank_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_UNDO,
	ST_FIND, ST_BALANCE, ST_CREATE, ST_SET_BALANCE, ST_RECORD, ST_HISTORY,
	ST_MAX
};

static const char *const bank_stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT op",
	[ST_RELEASE] = "RELEASE op",
	[ST_UNDO] = "ROLLBACK TO op",
	[ST_FIND] = "SELECT id, name, secret, balance FROM accounts "
	    "WHERE name = ?1",
	[ST_BALANCE] = "SELECT balance FROM accounts WHERE id = ?1",
	[ST_CREATE] = "INSERT INTO accounts (name, secret, balance, created) "
	    "VALUES (?1, ?2, 0, ?3)",
	/* Right after ST_RECORD: the line just added is the newest. */
	[ST_SET_BALANCE] = "UPDATE accounts SET balance = ?2, "
	    "last = last_insert_rowid() WHERE id = ?1",
	[ST_RECORD] = "INSERT INTO history (account, time, kind, amount, "
	    "balance, other, prev) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "(SELECT last FROM accounts WHERE id = ?1))",
	/* The account's chain of lines, newest first, ?2 of them. */
	[ST_HISTORY] = "WITH RECURSIVE chain (line, n) AS ("
	    "  SELECT last, 1 FROM accounts WHERE id = ?1 AND last IS NOT NULL"
	    "  UNION ALL"
	    "  SELECT h.prev, chain.n + 1 FROM chain JOIN history AS h"
	    "    ON h.id = chain.line WHERE h.prev IS NOT NULL AND chain.n < ?2)"
	    " SELECT h.time, h.kind, h.amount, h.balance, h.other"
	    " FROM chain JOIN history AS h ON h.id = chain.line"
	    " ORDER BY chain.n",
};

#define BANK_NO_UPDATE \
	"CREATE TRIGGER history_no_update BEFORE UPDATE ON history" \
	"  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;"

/* The schema.  History is append-only (the triggers refuse changes), and
 * the CHECKs are a last line of defence: a bug that tried to make a
 * balance negative or pass the limit fails its operation instead.
 *
 * An account's history lines are chained, newest first, from its last
 * column through their prev columns, instead of being found through an
 * index on (account, id): a commit of many accounts' operations then
 * writes the end of the history table and the accounts it changed, not
 * one index page per account (schema 1 had that index; a commit of 32
 * deposits wrote about 44 pages to the WAL, now about 4). */
static const char bank_schema[] =
	"CREATE TABLE accounts ("
	"  id      INTEGER PRIMARY KEY,"
	"  name    TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	"  secret  TEXT NOT NULL,"
	"  balance INTEGER NOT NULL"
	"          CHECK (balance BETWEEN 0 AND 1000000000000000),"
	"  created INTEGER NOT NULL,"
	"  last    INTEGER REFERENCES history (id));"
	"CREATE TABLE history ("
	"  id      INTEGER PRIMARY KEY,"
	"  account INTEGER NOT NULL REFERENCES accounts (id),"
	"  time    INTEGER NOT NULL,"
	"  kind    TEXT NOT NULL CHECK (kind IN ('deposit', 'withdraw',"
	"          'transfer-in', 'transfer-out')),"
	"  amount  INTEGER NOT NULL CHECK (amount > 0),"
	"  balance INTEGER NOT NULL CHECK (balance >= 0),"
	"  other   TEXT,"
	"  prev    INTEGER REFERENCES history (id));"
	BANK_NO_UPDATE
	"CREATE TRIGGER history_no_delete BEFORE DELETE ON history"
	"  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;";

/* Schema 1 to 2: the chain is made from the index, which then goes.  The
 * columns come last, where CREATE TABLE above puts them too. */
static const char bank_upgrade_1[] =
	"DROP TRIGGER history_no_update;"
	"ALTER TABLE accounts ADD COLUMN last INTEGER REFERENCES history (id);"
	"ALTER TABLE history ADD COLUMN prev INTEGER REFERENCES history (id);"
	"UPDATE history SET prev = (SELECT max(h.id) FROM history AS h"
	"  WHERE h.account = history.account AND h.id < history.id);"
	"UPDATE accounts SET last = (SELECT max(h.id) FROM history AS h"
	"  WHERE h.account = accounts.id);"
	"DROP INDEX history_account;"
	BANK_NO_UPDATE;

/* The running service. */
struct bank {
	struct svc     *svc;              /* for its counters and log lines */
	char           *path;             /* the database file in use */
	sqlite3        *db;               /* used by the database thread only */
	sqlite3_stmt   *stmt[ST_MAX];     /* prepared statements */
	struct worker  *store;            /* the database thread */
	struct passwd_pool *hasher;       /* the yescrypt threads */
	atomic_uint_least64_t commits;    /* durable commits so far */
	bool            stopping;         /* the stop hook has begun */
	struct log_limit errors;          /* failed steps' log lines */
};

enum bank_cmd {
	CMD_OPEN, CMD_LOGIN, CMD_BALANCE, CMD_DEPOSIT, CMD_WITHDRAW,
	CMD_TRANSFER, CMD_HISTORY,
};

struct bank_client;

/* The steps of a command. */
enum bank_step {
	STEP_NONE,                    /* no more steps: answer */
	STEP_STORE,                   /* the database thread */
	STEP_HASH,                    /* the password pool */
};

/* One command on its way through the workers. */
struct bank_op {
	struct worker_job   job;          /* the database worker's link */
	struct passwd_job   pw;           /* OPEN and LOGIN: the secret and its
	                                     hash, new or stored */
	struct bank        *bank;         /* the service */
	struct bank_client *client;       /* NULL once the connection ended */
	enum bank_cmd       cmd;          /* what to do */
	enum bank_step      plan[2];      /* its steps, in order */
	unsigned            stage;        /* steps submitted so far */
	int64_t             account;      /* the client's or the found id */
	int64_t             amount;       /* cents */
	int64_t             balance;      /* LOGIN: the balance found */
	long                count;        /* HISTORY: lines wanted */
	bool                found;        /* LOGIN: the name exists */
	bool                login;        /* success logs the client in */
	bool                denied;       /* LOGIN: wrong name or secret */
	bool                wrote;        /* changed the database */
	char                self[BANK_NAME_MAX + 1]; /* the client's name */
	char                name[BANK_NAME_MAX + 1]; /* OPEN, LOGIN, TRANSFER */
	char               *out;          /* the reply with its CRLFs */
	size_t              out_len;      /* bytes in out; 0: no reply yet */
	char                inline_out[BANK_REPLY_INLINE]; /* short replies */
	char                error[160];   /* a storage error to log */
};

/* One connection. */
struct bank_client {
	struct conn    *conn;             /* the connection */
	struct bank_op *op;               /* the command in flight, or NULL */
	int64_t         account;          /* logged-in account id, 0 = none */
	char            name[BANK_NAME_MAX + 1]; /* its name as stored */
	unsigned        failures;         /* failed LOGINs so far */
	bool            eof;              /* the client half-closed */
};

static struct bank_op *
bank_op_of(struct worker_job *job)
{
	return (struct bank_op *)((char *)job - offsetof(struct bank_op, job));
}

/* ---- replies, built on whichever thread finishes the command ---------- */

/* Sets op's reply to one line; the CRLF is added here. */
static void
op_reply(struct bank_op *op, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(op->inline_out, sizeof(op->inline_out) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(op->inline_out) - 2)
		n = (int)sizeof(op->inline_out) - 3;
	memcpy(op->inline_out + n, "\r\n", 2);
	if (op->out != op->inline_out)
		free(op->out);  /* a HISTORY reply it replaces */
	op->out = op->inline_out;
	op->out_len = (size_t)n + 2;
}

static void
op_reply_amount(struct bank_op *op, const char *prefix, int64_t cents)
{
	char text[BANK_AMOUNT_TEXT];

	op_reply(op, "%s%s", prefix, bank_amount_format(cents, text));
}

/* A refusal: the reply says why; the caller's savepoint is rolled back. */
static int
op_refuse(struct bank_op *op, const char *reply)
{
	op_reply(op, "%s", reply);
	return 1;
}

static void
op_free(struct bank_op *op)
{
	if (op->out != op->inline_out)
		free(op->out);
	explicit_bzero(op->pw.secret, sizeof(op->pw.secret));
	free(op);
}

/* ---- the database thread ---------------------------------------------- */

/* Notes a storage error for the reactor to log; returns -EIO. */
static int
db_error(struct bank *b, struct bank_op *op, const char *what)
{
	snprintf(op->error, sizeof(op->error), "%s: %s: %s", b->path, what,
	    sqlite3_errmsg(b->db));
	return -EIO;
}

/* Runs a statement that returns no rows; 0 or -EIO. */
static int
db_exec(struct bank *b, enum bank_stmt st)
{
	sqlite3_stmt *s = b->stmt[st];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* An account found by name (case-insensitive). */
struct db_account {
	int64_t id;                             /* its row id */
	int64_t balance;                        /* cents */
	char    name[BANK_NAME_MAX + 1];        /* as stored */
	char    hash[PASSWD_HASH_MAX];          /* its stored secret hash */
};

/* Looks name up; 0, -ENOENT or -EIO. */
static int
db_find(struct bank *b, struct bank_op *op, const char *name,
    struct db_account *a)
{
	sqlite3_stmt *s = b->stmt[ST_FIND];
	int rc;

	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		a->id = sqlite3_column_int64(s, 0);
		snprintf(a->name, sizeof(a->name), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		snprintf(a->hash, sizeof(a->hash), "%s",
		    (const char *)sqlite3_column_text(s, 2));
		a->balance = sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : db_error(b, op, "find account");
}

/* Reads an account's balance; 0 or -EIO (a missing account is an error:
 * accounts are never removed). */
static int
db_balance(struct bank *b, struct bank_op *op, int64_t id, int64_t *cents)
{
	sqlite3_stmt *s = b->stmt[ST_BALANCE];
	int rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*cents = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : db_error(b, op, "read balance");
}

/* Appends the history line that explains an account's new balance, then
 * sets the balance and makes the line the newest of its chain, so the two
 * can never disagree. */
static int
db_move(struct bank *b, struct bank_op *op, int64_t id, int64_t balance,
    const char *kind, const char *other, time_t now)
{
	sqlite3_stmt *s = b->stmt[ST_RECORD];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, op->amount);
	sqlite3_bind_int64(s, 5, balance);
	if (other != NULL)
		sqlite3_bind_text(s, 6, other, -1, SQLITE_STATIC);
	if (db_exec(b, ST_RECORD) != 0)
		return db_error(b, op, "append history");
	s = b->stmt[ST_SET_BALANCE];
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, balance);
	if (db_exec(b, ST_SET_BALANCE) != 0)
		return db_error(b, op, "update balance");
	op->wrote = true;
	return 0;
}

static int
db_open_account(struct bank *b, struct bank_op *op, time_t now)
{
	sqlite3_stmt *s = b->stmt[ST_CREATE];
	struct db_account a;
	int rc = db_find(b, op, op->name, &a);

	if (rc == 0)
		return op_refuse(op, "ERR exists");
	if (rc != -ENOENT)
		return rc;
	sqlite3_bind_text(s, 1, op->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, op->pw.hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	if (db_exec(b, ST_CREATE) != 0)
		return db_error(b, op, "create account");
	op->account = sqlite3_last_insert_rowid(b->db);
	op->wrote = true;
	op->login = true;
	op_reply(op, "OK opened %s", op->name);
	return 0;
}

/* LOGIN's first step: fetch the stored hash.  For an unknown name there
 * is none, and the password pool hashes a dummy setting instead, so both
 * cases cost the same. */
static int
db_lookup(struct bank *b, struct bank_op *op)
{
	struct db_account a;
	int rc = db_find(b, op, op->name, &a);

	if (rc == -EIO)
		return rc;
	op->found = rc == 0;
	if (op->found) {
		op->account = a.id;
		op->balance = a.balance;
		memcpy(op->name, a.name, sizeof(op->name));
		memcpy(op->pw.hash, a.hash, sizeof(op->pw.hash));
	} else {
		op->pw.hash[0] = '\0';
	}
	return 0;
}

static int
db_deposit(struct bank *b, struct bank_op *op, time_t now)
{
	int64_t balance, after;
	int rc;

	if ((rc = db_balance(b, op, op->account, &balance)) != 0)
		return rc;
	if (bank_amount_add(balance, op->amount, BANK_BALANCE_MAX, &after) != 0)
		return op_refuse(op, "ERR limit");
	if ((rc = db_move(b, op, op->account, after, "deposit", NULL, now)) != 0)
		return rc;
	op_reply_amount(op, "OK ", after);
	return 0;
}

static int
db_withdraw(struct bank *b, struct bank_op *op, time_t now)
{
	int64_t balance, after;
	int rc;

	if ((rc = db_balance(b, op, op->account, &balance)) != 0)
		return rc;
	if (bank_amount_sub(balance, op->amount, &after) != 0)
		return op_refuse(op, "ERR insufficient funds");
	if ((rc = db_move(b, op, op->account, after, "withdraw", NULL, now)) != 0)
		return rc;
	op_reply_amount(op, "OK ", after);
	return 0;
}

/* Debits the sender, then credits the receiver, reading its balance
 * after the debit so a transfer to oneself adds up too. */
static int
db_transfer(struct bank *b, struct bank_op *op, time_t now)
{
	int64_t balance, after, to_balance, to_after;
	struct db_account to;
	int rc;

	if ((rc = db_find(b, op, op->name, &to)) != 0)
		return rc == -ENOENT ? op_refuse(op, "ERR no such account") : rc;
	if ((rc = db_balance(b, op, op->account, &balance)) != 0)
		return rc;
	if (bank_amount_sub(balance, op->amount, &after) != 0)
		return op_refuse(op, "ERR insufficient funds");
	if ((rc = db_move(b, op, op->account, after, "transfer-out", to.name,
	    now)) != 0 ||
	    (rc = db_balance(b, op, to.id, &to_balance)) != 0)
		return rc;
	if (bank_amount_add(to_balance, op->amount, BANK_BALANCE_MAX,
	    &to_after) != 0)
		return op_refuse(op, "ERR limit");
	if ((rc = db_move(b, op, to.id, to_after, "transfer-in", op->self,
	    now)) != 0)
		return rc;
	op_reply_amount(op, "OK ", to.id == op->account ? to_after : after);
	return 0;
}

/* Appends one history line; false when out of memory. */
static bool
history_line(char **buf, size_t *len, size_t *cap, sqlite3_stmt *s)
{
	char when[32], amount[BANK_AMOUNT_TEXT], balance[BANK_AMOUNT_TEXT];
	time_t t = (time_t)sqlite3_column_int64(s, 0);
	const char *other = (const char *)sqlite3_column_text(s, 4);
	struct tm tm;
	int n;

	if (*cap - *len < 128) {
		char *p = realloc(*buf, *cap * 2);
		if (p == NULL)
			return false;
		*buf = p;
		*cap *= 2;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(*buf + *len, *cap - *len, "%s %s %s %s%s%s\r\n", when,
	    (const char *)sqlite3_column_text(s, 1),
	    bank_amount_format(sqlite3_column_int64(s, 2), amount),
	    bank_amount_format(sqlite3_column_int64(s, 3), balance),
	    other != NULL ? " " : "", other != NULL ? other : "");
	*len += (size_t)n;
	return true;
}

/* HISTORY: "OK K" and K lines, newest first.  Room for the header is
 * kept at the front, so the reply is built in one buffer. */
static int
db_history(struct bank *b, struct bank_op *op)
{
	enum { HEAD = 16 };
	sqlite3_stmt *s = b->stmt[ST_HISTORY];
	size_t cap = 4096, len = HEAD;
	char *buf = malloc(cap), head[HEAD + 1];
	long k = 0;
	int rc = SQLITE_DONE, n;

	sqlite3_bind_int64(s, 1, op->account);
	sqlite3_bind_int64(s, 2, op->count);
	while (buf != NULL && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!history_line(&buf, &len, &cap, s)) {
			free(buf);
			buf = NULL;
		}
		k++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (buf == NULL)
		return op_refuse(op, "ERR out of memory");
	if (rc != SQLITE_DONE) {
		free(buf);
		return db_error(b, op, "read history");
	}
	n = snprintf(head, sizeof(head), "OK %ld\r\n", k);
	memcpy(buf + HEAD - n, head, (size_t)n);
	memmove(buf, buf + HEAD - n, len - (HEAD - (size_t)n));
	op->out = buf;
	op->out_len = len - (HEAD - (size_t)n);
	return 0;
}

/* Applies one operation inside the open transaction: 0 done, 1 refused
 * (the reply says why), or -EIO. */
static int
db_apply(struct bank *b, struct bank_op *op, time_t now)
{
	int64_t balance;
	int rc;

	switch (op->cmd) {
	case CMD_OPEN:
		return db_open_account(b, op, now);
	case CMD_LOGIN:
		return db_lookup(b, op);
	case CMD_BALANCE:
		if ((rc = db_balance(b, op, op->account, &balance)) == 0)
			op_reply_amount(op, "OK ", balance);
		return rc;
	case CMD_DEPOSIT:
		return db_deposit(b, op, now);
	case CMD_WITHDRAW:
		return db_withdraw(b, op, now);
	case CMD_TRANSFER:
		return db_transfer(b, op, now);
	case CMD_HISTORY:
		return db_history(b, op);
	}
	return -EINVAL;
}

/* Runs one operation in its own savepoint: a refusal or an error undoes
 * exactly its changes.  False if SQLite has rolled the whole transaction
 * back (it does so on some I/O errors), which loses the others too. */
static bool
db_apply_one(struct bank *b, struct bank_op *op, time_t now)
{
	int rc;

	if (db_exec(b, ST_SAVEPOINT) != 0) {
		db_error(b, op, "savepoint");
		op_reply(op, "ERR storage failure, try again");
		return !sqlite3_get_autocommit(b->db);
	}
	rc = db_apply(b, op, now);
	if (rc != 0 && db_exec(b, ST_UNDO) != 0 && rc > 0)
		rc = db_error(b, op, "roll back");
	if (rc != 0)
		op->wrote = false;
	if (sqlite3_get_autocommit(b->db))
		return false;
	db_exec(b, ST_RELEASE);
	if (rc < 0)
		op_reply(op, "ERR storage failure, try again");
	return true;
}

/* Every operation of a failed batch is answered with an error, and none
 * of its changes counts as made. */
static void
db_fail_all(struct worker_job *jobs)
{
	for (struct worker_job *j = jobs; j != NULL; j = j->next) {
		struct bank_op *op = bank_op_of(j);

		op->wrote = false;
		op->login = false;
		op_reply(op, "ERR storage failure, try again");
	}
}

/* The database worker's batch: one transaction, one commit, one fsync
 * for everything that queued up while the previous commit was running. */
static void
bank_store_batch(void *ctx, struct worker_job *jobs, size_t n)
{
	struct bank *b = ctx;
	struct bank_op *first = bank_op_of(jobs);
	time_t now = time(NULL);
	bool ok, wrote = false;

	(void)n;
	if (!(ok = db_exec(b, ST_BEGIN) == 0))
		db_error(b, first, "begin");
	for (struct worker_job *j = jobs; ok && j != NULL; j = j->next) {
		struct bank_op *op = bank_op_of(j);

		ok = db_apply_one(b, op, now);
		wrote = wrote || op->wrote;
	}
	if (ok && db_exec(b, ST_COMMIT) != 0) {
		db_error(b, first, "commit");
		ok = false;
	}
	if (!ok) {
		if (!sqlite3_get_autocommit(b->db))
			db_exec(b, ST_ROLLBACK);
		db_fail_all(jobs);
	} else if (wrote) {
		atomic_fetch_add(&b->commits, 1);
	}
}

/* ---- the reactor side ------------------------------------------------- */

static void bank_op_done(struct worker_job *job);
static void bank_pw_done(struct passwd_job *pj);

/* Submits op's next step; 0, or -ESHUTDOWN when the service is stopping.
 * OPEN hashes its new secret; LOGIN checks its secret against the hash
 * the database step found. */
static int
bank_op_next(struct bank_op *op)
{
	struct bank *b = op->bank;

	if (op->plan[op->stage++] == STEP_HASH)
		return op->cmd == CMD_OPEN ?
		    passwd_hash(b->hasher, &op->pw, bank_pw_done) :
		    passwd_verify(b->hasher, &op->pw, bank_pw_done);
	op->job.run = NULL;
	op->job.done = bank_op_done;
	return worker_submit(b->store, &op->job);
}

/* The command is complete: the session changes, the reply goes out, and
 * the connection reads its next command. */
static void
bank_finish(struct bank_client *cl, struct bank_op *op)
{
	struct conn *c = cl->conn;

	cl->op = NULL;
	if (op->login) {
		cl->account = op->account;
		memcpy(cl->name, op->name, sizeof(cl->name));
	}
	conn_send(c, op->out, op->out_len);
	if (op->denied && ++cl->failures >= BANK_FAILURES_MAX) {
		conn_close_after_flush(c);
	} else if (cl->eof) {
		conn_close_after_flush(c);
	}
	op_free(op);
	conn_resume(c);
}

/* A step finished (reactor thread): go on with the next, or answer. */
static void
bank_step_done(struct bank_op *op)
{
	struct bank *b = op->bank;
	struct bank_client *cl = op->client;

	b->svc->stats.custom[BANK_COUNTER_COMMITS] = atomic_load(&b->commits);
	if (op->error[0] != '\0') {
		unsigned long held;

		if (!log_limit_pass(&b->errors, ev_now(server.loop), &held))
			;       /* counted, told with the next line */
		else if (held > 0)
			svc_log(b->svc, LOG_LVL_ERROR, "%s (and %lu more errors "
			    "not logged)", op->error, held);
		else
			svc_log(b->svc, LOG_LVL_ERROR, "%s", op->error);
		op->error[0] = '\0';
	}
	if (cl == NULL) {
		op_free(op);
		return;
	}
	if (op->out_len == 0 && op->stage < 2 &&
	    op->plan[op->stage] != STEP_NONE && !b->stopping &&
	    bank_op_next(op) == 0)
		return;
	if (op->out_len == 0)
		op_reply(op, "ERR service stopping");
	bank_finish(cl, op);
}

static void
bank_op_done(struct worker_job *job)
{
	bank_step_done(bank_op_of(job));
}

/* The hash step: OPEN has its new hash for the database step, LOGIN is
 * answered. */
static void
bank_pw_done(struct passwd_job *pj)
{
	struct bank_op *op = (struct bank_op *)((char *)pj -
	    offsetof(struct bank_op, pw));

	if (op->cmd == CMD_OPEN) {
		if (pj->result != 0)
			op_reply(op, "ERR internal error");
	} else if (op->found && pj->result == 0) {
		op->login = true;
		op_reply_amount(op, "OK balance ", op->balance);
	} else {
		op->denied = true;
		op_reply(op, "ERR denied");
	}
	bank_step_done(op);
}

/* Starts op on its first step and pauses the connection until the reply;
 * the rest of the client's input waits in the core meanwhile. */
static enum line_result
bank_submit(struct bank_client *cl, struct bank_op *op)
{
	struct bank *b = op->bank;

	op->client = cl;
	if (b->stopping || bank_op_next(op) != 0) {
		op_free(op);
		conn_reply(cl->conn, "ERR service stopping");
		return LINE_MORE;
	}
	cl->op = op;
	conn_pause(cl->conn);
	return LINE_STOP;
}

/* A new operation for a database step (and optionally a hash step). */
static struct bank_op *
bank_op_new(struct bank_client *cl, enum bank_cmd cmd)
{
	struct bank *b = cl->conn->svc->state;
	struct bank_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->bank = b;
	op->cmd = cmd;
	op->account = cl->account;
	memcpy(op->self, cl->name, sizeof(op->self));
	op->plan[0] = STEP_STORE;
	if (cmd == CMD_OPEN) {
		op->plan[0] = STEP_HASH;
		op->plan[1] = STEP_STORE;
	} else if (cmd == CMD_LOGIN) {
		op->plan[1] = STEP_HASH;
	}
	return op;
}

/* ---- commands --------------------------------------------------------- */

/* 4..72 bytes, no spaces and no control characters. */
static bool
bank_secret_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < BANK_SECRET_MIN || n > BANK_SECRET_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* A new operation, or NULL after telling the client why not. */
static struct bank_op *
bank_cmd_op(struct bank_client *cl, enum bank_cmd cmd)
{
	struct bank_op *op = bank_op_new(cl, cmd);

	if (op == NULL)
		conn_reply(cl->conn, "ERR out of memory");
	return op;
}

static int
bank_cmd_open(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;
	struct bank_op *op;

	(void)argc;
	if (!chat_valid_name(argv[1])) {
		conn_reply(cl->conn, "ERR bad name");
		return LINE_MORE;
	}
	if (!bank_secret_ok(argv[2])) {
		conn_reply(cl->conn, "ERR bad secret");
		return LINE_MORE;
	}
	if ((op = bank_cmd_op(cl, CMD_OPEN)) == NULL)
		return LINE_MORE;
	memcpy(op->name, argv[1], strlen(argv[1]) + 1);
	passwd_set_secret(&op->pw, argv[2]);
	return bank_submit(cl, op);
}

/* A malformed name or secret still goes the whole way (and is denied),
 * so a reply's timing tells nothing about why.  A secret OPEN would not
 * take (longer than 72 bytes, say) can match no account: it leaves the
 * name out, rather than being cut to a prefix that might match. */
static int
bank_cmd_login(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;
	struct bank_op *op;

	(void)argc;
	if ((op = bank_cmd_op(cl, CMD_LOGIN)) == NULL)
		return LINE_MORE;
	if (chat_valid_name(argv[1]) && bank_secret_ok(argv[2]))
		memcpy(op->name, argv[1], strlen(argv[1]) + 1);
	passwd_set_secret(&op->pw, argv[2]);
	return bank_submit(cl, op);
}

/* HISTORY checks its N before the login, so it tests the state itself. */
static bool
bank_need_login(struct bank_client *cl)
{
	if (cl->account != 0)
		return false;
	conn_reply(cl->conn, "ERR login required");
	return true;
}

static int
bank_cmd_balance(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;
	struct bank_op *op;

	(void)argc;
	(void)argv;
	if ((op = bank_cmd_op(cl, CMD_BALANCE)) == NULL)
		return LINE_MORE;
	return bank_submit(cl, op);
}

/* DEPOSIT, WITHDRAW and TRANSFER: the amount is the last argument.  The
 * table lets them run logged in only. */
static enum line_result
bank_cmd_money(struct bank_client *cl, enum bank_cmd cmd, const char *name,
    const char *amount)
{
	struct bank_op *op;
	int64_t cents;

	if (bank_amount_parse(amount, &cents) != 0) {
		conn_reply(cl->conn, "ERR bad amount");
		return LINE_MORE;
	}
	if (name != NULL && !chat_valid_name(name)) {
		conn_reply(cl->conn, "ERR no such account");
		return LINE_MORE;
	}
	if ((op = bank_cmd_op(cl, cmd)) == NULL)
		return LINE_MORE;
	op->amount = cents;
	if (name != NULL)
		snprintf(op->name, sizeof(op->name), "%s", name);
	return bank_submit(cl, op);
}

static int
bank_cmd_deposit(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, CMD_DEPOSIT, NULL, argv[1]);
}

static int
bank_cmd_withdraw(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, CMD_WITHDRAW, NULL, argv[1]);
}

/* A name that breaks the naming rule cannot exist, so it is answered as
 * unknown without asking the database. */
static int
bank_cmd_transfer(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, CMD_TRANSFER, argv[1], argv[2]);
}

/* Parses HISTORY's N: 1..1000 as plain digits; -1 when it is not. */
static long
bank_history_count(const char *s)
{
	long n = 0;

	if (*s == '\0' || strlen(s) > 4)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
	}
	return n >= 1 && n <= BANK_HISTORY_MAX ? n : -1;
}

static int
bank_cmd_history(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;
	long n = argc > 1 ? bank_history_count(argv[1]) : BANK_HISTORY_DEF;
	struct bank_op *op;

	if (n < 0) {
		conn_reply(cl->conn, "ERR usage: HISTORY [N], N from 1 to %d",
		    BANK_HISTORY_MAX);
		return LINE_MORE;
	}
	if (bank_need_login(cl) || (op = bank_cmd_op(cl, CMD_HISTORY)) == NULL)
		return LINE_MORE;
	op->count = n;
	return bank_submit(cl, op);
}

static int
bank_cmd_logout(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	(void)argv;
	cl->account = 0;
	cl->name[0] = '\0';
	conn_reply(cl->conn, "OK");
	return LINE_MORE;
}

static int
bank_cmd_quit(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	(void)argv;
	conn_reply(cl->conn, "OK bye");
	conn_close_after_flush(cl->conn);
	return LINE_STOP;
}

static int
bank_cmd_help(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	(void)argv;
	conn_reply(cl->conn, "OK commands: OPEN NAME SECRET, LOGIN NAME SECRET, "
	    "BALANCE, DEPOSIT AMOUNT, WITHDRAW AMOUNT, TRANSFER NAME AMOUNT, "
	    "HISTORY [N], LOGOUT, QUIT, HELP");
	return LINE_MORE;
}

/* Session states, as bits of a command row's mask. */
enum {
	BANK_ANON = 1 << 0,           /* nobody logged in */
	BANK_USER = 1 << 1,           /* an account is logged in */
};

/* The command table: word, argument counts, the states it runs in, the
 * usage shown when the counts are wrong, and the handler.  OPEN's and
 * LOGIN's secret takes the rest of the line, so one with a space is
 * refused as a bad secret rather than as a usage error. */
static const struct cmd_def bank_commands[] = {
	{ CMD_WORD("OPEN"), 2, 2, CMD_ALL_STATES, CMD_REST, "OPEN NAME SECRET",
	  bank_cmd_open },
	{ CMD_WORD("LOGIN"), 2, 2, CMD_ALL_STATES, CMD_REST,
	  "LOGIN NAME SECRET", bank_cmd_login },
	{ CMD_WORD("BALANCE"), 0, 0, BANK_USER, 0, "BALANCE", bank_cmd_balance },
	{ CMD_WORD("DEPOSIT"), 1, 1, BANK_USER, 0, "DEPOSIT AMOUNT",
	  bank_cmd_deposit },
	{ CMD_WORD("WITHDRAW"), 1, 1, BANK_USER, 0, "WITHDRAW AMOUNT",
	  bank_cmd_withdraw },
	{ CMD_WORD("TRANSFER"), 2, 2, BANK_USER, 0, "TRANSFER NAME AMOUNT",
	  bank_cmd_transfer },
	{ CMD_WORD("HISTORY"), 0, 1, CMD_ALL_STATES, 0, "HISTORY [N]",
	  bank_cmd_history },
	{ CMD_WORD("LOGOUT"), 0, 0, CMD_ALL_STATES, 0, "LOGOUT",
	  bank_cmd_logout },
	{ CMD_WORD("QUIT"), 0, CMD_ANY, CMD_ALL_STATES, 0, "QUIT",
	  bank_cmd_quit },
	{ CMD_WORD("HELP"), 0, CMD_ANY, CMD_ALL_STATES, 0, "HELP",
	  bank_cmd_help },
	{ .word = NULL }
};

static enum line_result
bank_line(struct conn *c, char *line, size_t len)
{
	struct bank_client *cl = c->data;
	unsigned state = cl->account != 0 ? BANK_USER : BANK_ANON;
	struct cmd_call call;

	switch (cmd_parse(bank_commands, line, len, state, &call)) {
	case CMD_OK:
		return (enum line_result)cmd_call(&call, cl);
	case CMD_BLANK:
		return LINE_MORE;     /* a blank line, like an empty one */
	case CMD_UNKNOWN:
		conn_reply(c, "ERR unknown command");
		return LINE_MORE;
	case CMD_USAGE:
		conn_reply(c, "ERR usage: %s", call.def->usage);
		return LINE_MORE;
	case CMD_STATE:
		conn_reply(c, "ERR login required");
		return LINE_MORE;
	}
	return LINE_MORE;
}

/* ---- connections ------------------------------------------------------ */

static int
bank_open(struct conn *c)
{
	struct bank_client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL)
		return -1;
	cl->conn = c;
	c->data = cl;
	return 0;
}

/* A command still in flight runs to its end (a write is committed all
 * the same); only its reply has nowhere to go. */
static void
bank_close(struct conn *c, enum close_reason why)
{
	struct bank_client *cl = c->data;

	(void)why;
	if (cl == NULL)
		return;
	if (cl->op != NULL)
		cl->op->client = NULL;
	free(cl);
	c->data = NULL;
}

/* A client that sends its commands and half-closes still gets every
 * reply: the close waits for the command in flight. */
static void
bank_eof(struct conn *c)
{
	struct bank_client *cl = c->data;

	if (cl->op != NULL)
		cl->eof = true;
	else
		conn_close_after_flush(c);
}

/* ---- the database, at start and stop ---------------------------------- */

/* Runs SQL without results on the calling thread; 0 or -EIO. */
static int
bank_exec_sql(struct bank *b, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(b->db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	svc_log(b->svc, LOG_LVL_ERROR, "%s: %s", b->path,
	    err ? err : sqlite3_errmsg(b->db));
	sqlite3_free(err);
	return -EIO;
}

/* Reads one integer with a query; 0 or -EIO. */
static int
bank_sql_int(struct bank *b, const char *sql, sqlite3_int64 *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(b->db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	svc_log(b->svc, LOG_LVL_ERROR, "%s: %s", b->path, sqlite3_errmsg(b->db));
	return -EIO;
}

/* Refuses a file that is some other program's database: it is never
 * written to, not even switched to WAL. */
static int
bank_check_identity(struct bank *b, bool *fresh, sqlite3_int64 *version)
{
	sqlite3_int64 app_id, tables;

	if (bank_sql_int(b, "PRAGMA application_id", &app_id) != 0 ||
	    bank_sql_int(b, "SELECT count(*) FROM sqlite_master", &tables) != 0 ||
	    bank_sql_int(b, "PRAGMA user_version", version) != 0)
		return -EIO;
	*fresh = app_id == 0 && tables == 0;
	if (!*fresh && app_id != BANK_APP_ID) {
		svc_log(b->svc, LOG_LVL_ERROR, "%s: not a multid bank database "
		    "(application_id %#llx, %lld tables)", b->path,
		    (unsigned long long)app_id, (long long)tables);
		return -EINVAL;
	}
	if (!*fresh && (*version > BANK_SCHEMA || *version < 1)) {
		svc_log(b->svc, LOG_LVL_ERROR, "%s: schema version %lld is not "
		    "one this multid knows (1 to %d)", b->path, (long long)*version,
		    BANK_SCHEMA);
		return -EINVAL;
	}
	return 0;
}

/* Runs sql (the schema, or an upgrade to it) and stamps the file with
 * our application id and schema version, in one transaction. */
static int
bank_exec_schema(struct bank *b, const char *sql)
{
	char tx[2048];

	snprintf(tx, sizeof(tx), "BEGIN; %s PRAGMA application_id = %d; "
	    "PRAGMA user_version = %d; COMMIT", sql, BANK_APP_ID, BANK_SCHEMA);
	if (bank_exec_sql(b, tx) != 0) {
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

/* Durability: in WAL mode with synchronous=FULL, SQLite syncs the WAL at
 * every commit, so a committed transaction survives a crash and a power
 * cut; checkpoints sync too before the WAL is reused.  NORMAL would sync
 * only at checkpoints and could lose acknowledged commits on power loss. */
static int
bank_setup(struct bank *b, bool fresh, sqlite3_int64 version)
{
	sqlite3_stmt *s;
	bool wal;

	/* Exclusive locking before WAL: the WAL index then lives in heap
	 * memory instead of a memory-mapped -shm file, whose next page
	 * fault would kill the whole daemon with SIGBUS once the files can
	 * no longer be written (a disk error, a read-only remount).  The
	 * daemon is the database's only user; another process cannot open
	 * it while the bank runs. */
	if (bank_exec_sql(b, "PRAGMA locking_mode = EXCLUSIVE") != 0 ||
	    sqlite3_prepare_v2(b->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK)
		return -EIO;
	wal = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	if (!wal) {
		svc_log(b->svc, LOG_LVL_ERROR, "%s: cannot use WAL mode: %s",
		    b->path, sqlite3_errmsg(b->db));
		return -EIO;
	}
	if (bank_exec_sql(b, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
	    != 0)
		return -EIO;
	if (!fresh && version == BANK_SCHEMA)
		return 0;
	/* Schema 1 is the only older one (bank_check_identity). */
	if (bank_exec_schema(b, fresh ? bank_schema : bank_upgrade_1) != 0)
		return -EIO;
	if (fresh)
		svc_log(b->svc, LOG_LVL_NOTICE, "created %s", b->path);
	else
		svc_log(b->svc, LOG_LVL_NOTICE, "%s: schema 1 upgraded to %d",
		    b->path, BANK_SCHEMA);
	return 0;
}

static int
bank_prepare(struct bank *b)
{
	for (int i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(b->db, bank_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &b->stmt[i], NULL) != SQLITE_OK) {
			svc_log(b->svc, LOG_LVL_ERROR, "%s: %s", b->path,
			    sqlite3_errmsg(b->db));
			return -EIO;
		}
	}
	return 0;
}

/* Opens, checks and if needed creates the database.  Runs at start, on
 * the reactor thread, before any client is served. */
static int
bank_db_open(struct bank *b)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	sqlite3_int64 version;
	bool fresh;
	int rc;

	if (sqlite3_open_v2(b->path, &b->db, flags, NULL) != SQLITE_OK) {
		int err = sqlite3_system_errno(b->db);
		svc_log(b->svc, LOG_LVL_ERROR, "cannot open %s: %s", b->path,
		    b->db ? sqlite3_errmsg(b->db) : "out of memory");
		return err > 0 ? -err : -EIO;
	}
	sqlite3_busy_timeout(b->db, BANK_BUSY_MS);
	if ((rc = bank_check_identity(b, &fresh, &version)) != 0 ||
	    (rc = bank_setup(b, fresh, version)) != 0 ||
	    (rc = bank_prepare(b)) != 0)
		return rc;
	return 0;
}

/* Closing checkpoints the WAL into the main file. */
static void
bank_db_close(struct bank *b)
{
	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(b->stmt[i]);
	if (b->db != NULL && sqlite3_close(b->db) != SQLITE_OK)
		svc_log(b->svc, LOG_LVL_ERROR, "%s: close: %s", b->path,
		    sqlite3_errmsg(b->db));
	b->db = NULL;
}

static void
bank_free(struct bank *b)
{
	passwd_stop(b->hasher);
	if (b->store != NULL)
		worker_stop(b->store);
	bank_db_close(b);
	free(b->path);
	free(b);
}

static int
bank_workers(struct bank *b)
{
	const struct worker_config store = {
		.name = "multid-bank-db", .threads = 1, .batch = bank_store_batch,
		.ctx = b, .batch_max = BANK_BATCH_MAX,
	};
	int err;

	if ((b->store = worker_start(server.loop, &store, &err)) == NULL) {
		svc_log(b->svc, LOG_LVL_ERROR, "cannot start threads: %s",
		    strerror(-err));
		return err;
	}
	return 0;
}

static int
bank_start(struct svc *svc)
{
	const struct bank_conf *bc = SVC_CONF(svc, struct bank_conf);
	struct bank *b = calloc(1, sizeof(*b));
	int rc;

	if (b == NULL || (b->path = strdup(bc->database)) == NULL) {
		free(b);
		return -ENOMEM;
	}
	b->svc = svc;
	atomic_init(&b->commits, 0);
	b->hasher = passwd_start(server.loop, "multid-bank-pw",
	    BANK_HASH_THREADS, &rc);
	if (b->hasher == NULL) {
		if (rc == -ENOSYS)
			svc_log(svc, LOG_LVL_ERROR, "yescrypt is not available");
		else
			svc_log(svc, LOG_LVL_ERROR, "cannot start threads: %s",
			    strerror(-rc));
		bank_free(b);
		return rc;
	}
	if ((rc = bank_db_open(b)) != 0 || (rc = bank_workers(b)) != 0) {
		bank_free(b);
		return rc;
	}
	svc->state = b;
	svc_log(svc, LOG_LVL_INFO, "using %s", b->path);
	return 0;
}

/* Every queued operation is committed before this returns: the store is
 * drained and its thread joined.  The hash threads go first, since their
 * completions could hand work to the store. */
static void
bank_stop(struct svc *svc)
{
	struct bank *b = svc->state;

	if (b == NULL)
		return;
	b->stopping = true;
	bank_free(b);
	svc->state = NULL;
}

/* The database stays open across a reload: moving the accounts of
 * logged-in clients to another file under their feet would be wrong. */
static void
bank_reconfigure(struct svc *svc)
{
	const struct bank_conf *bc = SVC_CONF(svc, struct bank_conf);
	struct bank *b = svc->state;

	if (b != NULL && strcmp(bc->database, b->path) != 0)
		svc_log(svc, LOG_LVL_WARNING, "database %s takes effect after a "
		    "restart; still using %s", bc->database, b->path);
}

const struct service_type bank_service = {
	.name = "bank",
	.protos = PROTO_TCP,
	.keys = bank_keys,
	.conf_size = sizeof(struct bank_conf),
	.conf_defaults = &bank_defaults,
	.idle_timeout = 300,
	.busy = "ERR busy\r\n",
	.too_long = "ERR line too long",
	.counters = bank_counters,
	.start = bank_start,
	.reconfigure = bank_reconfigure,
	.stop = bank_stop,
	.open = bank_open,
	.line = bank_line,
	.eof = bank_eof,
	.close = bank_close,
};
