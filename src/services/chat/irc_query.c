/*
 * irc_query.c - the IRC commands that only answer, without changing a
 * room: NAMES, LIST, WHO, WHOIS, ISON, USERHOST, MODE (queries;
 * changes are refused), KICK (refused), AWAY and MOTD, with the numerics
 * of irc_numerics.h.  Users of every protocol are shown: a line or course
 * user's prefix is NICK!NICK@SERVER_NAME and its real name says what it
 * speaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../ev.h"
#include "../../server.h"
#include "irc.h"
#include "irc_numerics.h"
#include "irc_proto.h"

/* The user part of a user's prefix and its host, whatever it speaks. */
static void
irc_user_host(const struct chat_user *who, const struct chat_user *asker,
    const char **user, const char **host)
{
	const struct irc_user *iu = who->proto == CHAT_PROTO_IRC ?
	    who->proto_data : NULL;

	*user = iu != NULL && iu->user[0] != '\0' ? iu->user : who->nick;
	*host = iu != NULL ? iu->host : irc_server(asker);
}

const char *
irc_away_text(const struct chat_user *who)
{
	const struct irc_user *iu = who->proto == CHAT_PROTO_IRC ?
	    who->proto_data : NULL;

	return iu != NULL && iu->away[0] != '\0' ? iu->away : NULL;
}

static const char *
irc_real_name(const struct chat_user *who)
{
	if (who->c == NULL)
		return "on another server";
	switch (who->proto) {
	case CHAT_PROTO_IRC:
		return ((const struct irc_user *)who->proto_data)->real;
	case CHAT_PROTO_COURSE:
		return "course client";
	default:
		return "line user";
	}
}

/* Sends 353 lines (as many as the names need) and 366 for room. */
void
irc_names(struct chat_user *u, const struct chat_room *room)
{
	const char **names = calloc(room->count + 1, sizeof(*names));
	char line[IRC_LINE_MAX];
	size_t len = 0, room_for = 400 - strlen(room->name);

	if (names != NULL) {
		chat_room_nicks(room, names);
		for (unsigned i = 0; i < room->count; i++) {
			size_t n = strlen(names[i]);

			if (len > 0 && len + 1 + n > room_for) {
				irc_numeric(u, RPL_NAMREPLY, irc_me(u), room->name, line);
				len = 0;
			}
			len += (size_t)sprintf(line + len, "%s%s", len ? " " : "",
			    names[i]);
		}
		if (len > 0)
			irc_numeric(u, RPL_NAMREPLY, irc_me(u), room->name, line);
		free(names);
	}
	irc_numeric(u, RPL_ENDOFNAMES, irc_me(u), "#", room->name);
}

void
irc_motd(struct chat_user *u)
{
	const char *p = irc_conf(u)->motd;

	if (p == NULL || *p == '\0') {
		irc_numeric(u, ERR_NOMOTD, irc_me(u));
		return;
	}
	irc_numeric(u, RPL_MOTDSTART, irc_me(u), irc_server(u));
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		int len = (int)(n > 0 && p[n - 1] == '\r' ? n - 1 : n);

		irc_numeric(u, RPL_MOTD, irc_me(u), len, p);
		p += n + (p[n] == '\n');
	}
	irc_numeric(u, RPL_ENDOFMOTD, irc_me(u));
}

int
irc_cmd_names(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char *save = NULL;

	if (argc < 2) {
		irc_numeric(u, RPL_ENDOFNAMES, irc_me(u), "", "*");
		return 0;
	}
	for (char *name = strtok_r(argv[1], ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		struct chat_room *room = irc_channel(u, name);

		if (room != NULL)
			irc_names(u, room);
		else
			irc_numeric(u, RPL_ENDOFNAMES, irc_me(u), "", name);
	}
	return 0;
}

static void
irc_list_one(struct chat_user *u, const struct chat_room *room)
{
	irc_numeric(u, RPL_LIST, irc_me(u), room->name, room->count,
	    room->topic != NULL ? room->topic : "");
}

int
irc_cmd_list(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct chat *ch = irc_chat(u);
	struct chat_room **rooms;
	char *save = NULL;

	if (argc > 1 && argv[1][0] == '#') {
		for (char *name = strtok_r(argv[1], ",", &save); name != NULL;
		    name = strtok_r(NULL, ",", &save)) {
			struct chat_room *room = irc_channel(u, name);

			if (room != NULL)
				irc_list_one(u, room);
		}
	} else if ((rooms = calloc(ch->rooms.count + 1, sizeof(*rooms))) != NULL) {
		size_t n = chat_room_list(ch, rooms);

		for (size_t i = 0; i < n; i++)
			irc_list_one(u, rooms[i]);
		free(rooms);
	}
	irc_numeric(u, RPL_LISTEND, irc_me(u));
	return 0;
}

/* --- users ---------------------------------------------------------------- */

static void
irc_who_one(struct chat_user *u, const struct chat_user *who,
    const char *channel)
{
	const char *user, *host;

	irc_user_host(who, u, &user, &host);
	irc_numeric(u, RPL_WHOREPLY, irc_me(u), channel, user, host,
	    irc_server(u), who->nick, irc_away_text(who) != NULL ? "G" : "H",
	    irc_real_name(who));
}

/* WHO #room (its members), WHO NICK (that user), anything else: none. */
int
irc_cmd_who(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	const char *mask = argc > 1 ? argv[1] : "*";
	struct chat_room *room = irc_channel(u, mask);
	struct chat_user *who;

	if (room != NULL) {
		char channel[CHAT_NAME_MAX + 2];

		snprintf(channel, sizeof(channel), "#%s", room->name);
		for (unsigned p = 0; p < CHAT_PROTOS; p++)
			for (const struct chat_link *l = room->members[p]; l != NULL;
			    l = l->next)
				irc_who_one(u, l->user, channel);
	} else if (mask[0] != '#' &&
	    (who = chat_user_find(irc_chat(u), mask)) != NULL) {
		irc_who_one(u, who, "*");
	}
	irc_numeric(u, RPL_ENDOFWHO, irc_me(u), mask);
	return 0;
}

/* 319: the rooms of who, "#a #b". */
static void
irc_whois_rooms(struct chat_user *u, const struct chat_user *who)
{
	char line[IRC_LINE_MAX];
	size_t len = 0;

	for (const struct chat_link *l = who->rooms; l != NULL &&
	    len + CHAT_NAME_MAX + 2 < 400; l = l->user_next)
		len += (size_t)sprintf(line + len, "%s#%s", len ? " " : "",
		    l->room->name);
	if (len > 0)
		irc_numeric(u, RPL_WHOISCHANNELS, irc_me(u), who->nick, line);
}

/* WHOIS [SERVER] NICK[,NICK]: the first nickname is answered. */
int
irc_cmd_whois(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char *nick = argv[argc > 2 ? 2 : 1], *save = NULL;
	struct chat_user *who;
	const char *user, *host, *away;

	nick = strtok_r(nick, ",", &save);
	if (nick == NULL) {
		irc_numeric(u, ERR_NONICKNAMEGIVEN, irc_me(u));
		return 0;
	}
	if ((who = chat_user_find(irc_chat(u), nick)) == NULL) {
		irc_numeric(u, ERR_NOSUCHNICK, irc_me(u), nick);
		irc_numeric(u, RPL_ENDOFWHOIS, irc_me(u), nick);
		return 0;
	}
	irc_user_host(who, u, &user, &host);
	irc_numeric(u, RPL_WHOISUSER, irc_me(u), who->nick, user, host,
	    irc_real_name(who));
	irc_whois_rooms(u, who);
	irc_numeric(u, RPL_WHOISSERVER, irc_me(u), who->nick, irc_server(u));
	if ((away = irc_away_text(who)) != NULL)
		irc_numeric(u, RPL_AWAY, irc_me(u), who->nick, away);
	irc_numeric(u, RPL_WHOISIDLE, irc_me(u), who->nick,
	    who->c != NULL ? (long long)((ev_now(server.loop) -
	    who->c->last_input) / 1000) : 0LL);
	irc_numeric(u, RPL_ENDOFWHOIS, irc_me(u), who->nick);
	return 0;
}

int
irc_cmd_ison(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char line[IRC_LINE_MAX];
	size_t len = 0;

	for (int i = 1; i < argc; i++) {
		char *save = NULL;

		for (char *n = strtok_r(argv[i], " ", &save); n != NULL &&
		    len + CHAT_NAME_MAX + 1 < 400; n = strtok_r(NULL, " ", &save)) {
			struct chat_user *who = chat_user_find(irc_chat(u), n);

			if (who != NULL)
				len += (size_t)sprintf(line + len, "%s%s",
				    len ? " " : "", who->nick);
		}
	}
	line[len] = '\0';
	irc_numeric(u, RPL_ISON, irc_me(u), line);
	return 0;
}

/* USERHOST NICK...: 302 with NICK=+USER@HOST (- when away) for the
 * first five that are online. */
int
irc_cmd_userhost(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	char line[IRC_LINE_MAX];
	size_t len = 0;

	for (int i = 1; i < argc && i <= 5; i++) {
		struct chat_user *who = chat_user_find(irc_chat(u), argv[i]);
		const char *user, *host;

		if (who == NULL)
			continue;
		irc_user_host(who, u, &user, &host);
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    "%s%s=%c%s@%s", len ? " " : "", who->nick,
		    irc_away_text(who) != NULL ? '-' : '+', user, host);
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
	}
	line[len] = '\0';
	irc_numeric(u, RPL_USERHOST, irc_me(u), line);
	return 0;
}

/* KICK #room NICK: nobody is a channel operator. */
int
irc_cmd_kick(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct chat_room *room = irc_channel(u, argv[1]);

	(void)argc;
	if (room == NULL)
		irc_numeric(u, ERR_NOSUCHCHANNEL, irc_me(u), argv[1]);
	else
		irc_numeric(u, ERR_CHANOPRIVSNEEDED, irc_me(u), room->name);
	return 0;
}

/* MODE #room: +nt, a list query (b, e, I) is empty, changes are refused;
 * MODE NICK: 221 + for oneself. */
int
irc_cmd_mode(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct chat_room *room;

	if (argv[1][0] != '#') {
		if (strcasecmp(argv[1], u->nick) == 0)
			irc_numeric(u, RPL_UMODEIS, irc_me(u));
		else if (chat_user_find(irc_chat(u), argv[1]) != NULL)
			irc_numeric(u, ERR_USERSDONTMATCH, irc_me(u));
		else
			irc_numeric(u, ERR_NOSUCHNICK, irc_me(u), argv[1]);
		return 0;
	}
	if ((room = irc_channel(u, argv[1])) == NULL)
		irc_numeric(u, ERR_NOSUCHCHANNEL, irc_me(u), argv[1]);
	else if (argc < 3)
		irc_numeric(u, RPL_CHANNELMODEIS, irc_me(u), room->name);
	else if (argc == 3 && argv[2][strspn(argv[2], "+beI")] == '\0')
		irc_numeric(u, RPL_ENDOFBANLIST, irc_me(u), room->name);
	else
		irc_numeric(u, ERR_CHANOPRIVSNEEDED, irc_me(u), room->name);
	return 0;
}

int
irc_cmd_away(void *session, int argc, char **argv)
{
	struct chat_user *u = session;
	struct irc_user *iu = u->proto_data;
	char text[IRC_LINE_MAX + 1] = "";

	if (argc > 1)
		irc_strip_format(text, argv[1]);
	if (text[0] == '\0') {
		iu->away[0] = '\0';
		irc_numeric(u, RPL_UNAWAY, irc_me(u));
		return 0;
	}
	snprintf(iu->away, sizeof(iu->away), "%.*s", (int)irc_cut(text,
	    strlen(text) > IRC_AWAYLEN ? IRC_AWAYLEN : strlen(text)), text);
	irc_numeric(u, RPL_NOWAWAY, irc_me(u));
	return 0;
}

int
irc_cmd_motd(void *session, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	irc_motd(session);
	return 0;
}
