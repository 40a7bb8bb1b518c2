/*
 * irc.h - the pure parts of the chat's IRC protocol (irc_parse.c), for
 * proto_irc.c, its unit tests and its fuzzer: splitting a message into
 * prefix, command and parameters (RFC 2812 2.3.1), the sanitiser that
 * keeps IRC formatting codes, the one that removes them for everybody
 * else, and CTCP unwrapping.
 */
#ifndef MULTID_CHAT_IRC_H
#define MULTID_CHAT_IRC_H

#include <stdbool.h>
#include <stddef.h>

#define IRC_PARAMS_MAX 15             /* parameters of one message (RFC) */
#define IRC_CTCP       '\001'         /* CTCP's delimiter */

/* One message, split in place; the pointers point into the line. */
struct irc_msg {
	const char *prefix;           /* the sender the client claimed, or
	                                 NULL; a server ignores it */
	char       *command;          /* the command word or numeric */
	int         nparams;          /* entries in params */
	char       *params[IRC_PARAMS_MAX]; /* middles, then the trailing one */
	bool        trailing;         /* the last one came after " :" */
};

/* Splits line (NUL-terminated, changed in place) into m.  Blanks between
 * words may repeat; the 15th parameter takes the rest of the line as the
 * RFC says.  0, or -EINVAL when there is no command word. */
int irc_parse(char *line, struct irc_msg *m);

/* Whether c is one of the formatting codes IRC clients show (bold,
 * colour, reset, reverse, italics, underline): ^B ^C ^O ^R ^V ^] ^_. */
bool irc_format_code(unsigned char c);

/* Removes, in place, what could drive a terminal, as utf8_sanitize does,
 * but keeps IRC's formatting codes and CTCP's ^A.  s must be valid UTF-8;
 * returns the new length. */
size_t irc_sanitize(char *s, size_t len);

/* Writes s without formatting codes (a colour's digits with its ^C) and
 * without ^A into out, which has room for strlen(s) + 1 bytes; returns
 * the length written. */
size_t irc_strip_format(char *out, const char *s);

/* When text is a CTCP message (^A VERB [ARGS] [^A]), cuts it in place:
 * *verb is the verb, *arg the rest ("" when none); returns true.  Else
 * false and nothing changes. */
bool irc_ctcp(char *text, char **verb, char **arg);

#endif
