/*
 * proto_course.c - the chat protocol of the course's chat mini-project
 * (SPEC §3 "The course protocols"): NUL-terminated frames, `/login NAME`,
 * `/logout`, `/users`, and every other frame a message, delivered to
 * course clients as `NAME:TEXT\0`.  Course users meet line (and IRC)
 * users in the same rooms; events the protocol has no frame for (joins,
 * leaves, nick changes, actions) are not sent to them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../utf8.h"
#include "room.h"

#define CHAT_NUL "", 1                /* the frame end, for chat_render */

static struct rbuf *
chat_course_render(const struct chat_event *ev)
{
	switch (ev->type) {
	case CHAT_EV_MESSAGE:
	case CHAT_EV_PRIVATE:
		return chat_render(CHAT_NUL, ev->nick, ":", ev->text, NULL);
	default:
		return NULL;
	}
}

const struct chat_proto chat_course_proto = {
	.name = "course",
	.echo = 1u << CHAT_EV_MESSAGE,    /* the sender sees its own message */
	.render = chat_course_render,
	.timeout = NULL,
};

/* Sends one frame: text and its NUL. */
static void
chat_course_send(struct conn *c, const char *text)
{
	(void)conn_send(c, text, strlen(text) + 1);
}

/* Sends "WORD N1\nN2\n...\0": everybody in the user's room (the lobby),
 * sorted case-insensitively. */
static void
chat_course_names(struct chat_user *u, const char *word)
{
	struct chat_room *room = chat_user_room(u);
	const char **names = calloc(room->count, sizeof(*names));
	char *frame = malloc((size_t)room->count * (CHAT_NAME_MAX + 1) +
	    strlen(word) + 2);
	size_t len;

	if (names == NULL || frame == NULL) {
		chat_course_send(u->c, "/error");
		goto out;
	}
	chat_room_nicks(room, names);
	len = strlen(word);
	memcpy(frame, word, len);
	for (size_t i = 0; i < room->count; i++) {
		size_t n = strlen(names[i]);

		frame[len++] = i == 0 ? ' ' : '\n';
		memcpy(frame + len, names[i], n);
		len += n;
	}
	frame[len] = '\0';
	chat_course_send(u->c, frame);
out:
	free(names);
	free(frame);
}

/* `/login NAME` once the name is cleared (err 0): named, in the lobby,
 * told who is there. */
static void
chat_course_named_now(struct chat *ch, struct chat_user *u, const char *name,
    int err)
{
	struct chat_room *lobby;

	if (err != 0 || u->nick[0] != '\0' || chat_user_name(ch, u, name) != 0) {
		chat_course_send(u->c, "/error");
		return;
	}
	if ((lobby = chat_room_get(ch, CHAT_LOBBY)) == NULL ||
	    chat_room_join(ch, u, lobby) != 0) {
		if (lobby != NULL)
			chat_room_drop(ch, lobby);
		chat_user_depart(ch, u, NULL);
		chat_course_send(u->c, "/error");
		return;
	}
	chat_course_names(u, "/ok");
	chat_hist_send(ch, lobby, u);
}

/* `/login NAME`; with a cluster the answer may come later. */
static void
chat_course_login(struct chat *ch, struct chat_user *u, const char *name)
{
	int err = u->nick[0] != '\0' ? -EEXIST :
	    chat_user_claim(ch, u, name, chat_course_named_now);

	if (err != -EINPROGRESS)
		chat_course_named_now(ch, u, name, err);
}

static void
chat_course_logout(struct chat *ch, struct chat_user *u)
{
	if (u->nick[0] == '\0') {
		chat_course_send(u->c, "/error");
		return;
	}
	chat_user_depart(ch, u, NULL);
	chat_course_send(u->c, "/ok");
}

/* --- hooks ---------------------------------------------------------------- */

/* The course's server greets nobody: the client speaks first. */
int
chat_course_open(struct conn *c)
{
	return chat_user_new(c, CHAT_PROTO_COURSE) != NULL ? 0 : -1;
}

enum line_result
chat_course_message(struct conn *c, char *frame, size_t len)
{
	struct chat *ch = c->svc->state;
	struct chat_user *u = c->data;
	char *arg;

	if (!utf8_valid(frame, len)) {
		chat_course_send(c, "/error");
		return LINE_MORE;
	}
	len = utf8_sanitize(frame, len);
	frame[len] = '\0';
	if (len == 0)
		return LINE_MORE;
	switch (chat_course_parse(frame, &arg)) {
	case CHAT_COURSE_LOGIN:
		chat_course_login(ch, u, arg);
		break;
	case CHAT_COURSE_LOGOUT:
		chat_course_logout(ch, u);
		break;
	case CHAT_COURSE_USERS:
		if (u->nick[0] == '\0')
			chat_course_send(c, "/error");
		else
			chat_course_names(u, "/users");
		break;
	case CHAT_COURSE_MESSAGE:
		if (u->nick[0] == '\0')
			chat_course_send(c, "/error");
		else
			chat_say(ch, u, chat_user_room(u), CHAT_EV_MESSAGE, arg);
		break;
	}
	return LINE_MORE;
}

/* A half-close is a goodbye, as for line users. */
void
chat_course_eof(struct conn *c)
{
	chat_user_depart(c->svc->state, c->data, NULL);
	conn_close_after_flush(c);
}
