/*
 * store_pg_sql.c - the SQL of the PostgreSQL store (store_pg.c): the
 * versioned schema, the statements each request runs, and the reading of
 * their rows.
 *
 * Money moves by atomic statements: a balance changes by `UPDATE ... SET
 * balance = balance + x` guarded by its conditions, and the history line
 * that explains it is inserted by the same statement, so several
 * instances on one database lose no update.  A transfer first locks both
 * accounts in the order of their ids (PS_LOCK), so two transfers in
 * opposite directions cannot deadlock, and its second statement reads
 * balances nobody can change before its commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bank_amount.h"
#include "store_pg_sql.h"

/* Money moves in one statement each: the UPDATE's WHERE is the check
 * (funds, the limit), its RETURNING feeds the history line, and no row
 * back means refused.  READ COMMITTED re-reads a row a concurrent
 * transaction changed before applying `balance + x` to it. */
const struct pg_stmt_def pg_stmts[PS_MAX] = {
	[PS_CREATE] = { "bank_create", 2, { PG_TEXT, PG_TEXT },
	    "INSERT INTO accounts (name, display, hash)"
	    " VALUES (lower($1), $1, $2)"
	    " ON CONFLICT (name) DO NOTHING RETURNING id" },
	[PS_FIND] = { "bank_find", 1, { PG_TEXT },
	    "SELECT id, display, hash, balance FROM accounts"
	    " WHERE name = lower($1)" },
	[PS_BALANCE] = { "bank_balance", 1, { PG_INT8 },
	    "SELECT balance FROM accounts WHERE id = $1" },
	[PS_DEPOSIT] = { "bank_deposit", 3, { PG_INT8, PG_INT8, PG_INT8 },
	    "WITH a AS (UPDATE accounts SET balance = balance + $2"
	    "   WHERE id = $1 AND balance <= $3 - $2 RETURNING id, balance),"
	    " h AS (INSERT INTO history (account, kind, amount, balance)"
	    "   SELECT id, 'deposit', $2, balance FROM a)"
	    " SELECT balance FROM a" },
	[PS_WITHDRAW] = { "bank_withdraw", 2, { PG_INT8, PG_INT8 },
	    "WITH a AS (UPDATE accounts SET balance = balance - $2"
	    "   WHERE id = $1 AND balance >= $2 RETURNING id, balance),"
	    " h AS (INSERT INTO history (account, kind, amount, balance)"
	    "   SELECT id, 'withdraw', $2, balance FROM a)"
	    " SELECT balance FROM a" },
	/* A transfer's first statement: both accounts locked, in the order
	 * of their ids.  The second statement, in the same transaction
	 * (they share a sync), takes its snapshot after the locks, so its
	 * checks read balances nobody can change before the commit. */
	[PS_LOCK] = { "bank_lock", 2, { PG_INT8, PG_TEXT },
	    "SELECT id FROM accounts WHERE id = $1 OR name = lower($2)"
	    " ORDER BY id FOR NO KEY UPDATE" },
	/* $1 the sender's id, $2 the receiver's name, $3 the amount, $4 the
	 * limit, $5 the sender's name.  The UPDATE runs only when ok has its
	 * row.  The result: whether the receiver exists, the sender's new
	 * balance (NULL: refused), and whether the sender had the funds. */
	[PS_TRANSFER] = { "bank_transfer", 5,
	    { PG_INT8, PG_TEXT, PG_INT8, PG_INT8, PG_TEXT },
	    "WITH t AS (SELECT id, display FROM accounts"
	    "   WHERE name = lower($2) AND id <> $1),"
	    " l AS MATERIALIZED (SELECT id, balance FROM accounts"
	    "   WHERE id = $1 OR id = (SELECT id FROM t)),"
	    " ok AS (SELECT 1 FROM l AS f JOIN l AS r"
	    "   ON f.id = $1 AND r.id = (SELECT id FROM t)"
	    "   WHERE f.balance >= $3 AND r.balance <= $4 - $3),"
	    " u AS (UPDATE accounts AS a SET balance = a.balance +"
	    "   CASE WHEN a.id = $1 THEN -$3 ELSE $3 END"
	    "   FROM ok WHERE a.id IN (SELECT id FROM l)"
	    "   RETURNING a.id, a.balance),"
	    " h AS (INSERT INTO history (account, kind, amount, balance, other)"
	    "   SELECT u.id, CASE WHEN u.id = $1 THEN 'transfer-out'"
	    "     ELSE 'transfer-in' END, $3, u.balance,"
	    "     CASE WHEN u.id = $1 THEN (SELECT display FROM t) ELSE $5 END"
	    "   FROM u ORDER BY u.id <> $1)"
	    " SELECT (SELECT count(*) FROM t),"
	    "   (SELECT balance FROM u WHERE id = $1),"
	    "   (SELECT balance >= $3 FROM l WHERE id = $1)" },
	/* To oneself, after PS_LOCK: the balance stays, the two lines say
	 * out then in. */
	[PS_TRANSFER_SELF] = { "bank_transfer_self", 3,
	    { PG_INT8, PG_INT8, PG_TEXT },
	    "WITH a AS (SELECT id, balance FROM accounts"
	    "   WHERE id = $1 AND balance >= $2),"
	    " h AS (INSERT INTO history (account, kind, amount, balance, other)"
	    "   SELECT a.id, k.kind, $2, a.balance - k.d, $3 FROM a,"
	    "   (VALUES ('transfer-out', $2), ('transfer-in', 0)) AS k (kind, d)"
	    "   ORDER BY k.d DESC)"
	    " SELECT balance FROM a" },
	[PS_HISTORY] = { "bank_history", 2, { PG_INT8, PG_INT8 },
	    "SELECT floor(extract(epoch FROM time))::bigint, kind, amount,"
	    " balance, coalesce(other, '') FROM history WHERE account = $1"
	    " ORDER BY id DESC LIMIT $2" },
};

/* The schema step, one query on a fresh connection.  Session settings
 * the statements rely on (READ COMMITTED's re-read of changed rows, a
 * commit that waits for its WAL flush), then the schema: created when
 * missing, checked when there.  Documented in multid.conf(5).  Last, a
 * statement that waits longer than PG_STATEMENT_TIMEOUT (a lock some
 * other session holds and forgot) is cancelled, so its client gets ERR
 * unavailable instead of waiting for ever. */
const char pg_schema_sql[] =
	"SET default_transaction_isolation = 'read committed';"
	"SET synchronous_commit = on;"
	"SET client_min_messages = warning;"
	"DO $bank$ DECLARE v integer; BEGIN"
	"  PERFORM pg_advisory_xact_lock(" PG_LOCK_KEY ");"
	"  CREATE TABLE IF NOT EXISTS schema_version ("
	"    version integer NOT NULL);"
	"  SELECT max(version) INTO v FROM schema_version;"
	"  IF v IS NULL THEN"
	"    IF to_regclass('accounts') IS NOT NULL OR"
	"       to_regclass('history') IS NOT NULL THEN"
	"      RAISE EXCEPTION 'tables accounts or history exist without a"
	" schema_version row: not a multid bank database';"
	"    END IF;"
	"    CREATE TABLE accounts ("
	"      id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"      name    text NOT NULL UNIQUE CHECK (name = lower(name)),"
	"      display text NOT NULL CHECK (lower(display) = name),"
	"      hash    text NOT NULL,"
	"      balance bigint NOT NULL DEFAULT 0"
	"              CHECK (balance BETWEEN 0 AND 1000000000000000),"
	"      created timestamptz NOT NULL DEFAULT now());"
	"    CREATE TABLE history ("
	"      id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"      account bigint NOT NULL REFERENCES accounts (id),"
	"      time    timestamptz NOT NULL DEFAULT now(),"
	"      kind    text NOT NULL CHECK (kind IN ('deposit', 'withdraw',"
	"              'transfer-in', 'transfer-out')),"
	"      amount  bigint NOT NULL CHECK (amount > 0),"
	"      balance bigint NOT NULL CHECK (balance >= 0),"
	"      other   text);"
	"    CREATE INDEX history_account ON history (account, id);"
	"    CREATE FUNCTION history_append_only() RETURNS trigger"
	"      LANGUAGE plpgsql AS $f$ BEGIN"
	"      RAISE EXCEPTION 'history is append-only'; END $f$;"
	"    CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE"
	"      ON history FOR EACH STATEMENT"
	"      EXECUTE FUNCTION history_append_only();"
	"    INSERT INTO schema_version VALUES (1);"
	"  ELSIF v <> 1 THEN"
	"    RAISE EXCEPTION 'schema version % is not one this multid knows"
	" (1)', v;"
	"  END IF;"
	"END $bank$;"
	"SET statement_timeout = '" PG_STATEMENT_TIMEOUT "';";

_Static_assert(PG_SCHEMA == 1, "pg_schema_sql writes version 1");
_Static_assert(BANK_BALANCE_MAX == 1000000000000000LL,
    "the CHECK on accounts.balance");

/* ---- requests ---------------------------------------------------------- */

/* A transfer to oneself: names follow an ASCII rule, compared without
 * case as the database does with lower(). */
bool
pg_self_transfer(const struct bank_req *req)
{
	return strcasecmp(req->self, req->name) == 0;
}

static const char *
pg_num(struct pg_params *p, int i, long long n)
{
	snprintf(p->num[i], sizeof(p->num[i]), "%lld", n);
	return p->num[i];
}

void
pg_params(const struct bank_req *req, struct pg_params *p)
{
	const char *id = pg_num(p, 0, (long long)req->account);
	const char *amount = pg_num(p, 1, (long long)req->amount);
	const char *max = pg_num(p, 2, BANK_BALANCE_MAX);

	switch (req->op) {
	case BANK_OP_CREATE:
		*p = (struct pg_params){ .st = PS_CREATE,
		    .v = { req->name, req->hash } };
		return;
	case BANK_OP_FIND:
		*p = (struct pg_params){ .st = PS_FIND, .v = { req->name } };
		return;
	case BANK_OP_BALANCE:
		p->st = PS_BALANCE;
		p->v[0] = id;
		return;
	case BANK_OP_DEPOSIT:
		p->st = PS_DEPOSIT;
		p->v[0] = id, p->v[1] = amount, p->v[2] = max;
		return;
	case BANK_OP_WITHDRAW:
		p->st = PS_WITHDRAW;
		p->v[0] = id, p->v[1] = amount;
		return;
	case BANK_OP_TRANSFER:
		if (pg_self_transfer(req)) {
			p->st = PS_TRANSFER_SELF;
			p->v[0] = id, p->v[1] = amount, p->v[2] = req->self;
		} else {
			p->st = PS_TRANSFER;
			p->v[0] = id, p->v[1] = req->name, p->v[2] = amount;
			p->v[3] = max, p->v[4] = req->self;
		}
		return;
	case BANK_OP_HISTORY:
		p->st = PS_HISTORY;
		p->v[0] = id;
		p->v[1] = pg_num(p, 3, (long long)req->count);
		return;
	}
}

/* ---- results ----------------------------------------------------------- */

static int64_t
pg_int(const PGresult *res, int row, int col)
{
	return (int64_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* HISTORY's rows, newest first. */
static enum bank_status
pg_read_history(struct bank_req *req, const PGresult *res)
{
	int n = PQntuples(res);
	struct bank_entry *e = calloc(n > 0 ? (size_t)n : 1, sizeof(*e));

	if (e == NULL)
		return BANK_NO_MEMORY;
	for (int i = 0; i < n; i++) {
		const char *kind = PQgetvalue(res, i, 1);

		e[i].time = pg_int(res, i, 0);
		e[i].kind = BANK_DEPOSIT;
		for (int k = 0; k < BANK_KINDS; k++)
			if (strcmp(kind, bank_kind_names[k]) == 0)
				e[i].kind = (enum bank_kind)k;
		e[i].amount = pg_int(res, i, 2);
		e[i].balance = pg_int(res, i, 3);
		snprintf(e[i].other, sizeof(e[i].other), "%s",
		    PQgetvalue(res, i, 4));
	}
	req->entries = e;
	req->nentries = n;
	return BANK_OK;
}

/* A TRANSFER's one row: found, the new balance (NULL when refused), and
 * whether the funds were there. */
static enum bank_status
pg_read_transfer(struct bank_req *req, const PGresult *res)
{
	if (pg_self_transfer(req)) {
		if (PQntuples(res) != 1)
			return BANK_INSUFFICIENT;
	} else {
		if (PQntuples(res) != 1 || pg_int(res, 0, 0) == 0)
			return BANK_NO_ACCOUNT;
		if (PQgetisnull(res, 0, 1))
			return strcmp(PQgetvalue(res, 0, 2), "t") == 0 ?
			    BANK_LIMIT : BANK_INSUFFICIENT;
	}
	req->balance = pg_int(res, 0, PQnfields(res) == 1 ? 0 : 1);
	req->wrote = true;
	return BANK_OK;
}

/* What a statement's rows mean for its request. */
enum bank_status
pg_read_rows(struct bank_req *req, const PGresult *res)
{
	bool one = PQntuples(res) == 1;

	switch (req->op) {
	case BANK_OP_CREATE:
		if (!one)
			return BANK_EXISTS;
		req->id = pg_int(res, 0, 0);
		req->balance = 0;
		req->wrote = true;
		return BANK_OK;
	case BANK_OP_FIND:
		if (!one)
			return BANK_NO_ACCOUNT;
		req->id = pg_int(res, 0, 0);
		snprintf(req->name, sizeof(req->name), "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(req->stored, sizeof(req->stored), "%s",
		    PQgetvalue(res, 0, 2));
		req->balance = pg_int(res, 0, 3);
		return BANK_OK;
	case BANK_OP_BALANCE:
		if (!one) {
			snprintf(req->error, sizeof(req->error), "postgresql: "
			    "account %lld is gone", (long long)req->account);
			return BANK_FAILED;
		}
		req->balance = pg_int(res, 0, 0);
		return BANK_OK;
	case BANK_OP_DEPOSIT:
	case BANK_OP_WITHDRAW:
		if (!one)
			return req->op == BANK_OP_DEPOSIT ? BANK_LIMIT :
			    BANK_INSUFFICIENT;
		req->balance = pg_int(res, 0, 0);
		req->wrote = true;
		return BANK_OK;
	case BANK_OP_TRANSFER:
		return pg_read_transfer(req, res);
	case BANK_OP_HISTORY:
		return pg_read_history(req, res);
	}
	return BANK_FAILED;
}
