/*
 * proto_irc.c - the chat for IRC clients (SPEC §3 chat, its IRC
 * paragraph): the client side of RFC 2812 that irssi, WeeChat, HexChat
 * and ii speak, in the same rooms as line and course users.  Room R is
 * channel #R, and an IRC user may be in several rooms at once.
 *
 * A message is split by irc_parse() (irc_parse.c), looked up in a command
 * table (cmd.h rows: word, least parameters, the states it runs in,
 * handler) and answered with the numerics of irc_numerics.h; the
 * commands that only answer live in irc_query.c.  Room
 * events come from the core (room.c) and are rendered here once per
 * event for every IRC receiver.  Text keeps IRC's formatting codes for
 * IRC receivers (ev->styled); everybody else gets it without them.
 *
 * A client silent for irc_ping seconds is sent a PING, and closed when it
 * stays silent as long again (the connection's deadline, conn_sweep).  A
 * client that sends more than irc_flood messages a second, after a burst,
 * is not read from until its budget allows the next one: the flooder
 * waits, nobody else does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../addr.h"
#include "../../cmd.h"
#include "../../ev.h"
#include "../../server.h"
#include "../../utf8.h"
#include "irc.h"
#include "irc_numerics.h"
#include "irc_proto.h"

#define IRC_BURST      20             /* messages sent at once before the
                                         flood budget counts */
#define IRC_UNREG      (1u << 0)      /* command state: not registered */
#define IRC_REG        (1u << 1)      /* command state: registered */
#define IRC_ANY        (IRC_UNREG | IRC_REG)

/* Cuts a line at IRC_LINE_MAX bytes, on a character boundary. */
size_t
irc_cut(const char *line, size_t len)
{
	if (len <= IRC_LINE_MAX)
		return len;
	len = IRC_LINE_MAX;
	while (len > 0 && ((unsigned char)line[len] & 0xc0) == 0x80)
		len--;
	return len;
}

/* Formats one line (cut to fit) into buf; returns its length. */
static size_t
irc_vformat(char *buf, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, cap, fmt, ap);

	if (n < 0)
		return 0;
	return irc_cut(buf, (size_t)n < cap ? (size_t)n : cap - 1);
}

/* Sends one line from the server: ":SERVER_NAME " and the numeric. */
void __attribute__((format(printf, 2, 3)))
irc_numeric(struct chat_user *u, const char *fmt, ...)
{
	char buf[1024];
	int pre = snprintf(buf, sizeof(buf), ":%s ", irc_server(u));
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	len = irc_vformat(buf + pre, sizeof(buf) - (size_t)pre, fmt, ap);
	va_end(ap);
	len = irc_cut(buf, (size_t)pre + len);
	conn_reply(u->c, "%.*s", (int)len, buf);
}

/* --- rendering ------------------------------------------------------------ */

/* The prefix of whoever did ev: an IRC user's NICK!~USER@ADDRESS, and
 * NICK!NICK@SERVER_NAME for the others (SPEC). */
static void
irc_prefix(const struct chat_event *ev, char *buf, size_t cap)
{
	const struct chat_user *u = ev->user;
	const struct irc_user *iu;

	if (u != NULL && u->proto == CHAT_PROTO_IRC &&
	    (iu = u->proto_data) != NULL && iu->user[0] != '\0') {
		snprintf(buf, cap, "%s!%s@%s", ev->nick, iu->user, iu->host);
		return;
	}
	snprintf(buf, cap, "%s!%s@%s", ev->nick, ev->nick,
	    ev->ch != NULL ? chat_conf_now(ev->ch)->server_name : "multid");
}

/* A shared block holding ":PREFIX " and the formatted rest, cut to fit
 * one line, with its CR LF. */
static struct rbuf * __attribute__((format(printf, 2, 3)))
irc_rbuf(const struct chat_event *ev, const char *fmt, ...)
{
	char buf[IRC_LINE_MAX + 600];
	struct rbuf *rb;
	size_t len;
	int pre;
	va_list ap;

	buf[0] = ':';
	irc_prefix(ev, buf + 1, 200);
	pre = (int)strlen(buf);
	buf[pre++] = ' ';
	va_start(ap, fmt);
	len = irc_vformat(buf + pre, sizeof(buf) - (size_t)pre, fmt, ap);
	va_end(ap);
	len = irc_cut(buf, (size_t)pre + len);
	if ((rb = rbuf_new(NULL, len + 2)) == NULL)
		return NULL;
	memcpy(rb->data, buf, len);
	memcpy(rb->data + len, "\r\n", 2);
	return rb;
}

static struct rbuf *
chat_irc_render(const struct chat_event *ev)
{
	const char *text = ev->styled != NULL ? ev->styled : ev->text;
	const char *verb = ev->notice ? "NOTICE" : "PRIVMSG";

	switch (ev->type) {
	case CHAT_EV_MESSAGE:
		return irc_rbuf(ev, "%s #%s :%s", verb, ev->room, text);
	case CHAT_EV_ACTION:
		return irc_rbuf(ev, "PRIVMSG #%s :\001ACTION %s\001", ev->room,
		    text);
	case CHAT_EV_PRIVATE:
		return irc_rbuf(ev, "%s %s :%s", verb, ev->to->nick, text);
	case CHAT_EV_JOIN:
		return irc_rbuf(ev, "JOIN #%s", ev->room);
	case CHAT_EV_PART:
		return ev->text != NULL ?
		    irc_rbuf(ev, "PART #%s :%s", ev->room, ev->text) :
		    irc_rbuf(ev, "PART #%s", ev->room);
	case CHAT_EV_QUIT:
		return irc_rbuf(ev, "QUIT :%s", ev->text != NULL ? ev->text :
		    "Client Quit");
	case CHAT_EV_NICK:
		return irc_rbuf(ev, "NICK :%s", ev->text);
	case CHAT_EV_TOPIC:
		return irc_rbuf(ev, "TOPIC #%s :%s", ev->room, ev->text);
	}
	return NULL;
}

/* No answer to a PING for irc_ping seconds more: the last word. */
static void
chat_irc_timeout(struct chat_user *u)
{
	conn_reply(u->c, "ERROR :Closing Link: %s (%s)", irc_me(u),
	    irc_conf(u)->irc_ping > 0 ? "Ping timeout" : "Idle timeout");
	chat_user_depart(irc_chat(u), u, irc_conf(u)->irc_ping > 0 ?
	    "Ping timeout" : NULL);
}

/* The client was silent for irc_ping seconds: ask it once. */
static bool
chat_irc_ping(struct chat_user *u)
{
	struct irc_user *iu = u->proto_data;
	long ping = irc_conf(u)->irc_ping;

	if (ping == 0 || iu->pinged)
		return false;
	iu->pinged = true;
	conn_reply(u->c, "PING :%s", irc_server(u));
	u->c->deadline = ev_now(server.loop) + ping * 1000;
	return true;
}

const struct chat_proto chat_irc_proto = {
	.name = "irc",
	/* IRC clients learn of their own joins, parts, nick changes and
	 * topics from the server's echo. */
	.echo = 1u << CHAT_EV_JOIN | 1u << CHAT_EV_PART | 1u << CHAT_EV_NICK |
	    1u << CHAT_EV_TOPIC,
	.render = chat_irc_render,
	.timeout = chat_irc_timeout,
	.ping = chat_irc_ping,
};

/* --- helpers of the commands --------------------------------------------- */

/* The room named by "#ROOM", or NULL (not a channel name, or nobody
 * there). */
struct chat_room *
irc_channel(struct chat_user *u, const char *name)
{
	struct chat_room *room;

	if (name[0] != '#' || (room = chat_room_find(irc_chat(u), name + 1)) ==
	    NULL || room->count == 0)
		return NULL;
	return room;
}

bool
irc_in_room(const struct chat_user *u, const struct chat_room *room)
{
	for (const struct chat_link *l = u->rooms; l != NULL; l = l->user_next)
		if (l->room == room)
			return true;
	return false;
}

/* --- registration -------------------------------------------------------- */

/* NICK and USER given and no CAP negotiation open: 001-005 and the
 * MOTD, and nothing else. */
static void
irc_try_register(struct chat_user *u)
{
	struct irc_user *iu = u->proto_data;
	const char *me = u->nick;

	if (iu->registered || me[0] == '\0' || !iu->got_user || iu->cap_hold)
		return;
	iu->registered = true;
	irc_numeric(u, RPL_WELCOME, me, me, iu->user, iu->host);
	irc_numeric(u, RPL_YOURHOST, me, irc_server(u), MULTID_VERSION);
	irc_numeric(u, RPL_CREATED, me);
	irc_numeric(u, RPL_MYINFO, me, irc_server(u), MULTID_VERSION);
	irc_numeric(u, RPL_ISUPPORT, me, CHAT_NAME_MAX, IRC_CHANLIMIT,
	    CHAT_NAME_MAX + 1, IRC_TOPICLEN, IRC_AWAYLEN, IRC_TARGETS);
	irc_motd(u);
}

/* NICK, once the name is cleared (err 0). */
static void
irc_nick_now(struct chat *ch, struct chat_user *u, const char *name, int err)
{
	struct irc_user *iu = u->proto_data;
	char old[CHAT_NAME_MAX + 1];

	memcpy(old, u->nick, sizeof(old));
	if (err == 0)
		err = u->nick[0] == '\0' ? chat_user_name(ch, u, name) :
		    chat_user_rename(ch, u, name);
	if (err == -EINVAL)
		irc_numeric(u, ERR_ERRONEUSNICKNAME, irc_me(u), name);
	else if (err == -EEXIST)
		irc_numeric(u, ERR_NICKNAMEINUSE, irc_me(u), name);
	if (err != 0)
		return;
	/* In a room the echo came with the event; else it comes here. */
	if (iu->registered && u->nrooms == 0)
		conn_reply(u->c, ":%s!%s@%s NICK :%s", old, iu->user, iu->host,
		    u->nick);
	irc_try_register(u);
}

static int
irc_cmd_nick(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	const char *name = argc > 1 ? argv[1] : "";
	int err;

	if (name[0] == '\0') {
		irc_numeric(u, ERR_NONICKNAMEGIVEN, irc_me(u));
		return 0;
	}
	if (strcmp(name, u->nick) == 0)
		return 0;
	err = chat_user_claim(irc_chat(u), u, name, irc_nick_now);
	if (err != -EINPROGRESS)
		irc_nick_now(irc_chat(u), u, name, err);
	return 0;
}

/* Keeps the characters of a user name that a prefix may hold. */
static void
irc_set_user(struct irc_user *iu, const char *name)
{
	size_t n = 1;

	iu->user[0] = '~';
	for (; *name != '\0' && n <= IRC_USERLEN; name++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", *name) != NULL)
			iu->user[n++] = *name;
	if (n == 1)
		iu->user[n++] = 'u';
	iu->user[n] = '\0';
}

static int
irc_cmd_user(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct irc_user *iu = u->proto_data;
	char real[IRC_LINE_MAX + 1];

	(void)argc;
	if (iu->registered || iu->got_user) {
		irc_numeric(u, ERR_ALREADYREGISTRED, irc_me(u));
		return 0;
	}
	irc_set_user(iu, argv[1]);
	irc_strip_format(real, argv[4]);
	snprintf(iu->real, sizeof(iu->real), "%.*s",
	    (int)irc_cut(real, strlen(real) > IRC_REALLEN ? IRC_REALLEN :
	    strlen(real)), real);
	iu->got_user = true;
	irc_try_register(u);
	return 0;
}

/* PASS is accepted and ignored (SPEC); once registered it is late. */
static int
irc_cmd_pass(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct irc_user *iu = u->proto_data;

	(void)argc;
	(void)argv;
	if (iu->registered)
		irc_numeric(u, ERR_ALREADYREGISTRED, irc_me(u));
	return 0;
}

/* IRCv3 capability negotiation, with no capability: LS and LIST are
 * empty, every REQ is refused, END ends the wait. */
static int
irc_cmd_cap(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct irc_user *iu = u->proto_data;
	const char *sub = argv[1];

	if (strcasecmp(sub, "LS") == 0 || strcasecmp(sub, "LIST") == 0) {
		iu->cap_hold = !iu->registered && strcasecmp(sub, "LS") == 0 ?
		    true : iu->cap_hold;
		irc_numeric(u, "CAP %s %s :", irc_me(u), strcasecmp(sub, "LS") ?
		    "LIST" : "LS");
	} else if (strcasecmp(sub, "REQ") == 0) {
		iu->cap_hold = !iu->registered;
		irc_numeric(u, "CAP %s NAK :%s", irc_me(u), argc > 2 ? argv[2] :
		    "");
	} else if (strcasecmp(sub, "END") == 0) {
		iu->cap_hold = false;
		irc_try_register(u);
	} else {
		irc_numeric(u, ERR_INVALIDCAPCMD, irc_me(u), sub);
	}
	return 0;
}

static int
irc_cmd_ping(void *session, int argc, char **argv)
{
	struct chat_user *u = session;

	if (argc < 2 || argv[1][0] == '\0')
		irc_numeric(u, ERR_NOORIGIN, irc_me(u));
	else
		irc_numeric(u, "PONG %s :%s", irc_server(u), argv[1]);
	return 0;
}

/* Any input answers a PING (irc_alive); PONG itself says no more. */
static int
irc_cmd_pong(void *session, int argc, char **argv)
{
	(void)session;
	(void)argc;
	(void)argv;
	return 0;
}

static int
irc_cmd_quit(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char reason[IRC_LINE_MAX + 1] = "";

	if (argc > 1)
		irc_strip_format(reason, argv[1]);
	conn_reply(u->c, "ERROR :Closing Link: %s (%s)", irc_me(u),
	    reason[0] != '\0' ? reason : "Client Quit");
	chat_user_depart(irc_chat(u), u, reason);
	conn_close_after_flush(u->c);
	return 0;
}

/* --- rooms --------------------------------------------------------------- */

/* u is in room now: the topic, the names, the room's history. */
static void
irc_joined(struct chat_user *u, struct chat_room *room)
{
	if (room->topic != NULL && room->topic[0] != '\0')
		irc_numeric(u, RPL_TOPIC, irc_me(u), room->name, room->topic);
	irc_names(u, room);
	chat_hist_send(irc_chat(u), room, u);
}

static void
irc_join_one(struct chat_user *u, const char *name)
{
	struct chat *ch = irc_chat(u);
	struct chat_room *room;

	if (name[0] != '#' || !name_valid(name + 1)) {
		irc_numeric(u, ERR_NOSUCHCHANNEL, irc_me(u), name);
		return;
	}
	if ((room = chat_room_find(ch, name + 1)) != NULL && irc_in_room(u, room))
		return;
	if (u->nrooms >= IRC_CHANLIMIT) {
		irc_numeric(u, ERR_TOOMANYCHANNELS, irc_me(u), name);
		return;
	}
	if ((room = chat_room_get(ch, name + 1)) == NULL)
		return;
	if (chat_room_join(ch, u, room) != 0) {
		chat_room_drop(ch, room);
		return;
	}
	irc_joined(u, room);
}

/* JOIN #a,#b [keys] (keys are ignored), or JOIN 0: leave every room. */
static int
irc_cmd_join(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char *save = NULL;

	(void)argc;
	if (strcmp(argv[1], "0") == 0) {
		while (u->rooms != NULL)
			chat_room_part(irc_chat(u), u, u->rooms->room, NULL);
		return 0;
	}
	for (char *name = strtok_r(argv[1], ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save))
		irc_join_one(u, name);
	return 0;
}

static int
irc_cmd_part(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char reason[IRC_LINE_MAX + 1] = "";
	char *save = NULL;

	if (argc > 2)
		irc_strip_format(reason, argv[2]);
	for (char *name = strtok_r(argv[1], ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		struct chat_room *room = irc_channel(u, name);

		if (room == NULL)
			irc_numeric(u, ERR_NOSUCHCHANNEL, irc_me(u), name);
		else if (!irc_in_room(u, room))
			irc_numeric(u, ERR_NOTONCHANNEL, irc_me(u), name);
		else
			chat_room_part(irc_chat(u), u, room,
			    reason[0] != '\0' ? reason : NULL);
	}
	return 0;
}

static int
irc_cmd_topic(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct chat_room *room = irc_channel(u, argv[1]);
	char topic[IRC_LINE_MAX + 1];

	if (room == NULL) {
		irc_numeric(u, ERR_NOSUCHCHANNEL, irc_me(u), argv[1]);
	} else if (argc < 3) {
		if (room->topic != NULL && room->topic[0] != '\0')
			irc_numeric(u, RPL_TOPIC, irc_me(u), room->name,
			    room->topic);
		else
			irc_numeric(u, RPL_NOTOPIC, irc_me(u), room->name);
	} else if (!irc_in_room(u, room)) {
		irc_numeric(u, ERR_NOTONCHANNEL, irc_me(u), argv[1]);
	} else {
		irc_strip_format(topic, argv[2]);
		topic[irc_cut(topic, strlen(topic) > IRC_TOPICLEN ? IRC_TOPICLEN :
		    strlen(topic))] = '\0';
		(void)chat_room_topic(irc_chat(u), u, room, topic);
	}
	return 0;
}

/* --- messages ------------------------------------------------------------- */

/* What one PRIVMSG or NOTICE says, worked out once for all its targets. */
struct irc_text {
	const char *orig;             /* as sent (formatting, CTCP kept) */
	const char *styled;           /* the body with formatting, or NULL */
	const char *plain;            /* the body without formatting */
	bool        action;           /* a CTCP ACTION */
	bool        ctcp;             /* another CTCP: IRC receivers only */
	bool        notice;           /* NOTICE: never answered */
};

static void
irc_say_room(struct chat_user *u, const char *target, const struct irc_text *t)
{
	struct chat_room *room = irc_channel(u, target);
	struct chat_event ev = { .type = t->action ? CHAT_EV_ACTION :
	    CHAT_EV_MESSAGE, .nick = u->nick, .text = t->plain,
	    .ch = irc_chat(u), .user = u, .styled = t->styled,
	    .notice = t->notice };

	if (room == NULL || !irc_in_room(u, room)) {
		if (!t->notice)
			irc_numeric(u, room == NULL ? ERR_NOSUCHNICK :
			    ERR_CANNOTSENDTOCHAN, irc_me(u), target);
		return;
	}
	if (t->ctcp)
		return;        /* a CTCP but ACTION has no room form */
	ev.room = room->name;
	chat_say_event(irc_chat(u), room, &ev);
}

static void
irc_say_user(struct chat_user *u, const char *target, const struct irc_text *t)
{
	struct chat_user *to = chat_user_find(irc_chat(u), target);
	struct chat_event ev = { .type = CHAT_EV_PRIVATE, .nick = u->nick,
	    .text = t->plain, .ch = irc_chat(u), .user = u, .to = to,
	    .notice = t->notice };
	char action[IRC_LINE_MAX + CHAT_NAME_MAX + 8];
	const char *away;

	if (to == NULL) {
		if (!t->notice)
			irc_numeric(u, ERR_NOSUCHNICK, irc_me(u), target);
		return;
	}
	if (to->proto == CHAT_PROTO_IRC) {
		ev.styled = t->orig;
	} else if (t->ctcp) {
		return;        /* nobody there to answer it */
	} else if (t->action) {
		snprintf(action, sizeof(action), "* %s %s", u->nick, t->plain);
		ev.text = action;
	}
	if (to->c == NULL)     /* on another instance: IRC or not, it decides */
		ev.styled = t->orig;
	(void)chat_private_event(irc_chat(u), &ev);
	if (!t->notice && (away = irc_away_text(to)) != NULL)
		irc_numeric(u, RPL_AWAY, irc_me(u), to->nick, away);
}

/* PRIVMSG and NOTICE: TARGET[,TARGET...] :TEXT, at most IRC_TARGETS. */
static int
irc_message(struct chat_user *u, int argc, char **argv, bool notice)
{
	char orig[IRC_LINE_MAX + 1], body[IRC_LINE_MAX + 1];
	char plain[IRC_LINE_MAX + 1], *verb, *arg, *save = NULL;
	struct irc_text t = { .orig = orig, .plain = plain, .notice = notice };
	int n = 0;

	if (argc < 2 || argv[1][0] == '\0') {
		if (!notice)
			irc_numeric(u, ERR_NORECIPIENT, irc_me(u), argv[0]);
		return 0;
	}
	if (argc < 3 || argv[2][0] == '\0') {
		if (!notice)
			irc_numeric(u, ERR_NOTEXTTOSEND, irc_me(u));
		return 0;
	}
	snprintf(orig, sizeof(orig), "%s", argv[2]);
	snprintf(body, sizeof(body), "%s", argv[2]);
	arg = body;
	if (irc_ctcp(body, &verb, &arg)) {
		t.action = strcasecmp(verb, "ACTION") == 0;
		t.ctcp = !t.action;
	}
	irc_strip_format(plain, arg);
	t.styled = strcmp(plain, arg) != 0 ? arg : NULL;
	for (char *to = strtok_r(argv[1], ",", &save); to != NULL &&
	    n < IRC_TARGETS; to = strtok_r(NULL, ",", &save), n++) {
		if (to[0] == '#')
			irc_say_room(u, to, &t);
		else
			irc_say_user(u, to, &t);
	}
	return 0;
}

static int
irc_cmd_privmsg(void *session, int argc, char **argv)
{
	return irc_message(session, argc, argv, false);
}

static int
irc_cmd_notice(void *session, int argc, char **argv)
{
	return irc_message(session, argc, argv, true);
}

/* --- the command table ---------------------------------------------------- */

/* min: parameters below which the answer is 461 (a command with its own
 * error for a missing one checks itself); states: IRC_UNREG, IRC_REG. */
static const struct cmd_def irc_cmds[] = {
	{ CMD_WORD("PRIVMSG"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_privmsg },
	{ CMD_WORD("NOTICE"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_notice },
	{ CMD_WORD("PING"), 0, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_ping },
	{ CMD_WORD("PONG"), 0, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_pong },
	{ CMD_WORD("JOIN"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_join },
	{ CMD_WORD("PART"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_part },
	{ CMD_WORD("NICK"), 0, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_nick },
	{ CMD_WORD("USER"), 4, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_user },
	{ CMD_WORD("PASS"), 0, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_pass },
	{ CMD_WORD("CAP"), 1, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_cap },
	{ CMD_WORD("QUIT"), 0, CMD_ANY, IRC_ANY, 0, NULL, irc_cmd_quit },
	{ CMD_WORD("WHO"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_who },
	{ CMD_WORD("WHOIS"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_whois },
	{ CMD_WORD("MODE"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_mode },
	{ CMD_WORD("TOPIC"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_topic },
	{ CMD_WORD("NAMES"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_names },
	{ CMD_WORD("LIST"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_list },
	{ CMD_WORD("AWAY"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_away },
	{ CMD_WORD("ISON"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_ison },
	{ CMD_WORD("USERHOST"), 1, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_userhost },
	{ CMD_WORD("KICK"), 2, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_kick },
	{ CMD_WORD("MOTD"), 0, CMD_ANY, IRC_REG, 0, NULL, irc_cmd_motd },
	{ .word = NULL },
};

static void
irc_dispatch(struct chat_user *u, struct irc_msg *m)
{
	struct irc_user *iu = u->proto_data;
	const struct cmd_def *d = cmd_find(irc_cmds, m->command,
	    strlen(m->command));
	char *argv[IRC_PARAMS_MAX + 1];

	if (d == NULL || !(d->states & (iu->registered ? IRC_REG : IRC_UNREG))) {
		if (iu->registered)
			irc_numeric(u, ERR_UNKNOWNCOMMAND, irc_me(u), m->command);
		else
			irc_numeric(u, ERR_NOTREGISTERED, irc_me(u));
		return;
	}
	if (m->nparams < d->min) {
		irc_numeric(u, ERR_NEEDMOREPARAMS, irc_me(u), d->word);
		return;
	}
	argv[0] = m->command;
	memcpy(argv + 1, m->params, sizeof(*argv) * (size_t)m->nparams);
	(void)d->proc(u, m->nparams + 1, argv);
}

/* --- flood budget and liveness -------------------------------------------- */

static long
irc_resume(struct ev_loop *loop, long long id, void *data)
{
	struct conn *c = data;
	struct irc_user *iu = ((struct chat_user *)c->data)->proto_data;

	(void)loop;
	(void)id;
	iu->timer = 0;
	/* A nickname claim holds the input too; its answer resumes it. */
	if (!((struct chat_user *)c->data)->claiming)
		conn_resume(c);
	return -1;
}

/* One message spent: a token bucket of IRC_BURST refilled at irc_flood
 * a second.  Past it, the connection is not read until the next token
 * (its input waits in the kernel; its output and everyone else's go
 * on). */
static void
irc_spend(struct chat_user *u)
{
	struct irc_user *iu = u->proto_data;
	long rate = irc_conf(u)->irc_flood;
	int64_t now = ev_now(server.loop);

	if (rate == 0)
		return;
	iu->budget += (double)(now - iu->refilled) * (double)rate / 1000.0;
	if (iu->budget > IRC_BURST)
		iu->budget = IRC_BURST;
	iu->refilled = now;
	iu->budget -= 1;
	if (iu->budget >= 0 || iu->timer != 0 || u->c->state != CONN_OPEN)
		return;
	conn_pause(u->c);
	iu->timer = ev_timer_add(server.loop,
	    (long)(-iu->budget * 1000.0 / (double)rate) + 1, irc_resume, u->c);
}

/* Input came: the client is alive, and the PING countdown starts anew. */
static void
irc_alive(struct chat_user *u)
{
	struct irc_user *iu = u->proto_data;
	long ping = irc_conf(u)->irc_ping;

	iu->pinged = false;
	u->c->deadline = ping > 0 ? ev_now(server.loop) + ping * 1000 : 0;
}

/* --- hooks ---------------------------------------------------------------- */

/* An IRC client speaks first (NICK, USER); the server waits. */
int
chat_irc_open(struct conn *c)
{
	struct chat_user *u = chat_user_new(c, CHAT_PROTO_IRC);
	struct irc_user *iu;

	if (u == NULL || (iu = calloc(1, sizeof(*iu))) == NULL)
		return -1;
	u->proto_data = iu;
	addr_host_text((const struct sockaddr *)&c->peer, iu->host,
	    sizeof(iu->host) - 1);
	/* "::1" would start a parameter with ':' in WHO replies. */
	if (iu->host[0] == ':') {
		memmove(iu->host + 1, iu->host, strlen(iu->host) + 1);
		iu->host[0] = '0';
	}
	iu->budget = IRC_BURST;
	iu->refilled = ev_now(server.loop);
	irc_alive(u);
	return 0;
}

enum line_result
chat_irc_message(struct conn *c, char *line, size_t len)
{
	struct chat_user *u = c->data;
	struct irc_msg m;

	irc_alive(u);
	if (!utf8_valid(line, len)) {
		conn_reply(c, IRC_INVALID_UTF8, irc_me(u));
	} else {
		len = irc_sanitize(line, len);
		line[len] = '\0';
		if (irc_parse(line, &m) == 0)
			irc_dispatch(u, &m);
	}
	irc_spend(u);
	return LINE_MORE;
}

/* A half-close is a goodbye, as for line users. */
void
chat_irc_eof(struct conn *c)
{
	chat_user_depart(c->svc->state, c->data, NULL);
	conn_close_after_flush(c);
}

void
chat_irc_close(struct conn *c, enum close_reason why)
{
	struct chat_user *u = c->data;
	struct irc_user *iu = u != NULL ? u->proto_data : NULL;

	if (iu != NULL && iu->timer != 0) {
		ev_timer_del(server.loop, iu->timer);
		iu->timer = 0;
	}
	chat_user_close(c, why);
}
