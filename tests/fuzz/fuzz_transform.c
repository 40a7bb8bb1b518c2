/*
 * fuzz_transform.c - the transform service's line and datagram handlers
 * with every op, and the UTF-8 helpers under them (utf8.h).
 *
 * transform.c is compiled into this file with the few core calls it
 * makes (conn_send, conn_reply, dgram_reply, conn_set_max_line) replaced
 * by recorders, so its static handlers run exactly as in the daemon but
 * without sockets.  Its exported struct is renamed so that it does not
 * clash with the real one linked in from the core objects.
 *
 * The first input byte picks the op and whether the rest goes in as TCP
 * (through the real line framer) or as one datagram.
 *
 * Invariants: a TCP line gets exactly one reply line (one CRLF, at its
 * end); invalid UTF-8 (by an independent validator) gets "! invalid
 * UTF-8"; upper and lower keep the number of characters, give valid
 * UTF-8 and at most 1.5 times the bytes (the largest growth of any code
 * point under towupper/towlower, e.g. U+023F to U+2C7E); count is the
 * number of code points; digitsum is the sum of the digits of a plain
 * non-negative integer, else "! not a number"; reverse keeps the length
 * and reversing twice gives the line back.  A datagram's answer is never
 * longer than max(1.5 x request, 22 bytes) and never over the UDP limit.
 * The helpers: decode/encode round trips, validation agrees with the
 * reference, counting, and the sanitiser (no C0 but TAB, no DEL, no C1,
 * no ESC, valid UTF-8, never longer).
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The core calls transform.c makes, caught here. */
#define conn_send         fuzz_conn_send
#define conn_reply        fuzz_conn_reply
#define conn_answer       fuzz_conn_reply
#define conn_set_max_line fuzz_conn_set_max_line
#define dgram_reply       fuzz_dgram_reply
#define transform_service fuzz_transform_service
#include "services/transform.c"
#undef conn_send
#undef conn_reply
#undef conn_answer
#undef conn_set_max_line
#undef dgram_reply

#include "line.h"
#include "utf8.h"
#include "fuzz_utf8_ref.h"

#define OUT_MAX (1 << 20)             /* recorded output, bytes */

static char   out[OUT_MAX];           /* what the handler sent */
static size_t out_len;                /* bytes in out */
static int    out_sends;              /* dgram_reply calls */

int
fuzz_conn_send(struct conn *c, const void *data, size_t len)
{
	(void)c;
	assert(out_len + len <= sizeof(out));
	memcpy(out + out_len, data, len);
	out_len += len;
	return 0;
}

int
fuzz_conn_reply(struct conn *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	assert(n >= 0 && (size_t)n < sizeof(line) - 2);
	memcpy(line + n, "\r\n", 2);
	return fuzz_conn_send(c, line, (size_t)n + 2);
}

void
fuzz_conn_set_max_line(struct conn *c, size_t max)
{
	c->lr.max = max;
}

void
fuzz_dgram_reply(struct dgram *d, const void *data, size_t len)
{
	(void)d;
	out_sends++;
	fuzz_conn_send(NULL, data, len);
}

/* ---- references, written without utf8.c ------------------------------ */

/* Code points in s, or -1 when it is not valid UTF-8. */
static long
ref_count(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	long count = 0;

	while (i < len) {
		if ((n = ref_sequence(p + i, len - i)) == 0)
			return -1;
		i += n;
		count++;
	}
	return count;
}

/* The digit sum as the SPEC describes it, or -1 for "not a number":
 * blanks, one optional '+', at least one digit, blanks.  Spans over a
 * NUL-terminated copy, not the service's index walk, so that the two
 * are not the same code. */
static long long
ref_digitsum(const char *s, size_t len)
{
	char *copy, *p;
	size_t n;
	long long sum = -1;

	if (memchr(s, '\0', len) != NULL || (copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	p = copy + strspn(copy, " \t");
	p += *p == '+';
	if ((n = strspn(p, "0123456789")) > 0 && p[n + strspn(p + n, " \t")] ==
	    '\0') {
		sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += p[i] - '0';
	}
	free(copy);
	return sum;
}

/* ---- the handlers ----------------------------------------------------- */

/* Checks one reply body (without CRLF) against the op and the input. */
static void
check_reply(int op, const char *in, size_t len, const char *r, size_t rlen)
{
	long count = ref_count(in, len);
	char num[32];

	if (count < 0) {
		assert(rlen == 15 && memcmp(r, "! invalid UTF-8", 15) == 0);
		return;
	}
	switch (op) {
	case OP_UPPER:
	case OP_LOWER:
		assert(ref_count(r, rlen) == count);
		assert(rlen * 2 <= len * 3);
		break;
	case OP_COUNT:
		snprintf(num, sizeof(num), "%ld", count);
		assert(rlen == strlen(num) && memcmp(r, num, rlen) == 0);
		break;
	case OP_DIGITSUM:
		if (ref_digitsum(in, len) < 0) {
			assert(rlen == 14 && memcmp(r, "! not a number", 14) == 0);
		} else {
			snprintf(num, sizeof(num), "%lld", ref_digitsum(in, len));
			assert(rlen == strlen(num) && memcmp(r, num, rlen) == 0);
		}
		break;
	case OP_REVERSE: {
		char *back = malloc(len + 1);

		assert(rlen == len && ref_count(r, rlen) == count);
		utf8_reverse(back, r, rlen);
		assert(memcmp(back, in, len) == 0);
		free(back);
		break;
	}
	}
}

struct tcp_ctx {
	struct conn *c;               /* the fake connection */
	int          op;              /* enum transform_op */
};

static enum line_result
on_line(void *ctx, char *line, size_t len)
{
	struct tcp_ctx *t = ctx;
	char *copy = malloc(len + 1);
	const char *lf;

	memcpy(copy, line, len);
	out_len = 0;
	assert(transform_line(t->c, line, len) == LINE_MORE);
	/* One line back: its only LF is the last byte, after a CR. */
	assert(out_len >= 2 && out[out_len - 2] == '\r' &&
	    out[out_len - 1] == '\n');
	lf = memchr(out, '\n', out_len);
	assert(lf == out + out_len - 1);
	check_reply(t->op, copy, len, out, out_len - 2);
	free(copy);
	return LINE_MORE;
}

static enum line_result
on_long(void *ctx, char *line, size_t len)
{
	(void)ctx;
	(void)line;
	(void)len;
	return LINE_MORE;
}

static void
fuzz_tcp(int op, const char *d, size_t size, size_t max_line)
{
	struct transform_conf tc = { .op = op, .max_line = (long)max_line };
	struct svc_conf sc = { .tconf = &tc, .type = &fuzz_transform_service };
	struct conn c = { .conf = &sc, .type = &fuzz_transform_service };
	struct tcp_ctx t = { &c, op };

	line_init(&c.lr, 1024);
	assert(transform_open(&c) == 0);
	assert(c.lr.max == max_line);
	assert(line_feed(&c.lr, d, size, on_line, on_long, &t) == size);
	line_free(&c.lr);
}

static void
fuzz_udp(int op, const char *d, size_t size)
{
	struct transform_conf tc = { .op = op, .max_line = 1024 };
	struct svc_conf sc = { .tconf = &tc, .type = &fuzz_transform_service };
	struct svc svc = { .conf = &sc };
	char *data = malloc(size + 1);
	struct dgram dg = { .data = data, .len = size };
	size_t len = size;

	memcpy(data, d, size);
	out_len = 0;
	out_sends = 0;
	transform_datagram(&svc, &dg);
	assert(out_sends == 1);
	/* Never an amplifier beyond what case mapping needs. */
	assert(out_len <= TRANSFORM_UDP_MAX);
	assert(out_len * 2 <= size * 3 || out_len <= 22);
	if (len > 0 && d[len - 1] == '\n')
		len--;
	if (len > 0 && d[len - 1] == '\r')
		len--;
	check_reply(op, d, len, out, out_len);
	free(data);
}

/* ---- the helpers on their own ----------------------------------------- */

static void
fuzz_utf8(const char *d, size_t size)
{
	long count = ref_count(d, size);
	char *buf = malloc(UTF8_CASE_MAX(size) + 8);
	uint32_t cp;
	size_t n;
	ssize_t r;

	assert(utf8_valid(d, size) == (count >= 0));
	/* Every sequence decodes exactly where the reference says, and
	 * encodes back to the same bytes. */
	for (size_t i = 0; i < size; i += n ? n : 1) {
		char enc[UTF8_SEQ_MAX];

		n = utf8_decode(d + i, size - i, &cp);
		if ((unsigned char)d[i] < 0x80)
			assert(n == 1);
		assert(n == ref_sequence((const unsigned char *)d + i, size - i));
		if (n > 0) {
			assert(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
			assert(utf8_encode(cp, enc) == n);
			assert(memcmp(enc, d + i, n) == 0);
		}
	}
	if (count >= 0) {
		assert(utf8_count(d, size) == (size_t)count);
		/* A buffer that is too small is refused, never overrun. */
		r = utf8_case(buf, size / 2 + 4, d, size, UTF8_UPPER);
		assert(r == -ENOBUFS || (r >= 0 && (size_t)r <= size / 2 + 4));
		memcpy(buf, d, size);
		n = utf8_sanitize(buf, size);
		assert(n <= size);
		assert(ref_count(buf, n) >= 0);
		for (size_t i = 0; i < n; i += ref_sequence(
		    (const unsigned char *)buf + i, n - i)) {
			unsigned char b = (unsigned char)buf[i];

			assert(b >= 0x20 || b == '\t');
			assert(b != 0x7f);
			/* U+0080..U+009F are C2 80..C2 9F. */
			assert(!(b == 0xc2 && (unsigned char)buf[i + 1] < 0xa0));
		}
	} else {
		assert(utf8_case(buf, UTF8_CASE_MAX(size), d, size, UTF8_LOWER) ==
		    -EILSEQ);
	}
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data + 2;
	int op;

	if (size < 2)
		return 0;
	assert(utf8_init() == 0);
	op = data[0] % 5;
	size -= 2;
	if (data[0] & 0x80)
		fuzz_udp(op, d, size);
	else
		fuzz_tcp(op, d, size, 1 + (size_t)data[1] * 4);
	fuzz_utf8(d, size);
	return 0;
}
