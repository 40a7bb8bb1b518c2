/*
 * bank.c - the bank service: its protocol, sessions and replies.  The
 * accounts live in a store (store.h): one SQLite file, or a PostgreSQL
 * database that several instances share.
 *
 * Keys: backend ("sqlite", the default, or "postgresql"); database (the
 * SQLite file, created with its schema if missing); conninfo (libpq's
 * connection string or URI, for postgresql).
 *
 * The reactor thread only parses commands and sends replies.  Everything
 * that may wait runs elsewhere, and each step calls back here when done:
 *
 *   - the store, which commits the operations queued together in one
 *     transaction with one fsync (group commit).  Replies go out only
 *     after that commit, so an OK is never sent for a change that is not
 *     on disk;
 *   - the password pool (passwd.h), which runs yescrypt for OPEN and
 *     LOGIN.  A hash costs tens of milliseconds of CPU and must stall
 *     neither the reactor nor the commits of other clients.
 *
 * A connection with a command in flight is paused, so its later commands
 * wait in the core's input buffer and replies keep the command order.
 * OPEN runs hash then store; LOGIN runs store (fetch the stored hash)
 * then hash (compare); every other command is one store step.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../cmd.h"
#include "../../conn.h"
#include "../../log.h"
#include "../../name.h"
#include "../../passwd.h"
#include "../../server.h"
#include "bank_amount.h"
#include "store.h"
#include "store_pg.h"

#define BANK_SECRET_MIN    4          /* secret bytes, at least */
#define BANK_SECRET_MAX    72         /* and at most */
#define BANK_FAILURES_MAX  3          /* failed LOGINs before the close */
#define BANK_HISTORY_MAX   1000       /* HISTORY N at most */
#define BANK_HISTORY_DEF   10         /* and without N */
#define BANK_HASH_THREADS  2          /* yescrypt runs in parallel */
#define BANK_REPLY_INLINE  96         /* one-line replies fit here */

_Static_assert(BANK_NAME_MAX == NAME_LEN_MAX,
    "account names follow the nickname rule");
_Static_assert(BANK_SECRET_MAX <= PASSWD_SECRET_MAX, "secrets fit");

/* ---- configuration --------------------------------------------------- */

#define BANK_DATABASE_DEF  "/var/lib/multid/bank.db" /* sqlite's file */

/* Where the accounts live. */
enum bank_backend {
	BANK_SQLITE,                  /* one file (database) */
	BANK_POSTGRESQL,              /* a shared database (conninfo) */
};

static const char *const bank_backend_words[] = {
	[BANK_SQLITE] = "sqlite", [BANK_POSTGRESQL] = "postgresql", NULL
};

struct bank_conf {
	int   backend;                /* enum bank_backend */
	char *database;               /* path of the SQLite file; NULL until
	                                 configure sets the default */
	char *conninfo;               /* PostgreSQL's connection string */
};

static const struct bank_conf bank_defaults = {
	.backend = BANK_SQLITE,
};

static const struct cfg_key bank_keys[] = {
	{ "backend", CFG_ENUM, offsetof(struct bank_conf, backend), 0, 0,
	  bank_backend_words },
	{ "database", CFG_PATH, offsetof(struct bank_conf, database), 1, 4096,
	  NULL },
	{ "conninfo", CFG_STRING, offsetof(struct bank_conf, conninfo), 1,
	  4096, NULL },
	CFG_KEY_END
};

static const struct svc_counter bank_counters[] = {
	{ "multid_bank_commits_total",
	  "Durable commits, each holding one or more operations." },
	{ "multid_backend_up{backend=\"postgresql\"}",
	  "Whether the shared backend is connected (1) or not (0)." },
	{ "multid_bank_backend_errors_total",
	  "Errors of the bank's database: lost connections, failed statements." },
	{ NULL, NULL }
};

enum {                                /* indexes in bank_counters */
	BANK_COUNTER_COMMITS, BANK_COUNTER_UP, BANK_COUNTER_ERRORS
};

/* Checks the keys together: each backend has its own key for where the
 * accounts are, and sqlite's file has a default. */
static const char *
bank_configure(struct svc_conf *sc)
{
	static char phrase[300];      /* configure runs on one thread */
	struct bank_conf *bc = sc->tconf;
	char why[200];

	if (bc->backend == BANK_POSTGRESQL) {
		if (bc->database != NULL)
			return "database is the sqlite backend's file; "
			    "postgresql takes conninfo";
		if (bc->conninfo == NULL)
			return "backend \"postgresql\" needs conninfo";
		if (!bank_pg_conninfo_check(bc->conninfo, why, sizeof(why))) {
			snprintf(phrase, sizeof(phrase), "conninfo: %s", why);
			return phrase;
		}
		return NULL;
	}
	if (bc->conninfo != NULL)
		return "conninfo needs backend = \"postgresql\"";
	if (bc->database == NULL &&
	    (bc->database = strdup(BANK_DATABASE_DEF)) == NULL)
		return "out of memory";
	return NULL;
}

/* ---- state ------------------------------------------------------------ */

/* The running service. */
struct bank {
	struct svc         *svc;      /* for its counters and log lines */
	int                 backend;  /* enum bank_backend in use */
	char               *path;     /* the database in use: the file, or
	                                 the connection string */
	struct bank_store  *store;    /* the accounts */
	struct passwd_pool *hasher;   /* the yescrypt threads */
	bool                stopping; /* the stop hook has begun */
	struct log_limit    errors;   /* failed steps' log lines */
};

struct bank_client;

/* The steps of a command. */
enum bank_step {
	STEP_NONE,                    /* no more steps: answer */
	STEP_STORE,                   /* the store */
	STEP_HASH,                    /* the password pool */
};

/* One command on its way through its steps. */
struct bank_op {
	struct bank_req     req;          /* the store's request: what the
	                                     command asks, and its result */
	struct passwd_job   pw;           /* OPEN and LOGIN: the secret and its
	                                     hash, new or stored */
	struct bank        *bank;         /* the service */
	struct bank_client *client;       /* NULL once the connection ended */
	enum bank_step      plan[2];      /* its steps, in order */
	unsigned            stage;        /* steps submitted so far */
	bool                found;        /* LOGIN: the name exists */
	bool                login;        /* success logs the client in */
	bool                denied;       /* LOGIN: wrong name or secret */
	char               *out;          /* the reply with its CRLFs */
	size_t              out_len;      /* bytes in out; 0: no reply yet */
	char                inline_out[BANK_REPLY_INLINE]; /* short replies */
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

/* ---- replies ------------------------------------------------------------ */

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

static void
op_free(struct bank_op *op)
{
	if (op->out != op->inline_out)
		free(op->out);
	free(op->req.entries);
	explicit_bzero(op->pw.secret, sizeof(op->pw.secret));
	free(op);
}

/* Appends one history line to buf, which has room for it. */
static size_t
history_line(char *buf, size_t room, const struct bank_entry *e)
{
	char when[32], amount[BANK_AMOUNT_TEXT], balance[BANK_AMOUNT_TEXT];
	time_t t = (time_t)e->time;
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, room, "%s %s %s %s%s%s\r\n", when,
	    bank_kind_names[e->kind], bank_amount_format(e->amount, amount),
	    bank_amount_format(e->balance, balance),
	    e->other[0] != '\0' ? " " : "", e->other);
	return n < 0 ? 0 : (size_t)n < room ? (size_t)n : room - 1;
}

/* HISTORY: "OK K" and K lines, newest first, in one buffer. */
static void
op_reply_history(struct bank_op *op)
{
	enum { LINE_MAX_ = 128 };
	size_t cap = 16 + (size_t)op->req.nentries * LINE_MAX_, len;
	char *buf = malloc(cap);

	if (buf == NULL) {
		op_reply(op, "ERR out of memory");
		return;
	}
	len = (size_t)snprintf(buf, cap, "OK %ld\r\n", op->req.nentries);
	for (long i = 0; i < op->req.nentries; i++)
		len += history_line(buf + len, cap - len, &op->req.entries[i]);
	if (op->out != op->inline_out)
		free(op->out);
	op->out = buf;
	op->out_len = len;
}

/* The reply to a store step that ends the command. */
static void
op_reply_store(struct bank_op *op)
{
	struct bank_req *req = &op->req;

	switch (req->status) {
	case BANK_OK:
		break;
	case BANK_EXISTS:       op_reply(op, "ERR exists"); return;
	case BANK_NO_ACCOUNT:   op_reply(op, "ERR no such account"); return;
	case BANK_INSUFFICIENT: op_reply(op, "ERR insufficient funds"); return;
	case BANK_LIMIT:        op_reply(op, "ERR limit"); return;
	case BANK_NO_MEMORY:    op_reply(op, "ERR out of memory"); return;
	case BANK_FAILED:
		op_reply(op, "ERR storage failure, try again");
		return;
	case BANK_UNAVAILABLE:  op_reply(op, "ERR unavailable"); return;
	}
	if (req->op == BANK_OP_CREATE) {
		op->login = true;
		op_reply(op, "OK opened %s", req->name);
	} else if (req->op == BANK_OP_HISTORY) {
		op_reply_history(op);
	} else {
		op_reply_amount(op, "OK ", req->balance);
	}
}

/* ---- the steps, on the reactor ---------------------------------------- */

static void bank_store_done(struct bank_req *req);
static void bank_pw_done(struct passwd_job *pj);

/* Submits op's next step; 0, or -ESHUTDOWN when the service is stopping.
 * OPEN hashes its new secret; LOGIN checks its secret against the hash
 * the store step found. */
static int
bank_op_next(struct bank_op *op)
{
	struct bank *b = op->bank;

	if (op->plan[op->stage++] == STEP_HASH)
		return op->req.op == BANK_OP_CREATE ?
		    passwd_hash(b->hasher, &op->pw, bank_pw_done) :
		    passwd_verify(b->hasher, &op->pw, bank_pw_done);
	return bank_store_submit(b->store, &op->req, bank_store_done);
}

/* The command is complete: the session changes, the reply goes out, and
 * the connection reads its next command. */
static void
bank_finish(struct bank_client *cl, struct bank_op *op)
{
	struct conn *c = cl->conn;

	cl->op = NULL;
	if (op->login) {
		cl->account = op->req.id;
		memcpy(cl->name, op->req.name, sizeof(cl->name));
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

/* Logs a storage failure the store noted, within the rate limit. */
static void
bank_log_error(struct bank *b, struct bank_op *op)
{
	unsigned long held;

	if (op->req.error[0] == '\0')
		return;
	if (!log_limit_pass(&b->errors, ev_now(server.loop), &held))
		;       /* counted, told with the next line */
	else if (held > 0)
		svc_log(b->svc, LOG_LVL_ERROR, "%s (and %lu more errors "
		    "not logged)", op->req.error, held);
	else
		svc_log(b->svc, LOG_LVL_ERROR, "%s", op->req.error);
	op->req.error[0] = '\0';
}

/* A step finished (reactor thread): go on with the next, or answer. */
static void
bank_step_done(struct bank_op *op)
{
	struct bank *b = op->bank;
	struct bank_client *cl = op->client;

	b->svc->stats.custom[BANK_COUNTER_COMMITS] =
	    bank_store_commits(b->store);
	bank_log_error(b, op);
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

/* The store step: LOGIN goes on to the hash with what it found (no hash
 * for an unknown name: the pool then hashes a dummy, in the same time);
 * every other command is answered. */
static void
bank_store_done(struct bank_req *req)
{
	struct bank_op *op = (struct bank_op *)((char *)req -
	    offsetof(struct bank_op, req));

	if (req->op != BANK_OP_FIND || req->status == BANK_FAILED ||
	    req->status == BANK_UNAVAILABLE) {
		op_reply_store(op);
	} else {
		op->found = req->status == BANK_OK;
		snprintf(op->pw.hash, sizeof(op->pw.hash), "%s",
		    op->found ? req->stored : "");
	}
	bank_step_done(op);
}

/* The hash step: OPEN has its new hash for the store step, LOGIN is
 * answered. */
static void
bank_pw_done(struct passwd_job *pj)
{
	struct bank_op *op = (struct bank_op *)((char *)pj -
	    offsetof(struct bank_op, pw));

	if (op->req.op == BANK_OP_CREATE) {
		if (pj->result != 0)
			op_reply(op, "ERR internal error");
	} else if (op->found && pj->result == 0) {
		op->login = true;
		op_reply_amount(op, "OK balance ", op->req.balance);
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

/* A new operation: a store step, and for OPEN and LOGIN a hash step. */
static struct bank_op *
bank_op_new(struct bank_client *cl, enum bank_req_op cmd)
{
	struct bank *b = cl->conn->svc->state;
	struct bank_op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->bank = b;
	op->req.op = cmd;
	op->req.account = cl->account;
	op->req.hash = op->pw.hash;
	memcpy(op->req.self, cl->name, sizeof(op->req.self));
	op->plan[0] = STEP_STORE;
	if (cmd == BANK_OP_CREATE) {
		op->plan[0] = STEP_HASH;
		op->plan[1] = STEP_STORE;
	} else if (cmd == BANK_OP_FIND) {
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
bank_cmd_op(struct bank_client *cl, enum bank_req_op cmd)
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
	if (!name_valid(argv[1])) {
		conn_reply(cl->conn, "ERR bad name");
		return LINE_MORE;
	}
	if (!bank_secret_ok(argv[2])) {
		conn_reply(cl->conn, "ERR bad secret");
		return LINE_MORE;
	}
	if ((op = bank_cmd_op(cl, BANK_OP_CREATE)) == NULL)
		return LINE_MORE;
	memcpy(op->req.name, argv[1], strlen(argv[1]) + 1);
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
	if ((op = bank_cmd_op(cl, BANK_OP_FIND)) == NULL)
		return LINE_MORE;
	if (name_valid(argv[1]) && bank_secret_ok(argv[2]))
		memcpy(op->req.name, argv[1], strlen(argv[1]) + 1);
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
	if ((op = bank_cmd_op(cl, BANK_OP_BALANCE)) == NULL)
		return LINE_MORE;
	return bank_submit(cl, op);
}

/* DEPOSIT, WITHDRAW and TRANSFER: the amount is the last argument.  The
 * table lets them run logged in only. */
static enum line_result
bank_cmd_money(struct bank_client *cl, enum bank_req_op cmd,
    const char *name, const char *amount)
{
	struct bank_op *op;
	int64_t cents;

	if (bank_amount_parse(amount, &cents) != 0) {
		conn_reply(cl->conn, "ERR bad amount");
		return LINE_MORE;
	}
	if (name != NULL && !name_valid(name)) {
		conn_reply(cl->conn, "ERR no such account");
		return LINE_MORE;
	}
	if ((op = bank_cmd_op(cl, cmd)) == NULL)
		return LINE_MORE;
	op->req.amount = cents;
	if (name != NULL)
		snprintf(op->req.name, sizeof(op->req.name), "%s", name);
	return bank_submit(cl, op);
}

static int
bank_cmd_deposit(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, BANK_OP_DEPOSIT, NULL, argv[1]);
}

static int
bank_cmd_withdraw(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, BANK_OP_WITHDRAW, NULL, argv[1]);
}

/* A name that breaks the naming rule cannot exist, so it is answered as
 * unknown without asking the database. */
static int
bank_cmd_transfer(void *session, int argc, char **argv)
{
	struct bank_client *cl = session;

	(void)argc;
	return bank_cmd_money(cl, BANK_OP_TRANSFER, argv[1], argv[2]);
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
	if (bank_need_login(cl) ||
	    (op = bank_cmd_op(cl, BANK_OP_HISTORY)) == NULL)
		return LINE_MORE;
	op->req.count = n;
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
	{ CMD_WORD("BALANCE"), 0, 0, BANK_USER, 0, "BALANCE",
	  bank_cmd_balance },
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

/* ---- start and stop --------------------------------------------------- */

static void
bank_free(struct bank *b)
{
	passwd_stop(b->hasher);
	bank_store_close(b->store);
	free(b->path);
	free(b);
}

/* The backend's series mean something for postgresql only; a sqlite
 * bank leaves them out of the metrics. */
static void
bank_show_backend(struct svc *svc, bool shown)
{
	uint32_t bits = 1u << BANK_COUNTER_UP | 1u << BANK_COUNTER_ERRORS;

	if (shown)
		svc->stats.custom_hidden &= ~bits;
	else
		svc->stats.custom_hidden |= bits;
}

/* The configured place of the accounts: the file or the conninfo. */
static const char *
bank_where(const struct bank_conf *bc)
{
	return bc->backend == BANK_POSTGRESQL ? bc->conninfo : bc->database;
}

static int
bank_start(struct svc *svc)
{
	const struct bank_conf *bc = SVC_CONF(svc, struct bank_conf);
	struct bank *b = calloc(1, sizeof(*b));
	struct bank_store_meters meters = {
		.up = &svc->stats.custom[BANK_COUNTER_UP],
		.errors = &svc->stats.custom[BANK_COUNTER_ERRORS],
	};
	int rc;

	if (b == NULL || (b->path = strdup(bank_where(bc))) == NULL) {
		free(b);
		return -ENOMEM;
	}
	b->svc = svc;
	b->backend = bc->backend;
	bank_show_backend(svc, b->backend == BANK_POSTGRESQL);
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
	b->store = bank_store_open(b->backend == BANK_POSTGRESQL ?
	    &bank_store_pg : &bank_store_sqlite, b->path, svc, server.loop,
	    &meters, &rc);
	if (b->store == NULL) {
		bank_free(b);
		return rc;
	}
	svc->state = b;
	/* A connection string may hold a password: it is not logged. */
	if (b->backend == BANK_SQLITE)
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

	if (b == NULL)
		return;
	if (bc->backend != b->backend)
		svc_log(svc, LOG_LVL_WARNING, "backend %s takes effect after a "
		    "restart; still using %s", bank_backend_words[bc->backend],
		    bank_backend_words[b->backend]);
	else if (strcmp(bank_where(bc), b->path) != 0 &&
	    b->backend == BANK_SQLITE)
		svc_log(svc, LOG_LVL_WARNING, "database %s takes effect after a "
		    "restart; still using %s", bc->database, b->path);
	else if (strcmp(bank_where(bc), b->path) != 0)
		svc_log(svc, LOG_LVL_WARNING, "conninfo takes effect after a "
		    "restart; still using the one of the start");
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
	.configure = bank_configure,
	.start = bank_start,
	.reconfigure = bank_reconfigure,
	.stop = bank_stop,
	.open = bank_open,
	.line = bank_line,
	.eof = bank_eof,
	.close = bank_close,
};
