/*
 * store_pg_sql.h - the SQL side of the PostgreSQL store: its schema, its
 * prepared statements, a request's parameters and what a statement's
 * rows mean for it.  The connections, the pipeline and the reactor are
 * store_pg.c's.
 */
#ifndef MULTID_BANK_STORE_PG_SQL_H
#define MULTID_BANK_STORE_PG_SQL_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "store.h"

#define PG_SCHEMA          1          /* schema_version we write */
#define PG_LOCK_KEY        "1835163502" /* the schema's advisory lock:
                                         "mban" */
#define PG_STATEMENT_TIMEOUT "10s"   /* a request's statements at most */
#define PG_INT8            20         /* type oids: bigint */
#define PG_TEXT            25         /* and text */

/* The prepared statements. */
enum pg_stmt {
	PS_CREATE, PS_FIND, PS_BALANCE, PS_DEPOSIT, PS_WITHDRAW, PS_LOCK,
	PS_TRANSFER, PS_TRANSFER_SELF, PS_HISTORY, PS_MAX
};

struct pg_stmt_def {
	const char *name;             /* the prepared statement's name */
	int         nparams;          /* its parameters */
	Oid         types[5];         /* and their types */
	const char *sql;              /* the statement */
};

extern const struct pg_stmt_def pg_stmts[PS_MAX];

/* The schema step: one query, run on every new connection before it
 * serves. */
extern const char pg_schema_sql[];

/* The text parameters of a request. */
struct pg_params {
	enum pg_stmt st;              /* the statement */
	const char  *v[5];            /* the values */
	char         num[4][24];      /* room for the numbers among them */
};

/* Whether req (a TRANSFER) is one to the account itself. */
bool pg_self_transfer(const struct bank_req *req);

/* The statement and the parameters of req; p holds their text. */
void pg_params(const struct bank_req *req, struct pg_params *p);

/* What a statement's rows (PGRES_TUPLES_OK) mean for req: its status,
 * and its results filled in. */
enum bank_status pg_read_rows(struct bank_req *req, const PGresult *res);

#endif
