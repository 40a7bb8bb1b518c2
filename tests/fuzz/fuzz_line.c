/*
 * fuzz_line.c - line framing with telnet IAC removal.
 *
 * The first byte picks max_line, the second how the rest is split into
 * reads.  Invariants: every line is non-empty, at most max bytes, holds
 * no LF and no 0xFF (IAC always starts a command, so it never reaches a
 * service); everything is consumed.  (A line may end in CR: only one CR
 * before the LF is removed, so "a\r\r\n" is "a\r".)
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "line.h"

static size_t max_len;

static enum line_result
on_line(void *ctx, char *line, size_t len)
{
	(void)ctx;
	assert(len > 0 && len <= max_len);
	assert(strlen(line) <= len);            /* NUL-terminated */
	assert(memchr(line, '\n', len) == NULL);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line_reader lr;
	size_t step, off = 2;

	if (size < 2)
		return 0;
	max_len = 1 + data[0] % 64;
	step = 1 + data[1] % 17;
	line_init(&lr, max_len);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;
		assert(line_feed(&lr, (const char *)data + off, n, on_line,
		    on_long, NULL) == n);
		off += n;
	}
	line_free(&lr);
	return 0;
}
