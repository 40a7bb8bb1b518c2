/*
 * proto_line.c - the chat's line protocol, for telnet and nc users: a
 * greeting, a nickname, then lines that are messages or IRC-like
 * commands, answered with CRLF lines (SPEC §3 chat).
 *
 * Text from clients is checked and sanitised (utf8.c) before anyone else
 * sees it, so nobody can drive another user's terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../utf8.h"
#include "room.h"

#define CHAT_CRLF "\r\n", 2           /* the line end, for chat_render */

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

/* "* NAME left" with the reason, if any, in parentheses. */
static struct rbuf *
chat_line_left(const struct chat_event *ev)
{
	if (ev->text == NULL)
		return chat_render(CHAT_CRLF, "* ", ev->nick, " left", NULL);
	return chat_render(CHAT_CRLF, "* ", ev->nick, " left (", ev->text, ")",
	    NULL);
}

static struct rbuf *
chat_line_render(const struct chat_event *ev)
{
	switch (ev->type) {
	case CHAT_EV_MESSAGE:
		return chat_render(CHAT_CRLF, "<", ev->nick, "> ", ev->text, NULL);
	case CHAT_EV_ACTION:
		return chat_render(CHAT_CRLF, "* ", ev->nick, " ", ev->text, NULL);
	case CHAT_EV_JOIN:
		return chat_render(CHAT_CRLF, "* ", ev->nick, " joined", NULL);
	case CHAT_EV_PART:
	case CHAT_EV_QUIT:
		return chat_line_left(ev);
	case CHAT_EV_NICK:
		return chat_render(CHAT_CRLF, "* ", ev->nick, " is now ", ev->text,
		    NULL);
	case CHAT_EV_TOPIC:
		return chat_render(CHAT_CRLF, "* ", ev->nick, " set the topic of ",
		    ev->room, ": ", ev->text, NULL);
	case CHAT_EV_PRIVATE:
		return chat_render(CHAT_CRLF, "*", ev->nick, "* ", ev->text, NULL);
	}
	return NULL;
}

static void
chat_line_timeout(struct chat_user *u)
{
	conn_reply(u->c, "* idle for too long, bye");
}

const struct chat_proto chat_line_proto = {
	.name = "",
	.echo = 0,
	.render = chat_line_render,
	.timeout = chat_line_timeout,
};

/* --- commands ------------------------------------------------------------- */

/* Tells u why a wanted nickname (err from the core) was refused. */
static void
chat_line_nick_error(struct chat_user *u, const char *name, int err)
{
	if (err == -EINVAL)
		conn_reply(u->c, "! a nickname is a letter, then up to 15 letters, "
		    "digits, _ or -");
	else if (err == -EEXIST)
		conn_reply(u->c, "! nickname %s is taken, try another", name);
	else
		conn_reply(u->c, "! out of memory, try again later");
}

/* The nickname step, once the name is cleared (err 0): on success u is
 * named and in the lobby. */
static void
chat_line_named_now(struct chat *ch, struct chat_user *u, const char *name,
    int err)
{
	struct chat_room *lobby;

	if (err == 0)
		err = chat_user_name(ch, u, name);
	if (err != 0) {
		chat_line_nick_error(u, name, err);
		return;
	}
	if ((lobby = chat_room_get(ch, CHAT_LOBBY)) == NULL ||
	    chat_room_join(ch, u, lobby) != 0) {
		if (lobby != NULL)
			chat_room_drop(ch, lobby);
		chat_user_depart(ch, u, NULL);
		conn_reply(u->c, "! out of memory, try again later");
		return;
	}
	conn_reply(u->c, "* hello %s, you are in %s (%u here); /help lists "
	    "the commands", u->nick, lobby->name, lobby->count);
	chat_hist_send(ch, lobby, u);
}

/* The nickname step; with a cluster the answer may come later. */
static void
chat_line_login(struct chat *ch, struct chat_user *u, const char *name)
{
	int err = chat_user_claim(ch, u, name, chat_line_named_now);

	if (err != -EINPROGRESS)
		chat_line_named_now(ch, u, name, err);
}

/* /nick, once the name is cleared (err 0). */
static void
chat_line_renamed_now(struct chat *ch, struct chat_user *u, const char *name,
    int err)
{
	if (err == 0)
		err = chat_user_rename(ch, u, name);
	if (err != 0) {
		chat_line_nick_error(u, name, err);
		return;
	}
	conn_reply(u->c, "* you are now %s", u->nick);
}

static void
chat_line_nick(struct chat *ch, struct chat_user *u, const char *name)
{
	int err;

	if (name[0] == '\0') {
		conn_reply(u->c, "! usage: /nick NAME");
		return;
	}
	if (strcmp(name, u->nick) == 0 && name_valid(name)) {
		conn_reply(u->c, "* you are already %s", name);
		return;
	}
	if ((err = chat_user_claim(ch, u, name, chat_line_renamed_now)) !=
	    -EINPROGRESS)
		chat_line_renamed_now(ch, u, name, err);
}

static void
chat_line_msg(struct chat *ch, struct chat_user *u, char *arg)
{
	char *name = chat_word(&arg);
	struct chat_user *to;

	if (name[0] == '\0' || arg[0] == '\0') {
		conn_reply(u->c, "! usage: /msg NAME TEXT");
		return;
	}
	if ((to = chat_user_find(ch, name)) == NULL) {
		conn_reply(u->c, "! no such user: %s", name);
		return;
	}
	if (chat_private(ch, u, to, arg) != 0)
		conn_reply(u->c, "! out of memory, try again later");
}

/* Sends "* ROOM: NAME, NAME, ..." sorted case-insensitively. */
static void
chat_line_who(struct chat_user *u)
{
	struct chat_room *room = chat_user_room(u);
	const char **names = calloc(room->count, sizeof(*names));
	char *line = malloc((size_t)room->count * (CHAT_NAME_MAX + 2) + 32);
	size_t len;

	if (names == NULL || line == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		goto out;
	}
	chat_room_nicks(room, names);
	len = (size_t)sprintf(line, "* %s: ", room->name);
	for (size_t i = 0; i < room->count; i++)
		len += (size_t)sprintf(line + len, "%s%s", i ? ", " : "", names[i]);
	conn_reply(u->c, "%s", line);
out:
	free(names);
	free(line);
}

/* Sends "* rooms: ROOM (COUNT), ..." for every room with somebody in it. */
static void
chat_line_rooms(struct chat *ch, struct chat_user *u)
{
	struct chat_room **rooms = calloc(ch->rooms.count + 1, sizeof(*rooms));
	char *line = malloc(ch->rooms.count * (CHAT_NAME_MAX + 16) + 32);
	size_t len, n;

	if (rooms == NULL || line == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		goto out;
	}
	n = chat_room_list(ch, rooms);
	len = (size_t)sprintf(line, "* rooms:");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(line + len, "%s %s (%u)", i ? "," : "",
		    rooms[i]->name, rooms[i]->count);
	conn_reply(u->c, "%s", line);
out:
	free(rooms);
	free(line);
}

/* A line user is in one room: /join leaves the old one. */
static void
chat_line_join(struct chat *ch, struct chat_user *u, const char *name)
{
	struct chat_room *old = chat_user_room(u), *room;

	if (!name_valid(name)) {
		conn_reply(u->c, "! usage: /join ROOM (a letter, then up to 15 "
		    "letters, digits, _ or -)");
		return;
	}
	if (strcasecmp(name, old->name) == 0) {
		conn_reply(u->c, "* you are in %s (%u here)", old->name,
		    old->count);
		return;
	}
	if ((room = chat_room_get(ch, name)) == NULL) {
		conn_reply(u->c, "! out of memory, try again later");
		return;
	}
	chat_room_part(ch, u, old, NULL);
	if (chat_room_join(ch, u, room) != 0) {
		chat_room_drop(ch, room);
		/* Back where it was, or out of the chat: never in no room. */
		if ((old = chat_room_get(ch, CHAT_LOBBY)) == NULL ||
		    chat_room_join(ch, u, old) != 0) {
			conn_reply(u->c, "! out of memory, bye");
			chat_user_depart(ch, u, NULL);
			conn_close_after_flush(u->c);
			return;
		}
		room = old;
	}
	conn_reply(u->c, "* you are in %s (%u here)", room->name, room->count);
	chat_hist_send(ch, room, u);
}

static void
chat_line_quit(struct chat *ch, struct chat_user *u, const char *reason)
{
	conn_reply(u->c, "* bye");
	chat_user_depart(ch, u, reason);
	conn_close_after_flush(u->c);
}

static void
chat_line_help(struct conn *c)
{
	for (int i = 0; chat_help[i] != NULL; i++)
		conn_reply(c, "%s", chat_help[i]);
}

/* Before a nickname is chosen only that, /help and /quit work. */
static void
chat_line_unnamed(struct chat *ch, struct chat_user *u, char *line)
{
	char *arg;

	switch (chat_parse(line, &arg)) {
	case CHAT_MESSAGE:
		chat_line_login(ch, u, chat_trim(line));
		break;
	case CHAT_NICK:
		chat_line_login(ch, u, arg);
		break;
	case CHAT_HELP:
		chat_line_help(u->c);
		conn_reply(u->c, "* first choose a nickname");
		break;
	case CHAT_QUIT:
		chat_line_quit(ch, u, NULL);
		break;
	default:
		conn_reply(u->c, "! choose a nickname first");
		break;
	}
}

static void
chat_line_named(struct chat *ch, struct chat_user *u, char *line)
{
	char *arg;

	switch (chat_parse(line, &arg)) {
	case CHAT_MESSAGE:
		chat_say(ch, u, chat_user_room(u), CHAT_EV_MESSAGE, arg);
		break;
	case CHAT_NICK:    chat_line_nick(ch, u, arg); break;
	case CHAT_MSG:     chat_line_msg(ch, u, arg); break;
	case CHAT_WHO:     chat_line_who(u); break;
	case CHAT_JOIN:    chat_line_join(ch, u, arg); break;
	case CHAT_ROOMS:   chat_line_rooms(ch, u); break;
	case CHAT_QUIT:    chat_line_quit(ch, u, arg); break;
	case CHAT_HELP:    chat_line_help(u->c); break;
	case CHAT_ME:
		if (arg[0] == '\0')
			conn_reply(u->c, "! usage: /me TEXT");
		else
			chat_say(ch, u, chat_user_room(u), CHAT_EV_ACTION, arg);
		break;
	case CHAT_UNKNOWN:
		conn_reply(u->c, "! unknown command /%s, /help lists them", arg);
		break;
	}
}

/* --- hooks ---------------------------------------------------------------- */

static void
chat_line_greet(struct conn *c, const struct chat_conf *cc)
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

int
chat_line_open(struct conn *c)
{
	if (chat_user_new(c, CHAT_PROTO_LINE) == NULL)
		return -1;
	chat_line_greet(c, c->conf->tconf);
	return 0;
}

enum line_result
chat_line_message(struct conn *c, char *line, size_t len)
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
		chat_line_unnamed(ch, u, line);
	else
		chat_line_named(ch, u, line);
	return LINE_MORE;
}

/* A half-close is a goodbye: the room hears it at once, and whatever is
 * queued for the client is still sent. */
void
chat_line_eof(struct conn *c)
{
	chat_user_depart(c->svc->state, c->data, NULL);
	conn_close_after_flush(c);
}
