/*
 * fuzz_smtp.c - smtp's line splitter and the end of DATA (smtp_line.c),
 * driven as smtp_read drives them: input arrives in reads of any size,
 * what no whole piece used stays for the next read, "DATA" lines start a
 * message and its end goes back to commands.
 *
 * The first byte picks the cut size (2..257), the second how the rest is
 * split into reads, the third whether the session starts as a bare-LF or
 * a CRLF one.
 *
 * Invariants: every piece is at most the cut size, and none ends between
 * a CR and its LF; the outcome (every message's result and stored
 * bytes) does not depend on how the input was split into reads; a message
 * that ends well in a session that has sent CRLF held no bare LF and no
 * bare CR in its raw bytes (no smuggled end can hide in it), and its
 * stored form holds no CR; a message that ended at LF . LF came from a
 * session that never sent CRLF; stored bytes never exceed max.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "services/mail/smtp_line.h"

#define BODY_MAX 4096                 /* max_size of a message */
#define OUTCOMES_MAX 64               /* messages compared per run */

/* What became of one message. */
struct outcome {
	enum smtp_body_result result; /* END or BARE */
	uint32_t hash;                /* of the stored bytes */
	size_t   len;                 /* stored bytes */
};

/* One simulated session. */
struct run {
	struct smtp_ends  ends;       /* the endings used */
	struct smtp_body  body;       /* the message being read */
	bool              in_data;    /* after a DATA line */
	const uint8_t    *raw_start;  /* where the message's raw bytes began */
	struct outcome    out[OUTCOMES_MAX]; /* the messages so far */
	size_t            nout;       /* how many */
};

static uint32_t
fnv(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

/* Whether raw (a message's bytes and its ending) holds a bare LF or a
 * bare CR. */
static bool
has_bare(const uint8_t *raw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			return true;
		if (raw[i] == '\r' && (i + 1 == n || raw[i + 1] != '\n'))
			return true;
	}
	return false;
}

/* One piece, at raw (its bytes in the whole input) of used bytes. */
static void
take(struct run *r, const struct smtp_piece *p, const uint8_t *raw,
    size_t used)
{
	enum smtp_body_result res;
	bool crlf_before;

	if (!r->in_data) {
		smtp_ends_note(&r->ends, p->eol);
		if (p->eol != SMTP_EOL_NONE && p->len == 4 &&
		    strncasecmp(p->text, "DATA", 4) == 0) {
			r->in_data = true;
			r->raw_start = raw + used;
			smtp_body_begin(&r->body, BODY_MAX);
		}
		return;
	}
	crlf_before = r->ends.crlf_seen;
	res = smtp_body_piece(&r->body, &r->ends, p);
	if (res == SMTP_BODY_MORE)
		return;
	assert(r->body.len <= BODY_MAX);
	if (res == SMTP_BODY_END && r->ends.crlf_seen) {
		/* The raw message up to (not with) its final ". CR LF". */
		size_t n = (size_t)(raw - r->raw_start);
		assert(!has_bare(r->raw_start, n));
		assert(memchr(r->body.buf ? r->body.buf : "", '\r',
		    r->body.len) == NULL);
	}
	if (p->eol == SMTP_EOL_LF) {
		assert(!crlf_before && !r->ends.crlf_seen);
		assert(res == SMTP_BODY_END);
	}
	if (r->nout < OUTCOMES_MAX)
		r->out[r->nout++] = (struct outcome){ res,
		    fnv(r->body.buf, r->body.len), r->body.len };
	r->in_data = false;
}

/* Feeds data[0..len) in reads cut by split, as smtp_read is fed. */
static void
feed(struct run *r, const uint8_t *data, size_t len, size_t cut,
    unsigned split, bool lf_session)
{
	size_t have = 0, done = 0, step = split ? split : len ? len : 1;

	memset(r, 0, sizeof(*r));
	r->ends.last = SMTP_EOL_LF;
	r->ends.crlf_seen = !lf_session;
	if (!lf_session)
		r->ends.last = SMTP_EOL_CRLF;
	while (done < len) {
		have = have + step < len ? have + step : len;
		for (;;) {
			struct smtp_piece p;
			size_t n = smtp_cut((const char *)data + done, have - done,
			    cut, &p);

			if (n == 0)
				break;
			assert(n <= have - done);
			assert(p.len <= cut);
			assert(p.eol != SMTP_EOL_NONE || (p.len > 0 &&
			    (p.text[p.len - 1] != '\r' || done + n == have ||
			    data[done + n] != '\n')));
			take(r, &p, data + done, n);
			done += n;
		}
		if (have == len)
			break;
	}
	smtp_body_free(&r->body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run a, b;
	size_t cut;
	unsigned split;
	bool lf;

	if (size < 3)
		return 0;
	cut = 2 + data[0];
	split = data[1] % 17;
	lf = data[2] & 1;
	data += 3;
	size -= 3;
	feed(&a, data, size, cut, 0, lf);
	feed(&b, data, size, cut, split, lf);
	assert(a.nout == b.nout);
	for (size_t i = 0; i < a.nout; i++)
		assert(a.out[i].result == b.out[i].result &&
		    a.out[i].hash == b.out[i].hash && a.out[i].len == b.out[i].len);
	return 0;
}
