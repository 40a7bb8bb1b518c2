/*
 * pop3.c - POP3 (RFC 1939, with CAPA and the response codes of RFC 2449)
 * over the Maildir smtp delivers into (SPEC §3 pop3).
 *
 * Lines are framed by the core as IRC's are: LF-ended, one CR removed,
 * at most 510 bytes, and no telnet processing, so a password byte 0xFF
 * stays what it is (RFC 2449 allows 255 bytes a command; the framer's
 * limit is above it).
 *
 * Nothing here waits on the reactor: the secret is checked on the
 * password pool (passwd.h), and every file operation runs on the
 * service's worker: opening, locking (flock on the mailbox directory, so
 * a second session of any process is told [IN-USE]) and listing the
 * mailbox at login, reading a message for RETR and TOP, and the
 * deletions at QUIT.  The connection is paused while a job runs, so
 * pipelined commands wait their turn.
 *
 * A message goes out a part at a time (pop3_box.h, struct pop3_stream):
 * a job reads and converts the next part, the output queue shares it,
 * and the next job starts only once the socket has taken most of it
 * (the type's writable hook), so a message of any size, to a client of
 * any speed, holds a few hundred kilobytes.  The connection stays paused
 * until the final "." is queued.
 *
 * A failed login is answered after a delay that grows with the failures
 * from the same address, and the third failure on a connection closes it
 * (pop3_auth.c, with USER, PASS and STLS).
 *
 * STLS (RFC 2595, SPEC §6) is offered before login when the service has
 * a certificate: after "+OK Begin TLS negotiation" the core switches the
 * connection to TLS and throws away whatever was pipelined after the
 * command.  With tls_required no USER or PASS is taken before TLS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../buf.h"
#include "../../cmd.h"
#include "../../conn.h"
#include "../../ev.h"
#include "../../hash.h"
#include "../../name.h"
#include "../../passwd.h"
#include "../../server.h"
#include "../../worker.h"
#include "pop3.h"

#define POP3_HASH_THREADS   2         /* password pool threads */
#define POP3_FILE_THREADS   2         /* maildir worker threads */

static const char *const pop3_account_words[] = { "name", "secret", NULL };

static const struct pop3_conf pop3_defaults = { 0 };

static const struct cfg_key pop3_keys[] = {
	{ "maildir", CFG_PATH, offsetof(struct pop3_conf, maildir), 1, 4096,
	  NULL },
	{ "accounts", CFG_GROUPLIST, offsetof(struct pop3_conf, accounts), 1,
	  100000, pop3_account_words },
	{ "tls_required", CFG_BOOL, offsetof(struct pop3_conf, tls_required), 0,
	  0, NULL },
	CFG_KEY_END
};

static const struct svc_counter pop3_counters[] = {
	{ "multid_pop3_logins_total", "Successful logins." },
	{ "multid_pop3_login_failures_total", "Failed logins." },
	{ NULL, NULL }
};

/* ---- sessions ----------------------------------------------------------- */

static void
pop3_session_free(struct pop3_session *s)
{
	pop3_stream_close(&s->stream);
	maildir_close(&s->mb);
	maildir_list_free(&s->list);
	explicit_bzero(s->pw.secret, sizeof(s->pw.secret));
	free(s);
}

/* A job or a hash is done: false when the connection has ended meanwhile
 * (the session is then freed). */
bool
pop3_back(struct pop3_session *s)
{
	s->busy = false;
	if (s->conn != NULL)
		return true;
	pop3_session_free(s);
	return false;
}

/* Input goes on after a job; a client that half-closed meanwhile has had
 * every reply. */
void
pop3_resume(struct pop3_session *s)
{
	if (s->eof)
		conn_close_after_flush(s->conn);
	conn_resume(s->conn);
}

/* ---- maildir jobs: submitting ------------------------------------------ */

static void pop3_job_done(struct worker_job *wj);
static void pop3_job_run(struct worker_job *wj);

/* Queues the session's maildir job of kind; pauses the connection. */
int
pop3_job_submit(struct pop3_session *s, enum pop3_job_kind kind)
{
	struct pop3_job *j = &s->job;

	j->kind = kind;
	j->s = s;
	j->result = 0;
	j->out = NULL;
	j->deleted = 0;
	j->wj.run = pop3_job_run;
	j->wj.done = pop3_job_done;
	if (worker_submit(s->service->files, &j->wj) != 0) {
		conn_reply(s->conn, "-ERR service stopping");
		return -ESHUTDOWN;
	}
	s->busy = true;
	conn_pause(s->conn);
	return 0;
}

/* ---- the maildir jobs, on the worker ------------------------------------ */

/* The next part of a message: the file is opened by the first. */
static int
pop3_fetch_run(struct pop3_session *s, struct pop3_job *j)
{
	struct maildir_msg *m = &s->list.msgs[j->msg];
	int rc = 0;

	if (!s->stream.started)
		rc = pop3_stream_open(&s->mb, m, j->lines, &s->stream);
	if (rc == 0)
		rc = pop3_stream_next(&s->mb, m, &s->stream, &j->out);
	return rc;
}

static void
pop3_job_run(struct worker_job *wj)
{
	struct pop3_job *j = (struct pop3_job *)wj;
	struct pop3_session *s = j->s;

	switch (j->kind) {
	case JOB_OPEN:
		j->result = pop3_box_open(s->service->rootfd, s->user, &s->mb,
		    &s->list);
		break;
	case JOB_FETCH:
		j->result = pop3_fetch_run(s, j);
		break;
	case JOB_QUIT:
		j->result = pop3_box_expunge(&s->mb, &s->list, &j->deleted);
		break;
	}
}

/* The sums STAT and LIST show: messages not deleted, and their size. */
static size_t
pop3_totals(const struct pop3_session *s, size_t *octets)
{
	size_t n = 0;

	*octets = 0;
	for (size_t i = 0; i < s->list.n; i++)
		if (!s->list.msgs[i].deleted) {
			n++;
			*octets += s->list.msgs[i].vsize;
		}
	return n;
}

static void
pop3_open_done(struct pop3_session *s, struct pop3_job *j)
{
	size_t octets, n;

	if (j->result == -EBUSY) {
		conn_reply(s->conn, "-ERR [IN-USE] mailbox in use by another "
		    "session");
	} else if (j->result != 0) {
		svc_log(s->service->svc, LOG_LVL_ERROR, "cannot open mailbox "
		    "%s: %s", s->user, strerror(-j->result));
		conn_reply(s->conn, "-ERR [SYS/TEMP] cannot open the mailbox");
	} else {
		s->state = POP3_TRANS;
		n = pop3_totals(s, &octets);
		conn_reply(s->conn, "+OK %zu messages (%zu octets)", n, octets);
	}
	s->have_user = false;
}

/* A part of a message is made: queue it.  True when the message is
 * done (sent or refused) and commands go on. */
static bool
pop3_fetch_done(struct pop3_session *s, struct pop3_job *j)
{
	struct rbuf *out = j->out;

	j->out = NULL;
	if (j->result != 0 && !s->stream.started) {
		conn_reply(s->conn, "-ERR cannot read message %zu: %s",
		    j->msg + 1, strerror(-j->result));
	} else if (j->result != 0) {
		/* The +OK is out: only a cut connection tells the client. */
		svc_log(s->service->svc, LOG_LVL_ERROR, "cannot read a message "
		    "of %s: %s", s->user, strerror(-j->result));
		conn_close(s->conn, CLOSE_ERROR);
		return false;
	} else {
		conn_send_shared(s->conn, out);
	}
	rbuf_unref(out);
	if (j->result == 0 && !s->stream.finished) {
		conn_want_writable(s->conn, true);
		return false;
	}
	pop3_stream_close(&s->stream);
	s->sending = false;
	return true;
}

static void
pop3_job_done(struct worker_job *wj)
{
	struct pop3_job *j = (struct pop3_job *)wj;
	struct pop3_session *s = j->s;

	if (!pop3_back(s)) {
		rbuf_unref(j->out);
		return;
	}
	switch (j->kind) {
	case JOB_OPEN:
		pop3_open_done(s, j);
		break;
	case JOB_FETCH:
		if (!pop3_fetch_done(s, j))
			return;         /* more parts follow, or it is closed */
		break;
	case JOB_QUIT:
		if (j->result != 0)
			conn_reply(s->conn, "-ERR some deleted messages not "
			    "removed");
		else
			conn_reply(s->conn, "+OK multid POP3 server signing off "
			    "(%zu messages deleted)", j->deleted);
		conn_close_after_flush(s->conn);
		break;
	}
	pop3_resume(s);
}

/* ---- transaction commands ---------------------------------------------- */

/* The message a number names, or NULL after an error reply. */
static struct maildir_msg *
pop3_msg(struct pop3_session *s, const char *arg, size_t *index)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
	    v == 0 || v > s->list.n) {
		conn_reply(s->conn, "-ERR no such message");
		return NULL;
	}
	if (s->list.msgs[v - 1].deleted) {
		conn_reply(s->conn, "-ERR message %lu already deleted", v);
		return NULL;
	}
	*index = v - 1;
	return &s->list.msgs[v - 1];
}

static int
pop3_cmd_stat(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;
	size_t octets, n = pop3_totals(s, &octets);

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "+OK %zu %zu", n, octets);
	return LINE_MORE;
}

/* LIST and UIDL: one message, or every one that is not deleted. */
static int
pop3_listing(struct pop3_session *s, int argc, char **argv, bool uidl)
{
	struct maildir_msg *m;
	size_t i, octets, n;

	if (argc > 1) {
		if ((m = pop3_msg(s, argv[1], &i)) == NULL)
			return LINE_MORE;
		if (uidl)
			conn_reply(s->conn, "+OK %zu %s", i + 1, m->uidl);
		else
			conn_reply(s->conn, "+OK %zu %zu", i + 1, m->vsize);
		return LINE_MORE;
	}
	n = pop3_totals(s, &octets);
	if (uidl)
		conn_reply(s->conn, "+OK");
	else
		conn_reply(s->conn, "+OK %zu messages (%zu octets)", n, octets);
	for (i = 0; i < s->list.n; i++) {
		m = &s->list.msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			conn_reply(s->conn, "%zu %s", i + 1, m->uidl);
		else
			conn_reply(s->conn, "%zu %zu", i + 1, m->vsize);
	}
	conn_reply(s->conn, ".");
	return LINE_MORE;
}

static int
pop3_cmd_list(void *session, int argc, char **argv)
{
	return pop3_listing(session, argc, argv, false);
}

static int
pop3_cmd_uidl(void *session, int argc, char **argv)
{
	return pop3_listing(session, argc, argv, true);
}

/* RETR N and TOP N L: the message is read on the worker, a part at a
 * time. */
static int
pop3_fetch(struct pop3_session *s, const char *num, long lines)
{
	struct maildir_msg *m;
	size_t i;

	if ((m = pop3_msg(s, num, &i)) == NULL)
		return LINE_MORE;
	s->job.msg = i;
	s->job.lines = lines;
	s->stream = (struct pop3_stream){ .fd = -1 };
	if (pop3_job_submit(s, JOB_FETCH) != 0)
		return LINE_MORE;
	s->sending = true;
	return LINE_STOP;
}

static int
pop3_cmd_retr(void *session, int argc, char **argv)
{
	(void)argc;
	return pop3_fetch(session, argv[1], -1);
}

static int
pop3_cmd_top(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;
	char *end;
	long lines;

	(void)argc;
	errno = 0;
	lines = strtol(argv[2], &end, 10);
	if (argv[2][0] < '0' || argv[2][0] > '9' || *end != '\0' ||
	    errno != 0) {
		conn_reply(s->conn, "-ERR usage: TOP N LINES");
		return LINE_MORE;
	}
	return pop3_fetch(s, argv[1], lines);
}

static int
pop3_cmd_dele(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;
	struct maildir_msg *m;
	size_t i;

	(void)argc;
	if ((m = pop3_msg(s, argv[1], &i)) == NULL)
		return LINE_MORE;
	m->deleted = true;
	conn_reply(s->conn, "+OK message %zu deleted", i + 1);
	return LINE_MORE;
}

static int
pop3_cmd_rset(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;
	size_t octets, n;

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < s->list.n; i++)
		s->list.msgs[i].deleted = false;
	n = pop3_totals(s, &octets);
	conn_reply(s->conn, "+OK maildrop has %zu messages (%zu octets)", n,
	    octets);
	return LINE_MORE;
}

static int
pop3_cmd_noop(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "+OK");
	return LINE_MORE;
}

/* QUIT: in the transaction state the marked messages go, all at once on
 * the worker; before login it only says goodbye. */
static int
pop3_cmd_quit(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;

	(void)argc;
	(void)argv;
	if (s->state == POP3_TRANS)
		return pop3_job_submit(s, JOB_QUIT) == 0 ? LINE_STOP :
		    LINE_MORE;
	conn_reply(s->conn, "+OK multid POP3 server signing off");
	conn_close_after_flush(s->conn);
	return LINE_STOP;
}

static const char *const pop3_capabilities[] = {
	"TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING",
	"IMPLEMENTATION multid", NULL
};

static int
pop3_cmd_capa(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;

	(void)argc;
	(void)argv;
	conn_reply(s->conn, "+OK Capability list follows");
	if (s->state == POP3_AUTH && pop3_tls_offered(s))
		conn_reply(s->conn, "STLS");
	for (size_t i = 0; pop3_capabilities[i] != NULL; i++)
		conn_reply(s->conn, "%s", pop3_capabilities[i]);
	conn_reply(s->conn, ".");
	return LINE_MORE;
}

static const struct cmd_def pop3_commands[] = {
	{ CMD_WORD("STLS"), 0, 0, POP3_AUTH, 0, "STLS", pop3_cmd_stls },
	{ CMD_WORD("USER"), 1, 1, POP3_AUTH, 0, "USER NAME", pop3_cmd_user },
	{ CMD_WORD("PASS"), 1, 1, POP3_AUTH, CMD_REST, "PASS SECRET",
	  pop3_cmd_pass },
	{ CMD_WORD("STAT"), 0, 0, POP3_TRANS, 0, "STAT", pop3_cmd_stat },
	{ CMD_WORD("LIST"), 0, 1, POP3_TRANS, 0, "LIST [N]", pop3_cmd_list },
	{ CMD_WORD("RETR"), 1, 1, POP3_TRANS, 0, "RETR N", pop3_cmd_retr },
	{ CMD_WORD("TOP"), 2, 2, POP3_TRANS, 0, "TOP N LINES", pop3_cmd_top },
	{ CMD_WORD("UIDL"), 0, 1, POP3_TRANS, 0, "UIDL [N]", pop3_cmd_uidl },
	{ CMD_WORD("DELE"), 1, 1, POP3_TRANS, 0, "DELE N", pop3_cmd_dele },
	{ CMD_WORD("RSET"), 0, 0, POP3_TRANS, 0, "RSET", pop3_cmd_rset },
	{ CMD_WORD("NOOP"), 0, 0, POP3_TRANS, 0, "NOOP", pop3_cmd_noop },
	{ CMD_WORD("QUIT"), 0, 0, POP3_AUTH | POP3_TRANS, 0, "QUIT",
	  pop3_cmd_quit },
	{ CMD_WORD("CAPA"), 0, 0, POP3_AUTH | POP3_TRANS, 0, "CAPA",
	  pop3_cmd_capa },
	{ .word = NULL }
};

static enum line_result
pop3_message(struct conn *c, char *line, size_t len)
{
	struct pop3_session *s = c->data;
	struct cmd_call call;

	switch (cmd_parse(pop3_commands, line, len, s->state, &call)) {
	case CMD_OK:
		return (enum line_result)cmd_call(&call, s);
	case CMD_BLANK:
		return LINE_MORE;
	case CMD_UNKNOWN:
		conn_reply(c, "-ERR unknown command");
		return LINE_MORE;
	case CMD_USAGE:
		conn_reply(c, "-ERR usage: %s", call.def->usage);
		return LINE_MORE;
	case CMD_STATE:
		conn_reply(c, s->state == POP3_AUTH ? "-ERR not logged in" :
		    "-ERR already logged in");
		return LINE_MORE;
	}
	return LINE_MORE;
}

/* ---- connections ------------------------------------------------------ */

static int
pop3_open(struct conn *c)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -1;
	s->conn = c;
	s->service = c->svc->state;
	s->conf = c->conf->tconf;
	s->state = POP3_AUTH;
	s->mb.boxfd = s->mb.tmpfd = s->mb.newfd = s->mb.curfd = -1;
	s->stream.fd = -1;
	c->data = s;
	/* The writable hook is wanted only while a message is sent. */
	conn_want_writable(c, false);
	conn_reply(c, "+OK multid POP3 ready");
	return 0;
}

/* The mailbox is unlocked with the session; nothing marked is deleted
 * without QUIT.  A job in flight frees the session when it is done. */
static void
pop3_close(struct conn *c, enum close_reason why)
{
	struct pop3_session *s = c->data;

	(void)why;
	if (s == NULL)
		return;
	c->data = NULL;
	if (s->timer > 0) {
		ev_timer_del(server.loop, s->timer);
		s->timer = 0;
		s->busy = false;
	}
	s->conn = NULL;
	if (!s->busy)
		pop3_session_free(s);
}

static void
pop3_eof(struct conn *c)
{
	struct pop3_session *s = c->data;

	if (s->busy || s->sending)
		s->eof = true;
	else
		conn_close_after_flush(c);
}

/* The socket has taken most of a part: the next one is made. */
static void
pop3_writable(struct conn *c)
{
	struct pop3_session *s = c->data;

	conn_want_writable(c, false);
	if (s == NULL || !s->sending || s->busy)
		return;
	if (pop3_job_submit(s, JOB_FETCH) != 0)
		conn_close(c, CLOSE_ERROR);   /* stopping, in mid-message */
}

/* While a message is sent, a client that takes it slowly is not idle:
 * the time counts from its last command or the last bytes it took.  The
 * deadline set for that is moved on (or the session ends) each time it
 * passes, by the same rule. */
static void
pop3_timeout(struct conn *c)
{
	struct pop3_session *s = c->data;
	int64_t idle = (int64_t)c->conf->idle_timeout * 1000;
	int64_t last = c->last_input;

	if (s != NULL && s->sending && c->last_progress > last)
		last = c->last_progress;
	if (idle > 0 && ev_now(server.loop) - last < idle) {
		c->deadline = last + idle;
		return;
	}
	conn_reply(c, "-ERR autologout; idle for too long");
	conn_close_after_flush(c);
}

/* ---- configuration, start and stop ------------------------------------ */

static const char *
pop3_configure(struct svc_conf *sc)
{
	struct pop3_conf *conf = sc->tconf;
	static char err[160];

	if (conf->maildir == NULL)
		return "maildir: missing";
	if (conf->accounts.n == 0)
		return "accounts: missing";
	for (size_t i = 0; i < conf->accounts.n; i += ACCOUNT_FIELDS) {
		const char *name = conf->accounts.v[i + ACCOUNT_NAME];

		if (!name_valid(name)) {
			snprintf(err, sizeof(err), "accounts: \"%.32s\": a name "
			    "must follow the nickname rule", name);
			return err;
		}
		const char *secret = conf->accounts.v[i + ACCOUNT_SECRET];
		bool checked = false;

		for (size_t k = 0; k < i; k += ACCOUNT_FIELDS) {
			if (strcasecmp(conf->accounts.v[k + ACCOUNT_NAME],
			    name) == 0) {
				snprintf(err, sizeof(err), "accounts: \"%s\" "
				    "named twice", name);
				return err;
			}
			/* A check costs one hash: a hash seen is good. */
			checked |= strcmp(conf->accounts.v[k + ACCOUNT_SECRET],
			    secret) == 0;
		}
		if (!checked && passwd_check_hash(secret) != 0) {
			snprintf(err, sizeof(err), "accounts: \"%s\": secret is "
			    "not a crypt(3) hash (mkpasswd -m yescrypt)", name);
			return err;
		}
	}
	return NULL;
}

static void
pop3_service_free(struct pop3_service *p)
{
	struct hash_node *n, *next;

	passwd_stop(p->hasher);
	if (p->files != NULL)
		worker_stop(p->files);
	for (n = hash_first(&p->sources); n != NULL; n = next) {
		next = hash_next(&p->sources, n);
		hash_del(&p->sources, n);
		free(HASH_ENTRY(n, struct pop3_source, node));
	}
	hash_free(&p->sources);
	if (p->rootfd >= 0)
		close(p->rootfd);
	free(p->path);
	free(p);
}

static int
pop3_start(struct svc *svc)
{
	const struct pop3_conf *conf = SVC_CONF(svc, struct pop3_conf);
	const struct worker_config wc = {
		.name = "multid-pop3", .threads = POP3_FILE_THREADS,
	};
	struct pop3_service *p = calloc(1, sizeof(*p));
	int rc;

	if (p == NULL)
		return -ENOMEM;
	p->svc = svc;
	p->rootfd = -1;
	if ((p->path = strdup(conf->maildir)) == NULL) {
		pop3_service_free(p);
		return -ENOMEM;
	}
	if (mkdir(conf->maildir, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		svc_log(svc, LOG_LVL_ERROR, "cannot create %s: %s",
		    conf->maildir, strerror(errno));
		pop3_service_free(p);
		return rc;
	}
	if ((p->rootfd = open(conf->maildir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0) {
		rc = -errno;
		svc_log(svc, LOG_LVL_ERROR, "cannot open %s: %s", conf->maildir,
		    strerror(errno));
		pop3_service_free(p);
		return rc;
	}
	p->hasher = passwd_start(server.loop, "multid-pop3-pw",
	    POP3_HASH_THREADS, &rc);
	if (p->hasher == NULL ||
	    (p->files = worker_start(server.loop, &wc, &rc)) == NULL) {
		svc_log(svc, LOG_LVL_ERROR, "cannot start threads: %s",
		    rc == -ENOSYS ? "yescrypt is not available" : strerror(-rc));
		pop3_service_free(p);
		return rc;
	}
	svc->state = p;
	return 0;
}

/* Jobs in flight finish first: the threads are joined. */
static void
pop3_stop(struct svc *svc)
{
	struct pop3_service *p = svc->state;

	if (p == NULL)
		return;
	pop3_service_free(p);
	svc->state = NULL;
}

/* Sessions hold mailboxes of the maildir open: another one takes effect
 * after a restart.  Accounts apply to new connections. */
static void
pop3_reconfigure(struct svc *svc)
{
	const struct pop3_conf *conf = SVC_CONF(svc, struct pop3_conf);
	struct pop3_service *p = svc->state;

	if (p != NULL && strcmp(conf->maildir, p->path) != 0)
		svc_log(svc, LOG_LVL_WARNING, "maildir %s takes effect after a "
		    "restart; still using %s", conf->maildir, p->path);
}

static const struct service_protocol pop3_protocols[] = {
	{ .name = "", .frame = FRAME_IRC, .open = pop3_open,
	  .message = pop3_message, .eof = pop3_eof, .close = pop3_close,
	  .busy = "-ERR [SYS/TEMP] too many connections\r\n",
	  .too_long = "-ERR line too long" },
	{ .name = NULL },
};

const struct service_type pop3_service = {
	.name = "pop3",
	.protos = PROTO_TCP,
	.keys = pop3_keys,
	.conf_size = sizeof(struct pop3_conf),
	.conf_defaults = &pop3_defaults,
	.idle_timeout = 600,
	.busy = "-ERR [SYS/TEMP] too many connections\r\n",
	.too_long = "-ERR line too long",
	.counters = pop3_counters,
	.protocols = pop3_protocols,
	.configure = pop3_configure,
	.start = pop3_start,
	.reconfigure = pop3_reconfigure,
	.stop = pop3_stop,
	.writable = pop3_writable,
	.timeout = pop3_timeout,
};
