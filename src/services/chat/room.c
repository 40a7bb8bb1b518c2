/*
 * room.c - the chat's rooms, users and events, whatever protocol the users
 * speak.
 *
 * A user is in a room through a link (user, room), so that one user may
 * be in several rooms; a room lists its members per protocol.  What users
 * do becomes an event, and an event is rendered by each protocol at most
 * once: the block is shared, reference-counted, by every receiver of that
 * protocol, so a room of thousands costs one copy per protocol.  Each
 * receiver's queue is FIFO, so messages from one sender arrive in the
 * order sent.  A receiver that does not read is dropped by the core when
 * its queue passes max_queue, and the others never wait for it.
 *
 * History keeps events (who said what), not bytes; the renders made by
 * the fan-out stay with it, so replaying a room to a newcomer of a
 * protocol that was there costs no new copy.
 *
 * Nicknames and rooms live in two of the core's hash tables (hash.h),
 * keyed by the lower-cased name (the name rule is ASCII, so case folding
 * is too).  A room with
 * history outlives its last member for a while, so the next one to come
 * still sees what was said; the number of such empty rooms is bounded.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../hash.h"
#include "room.h"

#define CHAT_IDLE_ROOMS  64           /* empty rooms kept for their history */

const struct chat_proto *const chat_protos[CHAT_PROTOS] = {
	[CHAT_PROTO_LINE] = &chat_line_proto,
	[CHAT_PROTO_COURSE] = &chat_course_proto,
	[CHAT_PROTO_IRC] = &chat_irc_proto,
};

/* The renders of one event, made as receivers of each protocol are met. */
struct chat_renders {
	struct rbuf *rb[CHAT_PROTOS];   /* per protocol, or NULL */
	bool         done[CHAT_PROTOS]; /* render tried */
};

const struct chat_conf *
chat_conf_now(const struct chat *ch)
{
	return SVC_CONF(ch->svc, struct chat_conf);
}

/* --- the tables of names ------------------------------------------------- */

/* The lower-cased name and its hash. */
static uint32_t
chat_key(char *key, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i < CHAT_NAME_MAX; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[i] = '\0';
	return hash_bytes(key, i);
}

static bool
chat_match(const struct hash_node *n, const void *key)
{
	return strcmp(HASH_ENTRY(n, struct chat_node, hnode)->key, key) == 0;
}

static struct chat_node *
chat_map_find(const struct hash_table *t, const char *name)
{
	char key[CHAT_NAME_MAX + 1];
	uint32_t h = chat_key(key, name);
	struct hash_node *n = hash_find(t, h, key, chat_match);

	return n != NULL ? HASH_ENTRY(n, struct chat_node, hnode) : NULL;
}

/* Adds node under name; 0 or -ENOMEM. */
static int
chat_map_add(struct hash_table *t, struct chat_node *node, const char *name)
{
	return hash_add(t, &node->hnode, chat_key(node->key, name));
}

/* --- rendering and fan-out ---------------------------------------------- */

struct rbuf *
chat_render(const char *end, size_t endlen, ...)
{
	struct rbuf *rb;
	const char *s;
	size_t len = endlen;
	char *p;
	va_list ap;

	va_start(ap, endlen);
	while ((s = va_arg(ap, const char *)) != NULL)
		len += strlen(s);
	va_end(ap);
	if ((rb = rbuf_new(NULL, len)) == NULL)
		return NULL;
	p = rb->data;
	va_start(ap, endlen);
	while ((s = va_arg(ap, const char *)) != NULL) {
		size_t n = strlen(s);

		memcpy(p, s, n);
		p += n;
	}
	va_end(ap);
	memcpy(p, end, endlen);
	return rb;
}

/* ev as protocol p renders it, made on first use. */
static struct rbuf *
chat_render_for(struct chat *ch, const struct chat_event *ev,
    struct chat_renders *r, unsigned p)
{
	if (!r->done[p]) {
		r->done[p] = true;
		r->rb[p] = chat_protos[p]->render(ev);
		if (r->rb[p] != NULL)
			ch->svc->stats.custom[CHAT_COUNTER_RENDERS]++;
	}
	return r->rb[p];
}

static void
chat_renders_free(struct chat_renders *r)
{
	for (unsigned p = 0; p < CHAT_PROTOS; p++)
		if (r->rb[p] != NULL)
			rbuf_unref(r->rb[p]);
}

/* Whether the one who did ev gets it too, when it speaks protocol p. */
static bool
chat_echo(unsigned p, const struct chat_event *ev)
{
	return (chat_protos[p]->echo & (1u << ev->type)) != 0;
}

/* Queues ev to every member of room but actor (unless its protocol
 * echoes ev).  conn_send_shared never closes a connection (a receiver
 * over its cap is only marked, and the core drops it in its flush pass),
 * so the member lists cannot change under this loop; next is still taken
 * first, so that a future send that did close could remove at most the
 * current member safely. */
static void
chat_fanout_room(struct chat *ch, struct chat_room *room,
    const struct chat_user *actor, const struct chat_event *ev,
    struct chat_renders *r)
{
	for (unsigned p = 0; p < CHAT_PROTOS; p++) {
		const struct chat_user *except = chat_echo(p, ev) ? NULL : actor;
		struct rbuf *rb;

		if (room->members[p] == NULL ||
		    (rb = chat_render_for(ch, ev, r, p)) == NULL)
			continue;
		for (struct chat_link *l = room->members[p], *next; l != NULL;
		    l = next) {
			next = l->next;
			if (l->user != except && l->user->c != NULL)
				(void)conn_send_shared(l->user->c, rb);
		}
	}
}

/* Queues ev once to everybody who shares a room with u (and to u when its
 * protocol echoes ev): a user met in several rooms gets it once. */
static void
chat_fanout_user(struct chat *ch, struct chat_user *u,
    const struct chat_event *ev)
{
	struct chat_renders r = { 0 };

	if (++ch->round == 0)
		ch->round = 1;
	ch->svc->stats.custom[CHAT_COUNTER_EVENTS]++;
	u->mark = chat_echo(u->proto, ev) ? 0 : ch->round;
	for (struct chat_link *l = u->rooms; l != NULL; l = l->user_next)
		for (unsigned p = 0; p < CHAT_PROTOS; p++)
			for (struct chat_link *m = l->room->members[p]; m != NULL;
			    m = m->next) {
				struct rbuf *rb;

				if (m->user->mark == ch->round ||
				    (rb = chat_render_for(ch, ev, &r, p)) == NULL)
					continue;
				m->user->mark = ch->round;
				if (m->user->c != NULL)
					(void)conn_send_shared(m->user->c, rb);
			}
	chat_renders_free(&r);
}

/* One event for one room. */
static void
chat_announce(struct chat *ch, struct chat_room *room,
    const struct chat_user *actor, const struct chat_event *ev)
{
	struct chat_renders r = { 0 };

	ch->svc->stats.custom[CHAT_COUNTER_EVENTS]++;
	chat_fanout_room(ch, room, actor, ev, &r);
	chat_renders_free(&r);
	cluster_event(ch, ev);
}

/* --- history ------------------------------------------------------------- */

static void
chat_hist_free(struct chat_hist *h)
{
	for (unsigned p = 0; p < CHAT_PROTOS; p++)
		if (h->render[p] != NULL)
			rbuf_unref(h->render[p]);
	free(h);
}

static void
chat_hist_clear(struct chat_room *room)
{
	for (unsigned i = 0; i < room->hist_n; i++)
		chat_hist_free(room->hist[(room->hist_head + i) % room->hist_cap]);
	free(room->hist);
	room->hist = NULL;
	room->hist_cap = room->hist_head = room->hist_n = 0;
}

/* Gives the ring room for want messages, keeping the newest; a reload
 * may have changed history.  On failure the old ring stays. */
static void
chat_hist_resize(struct chat_room *room, unsigned want)
{
	struct chat_hist **hist = calloc(want, sizeof(*hist));
	unsigned keep = room->hist_n < want ? room->hist_n : want;
	unsigned drop = room->hist_n - keep;

	if (hist == NULL)
		return;
	for (unsigned i = 0; i < room->hist_n; i++) {
		struct chat_hist *h = room->hist[(room->hist_head + i) %
		    room->hist_cap];
		if (i < drop)
			chat_hist_free(h);
		else
			hist[i - drop] = h;
	}
	free(room->hist);
	room->hist = hist;
	room->hist_cap = want;
	room->hist_head = 0;
	room->hist_n = keep;
}

/* Keeps a message among the room's recent ones, with the renders the
 * fan-out made of it. */
static void
chat_hist_add(struct chat_room *room, const struct chat_event *ev,
    const struct chat_renders *r, unsigned want)
{
	size_t len = strlen(ev->text);
	struct chat_hist *h;

	if (want == 0) {
		chat_hist_clear(room);
		return;
	}
	if (room->hist_cap != want)
		chat_hist_resize(room, want);
	if (room->hist_cap == 0 || (h = calloc(1, sizeof(*h) + len + 1)) == NULL)
		return;
	snprintf(h->nick, sizeof(h->nick), "%s", ev->nick);
	memcpy(h->text, ev->text, len + 1);
	for (unsigned p = 0; p < CHAT_PROTOS; p++) {
		h->rendered[p] = r->done[p];
		h->render[p] = r->rb[p] != NULL ? rbuf_ref(r->rb[p]) : NULL;
	}
	if (room->hist_n == room->hist_cap) {
		chat_hist_free(room->hist[room->hist_head]);
		room->hist[room->hist_head] = h;
		room->hist_head = (room->hist_head + 1) % room->hist_cap;
	} else {
		room->hist[(room->hist_head + room->hist_n++) % room->hist_cap] = h;
	}
}

void
chat_hist_keep(struct chat *ch, struct chat_room *room, const char *nick,
    const char *text)
{
	struct chat_event ev = { .type = CHAT_EV_MESSAGE, .nick = nick,
	    .room = room->name, .text = text, .ch = ch };
	struct chat_renders r = { 0 };

	chat_hist_add(room, &ev, &r, (unsigned)chat_conf_now(ch)->history);
}

void
chat_hist_send(struct chat *ch, const struct chat_room *room,
    struct chat_user *u)
{
	unsigned want = (unsigned)chat_conf_now(ch)->history;
	unsigned skip = room->hist_n > want ? room->hist_n - want : 0;
	unsigned p = u->proto;

	for (unsigned i = skip; i < room->hist_n; i++) {
		struct chat_hist *h = room->hist[(room->hist_head + i) %
		    room->hist_cap];

		if (!h->rendered[p]) {
			struct chat_event ev = { .type = CHAT_EV_MESSAGE,
			    .nick = h->nick, .room = room->name, .text = h->text,
			    .ch = ch };

			h->rendered[p] = true;
			h->render[p] = chat_protos[p]->render(&ev);
		}
		if (h->render[p] != NULL)
			(void)conn_send_shared(u->c, h->render[p]);
	}
}

/* --- rooms ---------------------------------------------------------------- */

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
	hash_del(&ch->rooms, &room->node.hnode);
	chat_hist_clear(room);
	free(room->topic);
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

struct chat_room *
chat_room_find(struct chat *ch, const char *name)
{
	struct chat_node *n = chat_map_find(&ch->rooms, name);

	return n != NULL ? HASH_ENTRY(n, struct chat_room, node) : NULL;
}

struct chat_room *
chat_room_get(struct chat *ch, const char *name)
{
	struct chat_room *room = chat_room_find(ch, name);

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
	cluster_room_new(ch, room);
	return room;
}

void
chat_rooms_free(struct chat *ch)
{
	while (ch->idle_head != NULL)
		chat_room_free(ch, ch->idle_head);
}

void
chat_room_drop(struct chat *ch, struct chat_room *room)
{
	if (room->count == 0 && !room->idle)
		chat_room_emptied(ch, room);
}

int
chat_room_join(struct chat *ch, struct chat_user *u, struct chat_room *room)
{
	struct chat_link *l = calloc(1, sizeof(*l));
	struct chat_event ev = { .type = CHAT_EV_JOIN, .nick = u->nick,
	    .room = room->name, .ch = ch, .user = u };

	if (l == NULL)
		return -ENOMEM;
	l->user = u;
	l->room = room;
	l->next = room->members[u->proto];
	if (l->next != NULL)
		l->next->prev = l;
	room->members[u->proto] = l;
	room->count++;
	l->user_next = u->rooms;
	u->rooms = l;
	u->nrooms++;
	chat_announce(ch, room, u, &ev);
	return 0;
}

/* Takes link l out of its room's and its user's lists and frees it. */
static void
chat_link_free(struct chat *ch, struct chat_link *l)
{
	struct chat_room *room = l->room;
	struct chat_user *u = l->user;
	struct chat_link **pp = &u->rooms;

	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		room->members[u->proto] = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	while (*pp != l)
		pp = &(*pp)->user_next;
	*pp = l->user_next;
	u->nrooms--;
	free(l);
	if (--room->count == 0)
		chat_room_emptied(ch, room);
}

void
chat_room_part(struct chat *ch, struct chat_user *u, struct chat_room *room,
    const char *reason)
{
	struct chat_event ev = { .type = CHAT_EV_PART, .nick = u->nick,
	    .room = room->name, .text = reason, .ch = ch, .user = u };
	struct chat_link *l = u->rooms;

	while (l != NULL && l->room != room)
		l = l->user_next;
	if (l == NULL)
		return;
	chat_announce(ch, room, u, &ev);
	chat_link_free(ch, l);
}

static int
chat_nick_cmp(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

void
chat_room_nicks(const struct chat_room *room, const char **names)
{
	size_t n = 0;

	for (unsigned p = 0; p < CHAT_PROTOS; p++)
		for (const struct chat_link *l = room->members[p]; l != NULL;
		    l = l->next)
			names[n++] = l->user->nick;
	qsort(names, n, sizeof(*names), chat_nick_cmp);
}

static int
chat_room_cmp(const void *a, const void *b)
{
	const struct chat_room *x = *(struct chat_room *const *)a;
	const struct chat_room *y = *(struct chat_room *const *)b;

	return strcasecmp(x->name, y->name);
}

size_t
chat_room_list(const struct chat *ch, struct chat_room **rooms)
{
	size_t n = 0;

	for (struct hash_node *nd = hash_first(&ch->rooms); nd != NULL;
	    nd = hash_next(&ch->rooms, nd)) {
		struct chat_room *room = HASH_ENTRY(nd, struct chat_room, node.hnode);

		if (room->count > 0)
			rooms[n++] = room;
	}
	qsort(rooms, n, sizeof(*rooms), chat_room_cmp);
	return n;
}

int
chat_room_topic(struct chat *ch, struct chat_user *u, struct chat_room *room,
    const char *topic)
{
	struct chat_event ev = { .type = CHAT_EV_TOPIC, .nick = u->nick,
	    .room = room->name, .ch = ch, .user = u };
	char *t = strdup(topic);

	if (t == NULL)
		return -ENOMEM;
	free(room->topic);
	room->topic = t;
	ev.text = room->topic;
	chat_announce(ch, room, u, &ev);
	return 0;
}

/* --- events -------------------------------------------------------------- */

void
chat_say(struct chat *ch, struct chat_user *u, struct chat_room *room,
    enum chat_ev_type type, const char *text)
{
	struct chat_event ev = { .type = type, .nick = u->nick,
	    .room = room->name, .text = text, .ch = ch, .user = u };

	chat_say_event(ch, room, &ev);
}

void
chat_say_event(struct chat *ch, struct chat_room *room,
    const struct chat_event *ev)
{
	struct chat_renders r = { 0 };

	ch->svc->stats.custom[CHAT_COUNTER_EVENTS]++;
	chat_fanout_room(ch, room, ev->user, ev, &r);
	if (ev->type == CHAT_EV_MESSAGE)
		chat_hist_add(room, ev, &r,
		    (unsigned)chat_conf_now(ch)->history);
	chat_renders_free(&r);
	cluster_event(ch, ev);
}

int
chat_private(struct chat *ch, struct chat_user *u, struct chat_user *to,
    const char *text)
{
	struct chat_event ev = { .type = CHAT_EV_PRIVATE, .nick = u->nick,
	    .text = text, .ch = ch, .user = u, .to = to };

	return chat_private_event(ch, &ev);
}

int
chat_private_event(struct chat *ch, const struct chat_event *ev)
{
	struct rbuf *rb;

	if (ev->to->c == NULL) {
		/* A user of another instance: that one delivers it. */
		cluster_event(ch, ev);
		return 0;
	}
	if ((rb = chat_protos[ev->to->proto]->render(ev)) == NULL)
		return -ENOMEM;
	(void)conn_send_shared(ev->to->c, rb);
	rbuf_unref(rb);
	return 0;
}

/* --- users ---------------------------------------------------------------- */

struct chat_user *
chat_user_new(struct conn *c, enum chat_proto_id proto)
{
	const struct chat_conf *cc = c->conf->tconf;
	struct chat_user *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->c = c;
	u->proto = proto;
	c->data = u;
	c->hard_cap = (size_t)cc->max_queue;
	if (c->high_water > c->hard_cap / 2)
		c->high_water = c->hard_cap / 2;
	conn_set_max_line(c, (size_t)cc->max_line);
	return u;
}

struct chat_user *
chat_user_find(struct chat *ch, const char *name)
{
	struct chat_node *n = chat_map_find(&ch->users, name);

	return n != NULL ? HASH_ENTRY(n, struct chat_user, node) : NULL;
}

/* 0 when u may take name, else -EINVAL or -EEXIST. */
static int
chat_user_may(struct chat *ch, struct chat_user *u, const char *name)
{
	struct chat_node *other;

	if (!name_valid(name))
		return -EINVAL;
	other = chat_map_find(&ch->users, name);
	return other != NULL && other != &u->node ? -EEXIST : 0;
}

int
chat_user_claim(struct chat *ch, struct chat_user *u, const char *name,
    chat_claim_proc *done)
{
	int err = chat_user_may(ch, u, name);

	return err != 0 ? err : cluster_claim(ch, u, name, done);
}

int
chat_user_name(struct chat *ch, struct chat_user *u, const char *name)
{
	int err = chat_user_may(ch, u, name);

	if (err != 0)
		return err;
	if (chat_map_add(&ch->users, &u->node, name) != 0)
		return -ENOMEM;
	snprintf(u->nick, sizeof(u->nick), "%s", name);
	cluster_named(ch, u);
	return 0;
}

int
chat_user_rename(struct chat *ch, struct chat_user *u, const char *name)
{
	char old[CHAT_NAME_MAX + 1];
	struct chat_event ev = { .type = CHAT_EV_NICK, .nick = old,
	    .text = u->nick, .ch = ch, .user = u };
	int err = chat_user_may(ch, u, name);

	if (err != 0)
		return err;
	memcpy(old, u->nick, sizeof(old));
	hash_del(&ch->users, &u->node.hnode);
	snprintf(u->nick, sizeof(u->nick), "%s", name);
	/* Re-adding an entry that was just there needs no new memory. */
	(void)chat_map_add(&ch->users, &u->node, name);
	chat_fanout_user(ch, u, &ev);
	cluster_event(ch, &ev);
	return 0;
}

void
chat_user_depart(struct chat *ch, struct chat_user *u, const char *reason)
{
	struct chat_event ev = { .type = CHAT_EV_QUIT, .nick = u->nick,
	    .text = reason != NULL && reason[0] != '\0' ? reason : NULL,
	    .ch = ch, .user = u };

	if (u->rooms != NULL)
		chat_fanout_user(ch, u, &ev);
	if (u->nick[0] != '\0')
		cluster_event(ch, &ev);
	chat_user_drop(ch, u);
}

void
chat_user_drop(struct chat *ch, struct chat_user *u)
{
	while (u->rooms != NULL)
		chat_link_free(ch, u->rooms);
	if (u->nick[0] != '\0') {
		hash_del(&ch->users, &u->node.hnode);
		u->nick[0] = '\0';
	}
}

void
chat_user_close(struct conn *c, enum close_reason why)
{
	struct chat_user *u = c->data;
	const char *reason = NULL;

	if (u == NULL)
		return;
	/* A client that went away by itself just left; the server's own
	 * reasons are shown. */
	if (why != CLOSE_PEER && why != CLOSE_DONE)
		reason = close_reason_text(why);
	cluster_forget(c->svc->state, u);
	chat_user_depart(c->svc->state, u, reason);
	free(u->proto_data);
	free(u);
	c->data = NULL;
}
