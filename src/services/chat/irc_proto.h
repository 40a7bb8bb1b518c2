/*
 * irc_proto.h - what the files of the chat's IRC protocol share:
 * proto_irc.c (hooks, registration, rooms, messages, the command table)
 * and irc_query.c (the commands that only answer: NAMES, LIST, WHO,
 * WHOIS, ISON, USERHOST, MODE, KICK, AWAY, MOTD).  Not for the rest of the chat.
 */
#ifndef MULTID_CHAT_IRC_PROTO_H
#define MULTID_CHAT_IRC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../addr.h"
#include "room.h"

#define IRC_LINE_MAX   510            /* a line without its CR LF */
#define IRC_CHANLIMIT  20             /* rooms an IRC user may be in */
#define IRC_TOPICLEN   390            /* longest topic kept, bytes */
#define IRC_AWAYLEN    160            /* longest away text, bytes */
#define IRC_TARGETS    4              /* targets of one PRIVMSG */
#define IRC_USERLEN    10             /* the user name from USER */
#define IRC_REALLEN    50             /* the real name from USER */

/* An IRC user's own state (chat_user.proto_data); one block, freed by
 * the core. */
struct irc_user {
	char      user[IRC_USERLEN + 2];  /* "~" and USER's name */
	char      host[ADDR_TEXT_MAX];   /* the client's address */
	char      real[IRC_REALLEN + 1]; /* USER's real name */
	char      away[IRC_AWAYLEN + 1]; /* the away text, "" when here */
	bool      got_user;              /* USER was sent */
	bool      cap_hold;              /* CAP LS/REQ: wait for CAP END */
	bool      registered;            /* 001 was sent */
	bool      pinged;                /* a PING is unanswered */
	double    budget;                /* messages it may send now */
	int64_t   refilled;              /* ms of the budget's last refill */
	long long timer;                 /* resumes reading, or 0 */
};

static inline struct chat *
irc_chat(const struct chat_user *u)
{
	return u->c->svc->state;
}

static inline const struct chat_conf *
irc_conf(const struct chat_user *u)
{
	return chat_conf_now(irc_chat(u));
}

static inline const char *
irc_server(const struct chat_user *u)
{
	return irc_conf(u)->server_name;
}

/* The receiver's name in a numeric: its nickname, or "*" before one. */
static inline const char *
irc_me(const struct chat_user *u)
{
	return u->nick[0] != '\0' ? u->nick : "*";
}

/* --- proto_irc.c ----------------------------------------------------------- */

/* Cuts a line at IRC_LINE_MAX bytes, on a character boundary. */
size_t irc_cut(const char *line, size_t len);
/* Sends one line from the server: ":SERVER_NAME " and the formatted
 * numeric (irc_numerics.h), cut to one line. */
void irc_numeric(struct chat_user *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The room named by "#ROOM" with somebody in it, or NULL. */
struct chat_room *irc_channel(struct chat_user *u, const char *name);
bool irc_in_room(const struct chat_user *u, const struct chat_room *room);

/* --- irc_query.c ------------------------------------------------------------ */

/* 353 lines (as many as the names need) and 366 for room. */
void irc_names(struct chat_user *u, const struct chat_room *room);
/* The MOTD (375, 372 per line, 376) or 422. */
void irc_motd(struct chat_user *u);
/* The away text of an IRC user, or NULL. */
const char *irc_away_text(const struct chat_user *who);
/* Command handlers (cmd.h) of the commands that only answer. */
int irc_cmd_names(void *session, int argc, char **argv);
int irc_cmd_list(void *session, int argc, char **argv);
int irc_cmd_who(void *session, int argc, char **argv);
int irc_cmd_whois(void *session, int argc, char **argv);
int irc_cmd_ison(void *session, int argc, char **argv);
int irc_cmd_userhost(void *session, int argc, char **argv);
int irc_cmd_kick(void *session, int argc, char **argv);
int irc_cmd_mode(void *session, int argc, char **argv);
int irc_cmd_away(void *session, int argc, char **argv);
int irc_cmd_motd(void *session, int argc, char **argv);

#endif
