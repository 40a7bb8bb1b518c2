/*
 * room.h - the chat's room core (room.c) and what its protocol files
 * (proto_line.c, proto_course.c, and IRC next) share.
 *
 * The core knows users, rooms and who is in which room, and turns what a
 * user does into events.  An event is rendered by each protocol's render
 * hook at most once, and the bytes are shared by every receiver of that
 * protocol (rbuf, conn_send_shared), however many rooms it goes to.  A
 * protocol with no frame for an event renders nothing and its users do not
 * get it.  A protocol file parses its own input and calls the core.
 */
#ifndef MULTID_CHAT_ROOM_H
#define MULTID_CHAT_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../buf.h"
#include "../../conn.h"
#include "../../hash.h"
#include "../chat.h"
#include "cluster.h"

#define CHAT_LOBBY       "lobby"      /* where every user starts */

/* The protocols, indices of chat_protos[]. */
enum chat_proto_id {
	CHAT_PROTO_LINE,          /* telnet and nc: proto_line.c */
	CHAT_PROTO_COURSE,        /* the course's NUL frames: proto_course.c */
	CHAT_PROTO_IRC,           /* IRC clients: proto_irc.c */
	CHAT_PROTOS
};

/* What happened; rendered by each protocol in its own words. */
enum chat_ev_type {
	CHAT_EV_MESSAGE,          /* text for a room */
	CHAT_EV_ACTION,           /* /me, CTCP ACTION */
	CHAT_EV_JOIN,             /* a user came into a room */
	CHAT_EV_PART,             /* a user left a room (text: reason or NULL) */
	CHAT_EV_QUIT,             /* a user left the chat (text: reason or NULL) */
	CHAT_EV_NICK,             /* nick is now text */
	CHAT_EV_TOPIC,            /* nick set room's topic to text */
	CHAT_EV_PRIVATE,          /* text from nick to one user */
};

struct chat_event {
	enum chat_ev_type type;   /* what happened */
	const char *nick;         /* who did it */
	const char *room;         /* the room's name, or NULL (QUIT, NICK,
	                             PRIVATE) */
	const char *text;         /* message, reason, new nick or topic; NULL
	                             when there is none */
	const struct chat *ch;    /* the chat, for a protocol's settings */
	const struct chat_user *user; /* who did it, or NULL (history) */
	const struct chat_user *to; /* PRIVATE: who gets it */
	const char *styled;       /* text with IRC formatting codes, for the
	                             protocols that show them; NULL: text */
	bool notice;              /* MESSAGE, PRIVATE: an IRC NOTICE */
};

struct chat_user;
struct chat;

/* What the core needs from a protocol. */
struct chat_proto {
	const char *name;         /* its listen protocol: "", "course" */
	unsigned    echo;         /* events (1 << type) its users get back
	                             when they did them themselves */
	/* The event as this protocol's users see it, in a new shared block,
	 * or NULL when the protocol has no frame for it (or no memory). */
	struct rbuf *(*render)(const struct chat_event *ev);
	/* idle_timeout passed: a last word before the user goes. */
	void (*timeout)(struct chat_user *u);
	/* The connection's deadline passed: true when the protocol keeps
	 * the user a while longer (it asked the client and set a later
	 * deadline); NULL: never. */
	bool (*ping)(struct chat_user *u);
};

extern const struct chat_proto chat_line_proto;
extern const struct chat_proto chat_course_proto;
extern const struct chat_proto chat_irc_proto;
/* The same, by enum chat_proto_id. */
extern const struct chat_proto *const chat_protos[CHAT_PROTOS];

/* A name in one of the chat's tables (hash.h), embedded in what it
 * names. */
struct chat_node {
	struct hash_node  hnode;                 /* in chat.users or chat.rooms */
	char              key[CHAT_NAME_MAX + 1]; /* the name, lower-cased */
};

/* A user in a room: membership is a link, so that a user may be in many
 * rooms (IRC) and a room's members are listed per protocol. */
struct chat_link {
	struct chat_user *user;       /* who */
	struct chat_room *room;       /* where */
	struct chat_link *prev;       /* the room's members of user's protocol */
	struct chat_link *next;       /* the room's members of user's protocol */
	struct chat_link *user_next;  /* the user's other rooms */
};

/* One message kept for the users who join later: the event, and its
 * renders as they are made (by the fan-out, or by a replay). */
struct chat_hist {
	struct rbuf *render[CHAT_PROTOS]; /* per protocol, or NULL */
	bool         rendered[CHAT_PROTOS]; /* render tried */
	char         nick[CHAT_NAME_MAX + 1]; /* who said it */
	char         text[];          /* what */
};

struct chat_room {
	struct chat_node  node;       /* in chat.rooms; must be first */
	char              name[CHAT_NAME_MAX + 1]; /* as first written */
	struct chat_link *members[CHAT_PROTOS]; /* who is in it, by protocol */
	unsigned          count;      /* members, all protocols */
	char             *topic;      /* or NULL */
	struct chat_hist **hist;      /* ring of recent messages */
	unsigned          hist_cap;   /* its size */
	unsigned          hist_head;  /* index of the oldest */
	unsigned          hist_n;     /* messages in it */
	struct chat_room *idle_prev;  /* empty rooms kept, oldest first */
	struct chat_room *idle_next;  /* empty rooms kept */
	bool              idle;       /* on that list */
};

struct chat_user {
	struct chat_node  node;       /* in chat.users once named; first */
	struct conn      *c;          /* its connection; NULL for a user of
	                                 another instance (cluster.c) */
	enum chat_proto_id proto;     /* which protocol it speaks */
	char              nick[CHAT_NAME_MAX + 1]; /* "" until chosen */
	struct chat_link *rooms;      /* the rooms it is in, newest first */
	unsigned          nrooms;     /* entries in rooms */
	unsigned          mark;       /* fan-out round that reached it */
	void             *proto_data; /* the protocol's own state, or NULL */
	uint64_t          remote;     /* another instance's user: its id */
	bool              stale;      /* remote: not restated since its
	                                 instance asked for a SYNC */
	bool              claiming;   /* its input is paused until Redis
	                                 answers a nickname claim */
};

/* The running service's state (svc->state). */
struct chat {
	struct svc       *svc;        /* for the current configuration */
	struct hash_table users;      /* named users by nickname (chat_node) */
	struct hash_table rooms;      /* rooms by name (chat_node) */
	struct chat_room *idle_head;  /* oldest kept empty room */
	struct chat_room *idle_tail;  /* newest kept empty room */
	unsigned          nidle;      /* rooms on that list */
	unsigned          round;      /* fan-outs to several rooms so far */
	struct cluster   *cluster;    /* rooms shared through Redis, or NULL */
};

/* The chat's configuration (service.c). */
struct chat_conf {
	long  max_line;               /* longest input message, bytes */
	long  history;                /* messages replayed on joining a room */
	long  max_queue;              /* unsent output before a client is dropped */
	char *motd;                   /* shown on connect, or NULL */
	char *server_name;            /* IRC's server name and the host of
	                                 non-IRC users' prefixes */
	long  irc_ping;               /* seconds of IRC silence before a PING,
	                                 and then before the close; 0: never */
	long  irc_flood;              /* IRC messages a second a client may
	                                 send, after a burst; 0: no limit */
	char *cluster;                /* "redis://HOST:PORT", or NULL */
	char *cluster_name;           /* its channel; NULL: the service's name */
};

/* The chat's own counters (metrics), indices of chat_counters. */
enum { CHAT_COUNTER_EVENTS, CHAT_COUNTER_RENDERS, CHAT_COUNTER_REDIS_UP,
	CHAT_COUNTER_REDIS_ERRORS };

/* --- users --------------------------------------------------------------- */

/* A new, nameless user on connection c (c->data); NULL without memory.
 * Sets the connection's output cap and longest message. */
struct chat_user *chat_user_new(struct conn *c, enum chat_proto_id proto);
/* The connection ends: the user leaves the chat and is freed. */
void chat_user_close(struct conn *c, enum close_reason why);
/* Names a nameless user: 0, -EINVAL (not a valid name), -EEXIST (taken)
 * or -ENOMEM. */
int chat_user_name(struct chat *ch, struct chat_user *u, const char *name);
/* Before u takes name (chat_user_name or _rename): 0 when it may now,
 * -EINVAL or -EEXIST when it may not, or -EINPROGRESS when the cluster
 * must answer first: done is called then with 0 or -EEXIST (and the
 * connection is paused until then). */
int chat_user_claim(struct chat *ch, struct chat_user *u, const char *name,
    chat_claim_proc *done);
/* Renames a named user; its rooms see CHAT_EV_NICK.  0, -EINVAL or
 * -EEXIST. */
int chat_user_rename(struct chat *ch, struct chat_user *u, const char *name);
/* The user leaves every room (CHAT_EV_QUIT, reason may be NULL) and its
 * nickname is free again; it stays connected, nameless. */
void chat_user_depart(struct chat *ch, struct chat_user *u,
    const char *reason);
/* The user leaves every room and its name without anybody being told
 * (a remote user, when Redis went away). */
void chat_user_drop(struct chat *ch, struct chat_user *u);
/* The named user called name (any case), or NULL. */
struct chat_user *chat_user_find(struct chat *ch, const char *name);
/* The room a user of one room (line, course) is in, or NULL. */
static inline struct chat_room *
chat_user_room(const struct chat_user *u)
{
	return u->rooms != NULL ? u->rooms->room : NULL;
}

/* --- rooms ---------------------------------------------------------------- */

/* Finds a room by name, creating it; NULL only when out of memory.  A
 * room nobody joins is kept only while it has history (chat_room_drop). */
struct chat_room *chat_room_get(struct chat *ch, const char *name);
/* Frees the empty rooms kept for their history (the service stops). */
void chat_rooms_free(struct chat *ch);
/* Lets go of a room chat_room_get gave that nobody joined. */
void chat_room_drop(struct chat *ch, struct chat_room *room);
/* The room called name, or NULL. */
struct chat_room *chat_room_find(struct chat *ch, const char *name);
/* u comes into room: the members see CHAT_EV_JOIN.  0 or -ENOMEM; the
 * caller then tells u and replays the history (chat_hist_send). */
int chat_room_join(struct chat *ch, struct chat_user *u,
    struct chat_room *room);
/* u leaves room: the members see CHAT_EV_PART with reason (or NULL). */
void chat_room_part(struct chat *ch, struct chat_user *u,
    struct chat_room *room, const char *reason);
/* The nicknames in room, sorted case-insensitively, into names (room->count
 * entries). */
void chat_room_nicks(const struct chat_room *room, const char **names);
/* The rooms with somebody in them, sorted by name, into rooms (at least
 * ch->rooms.count entries); returns how many. */
size_t chat_room_list(const struct chat *ch, struct chat_room **rooms);
/* Sets the topic; the members see CHAT_EV_TOPIC.  0 or -ENOMEM. */
int chat_room_topic(struct chat *ch, struct chat_user *u,
    struct chat_room *room, const char *topic);

/* --- events -------------------------------------------------------------- */

/* The strings given (a NULL ends them) and then endlen bytes of end, in
 * a new shared block; NULL without memory.  For the render hooks. */
struct rbuf *chat_render(const char *end, size_t endlen, ...)
    __attribute__((sentinel));

/* A message (CHAT_EV_MESSAGE) or action (CHAT_EV_ACTION) from u to room;
 * messages are kept in the room's history. */
void chat_say(struct chat *ch, struct chat_user *u, struct chat_room *room,
    enum chat_ev_type type, const char *text);
/* ev (a MESSAGE or ACTION from ev->user) to room, as chat_say. */
void chat_say_event(struct chat *ch, struct chat_room *room,
    const struct chat_event *ev);
/* A private message from u to another user; 0 or -ENOMEM. */
int chat_private(struct chat *ch, struct chat_user *u, struct chat_user *to,
    const char *text);
/* ev (a PRIVATE from ev->user to ev->to), as chat_private. */
int chat_private_event(struct chat *ch, const struct chat_event *ev);
/* Keeps a message said elsewhere among the room's recent ones. */
void chat_hist_keep(struct chat *ch, struct chat_room *room,
    const char *nick, const char *text);
/* Sends u the room's most recent messages (history), oldest first. */
void chat_hist_send(struct chat *ch, const struct chat_room *room,
    struct chat_user *u);

/* --- the protocols' connection hooks (service.c lists them) -------------- */

int chat_line_open(struct conn *c);
enum line_result chat_line_message(struct conn *c, char *line, size_t len);
void chat_line_eof(struct conn *c);
int chat_course_open(struct conn *c);
enum line_result chat_course_message(struct conn *c, char *frame,
    size_t len);
void chat_course_eof(struct conn *c);
int chat_irc_open(struct conn *c);
enum line_result chat_irc_message(struct conn *c, char *msg, size_t len);
void chat_irc_eof(struct conn *c);
void chat_irc_close(struct conn *c, enum close_reason why);

/* The configuration in force. */
const struct chat_conf *chat_conf_now(const struct chat *ch);

#endif
