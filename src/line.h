/*
 * line.h - the core's framer: cuts a connection's input into messages.
 *
 * Modes (enum frame):
 * - LINE: a line ends with LF; one CR before it is removed.  Telnet IAC
 *   sequences are removed wherever they fall, even split across reads, and
 *   the negotiation a telnet client waits for is answered (SPEC §3).  A line
 *   longer than max is reported at once, then discarded up to its LF.
 * - COURSE: split at LF as LINE (no telnet); what is left once nothing more
 *   waits on the socket is a message too (frame_flush), kept as it is (a
 *   CR at its end stays), and a message keeps the ending it came with for
 *   its answer.  Empty lines are messages too (the course's servers answer
 *   them).  An over-long message is reported once, when it ends, with its
 *   ending.
 * - NUL: frames end with a NUL byte.
 * - IRC: as LINE without telnet, at most 510 bytes (512 with CR LF).
 * Other modes skip empty messages.
 */
#ifndef MULTID_LINE_H
#define MULTID_LINE_H

#include <stdbool.h>
#include <stddef.h>

/* How input is cut into messages (service.h: a protocol's frame). */
enum frame {
	FRAME_RAW,                /* bytes as they come, to the read hook */
	FRAME_LINE,               /* LF-ended lines, telnet answered */
	FRAME_COURSE,             /* lines, or what is left once nothing waits */
	FRAME_NUL,                /* NUL-terminated frames */
	FRAME_IRC,                /* IRC lines: LF-ended, no telnet, 510 bytes */
};

#define FRAME_IRC_MAX 510         /* an IRC line without its CR LF */

struct line_reader {
	char    *buf;             /* the message being assembled, max + 2 bytes */
	size_t   len;             /* bytes in buf */
	size_t   max;             /* longest message accepted, in bytes */
	unsigned char frame;      /* enum frame */
	unsigned char telnet;     /* IAC parser state (line.c) */
	unsigned char option;     /* the WILL/WONT/DO/DONT verb being read */
	unsigned char endlen;     /* bytes of end */
	char     end[2];          /* the ending of the message last handed
	                             over, for its answer (conn_answer) */
	bool     overflow;        /* this message went past max: discarding */
	bool     tail_cr;         /* the last byte discarded was a CR */
};

/* What a line callback tells the framer. */
enum line_result {
	LINE_MORE,                /* go on with the next line */
	LINE_STOP,                /* stop here; leave the rest unconsumed */
};

/* Called with a complete line, NUL-terminated, without CR/LF. */
typedef enum line_result line_proc(void *ctx, char *line, size_t len);

/* What the framer calls: a message, an over-long one (line NULL), and
 * bytes to send back to a telnet client (may be NULL). */
struct frame_ops {
	line_proc *on_line;       /* one message */
	line_proc *on_long;       /* one over-long message, with line NULL */
	void     (*on_telnet)(void *ctx, const void *reply, size_t len);
};

void frame_init(struct line_reader *lr, enum frame frame, size_t max);
/* Line framing, for the line-based services and their tests. */
void line_init(struct line_reader *lr, size_t max);
void line_free(struct line_reader *lr);
/* Feeds len bytes; calls the ops per message.  Returns how many bytes
 * were consumed: all of them unless a callback said LINE_STOP. */
size_t frame_feed(struct line_reader *lr, const char *data, size_t len,
    const struct frame_ops *ops, void *ctx);
size_t line_feed(struct line_reader *lr, const char *data, size_t len,
    line_proc *on_line, line_proc *on_long, void *ctx);
/* Nothing more waits (COURSE) or the input ended (every mode): the bytes
 * held are one last message, without an ending. */
enum line_result frame_flush(struct line_reader *lr,
    const struct frame_ops *ops, void *ctx);
/* True while part of a message is held. */
static inline bool frame_holding(const struct line_reader *lr)
{
	return lr->len > 0 || lr->overflow;
}

#endif
