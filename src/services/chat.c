/*
 * chat.c - a multi-room chat for telnet and nc users.
 *
 * A client first picks a nickname, then is in room "lobby".  A line is a
 * message for the others in the room, or an IRC-like command.  Every
 * message is formatted once into a shared, reference-counted block that is
 * queued to each receiver, so a room of thousands costs one copy; the
 * same block stays in the room's history.  Each receiver's queue is FIFO,
 * so messages from one sender arrive in the order sent.  A receiver that
 * does not read is dropped by the core when its queue passes max_queue,
 * and the others never wait for it.
 *
 * Nicknames and rooms live in two hash tables keyed by the lower-cased
 * name (the name rule is ASCII, so case folding is too).  A room with
 * history outlives its last member for a while, so the next one to come
 * still sees what was said; the number of such empty rooms is bounded.
 *
 * Text from clients is checked and sanitised (utf8.c) before anyone else
 * sees it, so nobody can drive another user's terminal.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../conn.h"
#include "../hash.h"
#include "../utf8.h"
#include "chat.h"

#define CHAT_LOBBY       "lobby"      /* where everybody starts */
#define CHAT_SLOTS_MIN   64           /* initial hash table size */
#define CHAT_IDLE_ROOMS  64           /* empty rooms kept for their history */

struct chat_conf {
	long  max_line;               /* longest input line, bytes */
	long  history;                /* messages replayed on joining a room */
	long  max_queue;              /* unsent output before a client is dropped */
	char *motd;                   /* shown on connect, or NULL */
};

static const struct chat_conf chat_defaults = {
	.max_line = 512,
	.history = 0,
	.max_queue = 262144,
	.motd = NULL,
};

static const struct cfg_key chat_keys[] = {
	{ "max_line", CFG_INT, offsetof(struct chat_conf, max_line), 1, 65536,
	  NULL },
	{ "history", CFG_INT, offsetof(struct chat_conf, history), 0, 10000,
	  NULL },
	{ "max_queue", CFG_INT, offsetof(struct chat_conf, max_queue), 512,
	  1L << 30, NULL },
	{ "motd", CFG_STRING, offsetof(struct chat_conf, motd), 0, 4096, NULL },
	CFG_KEY_END
};

/* An entry of a hash table, embedded in what it indexes. */
struct chat_node {
	struct chat_node *next;                  /* same slot */
	char              key[CHAT_NAME_MAX + 1]; /* the name, lower-cased */
};

/* A hash table of names, chained, doubled when it fills. */
struct chat_map {
	struct chat_node **slots;     /* chains */
	size_t             nslots;    /* a power of two */
	size_t             n;         /* entries */
};

struct chat_user;

struct chat_room {
	struct chat_node  node;       /* in chat.rooms; must be first */
	char              name[CHAT_NAME_MAX + 1]; /* as first written */
	struct chat_user *members;    /* who is in it */
	unsigned          count;      /* entries in members */
	struct rbuf     **hist;       /* ring of recent messages */
	unsigned          hist_cap;   /* its size */
	unsigned          hist_head;  /* index of the oldest */
	unsigned          hist_n;     /* messages in it */
	struct chat_room *idle_prev;  /* empty rooms kept, oldest first */
	struct chat_room *idle_next;  /* empty rooms kept */
	bool              idle;       /* on that list */
};

struct chat_user {
	struct chat_node  node;       /* in chat.users once named; first */
	struct conn      *c;          /* its connection */
	char              nick[CHAT_NAME_MAX + 1]; /* "" until chosen */
	struct chat_room *room;       /* NULL before login and after leaving */
	struct chat_user *prev;       /* room members */
	struct chat_user *next;       /* room members */
};

/* The running service's state (svc->state). */
struct chat {
	struct svc       *svc;        /* for the current configuration */
	struct chat_map   users;      /* named users by nickname */
	struct chat_map   rooms;      /* rooms by name */
	struct chat_room *idle_head;  /* oldest kept empty room */
	struct chat_room *idle_tail;  /* newest kept empty room */
	unsigned          nidle;      /* rooms on that list */
};

static const char *const chat_help[] = {
	"* commands:",
	"*   /nick NEW          change your nickname",
	"*   /msg NAME TEXT     send TEXT to NAME only",
	"*   /me TEXT           an action: * NAME TEXT",
	"*   /who               who is in this room",
	"*   /join ROOM         go to another room (created if new)",
	"*   /rooms             list the rooms",
	"*   /quit [REASON]     leave",
	"*   //TEXT             send a message that starts with /",
	"* any other line is a message to everybody in your room",
	NULL
};

/* --- names and parsing (chat.h) ------------------------------------- */

bool
chat_valid_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > CHAT_NAME_MAX || !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!isalnum(ch) && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

static bool
chat_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Removes blanks around s in place. */
static char *
chat_trim(char *s)
{
	size_t len;

	while (chat_blank(*s))
		s++;
	len = strlen(s);
	while (len > 0 && chat_blank(s[len - 1]))
		s[--len] = '\0';
	return s;
}

char *
chat_word(char **rest)
{
	char *w = *rest, *p;

	while (chat_blank(*w))
		w++;
	p = w;
	while (*p != '\0' && !chat_blank(*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (chat_blank(*p))
		p++;
	*rest = p;
	return w;
}

enum chat_cmd
chat_parse(char *line, char **arg)
{
	static const struct { const char *word; enum chat_cmd cmd; } cmds[] = {
		{ "nick", CHAT_NICK }, { "msg", CHAT_MSG }, { "me", CHAT_ME },
		{ "who", CHAT_WHO }, { "join", CHAT_JOIN },
		{ "rooms", CHAT_ROOMS }, { "quit", CHAT_QUIT },
		{ "help", CHAT_HELP },
	};
	char *rest, *word;

	if (line[0] != '/' || line[1] == '/') {
		*arg = line[0] == '/' ? line + 1 : line;
		return CHAT_MESSAGE;
	}
	if (chat_blank(line[1])) {
		*arg = line + 1;          /* "/ x": no command word at all */
		line[1] = '\0';
		return CHAT_UNKNOWN;
	}
	rest = line + 1;
	word = chat_word(&rest);
	*arg = chat_trim(rest);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcasecmp(word, cmds[i].word) == 0)
			return cmds[i].cmd;
	*arg = word;
	return CHAT_UNKNOWN;
}

/* --- hash tables -------------------------------------------------------- */

/* The hash of a lower-cased name. */
static size_t
chat_hash(const char *key)
{
	return hash_bytes(key, strlen(key));
}

static void
chat_key(char *key, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < CHAT_NAME_MAX; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[i] = '\0';
}

static struct chat_node *
chat_map_find(const struct chat_map *m, const char *name)
{
	char key[CHAT_NAME_MAX + 1];

	if (m->nslots == 0)
		return NULL;
	chat_key(key, name);
	for (struct chat_node *n = m->slots[chat_hash(key) & (m->nslots - 1)];
	    n != NULL; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

/* Doubles the table; on failure it stays as it is (only slower). */
static void
chat_map_grow(struct chat_map *m)
{
	size_t nslots = m->nslots ? m->nslots * 2 : CHAT_SLOTS_MIN;
	struct chat_node **slots = calloc(nslots, sizeof(*slots));

	if (slots == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++)
		while (m->slots[i] != NULL) {
			struct chat_node *n = m->slots[i];
			size_t h = chat_hash(n->key) & (nslots - 1);
			m->slots[i] = n->next;
			n->next = slots[h];
			slots[h] = n;
		}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
}

/* Adds node under name; 0 or -ENOMEM. */
static int
chat_map_add(struct chat_map *m, struct chat_node *node, const char *name)
{
	size_t h;

	if (m->n >= m->nslots)
		chat_map_grow(m);
	if (m->nslots == 0)
		return -ENOMEM;
	chat_key(node->key, name);
	h = chat_hash(node->key) & (m->nslots - 1);
	node->next = m->slots[h];
	m->slots[h] = node;
	m->n++;
	return 0;
}

static void
chat_map_del(struct chat_map *m, struct chat_node *node)
{
	struct chat_node **pp = &m->slots[chat_hash(node->key) & (m->nslots - 1)];

	while (*pp != NULL && *pp != node)
		pp = &(*pp)->next;
	if (*pp != NULL) {
		*pp = node->next;
		m->n--;
	}
}

/* --- output -------------------------------------------------------------- */

/* Formats one line with CRLF into a new shared block, or NULL. */
static struct rbuf *
chat_vline(const char *fmt, va_list ap)
{
	va_list ap2;
	struct rbuf *rb;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (rb = rbuf_new(NULL, (size_t)n + 3)) == NULL)
		return NULL;
	vsnprintf(rb->data, (size_t)n + 1, fmt, ap);
	memcpy(rb->data + n, "\r\n", 2);
	rb->len = (size_t)n + 2;
	return rb;
}

static struct rbuf *chat_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static struct rbuf *
chat_line(const char *fmt, ...)
{
	struct rbuf *rb;
	va_list ap;

	va_start(ap, fmt);
	rb = chat_vline(fmt, ap);
	va_end(ap);
	return rb;
}

/* Queues rb to everybody in room but except.  conn_send_shared never
 * closes a connection (a receiver over its cap is only marked, and the
 * core drops it in its flush pass), so the member list cannot change
 * under this loop; next is still taken first, so that a future send that
 * did close could remove at most the current member safely. */
static void
chat_fanout(struct chat_room *room, const struct chat_user *except,
    struct rbuf *rb)
{
	for (struct chat_user *u = room->members, *next; u != NULL; u = next) {
		next = u->next;
		if (u != except)
			(void)conn_send_shared(u->c, rb);
	}
}

static void chat_announce(struct chat_room *room,
    const struct chat_user *except, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends one formatted line to the room but except. */
static void
chat_announce(struct chat_room *room, const struct chat_user *except,
    const char *fmt, ...)
{
	struct rbuf *rb;
	va_list ap;

	va_start(ap, fmt);
	rb = chat_vline(fmt, ap);
	va_end(ap);
	if (rb == NULL)
		return;
	chat_fanout(room, except, rb);
	rbuf_unref(rb);
}

/* --- rooms and history ------------------------------------------------- */

static const struct chat_conf *
chat_conf_now(const struct chat *ch)
{
	return SVC_CONF(ch->svc, struct chat_conf);
}

static void
chat_hist_clear(struct chat_room *room)
{
	for (unsigned i = 0; i < room->hist_n; i++)
		rbuf_unref(room->hist[(room->hist_head + i) % room->hist_cap]);
	free(room->hist);
	room->hist = NULL;
	room->hist_cap = room->hist_head = room->hist_n = 0;
}

/* Gives the ring room for want messages, keeping the newest; a reload
 * may have changed history.  On failure the old ring stays. */
static void
chat_hist_resize(struct chat_room *room, unsigned want)
{
	struct rbuf **hist = calloc(want, sizeof(*hist));
	unsigned keep = room->hist_n < want ? room->hist_n : want;
	unsigned drop = room->hist_n - keep;

	if (hist == NULL)
		return;
	for (unsigned i = 0; i < room->hist_n; i++) {
		struct rbuf *rb = room->hist[(room->hist_head + i) % room->hist_cap];
		if (i < drop)
			rbuf_unref(rb);
		else
			hist[i - drop] = rb;
	}
	free(room->hist);
	room->hist = hist;
	room->hist_cap = want;
	room->hist_head = 0;
	room->hist_n = keep;
}

/* Keeps rb among the room's recent messages. */
static void
chat_hist_add(struct chat_room *room, struct rbuf *rb, unsigned want)
{
	if (want == 0) {
		chat_hist_clear(room);
		return;
	}
	if (room->hist_cap != want)
		chat_hist_resize(room, want);
	if (room->hist_cap == 0)
		return;
	if (room->hist_n == room->hist_cap) {
		rbuf_unref(room->hist[room->hist_head]);
		room->hist[room->hist_head] = rbuf_ref(rb);
		room->hist_head = (room->hist_head + 1) % room->hist_cap;
	} else {
		room->hist[(room->hist_head + room->hist_n++) % room->hist_cap] =
		    rbuf_ref(rb);
	}
}

/* Replays the room's most recent messages (at most want), oldest first. */
static void
chat_hist_send(const struct chat_room *room, struct conn *c, unsigned want)
{
	unsigned skip = room->hist_n > want ? room->hist_n - want : 0;

	for (unsigned i = skip; i < room->hist_n; i++)
		(void)conn_send_shared(c,
		    room->hist[(room->hist_head + i) % room->hist_cap]);
}

/* Takes an empty room off the idle list, as it is in use again (or
 * going away). */
static void
chat_room_wake(struct chat *ch, struct chat_room *room)
{
	if (!room->idle)
		return;
	if (room->idle_prev != NULL)
		room->idle_prev->idle_next = room->idle_next;
	else
		ch->idle_head = room->idle_next;
	if (room->idle_next != NULL)
		room->idle_next->idle_prev = room->idle_prev;
	else
		ch->idle_tail = room->idle_prev;
	room->idle = false;
	room->idle_prev = room->idle_next = NULL;
	ch->nidle--;
}

static void
chat_room_free(struct chat *ch, struct chat_room *room)
{
	chat_room_wake(ch, room);
	chat_map_del(&ch->rooms, &room->node);
	chat_hist_clear(room);
	free(room);
}

/* An emptied room is kept for its history, else freed; past the bound
 * the oldest kept one goes. */
static void
chat_room_emptied(struct chat *ch, struct chat_room *room)
{
	if (room->hist_n == 0) {
		chat_room_free(ch, room);
		return;
	}
	room->idle = true;
	room->idle_next = NULL;
	room->idle_prev = ch->idle_tail;
	if (ch->idle_tail != NULL)
		ch->idle_tail->idle_next = room;
	else
		ch->idle_head = room;
	ch->idle_tail = room;
	if (++ch->nidle > CHAT_IDLE_ROOMS)
		chat_room_free(ch, ch->idle_head);
}

/* Finds a room by name, creating it; NULL only when out of memory. */
static struct chat_room *
chat_room_get(struct chat *ch, const char *name)
{
	struct chat_room *room = (struct chat_room *)chat_map_find(&ch->rooms,
	    name);

	if (room != NULL) {
		chat_room_wake(ch, room);
		return room;
	}
	if ((room = calloc(1, sizeof(*room))) == NULL)
		return NULL;
	snprintf(room->name, sizeof(room->name), "%s", name);
	if (chat_map_add(&ch->rooms, &room->node, name) != 0) {
		free(room);
		return NULL;
	}
	return room;
}

/* Puts u into room; the others see "joined".  The caller has taken u out
 * of any other room, and then tells u where it is and replays the
 * history (chat_hist_send), in that order. */
static void
chat_room_enter(struct chat_user *u, struct chat_room *room)
{
	chat_announce(room, NULL, "* %s joined", u->nick);
	u->room = room;
	u->prev = NULL;
	u->next = room->members;
	if (room->members != NULL)
		room->members->prev = u;
	room->members = u;
	room->count++;
}

/* Takes u out of its room; the others see "* NAME left" and the reason,
 * if any, in parentheses. */
static void
chat_room_leave(struct chat *ch, struct chat_user *u, const char *reason)
{
	struct chat_room *room = u->room;

	if (room == NULL)
		return;
	if (u->prev != NULL)
		u->prev->next = u->next;
	else
		room->members = u->next;
	if (u->next != NULL)
		u->next->prev = u->prev;
	u->room = NULL;
	u->prev = u->next = NULL;
	if (reason != NULL && reason[0] != '\0')
		chat_announce(room, NULL, "* %s left (%s)", u->nick, reason);
	else
		chat_announce(room, NULL, "* %s left", u->nick);
	if (--room->count == 0)
		chat_room_emptied(ch, room);
}

/* The user leaves the chat: out of the room, the nickname free again. */
static void
chat_depart(struct chat *ch, struct chat_user *u, const char *reason)
{
	chat_room_leave(ch, u, reason);
	if (u->nick[0] != '\0') {
		chat_map_del(&ch->users, &u->node);
		u->nick[0] = '\0';
	}
}

/* --- commands ------------------------------------------------------------- */

/* Checks a wanted nickname; sends the error and returns false if bad. */
static bool
chat_nick_ok(struct chat *ch, struct chat_user *u, const char *name)
{
	struct chat_node *other;

	if (!chat_valid_name(name)) {
		conn_reply(u->c, "! a nickname is a letter, then up to 15 letters, "
		    "digits, _ or -");
		return false;
	}
	other = chat_map_find(&ch->users, name);
	if (other != NULL && other != &u->node) {
		conn_reply(u->c, "! nickname %s is taken, try another", name);
		return false;
	}
	return true;
}

/* The nickname step: on success u is named and in the lobby. */
static void
chat_login(struct chat *ch, struct chat_user *u, const char *name)
{
	struct chat_room *lobby;

	if (!chat_nick_ok(ch, u, name))
		return;
	if ((lobby = chat_room_get(ch, CHAT_LOBBY)) == NULL ||
	    chat_map_add(&ch->users, &u->node, name) != 0) {
		if (lobby != NULL && lobby->count == 0)
			chat_room_emptied(ch, lobby);
		conn_reply(u->c, "! out of memory, try again later");
		return;
	}
	snprintf(u->nick, sizeof(u->nick), "%s", name);
	chat_room_enter(u, lobby);
	conn_reply(u->c, "* hello %s, you are in %s (%u here); /help lists "
	    "the commands", u->nick, lobby->name, lobby->count);
	chat_hist_send(lobby, u->c, (unsigned)chat_conf_now(ch)->history);
}

static void
chat_nick(struct chat *ch, struct chat_user *u, const char *name)
{
	char old[CHAT_NAME_MAX + 1];

	if (name[0] == '\0') {
		conn_reply(u->c, "! usage: /nick NAME");
		return;
	}
	if (!chat_nick_ok(ch, u, name))
		return;
	if (strcmp(name, u->nick) == 0) {
		conn_reply(u->c, "* you are already %s", name);
		return;
	}
	memcpy(old, u->nick, sizeof(old));
	chat_map_del(&ch->users, &u->node);
	snprintf(u->nick, sizeof(u->nick), "%s", name);
	/* Re-adding an entry that was just there needs no new memory. */
	(void)chat_map_add(&ch->users, &u->node, name);
	chat_announce(u->room, u, "* %s is now %s", old, u->nick);
	conn_reply(u->c, "* you are now %s", u->nick);
}

static void
chat_msg(struct chat *ch, struct chat_user *u, char *arg)
{
	char *name = chat_word(&arg);
	struct chat_user *to;

	if (name[0] == '\0' || arg[0] == '\0') {
		conn_reply(u->c, "! usage: /msg NAME TEXT");
		return;
	}
	to = (struct chat_user *)chat_map_find(&ch->users, name);
	if (to == NULL) {
		conn_reply(u->c, "! no such user: %s", name);
		return;
	}
	conn_reply(to->c, "*%s* %s", u->nick, arg);
}

static int
chat_name_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Sends "* ROOM: NAME, NAME, ..." sorted case-insensitively. */
static void
chat_who(struct chat_user *u)
{
	struct chat_room *room = u->room;
	const char **names = calloc(room->count, sizeof(*names));
	char *line = malloc((size_t)room->count * (CHAT_NAME_MAX + 2) + 32);
	size_t len = 0, n = 0;

	if (names == NULL || line == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		goto out;
	}
	for (struct chat_user *m = room->members; m != NULL; m = m->next)
		names[n++] = m->nick;
	qsort(names, n, sizeof(*names), chat_name_cmp);
	len = (size_t)sprintf(line, "* %s: ", room->name);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(line + len, "%s%s", i ? ", " : "", names[i]);
	conn_reply(u->c, "%s", line);
out:
	free(names);
	free(line);
}

static int
chat_room_cmp(const void *a, const void *b)
{
	const struct chat_room *x = *(struct chat_room *const *)a;
	const struct chat_room *y = *(struct chat_room *const *)b;

	return strcasecmp(x->name, y->name);
}

/* Sends "* rooms: ROOM (COUNT), ..." for every room with somebody in it. */
static void
chat_rooms(struct chat *ch, struct chat_user *u)
{
	struct chat_room **rooms = calloc(ch->rooms.n + 1, sizeof(*rooms));
	char *line = malloc(ch->rooms.n * (CHAT_NAME_MAX + 16) + 32);
	size_t len, n = 0;

	if (rooms == NULL || line == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		goto out;
	}
	for (size_t i = 0; i < ch->rooms.nslots; i++)
		for (struct chat_node *nd = ch->rooms.slots[i]; nd; nd = nd->next)
			if (((struct chat_room *)nd)->count > 0)
				rooms[n++] = (struct chat_room *)nd;
	qsort(rooms, n, sizeof(*rooms), chat_room_cmp);
	len = (size_t)sprintf(line, "* rooms:");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(line + len, "%s %s (%u)", i ? "," : "",
		    rooms[i]->name, rooms[i]->count);
	conn_reply(u->c, "%s", line);
out:
	free(rooms);
	free(line);
}

static void
chat_join(struct chat *ch, struct chat_user *u, const char *name)
{
	struct chat_room *room;

	if (!chat_valid_name(name)) {
		conn_reply(u->c, "! usage: /join ROOM (a letter, then up to 15 "
		    "letters, digits, _ or -)");
		return;
	}
	if (strcasecmp(name, u->room->name) == 0) {
		conn_reply(u->c, "* you are in %s (%u here)", u->room->name,
		    u->room->count);
		return;
	}
	if ((room = chat_room_get(ch, name)) == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		return;
	}
	chat_room_leave(ch, u, NULL);
	chat_room_enter(u, room);
	conn_reply(u->c, "* you are in %s (%u here)", room->name, room->count);
	chat_hist_send(room, u->c, (unsigned)chat_conf_now(ch)->history);
}

/* A message for the room: shared with every receiver and the history.
 * Never empty: chat_line_in drops empty lines, and "//" leaves "/". */
static void
chat_say(struct chat *ch, struct chat_user *u, const char *text)
{
	struct rbuf *rb;

	if ((rb = chat_line("<%s> %s", u->nick, text)) == NULL)
		return;
	chat_fanout(u->room, u, rb);
	chat_hist_add(u->room, rb, (unsigned)chat_conf_now(ch)->history);
	rbuf_unref(rb);
}

static void
chat_quit(struct chat *ch, struct chat_user *u, const char *reason)
{
	conn_reply(u->c, "* bye");
	chat_depart(ch, u, reason);
	conn_close_after_flush(u->c);
}

static void
chat_send_help(struct conn *c)
{
	for (int i = 0; chat_help[i] != NULL; i++)
		conn_reply(c, "%s", chat_help[i]);
}

/* Before a nickname is chosen only that, /help and /quit work. */
static void
chat_unnamed_line(struct chat *ch, struct chat_user *u, char *line)
{
	char *arg;

	switch (chat_parse(line, &arg)) {
	case CHAT_MESSAGE:
		chat_login(ch, u, chat_trim(line));
		break;
	case CHAT_NICK:
		chat_login(ch, u, arg);
		break;
	case CHAT_HELP:
		chat_send_help(u->c);
		conn_reply(u->c, "* first choose a nickname");
		break;
	case CHAT_QUIT:
		chat_quit(ch, u, NULL);
		break;
	default:
		conn_reply(u->c, "! choose a nickname first");
		break;
	}
}

static void
chat_named_line(struct chat *ch, struct chat_user *u, char *line)
{
	char *arg;

	switch (chat_parse(line, &arg)) {
	case CHAT_MESSAGE: chat_say(ch, u, arg); break;
	case CHAT_NICK:    chat_nick(ch, u, arg); break;
	case CHAT_MSG:     chat_msg(ch, u, arg); break;
	case CHAT_WHO:     chat_who(u); break;
	case CHAT_JOIN:    chat_join(ch, u, arg); break;
	case CHAT_ROOMS:   chat_rooms(ch, u); break;
	case CHAT_QUIT:    chat_quit(ch, u, arg); break;
	case CHAT_HELP:    chat_send_help(u->c); break;
	case CHAT_ME:
		if (arg[0] == '\0')
			conn_reply(u->c, "! usage: /me TEXT");
		else
			chat_announce(u->room, u, "* %s %s", u->nick, arg);
		break;
	case CHAT_UNKNOWN:
		conn_reply(u->c, "! unknown command /%s, /help lists them", arg);
		break;
	}
}

/* --- hooks ---------------------------------------------------------------- */

static void
chat_greet(struct conn *c, const struct chat_conf *cc)
{
	conn_reply(c, "* welcome to the multid chat");
	/* The motd may have several lines; each becomes a "* " line. */
	for (const char *p = cc->motd; p != NULL && *p != '\0';) {
		size_t n = strcspn(p, "\n");
		int len = (int)(n > 0 && p[n - 1] == '\r' ? n - 1 : n);
		conn_reply(c, "* %.*s", len, p);
		p += n + (p[n] == '\n');
	}
	conn_reply(c, "* choose a nickname: a letter, then up to 15 letters, "
	    "digits, _ or -");
}

static int
chat_open(struct conn *c)
{
	const struct chat_conf *cc = c->conf->tconf;
	struct chat_user *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return -1;
	u->c = c;
	c->data = u;
	c->hard_cap = (size_t)cc->max_queue;
	if (c->high_water > c->hard_cap / 2)
		c->high_water = c->hard_cap / 2;
	conn_set_max_line(c, (size_t)cc->max_line);
	chat_greet(c, cc);
	return 0;
}

static enum line_result
chat_line_in(struct conn *c, char *line, size_t len)
{
	struct chat *ch = c->svc->state;
	struct chat_user *u = c->data;

	if (!utf8_valid(line, len)) {
		conn_reply(c, "! invalid UTF-8, not delivered");
		return LINE_MORE;
	}
	/* Sanitising first also removes NUL bytes, so the rest can treat
	 * the line as a C string. */
	len = utf8_sanitize(line, len);
	line[len] = '\0';
	if (len == 0)
		return LINE_MORE;
	if (u->nick[0] == '\0')
		chat_unnamed_line(ch, u, line);
	else
		chat_named_line(ch, u, line);
	return LINE_MORE;
}

/* A half-close is a goodbye: the room hears it at once, and whatever is
 * queued for the client is still sent. */
static void
chat_eof(struct conn *c)
{
	chat_depart(c->svc->state, c->data, NULL);
	conn_close_after_flush(c);
}

static void
chat_timeout(struct conn *c)
{
	conn_reply(c, "* idle for too long, bye");
	chat_depart(c->svc->state, c->data, close_reason_text(CLOSE_IDLE));
	conn_close_after_flush(c);
}

static void
chat_close(struct conn *c, enum close_reason why)
{
	struct chat_user *u = c->data;
	const char *reason = NULL;

	if (u == NULL)
		return;
	/* A client that went away by itself just left; the server's own
	 * reasons are shown. */
	if (why != CLOSE_PEER && why != CLOSE_DONE)
		reason = close_reason_text(why);
	chat_depart(c->svc->state, u, reason);
	free(u);
	c->data = NULL;
}

static int
chat_start(struct svc *svc)
{
	struct chat *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return -ENOMEM;
	ch->svc = svc;
	svc->state = ch;
	return 0;
}

/* Every connection is closed by now, so only empty rooms kept for their
 * history are left. */
static void
chat_stop(struct svc *svc)
{
	struct chat *ch = svc->state;

	while (ch->idle_head != NULL)
		chat_room_free(ch, ch->idle_head);
	free(ch->users.slots);
	free(ch->rooms.slots);
	free(ch);
	svc->state = NULL;
}

const struct service_type chat_service = {
	.name = "chat",
	.protos = PROTO_TCP,
	.keys = chat_keys,
	.conf_size = sizeof(struct chat_conf),
	.conf_defaults = &chat_defaults,
	.idle_timeout = 0,
	.busy = "! busy\r\n",
	.too_long = "! line too long",
	.start = chat_start,
	.stop = chat_stop,
	.open = chat_open,
	.line = chat_line_in,
	.timeout = chat_timeout,
	.eof = chat_eof,
	.close = chat_close,
};
