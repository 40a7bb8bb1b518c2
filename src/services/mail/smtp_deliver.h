/*
 * smtp_deliver.h - the disk side of smtp: a message from DATA to every
 * recipient's new/.
 *
 * A message's first SMTP_HEAD_MAX bytes stay in memory; a longer one is
 * spilled as it arrives to an anonymous file (O_TMPFILE) in the first
 * recipient's tmp/, written on a worker so the disk never stalls the
 * reactor, and a session holds two buffers at most whatever the size of
 * its message.  At its end the message goes to each mailbox through the
 * durable helpers (durable.h): the bytes from memory, or the spilled file
 * linked (copied across file systems), synced, renamed, the directory
 * synced, many messages sharing one sync.  A copy that fails takes the
 * others back, so nothing is half there.
 */
#ifndef MULTID_SMTP_DELIVER_H
#define MULTID_SMTP_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "../../name.h"
#include "smtp_line.h"

#define SMTP_HEAD_MAX (64 * 1024)     /* body bytes kept in memory before
                                         they are spilled to a file */

struct conn;
struct svc;
struct smtp_store;
struct smtp_msg;

/* The type's own counters (smtp.c's table lists them in this order). */
enum { SMTP_COUNTER_STORED, SMTP_COUNTER_REFUSED };

/* What a message tells its session. */
enum smtp_msg_event {
	SMTP_MSG_ROOM,                /* a spill is written: read on */
	SMTP_MSG_STORED,              /* done: result 0 (queued as id) or a
	                                 negative errno; the message is gone */
};

/* Runs on the reactor thread; never after smtp_msg_release. */
typedef void smtp_msg_proc(void *owner, enum smtp_msg_event ev, int result,
    const char *id);

/* What the Received: header says. */
struct smtp_trace {
	const struct conn *conn;      /* the client's address */
	const char *helo;             /* its HELO name, or "" */
	const char *host;             /* this host */
	const char *rcpt;             /* the first recipient as written */
	size_t      nrcpt;            /* mailboxes ("for <rcpt>" when 1) */
	bool        esmtp;            /* greeted with EHLO */
};

/* Opens (creating) maildir and starts the threads; NULL with *err set
 * to a negative errno (logged). */
struct smtp_store *smtp_store_start(struct svc *svc, const char *maildir,
    int *err);
/* Writes every message on its way, then frees the store. */
void smtp_store_stop(struct smtp_store *st);
/* The maildir as it was at start. */
const char *smtp_store_path(const struct smtp_store *st);

/* A new message for mailbox box first (where a spill file goes), with
 * its queue id and Received: header; NULL without memory. */
struct smtp_msg *smtp_msg_new(struct smtp_store *st, const char *box,
    const struct smtp_trace *tr, smtp_msg_proc *proc, void *owner);
/* After each piece of the body: spills it when it has grown past
 * SMTP_HEAD_MAX.  False when a spill is still being written: the session
 * stops reading until SMTP_MSG_ROOM and then feeds again. */
bool smtp_msg_feed(struct smtp_msg *m, struct smtp_body *b);
/* The body has ended well: stores the message in every mailbox of boxes
 * (nbox of them) and reports SMTP_MSG_STORED, perhaps before this
 * returns.  The body's buffer may be taken (it is then empty). */
void smtp_msg_deliver(struct smtp_msg *m, struct smtp_body *b,
    const char (*boxes)[NAME_LEN_MAX + 1], size_t nbox, const char *host);
/* The session is done with m: a message that has not ended is thrown
 * away; one on its way to disk is stored all the same, unreported. */
void smtp_msg_release(struct smtp_msg *m);

#endif
