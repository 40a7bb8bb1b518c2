/*
 * cluster_mirror.c - the users of the other instances of a chat cluster
 * (cluster.h), kept from what those instances publish: a "remote user" is
 * a chat_user without a connection, named and in rooms through the
 * ordinary core (room.c), so that every listing shows it, its doings reach
 * the local members as anybody's would, and the fan-out skips it.
 *
 * The mirror is made whole at each (re)connection of an instance: it
 * publishes SYNC; every instance then states its users (USER with their
 * rooms, the topics of its rooms) and END, and the remote users an
 * instance no longer states are gone.  An instance silent for
 * CLUSTER_GONE_MS (there is a heartbeat every tick) is gone with its
 * users.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ev.h"
#include "../../server.h"
#include "cluster_impl.h"

/* --- remote users ---------------------------------------------------------- */

static bool
cluster_member(const struct chat_user *u, const struct chat_room *room)
{
	for (const struct chat_link *l = u->rooms; l != NULL; l = l->user_next)
		if (l->room == room)
			return true;
	return false;
}

/* The remote user called nick, or NULL. */
static struct chat_user *
cluster_ghost_find(struct cluster *cl, const char *nick)
{
	struct chat_user *u = chat_user_find(cl->ch, nick);

	return u != NULL && u->c == NULL ? u : NULL;
}

/* The remote user called nick on instance from, made if new; NULL when a
 * local user has that name (both got it while Redis was away: the
 * renewal sorts it out) or without memory. */
static struct chat_user *
cluster_ghost(struct cluster *cl, uint64_t from, const char *nick)
{
	struct chat_user *u = chat_user_find(cl->ch, nick);

	if (u != NULL) {
		if (u->c != NULL)
			return NULL;
		u->remote = from;
		return u;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->proto = CHAT_PROTO_LINE;
	u->remote = from;
	if (chat_user_name(cl->ch, u, nick) != 0) {
		free(u);
		return NULL;
	}
	return u;
}

/* A remote user goes: its rooms see it leave (reason, when loud), or
 * not at all. */
static void
cluster_ghost_free(struct cluster *cl, struct chat_user *u, bool loud,
    const char *reason)
{
	if (loud)
		chat_user_depart(cl->ch, u, reason);
	else
		chat_user_drop(cl->ch, u);
	free(u);
}

/* Every remote user of instance from (0: of every instance). */
void
cluster_ghosts_free(struct cluster *cl, uint64_t from, bool only_stale,
    bool loud, const char *reason)
{
	size_t n;
	struct chat_user **v = cluster_users(cl, true, &n);

	for (size_t i = 0; i < n; i++)
		if ((from == 0 || v[i]->remote == from) &&
		    (!only_stale || v[i]->stale))
			cluster_ghost_free(cl, v[i], loud, reason);
	free(v);
}

static void
cluster_peer_touch(struct cluster *cl, uint64_t id)
{
	struct cluster_peer *p;

	for (p = cl->peers; p != NULL && p->id != id; p = p->next)
		;
	if (p == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return;
		p->id = id;
		p->next = cl->peers;
		cl->peers = p;
	}
	p->seen = ev_now(server.loop);
}

void
cluster_peers_free(struct cluster *cl)
{
	while (cl->peers != NULL) {
		struct cluster_peer *p = cl->peers;

		cl->peers = p->next;
		free(p);
	}
}

/* Instances silent too long are gone, and their users with them. */
void
cluster_peers_check(struct cluster *cl)
{
	int64_t now = ev_now(server.loop);

	for (struct cluster_peer **pp = &cl->peers; *pp != NULL;) {
		struct cluster_peer *p = *pp;

		if (now - p->seen <= CLUSTER_GONE_MS) {
			pp = &p->next;
			continue;
		}
		svc_log(cl->ch->svc, LOG_LVL_NOTICE, "cluster: instance %016"
		    PRIx64 " is gone", p->id);
		*pp = p->next;
		cluster_ghosts_free(cl, p->id, false, true, "server gone");
		free(p);
	}
}

/* --- what the others say ---------------------------------------------------- */

/* USER: the remote user is in exactly the rooms listed. */
static void
cluster_recv_user(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat *ch = cl->ch;
	struct chat_user *g = cluster_ghost(cl, m->from, m->nick);
	char list[CLUSTER_TEXT_MAX + 1], *save = NULL;
	struct chat_link *l, *next;

	if (g == NULL)
		return;
	g->stale = false;
	snprintf(list, sizeof(list), "%s", m->text != NULL ? m->text : "");
	for (char *name = strtok_r(list, " ", &save); name != NULL;
	    name = strtok_r(NULL, " ", &save)) {
		struct chat_room *room = chat_room_get(ch, name);

		if (room != NULL && !cluster_member(g, room) &&
		    chat_room_join(ch, g, room) != 0)
			chat_room_drop(ch, room);
	}
	for (l = g->rooms; l != NULL; l = next) {
		const char *t = m->text != NULL ? m->text : "";
		size_t n = strlen(l->room->name);
		bool listed = false;

		next = l->user_next;
		for (const char *p = t; (p = strcasestr(p, l->room->name)) != NULL;
		    p += n)
			if ((p == t || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
				listed = true;
		if (!listed)
			chat_room_part(ch, g, l->room, NULL);
	}
}

static void
cluster_recv_nick(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat_user *g = cluster_ghost_find(cl, m->nick);
	struct chat_user *other = chat_user_find(cl->ch, m->text);

	if (g == NULL) {
		(void)cluster_ghost(cl, m->from, m->text);
		return;
	}
	g->remote = m->from;
	if (other != NULL && other != g)
		cluster_ghost_free(cl, g, false, NULL);
	else
		(void)chat_user_rename(cl->ch, g, m->text);
}

static void
cluster_recv_topic(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat_room *room = chat_room_find(cl->ch, m->room);
	struct chat_user *g;
	char *t;

	if (room == NULL || room->count == 0)
		return;
	if (m->silent) {
		if ((t = strdup(m->text)) != NULL) {
			free(room->topic);
			room->topic = t;
		}
		return;
	}
	if ((g = cluster_ghost(cl, m->from, m->nick)) != NULL)
		(void)chat_room_topic(cl->ch, g, room, m->text);
}

static void
cluster_recv_say(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat_room *room = chat_room_find(cl->ch, m->room);
	struct chat_event ev = { .type = m->type == CLUSTER_ACTION ?
	    CHAT_EV_ACTION : CHAT_EV_MESSAGE, .nick = m->nick, .text = m->text,
	    .styled = m->styled, .notice = m->notice, .ch = cl->ch };

	if (room == NULL)
		return;
	ev.room = room->name;
	ev.user = cluster_ghost(cl, m->from, m->nick);
	chat_say_event(cl->ch, room, &ev);
}

static void
cluster_recv_private(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat_user *to = chat_user_find(cl->ch, m->to);
	struct chat_event ev = { .type = CHAT_EV_PRIVATE, .nick = m->nick,
	    .text = m->text, .styled = m->styled, .notice = m->notice,
	    .ch = cl->ch, .to = to };

	if (to == NULL || to->c == NULL)
		return;
	ev.user = cluster_ghost(cl, m->from, m->nick);
	(void)chat_private_event(cl->ch, &ev);
}

static void
cluster_recv_room(struct cluster *cl, const struct cluster_msg *m)
{
	struct chat *ch = cl->ch;
	struct chat_user *g;
	struct chat_room *room;

	if (m->type == CLUSTER_JOIN) {
		if ((g = cluster_ghost(cl, m->from, m->nick)) == NULL ||
		    (room = chat_room_get(ch, m->room)) == NULL)
			return;
		if (!cluster_member(g, room) && chat_room_join(ch, g, room) != 0)
			chat_room_drop(ch, room);
		else if (room->count == 0)
			chat_room_drop(ch, room);
		return;
	}
	if ((g = cluster_ghost_find(cl, m->nick)) != NULL &&
	    (room = chat_room_find(ch, m->room)) != NULL &&
	    cluster_member(g, room))
		chat_room_part(ch, g, room, m->text);
}

void
cluster_receive(struct cluster *cl, const char *data, size_t len)
{
	char *store = malloc(len + 8);
	struct cluster_msg m;
	struct chat_user *g;

	if (store == NULL)
		return;
	if (cluster_msg_decode(data, len, &m, store) != 0) {
		cluster_count_error(cl);
		free(store);
		return;
	}
	if (m.from == cl->id) {
		free(store);
		return;
	}
	cluster_peer_touch(cl, m.from);
	switch (m.type) {
	case CLUSTER_MESSAGE:
	case CLUSTER_ACTION:  cluster_recv_say(cl, &m); break;
	case CLUSTER_JOIN:
	case CLUSTER_PART:    cluster_recv_room(cl, &m); break;
	case CLUSTER_QUIT:
		if ((g = cluster_ghost_find(cl, m.nick)) != NULL)
			cluster_ghost_free(cl, g, true, m.text);
		break;
	case CLUSTER_NICK:    cluster_recv_nick(cl, &m); break;
	case CLUSTER_TOPIC:   cluster_recv_topic(cl, &m); break;
	case CLUSTER_PRIVATE: cluster_recv_private(cl, &m); break;
	case CLUSTER_USER:    cluster_recv_user(cl, &m); break;
	case CLUSTER_SYNC: {
		size_t n;
		struct chat_user **v = cluster_users(cl, true, &n);

		for (size_t i = 0; i < n; i++)
			if (v[i]->remote == m.from)
				v[i]->stale = true;
		free(v);
		cluster_announce(cl);
		break;
	}
	case CLUSTER_END:
		cluster_ghosts_free(cl, m.from, true, true, NULL);
		break;
	case CLUSTER_ALIVE:
		break;
	}
	free(store);
}

/* --- what this instance says ------------------------------------------------- */

void
cluster_announce(struct cluster *cl)
{
	size_t n;
	struct chat_user **v = cluster_users(cl, false, &n);
	struct cluster_msg m = { .type = CLUSTER_USER };

	for (size_t i = 0; i < n; i++) {
		char list[CHAT_NAME_MAX * 24 + 24 + 1];
		size_t len = 0;

		for (struct chat_link *l = v[i]->rooms; l != NULL &&
		    len + CHAT_NAME_MAX + 2 < sizeof(list); l = l->user_next)
			len += (size_t)sprintf(list + len, "%s%s", len ? " " : "",
			    l->room->name);
		list[len] = '\0';
		m.nick = v[i]->nick;
		m.text = len > 0 ? list : NULL;
		cluster_publish(cl, &m);
		for (struct chat_link *l = v[i]->rooms; l != NULL; l = l->user_next)
			if (l->room->topic != NULL && l->room->topic[0] != '\0') {
				struct cluster_msg t = { .type = CLUSTER_TOPIC,
				    .silent = true, .nick = v[i]->nick,
				    .room = l->room->name, .text = l->room->topic };

				cluster_publish(cl, &t);
			}
	}
	free(v);
	m = (struct cluster_msg){ .type = CLUSTER_END };
	cluster_publish(cl, &m);
}
