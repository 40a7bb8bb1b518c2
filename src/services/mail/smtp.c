/*
 * smtp.c - a mail drop (SPEC §3 smtp): takes mail for local mailboxes and
 * stores it in Maildir, never relays.  Replies are worded as Postfix
 * words them, so every client (the course's, swaks, curl, smtplib) sees
 * what it expects.
 *
 * Input is read raw and cut by smtp_line.c, which keeps each line's
 * ending: the end of DATA depends on it (the smuggling rule).  The disk
 * side is smtp_deliver.c: a message past SMTP_HEAD_MAX is spilled to a
 * file as it arrives (reading pauses while a spill is behind), and at
 * its end it is made durable in every recipient's new/ (tmp/, fsync,
 * rename, fsync of new/, many messages sharing one sync); "250 ...
 * queued as" goes out only when every copy is on disk, and a copy that
 * fails takes the others back.  Meanwhile the connection is paused, so
 * pipelined commands wait.
 *
 * STARTTLS (RFC 3207, SPEC §6) is offered when the service has a
 * certificate: after "220 2.0.0 Ready to start TLS" the core switches the
 * connection to TLS and throws away whatever was pipelined after the
 * command; the session starts over.  With tls_required no MAIL is taken
 * before TLS.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../cmd.h"
#include "../../conn.h"
#include "../../name.h"
#include "../../server.h"
#include "smtp_deliver.h"
#include "smtp_line.h"

#define SMTP_CMD_MAX       2048       /* a command line, bytes (Postfix's
                                         line_length_limit) */
#define SMTP_DATA_CUT      8192       /* DATA is taken in pieces of this */
#define SMTP_RCPT_MAX      100        /* recipients per message */
#define SMTP_ERRORS_MAX    20         /* errors before the session ends
                                         (Postfix's smtpd_hard_error_limit) */
#define SMTP_OVERSHOOT_MAX 1000       /* recipients past the limit that are
                                         not errors (Postfix's
                                         smtpd_recipient_overshoot_limit) */
#define SMTP_HELO_MAX      255        /* a HELO name kept, bytes */
#define SMTP_SIZE_MAX      1073741824L /* the largest max_size */

struct smtp_conf {
	char          *maildir;       /* the directory of the mailboxes */
	struct strlist mailboxes;     /* accepted local parts; none: any name
	                                 that follows the nickname rule */
	char          *hostname;      /* in the greeting and Received: */
	long           max_size;      /* bytes of a message, at most */
	bool           tls_required;  /* no MAIL before STARTTLS */
};

static const struct smtp_conf smtp_defaults = {
	.max_size = 10485760,
};

static const struct cfg_key smtp_keys[] = {
	{ "maildir", CFG_PATH, offsetof(struct smtp_conf, maildir), 1, 4096,
	  NULL },
	{ "mailboxes", CFG_STRLIST, offsetof(struct smtp_conf, mailboxes), 1,
	  100000, NULL },
	{ "hostname", CFG_STRING, offsetof(struct smtp_conf, hostname), 1, 253,
	  NULL },
	{ "max_size", CFG_INT, offsetof(struct smtp_conf, max_size), 1,
	  SMTP_SIZE_MAX, NULL },
	{ "tls_required", CFG_BOOL, offsetof(struct smtp_conf, tls_required), 0,
	  0, NULL },
	CFG_KEY_END
};

static const struct svc_counter smtp_counters[] = {
	{ "multid_smtp_messages_total",
	  "Messages stored, each in every recipient's mailbox." },
	{ "multid_smtp_refused_total",
	  "Messages refused after DATA (size, bare line ends, storage)." },
	{ NULL, NULL }
};

/* Where a session is. */
enum smtp_phase {
	SMTP_COMMANDS,                /* reading commands */
	SMTP_DATA,                    /* reading a message after 354 */
	SMTP_STORING,                 /* a message is on its way to disk */
};

/* One connection. */
struct smtp_session {
	struct conn          *conn;   /* the connection */
	const struct smtp_conf *conf; /* its configuration */
	enum smtp_phase       phase;  /* see enum smtp_phase */
	struct smtp_ends      ends;   /* the line endings it used */
	bool                  esmtp;  /* greeted with EHLO */
	bool                  mail;   /* MAIL was taken: a transaction */
	bool                  discarding; /* the rest of an over-long line */
	bool                  eof;    /* the client half-closed */
	bool                  waiting; /* reading stops until a spill is
	                                 written */
	unsigned              errors; /* error replies so far */
	char                  helo[SMTP_HELO_MAX + 1]; /* HELO/EHLO name */
	char                  rcpt_text[SMTP_ADDR_MAX + 1]; /* the first
	                                 recipient, for Received: */
	char                (*boxes)[NAME_LEN_MAX + 1]; /* accepted mailboxes */
	size_t                nrcpt;  /* mailboxes in boxes */
	size_t                rcpts;  /* RCPTs accepted (a mailbox named
	                                 twice counts twice) */
	unsigned              overshoot; /* RCPTs past the limit */
	struct smtp_body      body;   /* the message being read */
	struct smtp_msg      *msg;    /* and on its way to disk */
	char                  line[SMTP_CMD_MAX + 1]; /* a command, copied */
};

/* ---- replies ------------------------------------------------------------ */

static const char *
smtp_host(const struct smtp_session *s)
{
	return s->conf->hostname;
}

/* An error reply; after SMTP_ERRORS_MAX the session ends, as Postfix's. */
static void
smtp_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
smtp_error(struct smtp_session *s, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	conn_reply(s->conn, "%s", text);
	if (++s->errors >= SMTP_ERRORS_MAX) {
		conn_reply(s->conn, "421 4.7.0 %s Error: too many errors",
		    smtp_host(s));
		conn_close_after_flush(s->conn);
	}
}

/* Forgets the transaction (RSET, HELO, after a message). */
static void
smtp_reset(struct smtp_session *s)
{
	s->mail = false;
	s->nrcpt = 0;
	s->rcpts = 0;
	s->overshoot = 0;
	s->rcpt_text[0] = '\0';
}

/* ---- addresses ---------------------------------------------------------- */

/* The mailbox of a recipient: its local part, lower-cased, when it is
 * one this service takes; false otherwise. */
static bool
smtp_mailbox(const struct smtp_conf *conf, const char *addr,
    char box[NAME_LEN_MAX + 1])
{
	const char *at = strrchr(addr, '@');
	size_t len = at != NULL ? (size_t)(at - addr) : strlen(addr);

	if (len == 0 || len > NAME_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		box[i] = (char)((addr[i] >= 'A' && addr[i] <= 'Z') ?
		    addr[i] - 'A' + 'a' : addr[i]);
	box[len] = '\0';
	if (!name_valid(box))
		return false;
	if (conf->mailboxes.n == 0)
		return true;
	for (size_t i = 0; i < conf->mailboxes.n; i++)
		if (strcasecmp(conf->mailboxes.v[i], box) == 0)
			return true;
	return false;
}

/* Checks MAIL's parameters: SIZE, BODY, SMTPUTF8.  0, or a reply was
 * sent. */
static int
smtp_mail_params(struct smtp_session *s, char *params)
{
	char *save = NULL;

	for (char *w = strtok_r(params, " \t", &save); w != NULL;
	    w = strtok_r(NULL, " \t", &save)) {
		if (strncasecmp(w, "SIZE=", 5) == 0) {
			char *end;
			unsigned long long v = strtoull(w + 5, &end, 10);
			if (*end != '\0' || end == w + 5) {
				smtp_error(s, "501 5.5.4 Bad message size syntax");
				return -1;
			}
			if (v > (unsigned long long)s->conf->max_size) {
				smtp_error(s, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				return -1;
			}
		} else if (strcasecmp(w, "BODY=8BITMIME") != 0 &&
		    strcasecmp(w, "BODY=7BIT") != 0 &&
		    strcasecmp(w, "SMTPUTF8") != 0) {
			smtp_error(s, "555 5.5.4 Unsupported option: %s", w);
			return -1;
		}
	}
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

/* STARTTLS is offered on a plain connection of a service that has a
 * certificate. */
static bool
smtp_tls_offered(const struct smtp_session *s)
{
	return s->conn->conf->tls.ctx != NULL && !conn_is_tls(s->conn);
}

static int
smtp_cmd_helo(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;
	size_t n = 0;

	(void)argc;
	for (const char *p = argv[1]; *p != '\0' && n < SMTP_HELO_MAX; p++)
		s->helo[n++] = (*p > 0x20 && *p < 0x7f) ? *p : '?';
	s->helo[n] = '\0';
	smtp_reset(s);
	s->esmtp = strcasecmp(argv[0], "EHLO") == 0;
	if (!s->esmtp) {
		conn_reply(s->conn, "250 %s", smtp_host(s));
		return 0;
	}
	conn_reply(s->conn, "250-%s", smtp_host(s));
	conn_reply(s->conn, "250-PIPELINING");
	conn_reply(s->conn, "250-SIZE %ld", s->conf->max_size);
	conn_reply(s->conn, "250-ENHANCEDSTATUSCODES");
	conn_reply(s->conn, "250-8BITMIME");
	if (smtp_tls_offered(s))
		conn_reply(s->conn, "250-STARTTLS");
	conn_reply(s->conn, "250 SMTPUTF8");
	return 0;
}

/* RFC 3207: the go-ahead, then TLS; the session starts over, as if the
 * client had just connected (no HELO, no transaction). */
static int
smtp_cmd_starttls(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	if (!smtp_tls_offered(s)) {
		smtp_error(s, "502 5.5.1 Error: command not implemented");
		return 0;
	}
	if (s->mail) {
		smtp_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return 0;
	}
	conn_reply(s->conn, "220 2.0.0 Ready to start TLS");
	smtp_reset(s);
	s->esmtp = false;
	s->helo[0] = '\0';
	if (conn_starttls(s->conn) != 0)
		conn_close_after_flush(s->conn);
	return 0;
}

static int
smtp_cmd_mail(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;
	char *addr, *params;

	if (s->conf->tls_required && !conn_is_tls(s->conn)) {
		smtp_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if (s->mail) {
		smtp_error(s, "503 5.5.1 Error: nested MAIL command");
		return 0;
	}
	if (argc < 2 || smtp_path(argv[1], "FROM:", &addr, &params) != 0) {
		smtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return 0;
	}
	if (addr[0] != '\0' && !smtp_addr_ok(addr)) {
		smtp_error(s, "501 5.1.7 Bad sender address syntax");
		return 0;
	}
	if (smtp_mail_params(s, params) != 0)
		return 0;
	s->mail = true;
	conn_reply(s->conn, "250 2.1.0 Ok");
	return 0;
}

/* Adds box to the recipients unless it is there already. */
static void
smtp_add_box(struct smtp_session *s, const char *box)
{
	for (size_t i = 0; i < s->nrcpt; i++)
		if (strcmp(s->boxes[i], box) == 0)
			return;
	memcpy(s->boxes[s->nrcpt++], box, NAME_LEN_MAX + 1);
}

static int
smtp_cmd_rcpt(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;
	char box[NAME_LEN_MAX + 1], *addr, *params;

	if (!s->mail) {
		smtp_error(s, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (argc < 2 || smtp_path(argv[1], "TO:", &addr, &params) != 0) {
		smtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return 0;
	}
	if (addr[0] == '\0' || !smtp_addr_ok(addr)) {
		smtp_error(s, "501 5.1.3 Bad recipient address syntax");
		return 0;
	}
	if (s->rcpts >= SMTP_RCPT_MAX) {
		if (++s->overshoot > SMTP_OVERSHOOT_MAX)
			smtp_error(s, "452 4.5.3 Error: too many recipients");
		else
			conn_reply(s->conn, "452 4.5.3 Error: too many "
			    "recipients");
		return 0;
	}
	if (!smtp_mailbox(s->conf, addr, box)) {
		smtp_error(s, "550 5.1.1 <%s>: Recipient address rejected",
		    addr);
		return 0;
	}
	if (s->rcpt_text[0] == '\0')
		snprintf(s->rcpt_text, sizeof(s->rcpt_text), "%s", addr);
	smtp_add_box(s, box);
	s->rcpts++;
	conn_reply(s->conn, "250 2.1.5 Ok");
	return 0;
}

static void smtp_msg_event(void *owner, enum smtp_msg_event ev, int result,
    const char *id);

/* The message of a DATA: its queue id and Received: header are made now,
 * as Postfix's are. */
static int
smtp_begin_message(struct smtp_session *s)
{
	const struct smtp_trace tr = {
		.conn = s->conn, .helo = s->helo, .host = smtp_host(s),
		.rcpt = s->rcpt_text, .nrcpt = s->nrcpt, .esmtp = s->esmtp,
	};

	s->msg = smtp_msg_new(s->conn->svc->state, s->boxes[0], &tr,
	    smtp_msg_event, s);
	return s->msg != NULL ? 0 : -ENOMEM;
}

static int
smtp_cmd_data(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	if (!s->mail) {
		smtp_error(s, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	if (s->nrcpt == 0) {
		smtp_error(s, "554 5.5.1 Error: no valid recipients");
		return 0;
	}
	if (smtp_begin_message(s) != 0) {
		smtp_error(s, "451 4.3.0 Error: insufficient memory");
		return 0;
	}
	smtp_body_begin(&s->body, (size_t)s->conf->max_size);
	s->phase = SMTP_DATA;
	conn_reply(s->conn, "354 End data with <CR><LF>.<CR><LF>");
	return 0;
}

static int
smtp_cmd_rset(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	smtp_reset(s);
	conn_reply(s->conn, "250 2.0.0 Ok");
	return 0;
}

static int
smtp_cmd_noop(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "250 2.0.0 Ok");
	return 0;
}

static int
smtp_cmd_vrfy(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "252 2.0.0 Cannot VRFY user, but will accept "
	    "message and attempt delivery");
	return 0;
}

static int
smtp_cmd_quit(void *session, int argc, char **argv)
{
	struct smtp_session *s = session;

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "221 2.0.0 Bye");
	conn_close_after_flush(s->conn);
	return 0;
}

/* The usage text is the whole reply to a command with the wrong number
 * of arguments. */
static const struct cmd_def smtp_commands[] = {
	{ CMD_WORD("STARTTLS"), 0, 0, CMD_ALL_STATES, 0,
	  "501 5.5.4 Syntax: STARTTLS", smtp_cmd_starttls },
	{ CMD_WORD("HELO"), 1, CMD_ANY, CMD_ALL_STATES, 0,
	  "501 Syntax: HELO hostname", smtp_cmd_helo },
	{ CMD_WORD("EHLO"), 1, CMD_ANY, CMD_ALL_STATES, 0,
	  "501 Syntax: EHLO hostname", smtp_cmd_helo },
	{ CMD_WORD("MAIL"), 1, 1, CMD_ALL_STATES, CMD_REST,
	  "501 5.5.4 Syntax: MAIL FROM:<address>", smtp_cmd_mail },
	{ CMD_WORD("RCPT"), 1, 1, CMD_ALL_STATES, CMD_REST,
	  "501 5.5.4 Syntax: RCPT TO:<address>", smtp_cmd_rcpt },
	{ CMD_WORD("DATA"), 0, 0, CMD_ALL_STATES, 0,
	  "501 5.5.4 Syntax: DATA", smtp_cmd_data },
	{ CMD_WORD("RSET"), 0, 0, CMD_ALL_STATES, 0,
	  "501 5.5.4 Syntax: RSET", smtp_cmd_rset },
	{ CMD_WORD("NOOP"), 0, CMD_ANY, CMD_ALL_STATES, 0,
	  "501 5.5.4 Syntax: NOOP", smtp_cmd_noop },
	{ CMD_WORD("VRFY"), 1, 1, CMD_ALL_STATES, CMD_REST,
	  "501 5.5.4 Syntax: VRFY address", smtp_cmd_vrfy },
	{ CMD_WORD("QUIT"), 0, CMD_ANY, CMD_ALL_STATES, 0,
	  "501 5.5.4 Syntax: QUIT", smtp_cmd_quit },
	{ .word = NULL }
};

/* One whole command line (or the end of an over-long one). */
static void
smtp_command(struct smtp_session *s, const struct smtp_piece *p)
{
	struct cmd_call call;

	smtp_ends_note(&s->ends, p->eol);
	if (p->eol == SMTP_EOL_NONE || s->discarding) {
		/* Pieces come only for lines past SMTP_DATA_CUT; the limit
		 * for a command is lower and checked below. */
		s->discarding = p->eol == SMTP_EOL_NONE;
		if (!s->discarding)
			smtp_error(s, "500 5.5.0 Error: line too long");
		return;
	}
	if (p->len > SMTP_CMD_MAX) {
		smtp_error(s, "500 5.5.0 Error: line too long");
		return;
	}
	if (memchr(p->text, '\0', p->len) != NULL) {
		smtp_error(s, "500 5.5.2 Error: command not recognized");
		return;
	}
	memcpy(s->line, p->text, p->len);
	s->line[p->len] = '\0';
	switch (cmd_parse(smtp_commands, s->line, p->len, CMD_ALL_STATES,
	    &call)) {
	case CMD_OK:
		cmd_call(&call, s);
		break;
	case CMD_BLANK:
	case CMD_UNKNOWN:
	case CMD_STATE:
		smtp_error(s, "500 5.5.2 Error: command not recognized");
		break;
	case CMD_USAGE:
		smtp_error(s, "%s", call.def->usage);
		break;
	}
}

/* ---- the message --------------------------------------------------- */

/* A message refused before it is stored. */
static void
smtp_refuse(struct smtp_session *s, const char *reply)
{
	smtp_msg_release(s->msg);
	s->msg = NULL;
	s->waiting = false;
	smtp_reset(s);
	s->phase = SMTP_COMMANDS;
	s->conn->svc->stats.custom[SMTP_COUNTER_REFUSED]++;
	smtp_error(s, "%s", reply);
}

/* The message has ended well: store it, pausing the connection until
 * every copy is on disk (or it failed, perhaps at once). */
static void
smtp_store(struct smtp_session *s)
{
	size_t n = s->nrcpt;

	smtp_reset(s);
	s->waiting = false;
	s->phase = SMTP_STORING;
	conn_pause(s->conn);
	smtp_msg_deliver(s->msg, &s->body,
	    (const char (*)[NAME_LEN_MAX + 1])s->boxes, n, smtp_host(s));
}

/* One piece of DATA input. */
static void
smtp_data(struct smtp_session *s, const struct smtp_piece *p)
{
	switch (smtp_body_piece(&s->body, &s->ends, p)) {
	case SMTP_BODY_MORE:
		if (!s->body.over && !s->body.nomem &&
		    !smtp_msg_feed(s->msg, &s->body))
			s->waiting = true;
		return;
	case SMTP_BODY_BARE:
		smtp_refuse(s, "550 5.5.2 Error: bare <LF> received");
		return;
	case SMTP_BODY_END:
		break;
	}
	if (s->body.over)
		smtp_refuse(s, "552 5.3.4 Message size exceeds fixed limit");
	else if (s->body.nomem)
		smtp_refuse(s, "451 4.3.0 Error: insufficient memory");
	else
		smtp_store(s);
}

/* A spill is written (read on), or the message is stored or not. */
static void
smtp_msg_event(void *owner, enum smtp_msg_event ev, int result,
    const char *id)
{
	struct smtp_session *s = owner;

	if (ev == SMTP_MSG_ROOM) {
		s->waiting = !smtp_msg_feed(s->msg, &s->body);
		if (!s->waiting)
			conn_resume(s->conn);
		return;
	}
	s->msg = NULL;
	s->phase = SMTP_COMMANDS;
	if (result == 0)
		conn_reply(s->conn, "250 2.0.0 Ok: queued as %s", id);
	else if (result == -ENOSPC || result == -EDQUOT)
		smtp_error(s, "452 4.3.1 Insufficient system storage");
	else
		smtp_error(s, "451 4.3.0 Error: queue file write error");
	if (s->eof)
		conn_close_after_flush(s->conn);
	conn_resume(s->conn);
}

/* ---- connections ------------------------------------------------------ */

static size_t
smtp_read(struct conn *c, const char *data, size_t len)
{
	struct smtp_session *s = c->data;
	size_t used = 0;

	/* After STARTTLS nothing more is read in plain text. */
	while (used < len && c->state == CONN_OPEN &&
	    s->phase != SMTP_STORING && !c->starttls) {
		struct smtp_piece p;
		size_t n = smtp_cut(data + used, len - used, SMTP_DATA_CUT, &p);

		if (n == 0)
			break;
		used += n;
		if (s->phase == SMTP_DATA)
			smtp_data(s, &p);
		else
			smtp_command(s, &p);
	}
	/* The input at hand is taken whole (the body grows by at most one
	 * read past SMTP_HEAD_MAX); no more is read until the spill behind
	 * is written. */
	if (s->waiting)
		conn_pause(c);
	return used;
}

static int
smtp_open(struct conn *c)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	if (s == NULL || (s->boxes = calloc(SMTP_RCPT_MAX,
	    sizeof(*s->boxes))) == NULL) {
		free(s);
		return -1;
	}
	s->conn = c;
	s->conf = c->conf->tconf;
	c->data = s;
	conn_reply(c, "220 %s ESMTP multid", smtp_host(s));
	return 0;
}

/* A message on its way to disk is stored all the same; only its reply
 * has nowhere to go. */
static void
smtp_close(struct conn *c, enum close_reason why)
{
	struct smtp_session *s = c->data;

	(void)why;
	if (s == NULL)
		return;
	if (s->msg != NULL)
		smtp_msg_release(s->msg);
	smtp_body_free(&s->body);
	free(s->boxes);
	free(s);
	c->data = NULL;
}

/* A client that half-closes after its last command still gets the
 * reply to a message on its way to disk. */
static void
smtp_eof(struct conn *c)
{
	struct smtp_session *s = c->data;

	if (s->phase == SMTP_STORING)
		s->eof = true;
	else
		conn_close_after_flush(c);
}

static void
smtp_timeout(struct conn *c)
{
	struct smtp_session *s = c->data;

	conn_reply(c, "421 4.4.2 %s Error: timeout exceeded", smtp_host(s));
	conn_close_after_flush(c);
}

/* ---- configuration, start and stop ------------------------------------ */

static const char *
smtp_configure(struct svc_conf *sc)
{
	struct smtp_conf *conf = sc->tconf;
	char host[256];

	if (conf->maildir == NULL)
		return "maildir: missing";
	for (size_t i = 0; i < conf->mailboxes.n; i++)
		if (!name_valid(conf->mailboxes.v[i]))
			return "mailboxes: a mailbox name must follow the "
			    "nickname rule ^[A-Za-z][A-Za-z0-9_-]{0,15}$";
	if (conf->hostname == NULL) {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		if ((conf->hostname = strdup(host)) == NULL)
			return "out of memory";
	}
	for (const char *p = conf->hostname; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return "hostname: blanks and controls are not allowed";
	return NULL;
}

static int
smtp_start(struct svc *svc)
{
	const struct smtp_conf *conf = SVC_CONF(svc, struct smtp_conf);
	int rc;

	if ((svc->state = smtp_store_start(svc, conf->maildir, &rc)) == NULL)
		return rc;
	return 0;
}

/* Every message queued is written and synced before this returns. */
static void
smtp_stop(struct svc *svc)
{
	smtp_store_stop(svc->state);
	svc->state = NULL;
}

/* Messages on their way to disk hold the maildir open: another one
 * takes effect after a restart.  The other keys apply to new
 * connections. */
static void
smtp_reconfigure(struct svc *svc)
{
	const struct smtp_conf *conf = SVC_CONF(svc, struct smtp_conf);
	struct smtp_store *st = svc->state;

	if (st != NULL && strcmp(conf->maildir, smtp_store_path(st)) != 0)
		svc_log(svc, LOG_LVL_WARNING, "maildir %s takes effect after a "
		    "restart; still using %s", conf->maildir,
		    smtp_store_path(st));
}

static const struct service_protocol smtp_protocols[] = {
	{ .name = "", .frame = FRAME_RAW, .open = smtp_open,
	  .read = smtp_read, .eof = smtp_eof, .close = smtp_close,
	  .busy = "421 4.7.0 Error: too many connections\r\n" },
	{ .name = NULL },
};

const struct service_type smtp_service = {
	.name = "smtp",
	.protos = PROTO_TCP,
	.keys = smtp_keys,
	.conf_size = sizeof(struct smtp_conf),
	.conf_defaults = &smtp_defaults,
	.idle_timeout = 300,
	.busy = "421 4.7.0 Error: too many connections\r\n",
	.counters = smtp_counters,
	.protocols = smtp_protocols,
	.configure = smtp_configure,
	.start = smtp_start,
	.reconfigure = smtp_reconfigure,
	.stop = smtp_stop,
	.timeout = smtp_timeout,
};
