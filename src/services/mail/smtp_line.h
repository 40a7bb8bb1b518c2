/*
 * smtp_line.h - SMTP input cut into lines that remember their ending, the
 * end of DATA (SPEC §3 smtp) and the paths of MAIL and RCPT, as pure
 * functions for the unit tests and the fuzzer.
 *
 * The core's line framer removes a CR before LF and cannot tell "a line
 * ended CRLF" from "a line ended LF"; SMTP smuggling lives in exactly
 * that difference.  So smtp reads raw bytes and cuts them here:
 *
 * - A line ends at LF; it ended CRLF when a CR stood right before it,
 *   else with a bare LF.  A CR anywhere else is part of the line.
 * - A line longer than the cut size comes in pieces without an ending;
 *   a CR at the end of a piece is kept for the next one, so a CR LF is
 *   never split.
 * - In a session whose every line so far ended with a bare LF (the
 *   course's client), LF "." LF ends DATA.  Once the session has sent one
 *   CRLF line, only CR LF "." CR LF does, and a message that holds a bare
 *   LF or a bare CR is refused once it ends.
 */
#ifndef MULTID_SMTP_LINE_H
#define MULTID_SMTP_LINE_H

#include <stdbool.h>
#include <stddef.h>

/* How a line ended. */
enum smtp_eol {
	SMTP_EOL_NONE,                /* not yet: a piece of a longer line */
	SMTP_EOL_LF,                  /* a bare LF */
	SMTP_EOL_CRLF,                /* CR LF */
};

/* One piece of input: a whole line, or part of a long one. */
struct smtp_piece {
	const char   *text;           /* its bytes, without the ending */
	size_t        len;            /* how many */
	enum smtp_eol eol;            /* how it ended */
};

/* Cuts the next piece off data (len bytes): a line with its ending, or
 * max bytes (max >= 2) of a line that is longer.  Returns the bytes
 * consumed, 0 when the line is not complete yet (fewer than max bytes and
 * no LF). */
size_t smtp_cut(const char *data, size_t len, size_t max,
    struct smtp_piece *p);

/* The endings a session has used. */
struct smtp_ends {
	bool          crlf_seen;      /* a line ended CRLF */
	enum smtp_eol last;           /* how the last whole line ended */
};

/* Notes the ending of a piece the session sent (commands and data). */
void smtp_ends_note(struct smtp_ends *e, enum smtp_eol eol);

/* What the body reader made of a piece. */
enum smtp_body_result {
	SMTP_BODY_MORE,               /* the message goes on */
	SMTP_BODY_END,                /* it ended: store it */
	SMTP_BODY_BARE,               /* it ended holding a bare LF or CR
	                                 in a CRLF session: refuse it */
};

/* A message being received after DATA.  The stored form has LF line
 * ends and no dot-stuffing. */
struct smtp_body {
	char   *buf;                  /* the stored bytes */
	size_t  len;                  /* bytes in buf */
	size_t  cap;                  /* bytes allocated */
	size_t  max;                  /* stored bytes at most (max_size) */
	size_t  size;                 /* the message's size with CRLF line
	                                 ends, as SIZE counts it */
	size_t  lines;                /* line ends stored */
	bool    at_start;             /* the next piece begins a line */
	bool    bare;                 /* a bare LF or CR was seen */
	bool    over;                 /* more than max: no longer stored */
	bool    nomem;                /* an allocation failed */
};

/* Starts a message (keeps buf for reuse). */
void smtp_body_begin(struct smtp_body *b, size_t max);
/* Hands the bytes stored so far to the caller, who spills them to a
 * file: they come out in *buf (*len of them, *cap allocated), and the
 * buffer the caller held there (NULL, or *cap bytes from malloc) becomes
 * the body's, empty.  The message goes on; size, lines and the limit
 * still count the whole of it. */
void smtp_body_swap(struct smtp_body *b, char **buf, size_t *cap,
    size_t *len);
/* Takes one piece of DATA input; e is the session's endings. */
enum smtp_body_result smtp_body_piece(struct smtp_body *b,
    struct smtp_ends *e, const struct smtp_piece *p);
void smtp_body_free(struct smtp_body *b);

#define SMTP_ADDR_MAX 254             /* an address, bytes */

/* Takes "KEYWORD:<address> PARAMS" of MAIL and RCPT (Postfix also takes
 * a blank after the colon and an address without brackets, and drops a
 * source route).  Sets *addr and *params, both inside arg, which is
 * changed; -1 when it does not parse. */
int smtp_path(char *arg, const char *keyword, char **addr, char **params);
/* An address may hold printable ASCII and UTF-8 (SMTPUTF8), at most
 * SMTP_ADDR_MAX bytes, nothing else: no controls, no blanks, no NUL, no
 * broken sequences. */
bool smtp_addr_ok(const char *addr);

#endif
