/*
 * pop3.h - what pop3.c (sessions, the mailbox, the service) and
 * pop3_auth.c (USER, PASS, STLS and the delays after failed logins)
 * share.  Internal to the pop3 service.
 */
#ifndef MULTID_MAIL_POP3_H
#define MULTID_MAIL_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../cfg.h"
#include "../../hash.h"
#include "../../name.h"
#include "../../passwd.h"
#include "../../worker.h"
#include "maildir.h"
#include "pop3_box.h"

struct conn;

enum pop3_account_field { ACCOUNT_NAME, ACCOUNT_SECRET, ACCOUNT_FIELDS };

struct pop3_conf {
	char          *maildir;       /* the directory of the mailboxes */
	struct strlist accounts;      /* name, secret, name, secret, ... */
	bool           tls_required;  /* no USER or PASS before STLS */
};

enum { POP3_COUNTER_LOGINS, POP3_COUNTER_FAILURES };

/* Failed logins from one client address. */
struct pop3_source {
	struct hash_node node;        /* in the service's table */
	unsigned char    addr[16];    /* the address (IPv4 in its first 4) */
	unsigned char    alen;        /* 4 or 16 */
	unsigned         failures;    /* counted since the last quiet spell */
	int64_t          last_ms;     /* the last failure */
};

/* The running service. */
struct pop3_service {
	struct svc         *svc;      /* for counters and log lines */
	int                 rootfd;   /* the maildir directory */
	char               *path;     /* its path, as configured at start */
	struct passwd_pool *hasher;   /* yescrypt threads */
	struct worker      *files;    /* maildir threads */
	struct hash_table   sources;  /* struct pop3_source by address */
};

/* Session states, as bits for the command table. */
enum pop3_state {
	POP3_AUTH  = 1 << 0,          /* before login */
	POP3_TRANS = 1 << 1,          /* logged in */
};

/* What a maildir job does. */
enum pop3_job_kind {
	JOB_OPEN,                     /* open, lock and list the mailbox */
	JOB_FETCH,                    /* read a message's next part (RETR,
	                                 TOP) */
	JOB_QUIT,                     /* delete the marked messages */
};

struct pop3_session;

/* One maildir job; lives in the session. */
struct pop3_job {
	struct worker_job   wj;       /* the worker's link */
	enum pop3_job_kind  kind;     /* what it does */
	struct pop3_session *s;       /* the session */
	int                 result;   /* 0 or a negative errno */
	size_t              msg;      /* FETCH: index of the message */
	long                lines;    /* FETCH: TOP's body lines, -1 all */
	struct rbuf        *out;      /* FETCH: the next part, ready to send */
	size_t              deleted;  /* QUIT: messages deleted */
};

/* One connection.  It outlives the connection while a job is in flight
 * (closed is then set and the job's completion frees it). */
struct pop3_session {
	struct conn         *conn;    /* NULL once the connection ended */
	struct pop3_service *service; /* the service */
	const struct pop3_conf *conf; /* its configuration */
	unsigned             state;   /* enum pop3_state */
	char                 user[NAME_LEN_MAX + 1]; /* USER, lower-cased */
	bool                 have_user; /* USER was given */
	unsigned             failures;  /* failed logins */
	bool                 busy;    /* a hash or a job is in flight */
	bool                 eof;     /* the client half-closed */
	long long            timer;   /* a delayed "-ERR denied", or 0 */
	struct passwd_job    pw;      /* the secret check */
	struct pop3_job      job;     /* the maildir job */
	struct maildir_box   mb;      /* the mailbox, locked */
	struct maildir_list  list;    /* its messages at login */
	struct pop3_stream   stream;  /* the message being sent */
	bool                 sending; /* RETR or TOP is not done yet */
};
/* Sessions (pop3.c). */
/* A job or a hash is done: false when the connection has ended meanwhile
 * (the session is then freed). */
bool pop3_back(struct pop3_session *s);
/* Input goes on after a job. */
void pop3_resume(struct pop3_session *s);
/* Queues the session's maildir job of kind; pauses the connection. */
int  pop3_job_submit(struct pop3_session *s, enum pop3_job_kind kind);

/* Login (pop3_auth.c). */
/* STLS is offered on a plain connection of a service that has a
 * certificate. */
bool pop3_tls_offered(const struct pop3_session *s);
int  pop3_cmd_stls(void *session, int argc, char **argv);
int  pop3_cmd_user(void *session, int argc, char **argv);
int  pop3_cmd_pass(void *session, int argc, char **argv);

#endif
