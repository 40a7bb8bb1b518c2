/*
 * line.c - line framing with telnet IAC removal.
 */
#include <stdlib.h>

#include "line.h"

#define IAC  255                  /* telnet "interpret as command" */
#define SB   250                  /* subnegotiation begin */
#define SE   240                  /* subnegotiation end */
#define WILL 251                  /* WILL, WONT, DO, DONT: 251..254 */

enum telnet_state {
	TN_DATA,                      /* ordinary bytes */
	TN_IAC,                       /* after IAC */
	TN_OPTION,                    /* after WILL/WONT/DO/DONT: one option byte */
	TN_SB,                        /* inside a subnegotiation */
	TN_SB_IAC,                    /* IAC inside a subnegotiation */
};

void
line_init(struct line_reader *lr, size_t max)
{
	lr->buf = NULL;
	lr->len = 0;
	lr->max = max;
	lr->telnet = TN_DATA;
	lr->overflow = false;
}

void
line_free(struct line_reader *lr)
{
	free(lr->buf);
	lr->buf = NULL;
	lr->len = 0;
}

/* Runs one byte through the telnet parser; true if it is line data. */
static bool
line_telnet(struct line_reader *lr, unsigned char c)
{
	switch (lr->telnet) {
	case TN_DATA:
		if (c != IAC)
			return true;
		lr->telnet = TN_IAC;
		return false;
	case TN_IAC:
		if (c == SB)
			lr->telnet = TN_SB;
		else if (c >= WILL && c != IAC)
			lr->telnet = TN_OPTION;
		else
			lr->telnet = TN_DATA;   /* two-byte command, or IAC IAC */
		return false;
	case TN_OPTION:
		lr->telnet = TN_DATA;
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

/* Ends the current line at an LF; returns what the callback said. */
static enum line_result
line_end(struct line_reader *lr, line_proc *on_line, void *ctx)
{
	enum line_result r = LINE_MORE;
	size_t len = lr->len;

	if (lr->overflow) {
		lr->overflow = false;
		lr->len = 0;
		return LINE_MORE;
	}
	if (len > 0 && lr->buf[len - 1] == '\r')
		len--;
	lr->len = 0;
	if (len > 0) {
		lr->buf[len] = '\0';
		r = on_line(ctx, lr->buf, len);
	}
	return r;
}

size_t
line_feed(struct line_reader *lr, const char *data, size_t len,
    line_proc *on_line, line_proc *on_long, void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];

		if (!line_telnet(lr, c))
			continue;
		if (c == '\n') {
			if (line_end(lr, on_line, ctx) == LINE_STOP)
				return i + 1;
			continue;
		}
		if (lr->overflow)
			continue;
		/* One byte of slack holds a CR that the LF will remove.  The
		 * error goes out at once, not at the LF that may never come. */
		if (lr->len >= lr->max + 1 || (lr->len == lr->max && c != '\r') ||
		    (lr->buf == NULL && (lr->buf = malloc(lr->max + 2)) == NULL)) {
			lr->overflow = true;
			lr->len = 0;
			if (on_long(ctx, NULL, 0) == LINE_STOP)
				return i + 1;
			continue;
		}
		lr->buf[lr->len++] = (char)c;
	}
	/* Idle connections keep no line buffer. */
	if (lr->len == 0)
		line_free(lr);
	return len;
}
