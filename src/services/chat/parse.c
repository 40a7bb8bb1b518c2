/*
 * parse.c - command parsing of the chat protocols, apart from the rooms
 * so that unit tests and fuzzers can call it alone.
 */
#include <string.h>
#include <strings.h>

#include "../chat.h"

static bool
chat_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

char *
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

/* The command word at p ("/login" ...) when it is one of the course's,
 * followed by a blank or the end. */
static enum chat_course_cmd
chat_course_word(const char *p, size_t *len)
{
	static const struct {
		const char *word; enum chat_course_cmd cmd;
	} cmds[] = {
		{ "/login", CHAT_COURSE_LOGIN }, { "/logout", CHAT_COURSE_LOGOUT },
		{ "/users", CHAT_COURSE_USERS },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		size_t n = strlen(cmds[i].word);

		if (strncasecmp(p, cmds[i].word, n) == 0 &&
		    (p[n] == '\0' || chat_blank(p[n]))) {
			*len = n;
			return cmds[i].cmd;
		}
	}
	return CHAT_COURSE_MESSAGE;
}

enum chat_course_cmd
chat_course_parse(char *frame, char **arg)
{
	char *p = frame;
	enum chat_course_cmd cmd;
	size_t n = 0;

	while (chat_blank(*p))
		p++;
	cmd = chat_course_word(p, &n);
	*arg = cmd == CHAT_COURSE_MESSAGE ? frame : chat_trim(p + n);
	return cmd;
}
