/*
 * cmd.c - command tables for line protocols: finding a command's row,
 * cutting its arguments, and telling why a line cannot run.
 *
 * Nothing here writes to a client; see cmd.h.
 */
#include "cmd.h"

static bool
cmd_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only: a command word never depends on the locale. */
static unsigned char
cmd_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static bool
cmd_word_equal(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (cmd_lower((unsigned char)a[i]) != cmd_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Rows of another length are passed over on one comparison each, without
 * reading their words. */
const struct cmd_def *
cmd_find(const struct cmd_def *table, const char *word, size_t word_len)
{
	for (const struct cmd_def *d = table; d->word != NULL; d++)
		if (d->word_len == word_len && cmd_word_equal(d->word, word, word_len))
			return d;
	return NULL;
}

int
cmd_split(char *line, char **argv, int max, bool rest)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (cmd_blank(*p))
			p++;
		if (*p == '\0')
			return argc;
		if (argc == max)
			return max + 1;
		argv[argc++] = p;
		if (rest && argc == max)
			return argc;
		while (*p != '\0' && !cmd_blank(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
}

/* The words cmd_split may fill for a row: the command and its arguments,
 * bounded by argv's size. */
static int
cmd_words_max(const struct cmd_def *d)
{
	if (d->max == CMD_ANY || d->max > CMD_ARGS_MAX)
		return CMD_ARGS_MAX + 1;
	return d->max + 1;
}

enum cmd_result
cmd_parse(const struct cmd_def *table, char *line, size_t len,
    unsigned state_bits, struct cmd_call *call)
{
	const struct cmd_def *d;
	size_t start = 0, word_len = 0;
	bool rest;
	int words;

	call->def = NULL;
	call->argc = 0;
	/* Trailing blanks are no part of the last word. */
	while (len > 0 && cmd_blank(line[len - 1]))
		line[--len] = '\0';
	while (cmd_blank(line[start]))
		start++;
	if (line[start] == '\0')
		return CMD_BLANK;
	while (line[start + word_len] != '\0' &&
	    !cmd_blank(line[start + word_len]))
		word_len++;
	if ((d = cmd_find(table, line + start, word_len)) == NULL)
		return CMD_UNKNOWN;
	call->def = d;
	words = cmd_words_max(d);
	rest = (d->flags & CMD_REST) != 0 || d->max == CMD_ANY;
	call->argc = cmd_split(line + start, call->argv, words, rest);
	if (call->argc > words) {
		call->argc = words;
		return CMD_USAGE;
	}
	if (call->argc - 1 < d->min)
		return CMD_USAGE;
	return (d->states & state_bits) != 0 ? CMD_OK : CMD_STATE;
}
