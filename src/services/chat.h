/*
 * chat.h - the pure parts of the chat service, for its unit tests: the
 * name rule shared by nicknames and rooms, and command parsing.
 */
#ifndef MULTID_CHAT_H
#define MULTID_CHAT_H

#include <stdbool.h>

#define CHAT_NAME_MAX 16              /* longest nickname or room name */

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

/* True when name matches ^[A-Za-z][A-Za-z0-9_-]{0,15}$. */
bool chat_valid_name(const char *name);

/* Splits a line (sanitised, NUL-terminated) into a command and its
 * argument.  *arg is the message text for CHAT_MESSAGE ("//x" gives
 * "/x"), the argument without surrounding blanks for a command ("" when
 * there is none), or the command word itself for CHAT_UNKNOWN.  The line
 * is modified in place. */
enum chat_cmd chat_parse(char *line, char **arg);

/* Cuts the first blank-separated word off *rest and returns it; *rest
 * then points past the blanks after it ("" at the end). */
char *chat_word(char **rest);

#endif
