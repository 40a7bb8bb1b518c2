/*
 * fuzz_bank.c - the bank's command layer and its amount grammar.
 *
 * The command layer of the bank service (bank_line, its command table
 * and the bank_cmd_* handlers) is static in bank/bank.c, so that file is
 * compiled into this one with the calls it makes on the reactor side
 * replaced by recorders: replies are captured, and bank_store_submit,
 * passwd_hash and passwd_verify hand the operation to the fuzzer instead
 * of the store and hash threads, which then completes it as they would.  Its exported struct is
 * renamed so that it does not clash with the real one linked in from the
 * core objects.  No database, no threads, no hashing: tens of thousands
 * of command lines a second.
 *
 * The first input byte sets the session: logged in or not, how submitted
 * operations end (accepted; refused or failed, and with which status;
 * the service stopping; OPEN's hash failing).  They are ended step by
 * step through the real completion callbacks, so the store's statuses
 * are checked to reach the client as the SPEC words them.  The rest is
 * client input, framed into lines by the real line reader.
 *
 * Invariants, each line checked against an independent reference of the
 * SPEC's grammar: a line that is not blank gets exactly one answer, either
 * one reply line (starting "OK" or "ERR", printable ASCII, ending CRLF)
 * or one operation handed to the workers, never both and never neither;
 * the reply or operation is the one the reference expects (unknown
 * command, usage, bad name, bad secret, bad amount, login required, no
 * such account); an operation carries exactly the name, secret, amount
 * (0 < cents <= 1000000000.00) and count the line said.  Amounts that
 * parse are printed back to text that parses to the same cents, and the
 * checked arithmetic never passes its limits.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reactor-side core calls bank.c makes, caught here. */
#define conn_reply             fuzz_conn_reply
#define conn_send              fuzz_conn_send
#define conn_close_after_flush fuzz_conn_close_after_flush
#define conn_pause             fuzz_conn_pause
#define conn_resume            fuzz_conn_resume
#define bank_store_submit      fuzz_bank_store_submit
#define passwd_hash            fuzz_passwd_hash
#define passwd_verify          fuzz_passwd_verify
#define bank_store_commits     fuzz_bank_store_commits
#define bank_service           fuzz_bank_service
#include "services/bank/bank.c"
#undef conn_reply
#undef conn_send
#undef conn_close_after_flush
#undef conn_pause
#undef conn_resume
#undef bank_store_submit
#undef passwd_hash
#undef passwd_verify
#undef bank_store_commits

#include "line.h"

/* What the command layer did with one line. */
static struct {
	int             replies;          /* reply lines sent */
	char            reply[512];       /* the last of them, without CRLF */
	int             submits;          /* operations handed to a worker */
	struct bank_op *op;               /* the last of them */
	bool            closing;          /* conn_close_after_flush was called */
	int             submit_result;    /* what worker_submit returns */
} rec;

static void
record_reply(const char *data, size_t len)
{
	assert(len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n');
	len -= 2;
	for (size_t i = 0; i < len; i++)
		assert(data[i] >= 0x20 && data[i] < 0x7f);
	assert(len < sizeof(rec.reply));
	assert((len >= 2 && memcmp(data, "OK", 2) == 0) ||
	    (len >= 3 && memcmp(data, "ERR", 3) == 0));
	memcpy(rec.reply, data, len);
	rec.reply[len] = '\0';
	rec.replies++;
}

int
fuzz_conn_reply(struct conn *c, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	int n;

	(void)c;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof(line) - 2);
	memcpy(line + n, "\r\n", 2);
	record_reply(line, (size_t)n + 2);
	return 0;
}

/* A HISTORY reply is "OK K" and K more lines; the rest is one line. */
int
fuzz_conn_send(struct conn *c, const void *data, size_t len)
{
	const char *p = data, *end = p + len, *eol;
	long k = 0;

	(void)c;
	eol = memchr(p, '\n', len);
	assert(eol != NULL);
	record_reply(p, (size_t)(eol - p) + 1);
	if (strncmp(rec.reply, "OK ", 3) == 0 && rec.reply[3] >= '0' &&
	    rec.reply[3] <= '9' && strchr(rec.reply, '.') == NULL)
		k = strtol(rec.reply + 3, NULL, 10);
	for (p = eol + 1; p < end; p = eol + 1, k--) {
		eol = memchr(p, '\n', (size_t)(end - p));
		assert(eol != NULL && eol > p && eol[-1] == '\r');
		for (const char *q = p; q < eol - 1; q++)
			assert(*q >= 0x20 && *q < 0x7f);
	}
	assert(k == 0);
	return 0;
}

void
fuzz_conn_close_after_flush(struct conn *c)
{
	c->state = CONN_DRAINING;
	rec.closing = true;
}

void
fuzz_conn_pause(struct conn *c)
{
	c->paused = true;
}

void
fuzz_conn_resume(struct conn *c)
{
	c->paused = false;
}

int
fuzz_bank_store_submit(struct bank_store *s, struct bank_req *req,
    bank_req_done_proc *done)
{
	(void)s;
	(void)done;
	if (rec.submit_result != 0)
		return rec.submit_result;
	rec.submits++;
	rec.op = (struct bank_op *)((char *)req - offsetof(struct bank_op, req));
	return 0;
}

uint64_t
fuzz_bank_store_commits(struct bank_store *s)
{
	(void)s;
	return 0;
}

static int
fuzz_passwd_submit(struct passwd_job *pj)
{
	if (rec.submit_result != 0)
		return rec.submit_result;
	rec.submits++;
	rec.op = (struct bank_op *)((char *)pj - offsetof(struct bank_op, pw));
	return 0;
}

int
fuzz_passwd_hash(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done)
{
	(void)pool;
	(void)done;
	return fuzz_passwd_submit(pj);
}

int
fuzz_passwd_verify(struct passwd_pool *pool, struct passwd_job *pj,
    passwd_done_proc *done)
{
	(void)pool;
	(void)done;
	return fuzz_passwd_submit(pj);
}

/* ---- the reference ------------------------------------------------------ */

static bool
ref_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ^[A-Za-z][A-Za-z0-9_-]{0,15}$ */
static bool
ref_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 16 || !isalpha((unsigned char)s[0]) ||
	    (unsigned char)s[0] >= 0x80)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-') ||
		    (unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* 4..72 bytes, nothing below or at the space, no DEL. */
static bool
ref_secret(const char *s)
{
	size_t n = strlen(s);

	if (n < 4 || n > 72)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* ^[0-9]{1,10}(\.[0-9]{1,2})?$, 0 < x <= 1000000000.00; cents or -1. */
static int64_t
ref_amount(const char *s)
{
	int64_t whole = 0, frac = 0;
	size_t i = 0, f = 0;

	while (isdigit((unsigned char)s[i]) && i < 11)
		whole = whole * 10 + (s[i++] - '0');
	if (i < 1 || i > 10)
		return -1;
	if (s[i] == '.') {
		i++;
		while (isdigit((unsigned char)s[i + f]) && f < 3) {
			frac = frac * 10 + (s[i + f] - '0');
			f++;
		}
		if (f < 1 || f > 2)
			return -1;
		i += f;
		if (f == 1)
			frac *= 10;
	}
	if (s[i] != '\0')
		return -1;
	whole = whole * 100 + frac;
	return whole > 0 && whole <= 100000000000LL ? whole : -1;
}

/* HISTORY's N: 1..1000 as plain digits; -1 otherwise. */
static long
ref_count(const char *s)
{
	size_t n = strlen(s);
	long v = 0;

	if (n < 1 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 1000 ? v : -1;
}

/* What the reference expects a line to do. */
struct expect {
	const char *reply;                /* exactly this reply, or NULL */
	const char *prefix;               /* a reply starting so, or NULL */
	int         cmd;                  /* else an operation of this kind */
	char        name[80];             /* its name ("" when none) */
	char        secret[2048];         /* its secret */
	int64_t     amount;               /* its cents */
	long        count;                /* its HISTORY count */
};

static const char *const ref_words[] = {
	"OPEN", "LOGIN", "BALANCE", "DEPOSIT", "WITHDRAW", "TRANSFER",
	"HISTORY", "LOGOUT", "QUIT", "HELP", NULL
};

/* Splits s at blanks into at most max words. */
static int
ref_split(char *s, char **w, int max)
{
	int n = 0;

	for (;;) {
		while (ref_blank(*s))
			s++;
		if (*s == '\0')
			return n;
		if (n == max)
			return n + 1;     /* too many */
		w[n++] = s;
		while (*s != '\0' && !ref_blank(*s))
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* Fills e for the line (as the framer delivers it) in a session that is
 * logged in or not.  Returns false for a line that must get no answer. */
static bool
ref_expect(const char *line, size_t len, bool logged_in, struct expect *e)
{
	char *text = malloc(len + 1), *w[8], *rest;
	int word = -1, n;

	memset(e, 0, sizeof(*e));
	e->cmd = -1;
	/* Trailing blanks go first; the line then ends at its first NUL. */
	while (len > 0 && ref_blank(line[len - 1]))
		len--;
	memcpy(text, line, len);
	text[len] = '\0';
	rest = text;
	while (ref_blank(*rest))
		rest++;
	if (*rest == '\0') {
		free(text);
		return false;
	}
	for (int i = 0; ref_words[i] != NULL; i++) {
		size_t k = strlen(ref_words[i]);

		if (strncasecmp(rest, ref_words[i], k) == 0 &&
		    (rest[k] == '\0' || ref_blank(rest[k])))
			word = i;
	}
	if (word < 0) {
		e->reply = "ERR unknown command";
		free(text);
		return true;
	}
	if (word <= 1) {                      /* OPEN, LOGIN: NAME SECRET... */
		char *p = rest + strlen(ref_words[word]);

		while (ref_blank(*p))
			p++;
		n = *p != '\0';
		w[0] = p;
		while (*p != '\0' && !ref_blank(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
		while (ref_blank(*p))
			p++;
		if (n == 0 || *p == '\0') {
			e->reply = word == 0 ? "ERR usage: OPEN NAME SECRET" :
			    "ERR usage: LOGIN NAME SECRET";
		} else if (word == 0 && !ref_name(w[0])) {
			e->reply = "ERR bad name";
		} else if (word == 0 && !ref_secret(p)) {
			e->reply = "ERR bad secret";
		} else {
			e->cmd = word == 0 ? BANK_OP_CREATE : BANK_OP_FIND;
			/* LOGIN leaves out the name of a request that can match
			 * no account (a bad name, or a secret OPEN would refuse),
			 * so it is denied the whole way, in the same time. */
			if (ref_name(w[0]) && ref_secret(p))
				snprintf(e->name, sizeof(e->name), "%s", w[0]);
			snprintf(e->secret, sizeof(e->secret), "%s", p);
		}
		free(text);
		return true;
	}
	n = ref_split(rest, w, 3) - 1;        /* arguments after the word */
	switch (word) {
	case 2:                               /* BALANCE */
		if (n != 0)
			e->reply = "ERR usage: BALANCE";
		else if (!logged_in)
			e->reply = "ERR login required";
		else
			e->cmd = BANK_OP_BALANCE;
		break;
	case 3: case 4:                       /* DEPOSIT, WITHDRAW */
		if (n != 1)
			e->reply = word == 3 ? "ERR usage: DEPOSIT AMOUNT" :
			    "ERR usage: WITHDRAW AMOUNT";
		else if (!logged_in)
			e->reply = "ERR login required";
		else if ((e->amount = ref_amount(w[1])) < 0)
			e->reply = "ERR bad amount";
		else
			e->cmd = word == 3 ? BANK_OP_DEPOSIT : BANK_OP_WITHDRAW;
		break;
	case 5:                               /* TRANSFER */
		if (n != 2)
			e->reply = "ERR usage: TRANSFER NAME AMOUNT";
		else if (!logged_in)
			e->reply = "ERR login required";
		else if ((e->amount = ref_amount(w[2])) < 0)
			e->reply = "ERR bad amount";
		else if (!ref_name(w[1]))
			e->reply = "ERR no such account";
		else {
			e->cmd = BANK_OP_TRANSFER;
			snprintf(e->name, sizeof(e->name), "%s", w[1]);
		}
		break;
	case 6:                               /* HISTORY [N] */
		e->count = n == 1 ? ref_count(w[1]) : 10;
		if (n > 1 || e->count < 0)
			e->prefix = "ERR usage: HISTORY [N]";
		else if (!logged_in)
			e->reply = "ERR login required";
		else
			e->cmd = BANK_OP_HISTORY;
		break;
	case 7:                               /* LOGOUT */
		e->reply = n == 0 ? "OK" : "ERR usage: LOGOUT";
		break;
	case 8:                               /* QUIT, any arguments */
		e->reply = "OK bye";
		break;
	default:                              /* HELP, any arguments */
		e->prefix = "OK commands: ";
		break;
	}
	free(text);
	return true;
}

/* ---- the session -------------------------------------------------------- */

struct session {
	struct conn        *c;            /* the fake connection */
	struct bank_client *cl;           /* its bank state */
	unsigned            mode;         /* the first input byte */
	bool                done;         /* QUIT or three denials: closing */
};

/* What a refused or failed store step says, from the session's mode. */
static const enum bank_status refusals[8] = {
	BANK_FAILED, BANK_EXISTS, BANK_NO_ACCOUNT, BANK_INSUFFICIENT,
	BANK_LIMIT, BANK_NO_MEMORY, BANK_FAILED, BANK_NO_ACCOUNT,
};

/* The reply each status of a final store step must get. */
static const char *const status_replies[] = {
	[BANK_EXISTS] = "ERR exists",
	[BANK_NO_ACCOUNT] = "ERR no such account",
	[BANK_INSUFFICIENT] = "ERR insufficient funds",
	[BANK_LIMIT] = "ERR limit",
	[BANK_NO_MEMORY] = "ERR out of memory",
	[BANK_FAILED] = "ERR storage failure, try again",
};

/* A few history lines, of every kind. */
static void
fill_history(struct bank_req *req)
{
	long n = req->count < 5 ? req->count : 5;

	req->entries = calloc((size_t)n, sizeof(*req->entries));
	assert(req->entries != NULL);
	for (long i = 0; i < n; i++) {
		req->entries[i].time = 1700000000 + i;
		req->entries[i].kind = (enum bank_kind)(i % BANK_KINDS);
		req->entries[i].amount = 1 + i;
		req->entries[i].balance = BANK_BALANCE_MAX - i;
		if (i % BANK_KINDS >= BANK_TRANSFER_IN)
			snprintf(req->entries[i].other,
			    sizeof(req->entries[i].other), "bob");
	}
	req->nentries = n;
}

/* Ends a store step as the store would, through the real callback. */
static void
complete_store(struct session *s, struct bank_op *op, bool ok)
{
	struct bank_req *req = &op->req;
	enum bank_status st = ok ? BANK_OK : refusals[(s->mode >> 4) & 7];

	/* A LOGIN with a name that breaks the rule finds no account. */
	if (req->op == BANK_OP_FIND && req->name[0] == '\0' && st == BANK_OK)
		st = BANK_NO_ACCOUNT;
	req->status = st;
	req->id = 7;
	req->balance = req->amount;
	if (req->op == BANK_OP_FIND)
		snprintf(req->stored, sizeof(req->stored), "$y$stored");
	if (req->op == BANK_OP_HISTORY && st == BANK_OK)
		fill_history(req);
	bank_store_done(req);
}

/* Completes op step by step as the store and the hash threads would,
 * through the real callbacks: accepted, or refused, denied or failed. */
static void
complete(struct session *s, struct bank_op *op)
{
	bool ok = (s->mode & 2) == 0;
	enum bank_req_op kind = op->req.op;

	for (int step = 0; step < 2; step++) {
		bool hash = (kind == BANK_OP_CREATE) == (step == 0) &&
		    (kind == BANK_OP_CREATE || kind == BANK_OP_FIND);
		int before = rec.submits;

		rec.replies = 0;
		if (hash) {
			op->pw.result = ok ? 0 : -EACCES;
			if (kind == BANK_OP_CREATE)
				op->pw.result = (s->mode & 0x80) ? -ENOSYS : 0;
			bank_pw_done(&op->pw);
		} else {
			complete_store(s, op, ok);
		}
		if (rec.submits == before)
			break;        /* answered, and op is freed */
		assert(rec.op == op && rec.replies == 0);
	}
	assert(rec.replies == 1);
	if (ok && kind == BANK_OP_FIND)
		assert(strncmp(rec.reply, "OK balance ", 11) == 0 ||
		    strcmp(rec.reply, "ERR denied") == 0);
	else if (ok && kind == BANK_OP_CREATE && !(s->mode & 0x80))
		assert(strncmp(rec.reply, "OK opened ", 10) == 0);
	else if (!ok && kind == BANK_OP_FIND)
		assert(strcmp(rec.reply, "ERR denied") == 0 ||
		    strcmp(rec.reply, status_replies[BANK_FAILED]) == 0);
	else if (kind == BANK_OP_CREATE && (s->mode & 0x80))
		assert(strcmp(rec.reply, "ERR internal error") == 0);
	else if (!ok)
		assert(strcmp(rec.reply,
		    status_replies[refusals[(s->mode >> 4) & 7]]) == 0);
	else
		assert(strncmp(rec.reply, "OK", 2) == 0);
}

static enum line_result
on_line(void *ctx, char *line, size_t len)
{
	struct session *s = ctx;
	bool logged_in = s->cl->account != 0;
	struct expect e;
	bool answered = ref_expect(line, len, logged_in, &e);
	enum line_result r;

	assert(!s->done);
	rec.replies = rec.submits = 0;
	rec.op = NULL;
	rec.closing = false;
	r = bank_line(s->c, line, len);
	if (!answered) {
		assert(rec.replies == 0 && rec.submits == 0 && r == LINE_MORE);
		return LINE_MORE;
	}
	/* A LOGIN secret longer than any OPEN allows cannot match: bank.c
	 * may deny it at once, or send it down the whole path without a
	 * name, to be denied there (a secret cut to a prefix that matches
	 * must never log in).  Either way it gets exactly one answer. */
	if (e.cmd == BANK_OP_FIND && strlen(e.secret) > BANK_SECRET_MAX) {
		assert(rec.replies + rec.submits == 1);
		if (rec.submits == 1) {
			assert(r == LINE_STOP && (int)rec.op->req.op == BANK_OP_FIND);
			assert(rec.op->req.name[0] == '\0');
			complete(s, rec.op);
		} else {
			assert(r == LINE_MORE && strncmp(rec.reply, "ERR ", 4) == 0);
		}
		if (rec.closing)
			s->done = true;
		return s->done ? LINE_STOP : LINE_MORE;
	}
	if (e.cmd < 0 || rec.submit_result != 0) {
		/* One reply, no operation. */
		assert(rec.submits == 0 && rec.replies == 1);
		if (e.cmd >= 0)
			assert(strcmp(rec.reply, "ERR service stopping") == 0);
		else if (e.reply != NULL)
			assert(strcmp(rec.reply, e.reply) == 0);
		else
			assert(strncmp(rec.reply, e.prefix, strlen(e.prefix)) == 0);
		if (strcmp(rec.reply, "OK bye") == 0) {
			assert(r == LINE_STOP && rec.closing);
			s->done = true;
		} else {
			assert(r == LINE_MORE && !rec.closing);
		}
		if (strcmp(rec.reply, "OK") == 0)
			assert(s->cl->account == 0);
		return r;
	}
	/* One operation, no reply yet, and the connection waits for it. */
	assert(rec.replies == 0 && rec.submits == 1 && r == LINE_STOP);
	assert(s->c->paused && s->cl->op == rec.op);
	assert((int)rec.op->req.op == e.cmd);
	assert(strcmp(rec.op->req.name, e.name) == 0);
	if (e.cmd == BANK_OP_CREATE || e.cmd == BANK_OP_FIND) {
		assert(strcmp(rec.op->pw.secret, e.secret) == 0);
	} else {
		assert(rec.op->pw.secret[0] == '\0');
	}
	if (e.cmd == BANK_OP_DEPOSIT || e.cmd == BANK_OP_WITHDRAW ||
	    e.cmd == BANK_OP_TRANSFER) {
		assert(rec.op->req.amount == e.amount);
		assert(rec.op->req.amount > 0 &&
		    rec.op->req.amount <= BANK_AMOUNT_MAX);
	}
	if (e.cmd == BANK_OP_HISTORY)
		assert(rec.op->req.count == e.count);
	rec.replies = 0;
	complete(s, rec.op);
	assert(rec.replies == 1 && !s->c->paused && s->cl->op == NULL);
	if (rec.closing)
		s->done = true;
	return s->done ? LINE_STOP : LINE_MORE;
}

static enum line_result
on_long(void *ctx, char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
	return LINE_MORE;
}

static void
fuzz_session(const char *d, size_t size, unsigned mode)
{
	struct bank b = { .store = (struct bank_store *)&b.store,
	    .hasher = (struct passwd_pool *)&b.hasher };
	struct svc svc = { .state = &b };
	struct conn c = { .svc = &svc, .state = CONN_OPEN };
	struct session s = { .c = &c, .mode = mode };
	size_t off = 0;

	b.svc = &svc;           /* the commit counter lands in its stats */
	rec.submit_result = (mode & 4) ? -ESHUTDOWN : 0;
	assert(bank_open(&c) == 0);
	s.cl = c.data;
	if (mode & 1) {
		s.cl->account = 1;
		snprintf(s.cl->name, sizeof(s.cl->name), "alice");
	}
	line_init(&c.lr, 1024);
	/* LINE_STOP leaves the rest for later, as the core replays it. */
	while (off < size && !s.done)
		off += line_feed(&c.lr, d + off, size - off, on_line, on_long, &s);
	line_free(&c.lr);
	if (!s.done && (mode & 8))
		bank_eof(&c);
	bank_close(&c, CLOSE_PEER);
	assert(c.data == NULL);
}

/* ---- amounts on their own ------------------------------------------------ */

static void
fuzz_amount(const char *d, size_t size)
{
	char *text = malloc(size + 1), out[BANK_AMOUNT_TEXT];
	int64_t cents = -1, again = -1, sum, a, b;
	int rc;

	memcpy(text, d, size);
	text[size] = '\0';
	rc = bank_amount_parse(text, &cents);
	assert(rc == 0 || rc == -EINVAL);
	assert((rc == 0) == (ref_amount(text) >= 0));
	if (rc == 0) {
		assert(cents == ref_amount(text));
		assert(cents > 0 && cents <= BANK_AMOUNT_MAX);
		bank_amount_format(cents, out);
		assert(bank_amount_parse(out, &again) == 0 && again == cents);
		assert(strlen(out) >= 4 && out[strlen(out) - 3] == '.');
	}
	/* The checked arithmetic, on any two 64-bit numbers. */
	if (size >= 16) {
		memcpy(&a, d, 8);
		memcpy(&b, d + 8, 8);
		if (bank_amount_add(a, b, BANK_BALANCE_MAX, &sum) == 0)
			assert(b >= 0 && sum <= BANK_BALANCE_MAX && sum - b == a);
		else
			assert(b < 0 || a > BANK_BALANCE_MAX - b);
		if (bank_amount_sub(a, b, &sum) == 0)
			assert(b >= 0 && sum >= 0 && sum + b == a);
		else
			assert(b < 0 || a < b);
		bank_amount_format(a, out);
		assert(strlen(out) < BANK_AMOUNT_TEXT);
	}
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_session((const char *)data + 1, size - 1, data[0]);
	fuzz_amount((const char *)data + 1, size - 1);
	return 0;
}
