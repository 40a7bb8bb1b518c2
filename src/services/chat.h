/*
 * chat.h - the pure parts of the chat service (services/chat/parse.c),
 * for its unit tests and fuzzers: command parsing of the line protocol
 * and of the course protocol.  The name rule is the core's (name.h).
 */
#ifndef MULTID_CHAT_H
#define MULTID_CHAT_H

#include <stdbool.h>

#include "../name.h"

#define CHAT_NAME_MAX NAME_LEN_MAX    /* longest nickname or room name */

/* A line of the line protocol (telnet, nc). */
enum chat_cmd {
	CHAT_MESSAGE,             /* not a command: text for the room */
	CHAT_NICK,                /* /nick NEW */
	CHAT_MSG,                 /* /msg NAME TEXT */
	CHAT_ME,                  /* /me TEXT */
	CHAT_WHO,                 /* /who */
	CHAT_JOIN,                /* /join ROOM */
	CHAT_ROOMS,               /* /rooms */
	CHAT_QUIT,                /* /quit [REASON] */
	CHAT_HELP,                /* /help */
	CHAT_UNKNOWN,             /* any other /word */
};

/* A frame of the course protocol (NUL-terminated frames). */
enum chat_course_cmd {
	CHAT_COURSE_MESSAGE,      /* any other frame: text for the room */
	CHAT_COURSE_LOGIN,        /* /login NAME */
	CHAT_COURSE_LOGOUT,       /* /logout */
	CHAT_COURSE_USERS,        /* /users */
};

/* The nickname rule under its older name; bank still calls it so. */
static inline bool
chat_valid_name(const char *name)
{
	return name_valid(name);
}

/* Splits a line (sanitised, NUL-terminated) into a command and its
 * argument.  *arg is the message text for CHAT_MESSAGE ("//x" gives
 * "/x"), the argument without surrounding blanks for a command ("" when
 * there is none), or the command word itself for CHAT_UNKNOWN.  The line
 * is modified in place. */
enum chat_cmd chat_parse(char *line, char **arg);

/* Splits a course frame (sanitised, NUL-terminated).  Blanks before a
 * command are ignored and commands are case-insensitive; *arg is the
 * argument without surrounding blanks ("" when there is none), or the
 * whole frame, untouched, for CHAT_COURSE_MESSAGE. */
enum chat_course_cmd chat_course_parse(char *frame, char **arg);

/* Cuts the first blank-separated word off *rest and returns it; *rest
 * then points past the blanks after it ("" at the end). */
char *chat_word(char **rest);

/* Removes blanks around s in place; returns where it now starts. */
char *chat_trim(char *s);

#endif
