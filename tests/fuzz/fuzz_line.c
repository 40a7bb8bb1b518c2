/*
 * fuzz_line.c - the core's framer in every mode: lines with telnet IAC
 * removal and answers, course messages, NUL frames and IRC lines.
 *
 * The first byte picks max_line, the second how the rest is split into
 * reads, the third the mode and where "nothing more waits" falls.
 * Invariants: every message is non-empty, at most max bytes (510 for IRC),
 * holds no terminator (LF, or NUL for NUL frames) and, in the line mode, no
 * 0xFF (IAC always starts a command, so it never reaches a service);
 * telnet answers are whole three-byte IAC WILL/WONT/DONT sequences and come
 * only in the line mode; everything is consumed.  (A line may end in CR:
 * only one CR before the LF is removed, so "a\r\r\n" is "a\r".)
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "line.h"

static size_t max_len;
static struct line_reader lr;

static enum line_result
on_line(void *ctx, char *line, size_t len)
{
	(void)ctx;
	/* A course message may be empty, and one that nothing more followed
	 * keeps a CR at its end, in the byte of slack. */
	assert(len > 0 || lr.frame == FRAME_COURSE);
	assert(len <= max_len || (lr.frame == FRAME_COURSE &&
	    len == max_len + 1 && line[len - 1] == '\r'));
	assert(line[len] == '\0');              /* NUL-terminated */
	if (lr.frame == FRAME_NUL) {
		assert(memchr(line, '\0', len) == NULL);
		assert(lr.endlen == 1 && lr.end[0] == '\0');
	} else {
		assert(memchr(line, '\n', len) == NULL);
		assert(lr.endlen <= 2);
	}
	if (lr.frame == FRAME_LINE)
		assert(memchr(line, 0xff, len) == NULL);
	return LINE_MORE;
}

static enum line_result
on_long(void *ctx, char *line, size_t len)
{
	(void)ctx;
	assert(line == NULL && len == 0);
	return LINE_MORE;
}

static void
on_telnet(void *ctx, const void *reply, size_t len)
{
	const unsigned char *r = reply;

	(void)ctx;
	assert(lr.frame == FRAME_LINE);
	assert(len == 3 && r[0] == 0xff && r[1] >= 251 && r[1] <= 254);
}

static const struct frame_ops ops = { on_line, on_long, on_telnet };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum frame modes[] = { FRAME_LINE, FRAME_COURSE,
	    FRAME_NUL, FRAME_IRC };
	size_t step, off = 3;
	unsigned flush_every;

	if (size < 3)
		return 0;
	max_len = 1 + data[0] % 64;
	step = 1 + data[1] % 17;
	flush_every = data[2] >> 2;
	frame_init(&lr, modes[data[2] % 4], max_len);
	if (lr.frame == FRAME_IRC)
		max_len = FRAME_IRC_MAX;
	for (unsigned i = 1; off < size; i++) {
		size_t n = size - off < step ? size - off : step;
		assert(frame_feed(&lr, (const char *)data + off, n, &ops,
		    NULL) == n);
		off += n;
		if (flush_every != 0 && i % flush_every == 0)
			frame_flush(&lr, &ops, NULL);
	}
	frame_flush(&lr, &ops, NULL);             /* the end of input */
	assert(!frame_holding(&lr));
	line_free(&lr);
	return 0;
}
