/*
 * line.h - line framing for the line-based services.
 *
 * A line ends with LF; one CR before it is removed.  Telnet IAC sequences
 * are removed wherever they fall, even split across reads.  Empty lines are
 * skipped.  A line longer than max bytes is reported once, as soon as it
 * passes max, then discarded up to its LF, and framing goes on.
 */
#ifndef MULTID_LINE_H
#define MULTID_LINE_H

#include <stdbool.h>
#include <stddef.h>

struct line_reader {
	char    *buf;             /* the line being assembled, max + 1 bytes */
	size_t   len;             /* bytes in buf */
	size_t   max;             /* longest line accepted, in bytes */
	unsigned telnet;          /* IAC parser state (line.c) */
	bool     overflow;        /* this line went past max: discarding */
};

/* What a line callback tells the framer. */
enum line_result {
	LINE_MORE,                /* go on with the next line */
	LINE_STOP,                /* stop here; leave the rest unconsumed */
};

/* Called with a complete line, NUL-terminated, without CR/LF. */
typedef enum line_result line_proc(void *ctx, char *line, size_t len);

void line_init(struct line_reader *lr, size_t max);
void line_free(struct line_reader *lr);
/* Feeds len bytes; calls on_line per line and on_long (with line NULL) per
 * over-long line.  Returns how many bytes were consumed: all of them unless
 * a callback said LINE_STOP. */
size_t line_feed(struct line_reader *lr, const char *data, size_t len,
    line_proc *on_line, line_proc *on_long, void *ctx);

#endif
