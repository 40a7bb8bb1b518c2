/*
 * cmd.h - command tables for line protocols: a command word, how many
 * arguments it takes, the session states it may run in, its usage text
 * and its handler, one row per command (the shape of inetd's biltin[] and
 * nginx's ngx_command_t).
 *
 * The core only finds the row and splits the arguments; it never answers
 * the client.  What "unknown command", a usage error or a command out of
 * order look like on the wire is the protocol's business (bank's "ERR
 * usage: ...", smtp's "500 5.5.2 ...", pop3's "-ERR ...", IRC numerics),
 * and so is what the handler's return value means.
 */
#ifndef MULTID_CMD_H
#define MULTID_CMD_H

#include <stdbool.h>
#include <stddef.h>

#define CMD_ARGS_MAX  8               /* arguments after a word, at most */
#define CMD_ANY       (-1)            /* max: any number of arguments */
#define CMD_ALL_STATES (~0u)          /* states: allowed in every state */

/* A row's word and its length, measured by the compiler, so that a lookup
 * never measures the rows: { CMD_WORD("QUIT"), ... }. */
#define CMD_WORD(w)   .word = (w), .word_len = sizeof(w) - 1

enum cmd_flags {
	CMD_REST = 1 << 0,            /* the last argument runs to the end of
	                                 the line, blanks included */
};

/* A handler: session is what the protocol passes to cmd_call, argv[0] is
 * the command word and argv[1..argc-1] its arguments.  It returns what the
 * protocol's dispatcher returns (for a message hook, an enum line_result). */
typedef int cmd_proc(void *session, int argc, char **argv);

/* One command. */
struct cmd_def {
	const char *word;             /* the command word; NULL ends a table */
	size_t      word_len;         /* strlen(word); set by CMD_WORD */
	int         min;              /* arguments after the word, at least */
	int         max;              /* and at most (up to CMD_ARGS_MAX), or
	                                 CMD_ANY */
	unsigned    states;           /* bits of the session states it may run
	                                 in; 0 runs nowhere, CMD_ALL_STATES
	                                 everywhere */
	unsigned    flags;            /* enum cmd_flags */
	const char *usage;            /* the syntax, for the protocol's usage
	                                 reply ("OPEN NAME SECRET") */
	cmd_proc   *proc;             /* the handler */
};

/* What cmd_parse made of a line. */
enum cmd_result {
	CMD_OK,                       /* a command, its arguments in range and
	                                 its state right: call it */
	CMD_BLANK,                    /* nothing but blanks: no answer */
	CMD_UNKNOWN,                  /* no row has this word */
	CMD_USAGE,                    /* a row, but too few or too many
	                                 arguments */
	CMD_STATE,                    /* a row with good arguments that may not
	                                 run in the session's state */
};

/* A parsed line; the pointers point into the line itself. */
struct cmd_call {
	const struct cmd_def *def;    /* the row, for every result but
	                                 CMD_BLANK and CMD_UNKNOWN */
	int   argc;                   /* words in argv, the command included */
	char *argv[CMD_ARGS_MAX + 1]; /* the command word, then its arguments */
};

/* Finds the row of a command word (ASCII, any case) of word_len bytes;
 * NULL when there is none. */
const struct cmd_def *cmd_find(const struct cmd_def *table, const char *word,
    size_t word_len);

/* Splits line in place at blanks (space, tab) into at most max words.
 * With rest, word number max runs to the end of the line.  Returns the
 * number of words, or max + 1 when there were more than max (argv then
 * holds the first max). */
int cmd_split(char *line, char **argv, int max, bool rest);

/* Parses one line (NUL-terminated, len bytes, changed in place: trailing
 * blanks go, words are cut) against table, for a session in the states of
 * the mask state_bits.  Checks run in this order: unknown word, argument
 * count, state.  A command taking any number of arguments sees at most
 * CMD_ARGS_MAX of them, the last holding the rest of the line. */
enum cmd_result cmd_parse(const struct cmd_def *table, char *line, size_t len,
    unsigned state_bits, struct cmd_call *call);

/* Calls the row's handler of a CMD_OK parse. */
static inline int
cmd_call(struct cmd_call *call, void *session)
{
	return call->def->proc(session, call->argc, call->argv);
}

#endif
