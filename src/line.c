/*
 * line.c - the framer: lines, course messages, NUL frames and IRC lines,
 * with telnet IAC removal and answers for the line protocol.
 */
#include <stdlib.h>
#include <string.h>

#include "line.h"

#define IAC   255                 /* telnet "interpret as command" */
#define DONT  254
#define DO    253
#define WONT  252
#define WILL  251                 /* WILL, WONT, DO, DONT: 251..254 */
#define SB    250                 /* subnegotiation begin */
#define SE    240                 /* subnegotiation end */
#define TELOPT_TM 6               /* TIMING-MARK (RFC 860) */

enum telnet_state {
	TN_DATA,                      /* ordinary bytes */
	TN_IAC,                       /* after IAC */
	TN_OPTION,                    /* after WILL/WONT/DO/DONT: one option byte */
	TN_SB,                        /* inside a subnegotiation */
	TN_SB_IAC,                    /* IAC inside a subnegotiation */
};

void
frame_init(struct line_reader *lr, enum frame frame, size_t max)
{
	memset(lr, 0, sizeof(*lr));
	lr->frame = (unsigned char)frame;
	lr->max = frame == FRAME_IRC ? FRAME_IRC_MAX : max;
	lr->telnet = TN_DATA;
	if (frame == FRAME_NUL) {
		lr->end[0] = '\0';
		lr->endlen = 1;
	} else {
		lr->end[0] = '\r';
		lr->end[1] = '\n';
		lr->endlen = 2;
	}
}

void
line_init(struct line_reader *lr, size_t max)
{
	frame_init(lr, FRAME_LINE, max);
}

void
line_free(struct line_reader *lr)
{
	free(lr->buf);
	lr->buf = NULL;
	lr->len = 0;
}

/* Answers an option a telnet client asked about: it may time its
 * output (DO TIMING-MARK, what telnet sends after Ctrl-C and then waits
 * for, throwing output away until it comes), nothing else is taken up.
 * WONT and DONT are never answered, so two peers cannot loop. */
static void
line_telnet_answer(struct line_reader *lr, unsigned char opt,
    const struct frame_ops *ops, void *ctx)
{
	unsigned char reply[3] = { IAC, 0, opt };

	if (lr->option == DO)
		reply[1] = opt == TELOPT_TM ? WILL : WONT;
	else if (lr->option == WILL)
		reply[1] = DONT;
	else
		return;
	if (ops->on_telnet != NULL)
		ops->on_telnet(ctx, reply, sizeof(reply));
}

/* Runs one byte through the telnet parser; true if it is line data.
 * Two-byte commands (IP, AO, AYT, ...) are dropped: the session goes on. */
static bool
line_telnet(struct line_reader *lr, unsigned char c,
    const struct frame_ops *ops, void *ctx)
{
	switch (lr->telnet) {
	case TN_DATA:
		if (c != IAC)
			return true;
		lr->telnet = TN_IAC;
		return false;
	case TN_IAC:
		if (c == IAC) {
			/* IAC IAC stands for a byte 255, never part of UTF-8
			 * text: removed like the rest (SPEC §3). */
			lr->telnet = TN_DATA;
			return false;
		}
		if (c == SB) {
			lr->telnet = TN_SB;
		} else if (c >= WILL) {
			lr->telnet = TN_OPTION;
			lr->option = c;
		} else {
			lr->telnet = TN_DATA;
		}
		return false;
	case TN_OPTION:
		lr->telnet = TN_DATA;
		line_telnet_answer(lr, c, ops, ctx);
		return false;
	case TN_SB:
		if (c == IAC)
			lr->telnet = TN_SB_IAC;
		return false;
	default:  /* TN_SB_IAC */
		lr->telnet = c == SE ? TN_DATA : TN_SB;
		return false;
	}
}

/* Sets the ending the answer to the message being delivered gets. */
static void
line_set_end(struct line_reader *lr, const char *end, size_t n)
{
	memcpy(lr->end, end, n);
	lr->endlen = (unsigned char)n;
}

/* Ends the current message at its terminator byte; returns what the
 * callback said. */
static enum line_result
line_end(struct line_reader *lr, const struct frame_ops *ops, void *ctx)
{
	size_t len = lr->len;
	bool cr = lr->overflow ? lr->tail_cr :
	    len > 0 && lr->buf[len - 1] == '\r';

	if (lr->frame != FRAME_NUL && cr)
		len--;
	if (lr->frame == FRAME_COURSE)
		line_set_end(lr, cr ? "\r\n" : "\n", cr ? 2 : 1);
	lr->len = 0;
	if (lr->overflow) {
		lr->overflow = false;
		/* A course message is answered when it ends, in its form. */
		return lr->frame == FRAME_COURSE ? ops->on_long(ctx, NULL, 0) :
		    LINE_MORE;
	}
	if (len == 0 && lr->frame != FRAME_COURSE)
		return LINE_MORE;
	if (lr->buf == NULL)          /* an empty course line */
		return ops->on_line(ctx, (char[]){ '\0' }, 0);
	lr->buf[len] = '\0';
	return ops->on_line(ctx, lr->buf, len);
}

enum line_result
frame_flush(struct line_reader *lr, const struct frame_ops *ops, void *ctx)
{
	enum line_result r = LINE_MORE;
	size_t len = lr->len;

	if (lr->frame == FRAME_COURSE)
		line_set_end(lr, "", 0);
	else if (lr->frame != FRAME_NUL && len > 0 && lr->buf[len - 1] == '\r')
		len--;
	lr->len = 0;
	if (lr->overflow) {
		lr->overflow = false;
		if (lr->frame == FRAME_COURSE)
			r = ops->on_long(ctx, NULL, 0);
	} else if (len > 0) {
		lr->buf[len] = '\0';
		r = ops->on_line(ctx, lr->buf, len);
	}
	if (lr->len == 0)
		line_free(lr);
	return r;
}

/* Takes one byte into the message; false when it made the message too
 * long.  One byte of slack holds a CR that the LF will remove (a NUL
 * frame keeps its CRs). */
static bool
line_take(struct line_reader *lr, unsigned char c)
{
	if (lr->len >= lr->max + 1 ||
	    (lr->len == lr->max && (c != '\r' || lr->frame == FRAME_NUL)) ||
	    (lr->buf == NULL && (lr->buf = malloc(lr->max + 2)) == NULL)) {
		lr->overflow = true;
		lr->len = 0;
		return false;
	}
	lr->buf[lr->len++] = (char)c;
	return true;
}

size_t
frame_feed(struct line_reader *lr, const char *data, size_t len,
    const struct frame_ops *ops, void *ctx)
{
	unsigned char stop = lr->frame == FRAME_NUL ? '\0' : '\n';

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (lr->frame == FRAME_LINE && !line_telnet(lr, c, ops, ctx))
			continue;
		if (c == stop) {
			if (line_end(lr, ops, ctx) == LINE_STOP)
				return i + 1;
			continue;
		}
		if (lr->overflow) {
			lr->tail_cr = c == '\r';
			continue;
		}
		if (line_take(lr, c))
			continue;
		lr->tail_cr = c == '\r';
		/* The error goes out at once, not at an end that may never
		 * come; a course message's waits for its end. */
		if (lr->frame != FRAME_COURSE &&
		    ops->on_long(ctx, NULL, 0) == LINE_STOP)
			return i + 1;
	}
	/* Idle connections keep no message buffer. */
	if (lr->len == 0)
		line_free(lr);
	return len;
}

size_t
line_feed(struct line_reader *lr, const char *data, size_t len,
    line_proc *on_line, line_proc *on_long, void *ctx)
{
	const struct frame_ops ops = { on_line, on_long, NULL };

	return frame_feed(lr, data, len, &ops, ctx);
}
