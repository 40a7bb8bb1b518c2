/*
 * store_sqlite.c - the bank's accounts in one SQLite file.
 *
 * One connection, used by the store's thread only once the service runs
 * (opened and set up at start on the reactor thread, before any client is
 * served).  A group is one BEGIN IMMEDIATE ... COMMIT; each operation runs
 * inside its own savepoint, so a refused or failed one is undone alone.
 *
 * Durability: in WAL mode with synchronous=FULL, SQLite syncs the WAL at
 * every commit, so a committed transaction survives a crash and a power
 * cut; checkpoints sync too before the WAL is reused.  NORMAL would sync
 * only at checkpoints and could lose acknowledged commits on power loss.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../../log.h"
#include "../../service.h"
#include "bank_amount.h"
#include "store.h"

#define SQ_BUSY_MS         5000       /* wait for another process' lock */
#define SQ_APP_ID          0x6d62616e /* PRAGMA application_id: "mban" */
#define SQ_SCHEMA          2          /* PRAGMA user_version we write */

/* Prepared statements, made once at start. */
enum sq_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_UNDO,
	ST_FIND, ST_BALANCE, ST_CREATE, ST_SET_BALANCE, ST_RECORD, ST_HISTORY,
	ST_MAX
};

static const char *const sq_stmt_sql[ST_MAX] = {
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

#define SQ_NO_UPDATE \
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
static const char sq_schema[] =
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
	SQ_NO_UPDATE
	"CREATE TRIGGER history_no_delete BEFORE DELETE ON history"
	"  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;";

/* Schema 1 to 2: the chain is made from the index, which then goes.  The
 * columns come last, where CREATE TABLE above puts them too. */
static const char sq_upgrade_1[] =
	"DROP TRIGGER history_no_update;"
	"ALTER TABLE accounts ADD COLUMN last INTEGER REFERENCES history (id);"
	"ALTER TABLE history ADD COLUMN prev INTEGER REFERENCES history (id);"
	"UPDATE history SET prev = (SELECT max(h.id) FROM history AS h"
	"  WHERE h.account = history.account AND h.id < history.id);"
	"UPDATE accounts SET last = (SELECT max(h.id) FROM history AS h"
	"  WHERE h.account = accounts.id);"
	"DROP INDEX history_account;"
	SQ_NO_UPDATE;

/* The store. */
struct sq_store {
	struct bank_store base;       /* the front's part; first */
	struct svc       *svc;        /* for log lines */
	char             *path;       /* the database file */
	sqlite3          *db;         /* the connection */
	sqlite3_stmt     *stmt[ST_MAX]; /* prepared statements */
};

static struct sq_store *
sq_of(struct bank_store *s)
{
	return (struct sq_store *)s;
}

/* ---- the store's thread ------------------------------------------------ */

/* Notes a storage error for the reactor to log; returns -EIO. */
static int
sq_error(struct sq_store *q, struct bank_req *req, const char *what)
{
	snprintf(req->error, sizeof(req->error), "%s: %s: %s", q->path, what,
	    sqlite3_errmsg(q->db));
	return -EIO;
}

/* Runs a statement that returns no rows; 0 or -EIO. */
static int
sq_exec(struct sq_store *q, enum sq_stmt st)
{
	sqlite3_stmt *s = q->stmt[st];
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

/* An account found by name (case-insensitive). */
struct sq_account {
	int64_t id;                             /* its row id */
	int64_t balance;                        /* cents */
	char    name[BANK_NAME_MAX + 1];        /* as stored */
	char    hash[PASSWD_HASH_MAX];          /* its stored secret hash */
};

/* Looks name up; 0, -ENOENT or -EIO. */
static int
sq_find_account(struct sq_store *q, struct bank_req *req, const char *name,
    struct sq_account *a)
{
	sqlite3_stmt *s = q->stmt[ST_FIND];
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
	return rc == SQLITE_DONE ? -ENOENT : sq_error(q, req, "find account");
}

/* Reads an account's balance; 0 or -EIO (a missing account is an error:
 * accounts are never removed). */
static int
sq_read_balance(struct sq_store *q, struct bank_req *req, int64_t id,
    int64_t *cents)
{
	sqlite3_stmt *s = q->stmt[ST_BALANCE];
	int rc;

	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*cents = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 0 : sq_error(q, req, "read balance");
}

/* Appends the history line that explains an account's new balance, then
 * sets the balance and makes the line the newest of its chain, so the two
 * can never disagree. */
static int
sq_move(struct sq_store *q, struct bank_req *req, int64_t id,
    int64_t balance, enum bank_kind kind, const char *other)
{
	sqlite3_stmt *s = q->stmt[ST_RECORD];

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)req->now);
	sqlite3_bind_text(s, 3, bank_kind_names[kind], -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, req->amount);
	sqlite3_bind_int64(s, 5, balance);
	if (other != NULL)
		sqlite3_bind_text(s, 6, other, -1, SQLITE_STATIC);
	if (sq_exec(q, ST_RECORD) != 0)
		return sq_error(q, req, "append history");
	s = q->stmt[ST_SET_BALANCE];
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, balance);
	if (sq_exec(q, ST_SET_BALANCE) != 0)
		return sq_error(q, req, "update balance");
	req->wrote = true;
	return 0;
}

/* A refusal: the status says why; the savepoint is rolled back. */
static int
sq_refuse(struct bank_req *req, enum bank_status why)
{
	req->status = why;
	return 1;
}

static int
sq_create_body(struct sq_store *q, struct bank_req *req)
{
	sqlite3_stmt *s = q->stmt[ST_CREATE];
	struct sq_account a;
	int rc = sq_find_account(q, req, req->name, &a);

	if (rc == 0)
		return sq_refuse(req, BANK_EXISTS);
	if (rc != -ENOENT)
		return rc;
	sqlite3_bind_text(s, 1, req->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, req->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)req->now);
	if (sq_exec(q, ST_CREATE) != 0)
		return sq_error(q, req, "create account");
	req->id = sqlite3_last_insert_rowid(q->db);
	req->balance = 0;
	req->wrote = true;
	return 0;
}

/* LOGIN's lookup: the account's id, name as stored, hash and balance. */
static int
sq_find_body(struct sq_store *q, struct bank_req *req)
{
	struct sq_account a;
	int rc = sq_find_account(q, req, req->name, &a);

	if (rc == -ENOENT)
		return sq_refuse(req, BANK_NO_ACCOUNT);
	if (rc != 0)
		return rc;
	req->id = a.id;
	req->balance = a.balance;
	memcpy(req->name, a.name, sizeof(req->name));
	memcpy(req->stored, a.hash, sizeof(req->stored));
	return 0;
}

static int
sq_balance_body(struct sq_store *q, struct bank_req *req)
{
	return sq_read_balance(q, req, req->account, &req->balance);
}

static int
sq_deposit_body(struct sq_store *q, struct bank_req *req)
{
	int64_t balance, after;
	int rc;

	if ((rc = sq_read_balance(q, req, req->account, &balance)) != 0)
		return rc;
	if (bank_amount_add(balance, req->amount, BANK_BALANCE_MAX,
	    &after) != 0)
		return sq_refuse(req, BANK_LIMIT);
	if ((rc = sq_move(q, req, req->account, after, BANK_DEPOSIT,
	    NULL)) != 0)
		return rc;
	req->balance = after;
	return 0;
}

static int
sq_withdraw_body(struct sq_store *q, struct bank_req *req)
{
	int64_t balance, after;
	int rc;

	if ((rc = sq_read_balance(q, req, req->account, &balance)) != 0)
		return rc;
	if (bank_amount_sub(balance, req->amount, &after) != 0)
		return sq_refuse(req, BANK_INSUFFICIENT);
	if ((rc = sq_move(q, req, req->account, after, BANK_WITHDRAW,
	    NULL)) != 0)
		return rc;
	req->balance = after;
	return 0;
}

/* Debits the sender, then credits the receiver, reading its balance
 * after the debit so a transfer to oneself adds up too. */
static int
sq_transfer_body(struct sq_store *q, struct bank_req *req)
{
	int64_t balance, after, to_balance, to_after;
	struct sq_account to;
	int rc;

	if ((rc = sq_find_account(q, req, req->name, &to)) != 0)
		return rc == -ENOENT ? sq_refuse(req, BANK_NO_ACCOUNT) : rc;
	if ((rc = sq_read_balance(q, req, req->account, &balance)) != 0)
		return rc;
	if (bank_amount_sub(balance, req->amount, &after) != 0)
		return sq_refuse(req, BANK_INSUFFICIENT);
	if ((rc = sq_move(q, req, req->account, after, BANK_TRANSFER_OUT,
	    to.name)) != 0 ||
	    (rc = sq_read_balance(q, req, to.id, &to_balance)) != 0)
		return rc;
	if (bank_amount_add(to_balance, req->amount, BANK_BALANCE_MAX,
	    &to_after) != 0)
		return sq_refuse(req, BANK_LIMIT);
	if ((rc = sq_move(q, req, to.id, to_after, BANK_TRANSFER_IN,
	    req->self)) != 0)
		return rc;
	req->balance = to.id == req->account ? to_after : after;
	return 0;
}

/* A stored kind's word; a word the schema's CHECK lets through only. */
static enum bank_kind
sq_kind(const char *word)
{
	for (int k = 0; k < BANK_KINDS; k++)
		if (word != NULL && strcmp(word, bank_kind_names[k]) == 0)
			return (enum bank_kind)k;
	return BANK_DEPOSIT;
}

/* HISTORY: the account's newest count lines, newest first. */
static int
sq_history_body(struct sq_store *q, struct bank_req *req)
{
	sqlite3_stmt *s = q->stmt[ST_HISTORY];
	struct bank_entry *e = calloc((size_t)req->count, sizeof(*e));
	long k = 0;
	int rc = SQLITE_DONE;

	if (e == NULL)
		return sq_refuse(req, BANK_NO_MEMORY);
	sqlite3_bind_int64(s, 1, req->account);
	sqlite3_bind_int64(s, 2, req->count);
	while (k < req->count && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *other = (const char *)sqlite3_column_text(s, 4);

		e[k].time = sqlite3_column_int64(s, 0);
		e[k].kind = sq_kind((const char *)sqlite3_column_text(s, 1));
		e[k].amount = sqlite3_column_int64(s, 2);
		e[k].balance = sqlite3_column_int64(s, 3);
		snprintf(e[k].other, sizeof(e[k].other), "%s",
		    other != NULL ? other : "");
		k++;
	}
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;         /* count lines, as many as asked */
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE) {
		free(e);
		return sq_error(q, req, "read history");
	}
	req->entries = e;
	req->nentries = k;
	return 0;
}

typedef int sq_body_proc(struct sq_store *q, struct bank_req *req);

/* Runs one operation in its own savepoint: a refusal or an error undoes
 * exactly its changes.  -ECANCELED if SQLite has rolled the whole
 * transaction back (it does so on some I/O errors), which loses the
 * others too. */
static int
sq_isolated(struct bank_store *s, struct bank_req *req, sq_body_proc *body)
{
	struct sq_store *q = sq_of(s);
	int rc;

	if (sq_exec(q, ST_SAVEPOINT) != 0) {
		rc = sq_error(q, req, "savepoint");
		return sqlite3_get_autocommit(q->db) ? -ECANCELED : rc;
	}
	rc = body(q, req);
	if (rc != 0 && sq_exec(q, ST_UNDO) != 0 && rc > 0)
		rc = sq_error(q, req, "roll back");
	if (rc != 0)
		req->wrote = false;
	if (sqlite3_get_autocommit(q->db))
		return -ECANCELED;
	sq_exec(q, ST_RELEASE);
	return rc > 0 ? 0 : rc;
}

static int
sq_create(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_create_body);
}

static int
sq_find(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_find_body);
}

static int
sq_balance(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_balance_body);
}

static int
sq_deposit(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_deposit_body);
}

static int
sq_withdraw(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_withdraw_body);
}

static int
sq_transfer(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_transfer_body);
}

static int
sq_history(struct bank_store *s, struct bank_req *req)
{
	return sq_isolated(s, req, sq_history_body);
}

static int
sq_begin(struct bank_store *s, struct bank_req *first)
{
	struct sq_store *q = sq_of(s);

	return sq_exec(q, ST_BEGIN) == 0 ? 0 : sq_error(q, first, "begin");
}

static int
sq_commit(struct bank_store *s, struct bank_req *first)
{
	struct sq_store *q = sq_of(s);

	return sq_exec(q, ST_COMMIT) == 0 ? 0 : sq_error(q, first, "commit");
}

static void
sq_rollback(struct bank_store *s)
{
	struct sq_store *q = sq_of(s);

	if (!sqlite3_get_autocommit(q->db))
		sq_exec(q, ST_ROLLBACK);
}

/* ---- at start and stop ------------------------------------------------ */

/* Runs SQL without results on the calling thread; 0 or -EIO. */
static int
sq_exec_sql(struct sq_store *q, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(q->db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	svc_log(q->svc, LOG_LVL_ERROR, "%s: %s", q->path,
	    err ? err : sqlite3_errmsg(q->db));
	sqlite3_free(err);
	return -EIO;
}

/* Reads one integer with a query; 0 or -EIO. */
static int
sq_sql_int(struct sq_store *q, const char *sql, sqlite3_int64 *out)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(q->db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 0;
	svc_log(q->svc, LOG_LVL_ERROR, "%s: %s", q->path, sqlite3_errmsg(q->db));
	return -EIO;
}

/* Refuses a file that is some other program's database: it is never
 * written to, not even switched to WAL. */
static int
sq_check_identity(struct sq_store *q, bool *fresh, sqlite3_int64 *version)
{
	sqlite3_int64 app_id, tables;

	if (sq_sql_int(q, "PRAGMA application_id", &app_id) != 0 ||
	    sq_sql_int(q, "SELECT count(*) FROM sqlite_master", &tables) != 0 ||
	    sq_sql_int(q, "PRAGMA user_version", version) != 0)
		return -EIO;
	*fresh = app_id == 0 && tables == 0;
	if (!*fresh && app_id != SQ_APP_ID) {
		svc_log(q->svc, LOG_LVL_ERROR, "%s: not a multid bank database "
		    "(application_id %#llx, %lld tables)", q->path,
		    (unsigned long long)app_id, (long long)tables);
		return -EINVAL;
	}
	if (!*fresh && (*version > SQ_SCHEMA || *version < 1)) {
		svc_log(q->svc, LOG_LVL_ERROR, "%s: schema version %lld is not "
		    "one this multid knows (1 to %d)", q->path, (long long)*version,
		    SQ_SCHEMA);
		return -EINVAL;
	}
	return 0;
}

/* Runs sql (the schema, or an upgrade to it) and stamps the file with
 * our application id and schema version, in one transaction. */
static int
sq_exec_schema(struct sq_store *q, const char *sql)
{
	char tx[2048];

	snprintf(tx, sizeof(tx), "BEGIN; %s PRAGMA application_id = %d; "
	    "PRAGMA user_version = %d; COMMIT", sql, SQ_APP_ID, SQ_SCHEMA);
	if (sq_exec_sql(q, tx) != 0) {
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	return 0;
}

/* WAL mode, synchronous=FULL (see the top of this file), and the schema
 * created or upgraded. */
static int
sq_setup(struct sq_store *q, bool fresh, sqlite3_int64 version)
{
	sqlite3_stmt *s;
	bool wal;

	/* Exclusive locking before WAL: the WAL index then lives in heap
	 * memory instead of a memory-mapped -shm file, whose next page
	 * fault would kill the whole daemon with SIGBUS once the files can
	 * no longer be written (a disk error, a read-only remount).  The
	 * daemon is the database's only user; another process cannot open
	 * it while the bank runs. */
	if (sq_exec_sql(q, "PRAGMA locking_mode = EXCLUSIVE") != 0 ||
	    sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK)
		return -EIO;
	wal = sqlite3_step(s) == SQLITE_ROW &&
	    strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
	sqlite3_finalize(s);
	if (!wal) {
		svc_log(q->svc, LOG_LVL_ERROR, "%s: cannot use WAL mode: %s",
		    q->path, sqlite3_errmsg(q->db));
		return -EIO;
	}
	if (sq_exec_sql(q, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
	    != 0)
		return -EIO;
	if (!fresh && version == SQ_SCHEMA)
		return 0;
	/* Schema 1 is the only older one (sq_check_identity). */
	if (sq_exec_schema(q, fresh ? sq_schema : sq_upgrade_1) != 0)
		return -EIO;
	if (fresh)
		svc_log(q->svc, LOG_LVL_NOTICE, "created %s", q->path);
	else
		svc_log(q->svc, LOG_LVL_NOTICE, "%s: schema 1 upgraded to %d",
		    q->path, SQ_SCHEMA);
	return 0;
}

static int
sq_prepare(struct sq_store *q)
{
	for (int i = 0; i < ST_MAX; i++) {
		if (sqlite3_prepare_v3(q->db, sq_stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->stmt[i], NULL) != SQLITE_OK) {
			svc_log(q->svc, LOG_LVL_ERROR, "%s: %s", q->path,
			    sqlite3_errmsg(q->db));
			return -EIO;
		}
	}
	return 0;
}

static int
sq_open(struct bank_store **out, const char *where, struct svc *svc)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	struct sq_store *q = calloc(1, sizeof(*q));

	if (q == NULL || (q->path = strdup(where)) == NULL) {
		free(q);
		return -ENOMEM;
	}
	q->base.svc = svc;
	q->svc = svc;
	*out = &q->base;
	if (sqlite3_open_v2(q->path, &q->db, flags, NULL) != SQLITE_OK) {
		int err = sqlite3_system_errno(q->db);

		svc_log(svc, LOG_LVL_ERROR, "cannot open %s: %s", q->path,
		    q->db ? sqlite3_errmsg(q->db) : "out of memory");
		sqlite3_close(q->db);
		free(q->path);
		free(q);
		*out = NULL;
		return err > 0 ? -err : -EIO;
	}
	sqlite3_busy_timeout(q->db, SQ_BUSY_MS);
	return 0;
}

/* Checks, if needed creates or upgrades, and prepares.  Runs at start,
 * on the reactor thread, before any client is served. */
static int
sq_schema_setup(struct bank_store *s)
{
	struct sq_store *q = sq_of(s);
	sqlite3_int64 version;
	bool fresh;
	int rc;

	if ((rc = sq_check_identity(q, &fresh, &version)) != 0 ||
	    (rc = sq_setup(q, fresh, version)) != 0 ||
	    (rc = sq_prepare(q)) != 0)
		return rc;
	return 0;
}

/* Closing checkpoints the WAL into the main file. */
static void
sq_close(struct bank_store *s)
{
	struct sq_store *q = sq_of(s);

	for (int i = 0; i < ST_MAX; i++)
		sqlite3_finalize(q->stmt[i]);
	if (q->db != NULL && sqlite3_close(q->db) != SQLITE_OK)
		svc_log(q->svc, LOG_LVL_ERROR, "%s: close: %s", q->path,
		    sqlite3_errmsg(q->db));
	free(q->path);
	free(q);
}

const struct bank_store_ops bank_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.schema = sq_schema_setup,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.create = sq_create,
	.find = sq_find,
	.balance = sq_balance,
	.deposit = sq_deposit,
	.withdraw = sq_withdraw,
	.transfer = sq_transfer,
	.history = sq_history,
	.close = sq_close,
};
