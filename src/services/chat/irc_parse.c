/*
 * irc_parse.c - the pure parts of the chat's IRC protocol: messages into
 * words, and text sanitised for IRC clients (formatting kept) and for
 * everybody else (formatting removed).  Nothing here knows a connection,
 * so the unit tests and the fuzzer call it as proto_irc.c does.
 */
#include <errno.h>
#include <string.h>

#include "../../utf8.h"
#include "irc.h"

/* Cuts the word at *p (blanks before it skipped) and returns it; *p then
 * points past the blank after it.  NULL at the end of the line. */
static char *
irc_word(char **p)
{
	char *w = *p, *end;

	while (*w == ' ')
		w++;
	if (*w == '\0')
		return NULL;
	end = strchr(w, ' ');
	if (end != NULL) {
		*end = '\0';
		*p = end + 1;
	} else {
		*p = w + strlen(w);
	}
	return w;
}

int
irc_parse(char *line, struct irc_msg *m)
{
	char *p = line;

	memset(m, 0, sizeof(*m));
	if (*p == ':') {
		m->prefix = irc_word(&p);
		if (m->prefix != NULL)
			m->prefix++;
	}
	if ((m->command = irc_word(&p)) == NULL)
		return -EINVAL;
	while (m->nparams < IRC_PARAMS_MAX) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p == ':' || m->nparams == IRC_PARAMS_MAX - 1) {
			/* The trailing parameter keeps its blanks. */
			m->trailing = true;
			m->params[m->nparams++] = p + (*p == ':');
			break;
		}
		m->params[m->nparams++] = irc_word(&p);
	}
	return 0;
}

bool
irc_format_code(unsigned char c)
{
	switch (c) {
	case 0x02:        /* ^B bold */
	case 0x03:        /* ^C colour */
	case 0x0f:        /* ^O reset */
	case 0x12:        /* ^R reverse (some clients) */
	case 0x16:        /* ^V reverse */
	case 0x1d:        /* ^] italics */
	case 0x1f:        /* ^_ underline */
		return true;
	}
	return false;
}

static bool
irc_kept(unsigned char c)
{
	return irc_format_code(c) || c == IRC_CTCP;
}

/* The sanitiser runs on the runs of text between the kept codes: an
 * escape sequence cut by a code loses its ESC and shows as plain text,
 * which drives nothing. */
size_t
irc_sanitize(char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t run = i, n;

		while (run < len && !irc_kept((unsigned char)s[run]))
			run++;
		n = utf8_sanitize(s + i, run - i);
		memmove(s + o, s + i, n);
		o += n;
		if (run < len)
			s[o++] = s[run++];
		i = run;
	}
	return o;
}

static bool
irc_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skips a colour's "FG[,BG]" (one or two digits each) after ^C. */
static const char *
irc_skip_colour(const char *s)
{
	if (!irc_digit(*s))
		return s;
	s += 1 + irc_digit(s[1]);
	if (s[0] == ',' && irc_digit(s[1]))
		s += 2 + irc_digit(s[2]);
	return s;
}

size_t
irc_strip_format(char *out, const char *s)
{
	size_t o = 0;

	while (*s != '\0') {
		unsigned char c = (unsigned char)*s++;

		if (c == 0x03)
			s = irc_skip_colour(s);
		else if (!irc_kept(c))
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return o;
}

bool
irc_ctcp(char *text, char **verb, char **arg)
{
	char *end, *sp;

	if (text[0] != IRC_CTCP || text[1] == '\0' || text[1] == IRC_CTCP)
		return false;
	if ((end = strchr(text + 1, IRC_CTCP)) != NULL)
		*end = '\0';
	*verb = text + 1;
	if ((sp = strchr(*verb, ' ')) != NULL) {
		*sp = '\0';
		*arg = sp + 1;
	} else {
		*arg = *verb + strlen(*verb);
	}
	return true;
}
