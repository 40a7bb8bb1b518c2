/*
 * fuzz_irc.c - the pure parts of the chat's IRC protocol
 * (services/chat/irc_parse.c) on arbitrary lines: the sanitiser that
 * keeps formatting codes, the message parser, the formatting stripper and
 * CTCP unwrapping, in the order proto_irc.c calls them.
 *
 * Invariants.  The sanitiser, on valid UTF-8: valid UTF-8 out, never
 * longer, no ESC, DEL, C1 or C0 control but TAB, ^A and the formatting
 * codes.  The parser: a command is a non-empty word without blanks; at
 * most 15 parameters; every parameter but a trailing one is a non-empty
 * word without blanks that does not start with ':'; every pointer points
 * into the line.  The stripper: no formatting code or ^A left, never
 * longer, valid UTF-8 still.  CTCP: the verb has no blank and no ^A.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/chat/irc.h"
#include "utf8.h"

#define LINE_MAX_IRC 510

static void
check_text(const char *s, size_t len, bool codes_allowed)
{
	assert(utf8_valid(s, len));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		assert(c != 0x1b && c != 0x7f);
		if (c < 0x20 && c != '\t')
			assert(codes_allowed && (irc_format_code(c) ||
			    c == IRC_CTCP));
		/* C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F. */
		if (c == 0xc2 && i + 1 < len)
			assert((unsigned char)s[i + 1] > 0x9f);
	}
}

static bool
in_line(const char *p, const char *line, size_t len)
{
	return p >= line && p <= line + len;
}

static void
check_parse(char *line, size_t len)
{
	struct irc_msg m;

	if (irc_parse(line, &m) != 0)
		return;
	assert(in_line(m.command, line, len) && m.command[0] != '\0');
	assert(strchr(m.command, ' ') == NULL);
	assert(m.nparams >= 0 && m.nparams <= IRC_PARAMS_MAX);
	for (int i = 0; i < m.nparams; i++) {
		assert(in_line(m.params[i], line, len));
		if (m.trailing && i == m.nparams - 1)
			continue;
		assert(m.params[i][0] != '\0' && m.params[i][0] != ':');
		assert(strchr(m.params[i], ' ') == NULL);
	}
	if (m.prefix != NULL)
		assert(in_line(m.prefix, line, len));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_IRC + 1], plain[LINE_MAX_IRC + 1], *verb, *arg;
	size_t len = size < LINE_MAX_IRC ? size : LINE_MAX_IRC;

	memcpy(line, data, len);
	if (!utf8_valid(line, len))
		return 0;
	len = irc_sanitize(line, len);
	line[len] = '\0';
	check_text(line, len, true);
	assert(strlen(line) == len);        /* NUL bytes are gone */
	assert(irc_strip_format(plain, line) <= len);
	check_text(plain, strlen(plain), false);
	if (irc_ctcp(line, &verb, &arg)) {
		assert(strchr(verb, ' ') == NULL && strchr(verb, IRC_CTCP) == NULL);
		assert(strchr(arg, IRC_CTCP) == NULL);
	}
	memcpy(line, data, size < LINE_MAX_IRC ? size : LINE_MAX_IRC);
	len = irc_sanitize(line, size < LINE_MAX_IRC ? size : LINE_MAX_IRC);
	line[len] = '\0';
	check_parse(line, len);
	return 0;
}
