/*
 * cluster.h - chat instances that share their rooms through Redis
 * (SPEC §7): the event codec (cluster_msg.c, pure, for the unit test and
 * the fuzzer) and the link to Redis (cluster.c), which room.c calls.
 *
 * Every instance publishes what its own users do on one pub/sub channel
 * (the cluster's name) and delivers what the others publish to its own
 * users.  A user of another instance is a "remote" chat_user here: a
 * member of rooms like any other, listed by /who and NAMES, with no
 * connection; the fan-out skips it.  Nicknames are held by leases in
 * Redis, so two instances never give out the same one.
 */
#ifndef MULTID_CHAT_CLUSTER_H
#define MULTID_CHAT_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_TEXT_MAX 65536        /* longest text a message carries */

/* What a message on the channel says; the letters are the wire form. */
enum cluster_msg_type {
	CLUSTER_MESSAGE = 'M',    /* nick says text in room */
	CLUSTER_ACTION  = 'A',    /* nick's action text in room */
	CLUSTER_JOIN    = 'J',    /* nick came into room */
	CLUSTER_PART    = 'P',    /* nick left room (text: reason) */
	CLUSTER_QUIT    = 'Q',    /* nick left the chat (text: reason) */
	CLUSTER_NICK    = 'N',    /* nick is now text */
	CLUSTER_TOPIC   = 'T',    /* nick set room's topic to text */
	CLUSTER_PRIVATE = 'D',    /* text from nick to the user to */
	CLUSTER_USER    = 'U',    /* nick exists, in the rooms of text
	                             (blank-separated) and no others */
	CLUSTER_SYNC    = 'S',    /* the sender (re)joined the channel:
	                             everybody states its users */
	CLUSTER_END     = 'E',    /* the sender's statement is complete */
	CLUSTER_ALIVE   = 'H',    /* the sender's heartbeat */
};

/* One decoded message; the strings are NUL-terminated, NULL when
 * absent. */
struct cluster_msg {
	enum cluster_msg_type type; /* what it says */
	uint64_t    from;         /* the sending instance */
	bool        notice;       /* MESSAGE, PRIVATE: an IRC NOTICE */
	bool        silent;       /* TOPIC: state, not news */
	const char *nick;         /* who did it */
	const char *room;         /* where */
	const char *text;         /* what (plain) */
	const char *styled;       /* text with IRC formatting, or NULL */
	const char *to;           /* PRIVATE: the receiver's nickname */
};

/* The wire form of m: a new string (free it), its length in *len; NULL
 * without memory. */
char *cluster_msg_encode(const struct cluster_msg *m, size_t *len);
/* Reads len bytes of data into m; the strings are copied into store,
 * which has room for len + 8 bytes.  0, or -EINVAL for anything not
 * made by cluster_msg_encode with valid fields (names that break the
 * nickname rule, invalid UTF-8, a missing field the type needs). */
int cluster_msg_decode(const char *data, size_t len, struct cluster_msg *m,
    char *store);

/* --- the link (cluster.c) ----------------------------------------------- */

struct chat;
struct chat_user;
struct chat_room;
struct chat_event;
struct cluster;

/* The answer to a claim of a nickname: err 0 (held) or -EEXIST. */
typedef void chat_claim_proc(struct chat *ch, struct chat_user *u,
    const char *name, int err);

/* Starts the link of ch to the Redis at url ("redis://HOST:PORT") on
 * channel name; it connects in the background.  0 or -errno. */
int cluster_start(struct chat *ch, const char *url, const char *name);
/* Closes the link and forgets every remote user. */
void cluster_stop(struct chat *ch);
/* "redis://HOST:PORT" checked: NULL, or a phrase for the config error. */
const char *cluster_url_check(const char *url);

/* What a local user did (ev->user local): published to the others.
 * QUIT and NICK also give the old nickname's lease back; MESSAGE goes
 * into the shared history. */
void cluster_event(struct chat *ch, const struct chat_event *ev);
/* A local user got a nickname. */
void cluster_named(struct chat *ch, const struct chat_user *u);
/* Before u (local) takes name, which the local rule allows: 0 when it may
 * go on at once (no cluster, or the cluster is away), -EEXIST when another
 * local user is claiming it, -EINPROGRESS when the answer comes later
 * through done (the connection is paused until then). */
int cluster_claim(struct chat *ch, struct chat_user *u, const char *name,
    chat_claim_proc *done);
/* u's connection closes: a claim it waits for is dropped. */
void cluster_forget(struct chat *ch, struct chat_user *u);
/* A room was made: its shared history is fetched. */
void cluster_room_new(struct chat *ch, struct chat_room *room);

#endif
