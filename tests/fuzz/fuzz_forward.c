/*
 * fuzz_forward.c - the forward URL parser and the RFC 5424 framing of
 * the log service, on arbitrary input.
 *
 * The first byte picks the target.  URL: an accepted one has a non-empty
 * host of at most 255 bytes, made of name bytes or, from brackets, of
 * IPv6 address bytes, and a port 1..65535 whose decimal text ends the
 * URL.  Frame: the rest is one record, framed with and without the cut
 * marker; the frame fits forward_frame_max(), its prefix counts exactly
 * the bytes after it, and the message is "<PRI>1 " with the record's
 * priority, six header fields of printable US-ASCII within RFC 5424's
 * limits, and the record's text unchanged at the end (the marker after
 * it when cut); every field the parser found lies inside the record.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/log/forward.h"
#include "services/log/output.h"

static void
check_url(const char *d, size_t size)
{
	char *u = strndup(d, size), host[FORWARD_HOST_MAX + 1], digits[8];
	unsigned port = 0;
	size_t n;

	if (u == NULL)
		return;
	if (forward_parse_url(u, host, &port) == NULL) {
		assert(strncmp(u, "tcp://", 6) == 0);
		n = strlen(host);
		assert(n > 0 && n <= FORWARD_HOST_MAX);
		assert(port >= 1 && port <= 65535);
		if (strchr(host, ':') != NULL)
			assert(strspn(host, "0123456789abcdefABCDEF:.") == n);
		else
			assert(strspn(host, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n);
		/* The port's digits end the URL (leading zeros allowed). */
		snprintf(digits, sizeof(digits), "%u", port);
		assert(strlen(u) >= strlen(digits));
		assert(strcmp(u + strlen(u) - strlen(digits), digits) == 0);
	}
	free(u);
}

/* A field lies inside the record, or is NULL with length 0. */
static void
check_inside(const char *rec, size_t len, const char *f, size_t flen)
{
	if (f == NULL) {
		assert(flen == 0);
		return;
	}
	assert(f >= rec && f + flen <= rec + len);
}

static void
check_frame(const char *rec, size_t len, bool cut)
{
	static const struct forward_origin org = {
		.received = "2026-01-01T00:00:00.000Z", .sender = "::1" };
	static const size_t limits[6] = { FORWARD_TIME_MAX,
	    FORWARD_HOSTNAME_MAX, FORWARD_APP_MAX, FORWARD_PROCID_MAX,
	    FORWARD_MSGID_MAX, 0 };
	struct syslog_msg m;
	size_t n, max, body, msglen, p;
	char *out, *msg, pri[8];
	int facility;

	syslog_parse(rec, len, &m);
	check_inside(rec, len, m.time, m.time_len);
	check_inside(rec, len, m.host, m.host_len);
	check_inside(rec, len, m.app, m.app_len);
	check_inside(rec, len, m.procid, m.procid_len);
	check_inside(rec, len, m.msgid, m.msgid_len);
	check_inside(rec, len, m.sd, m.sd_len);
	max = forward_frame_max(&m);
	out = malloc(max);
	n = forward_frame(out, &m, cut, &org);
	assert(n <= max);
	assert(forward_frame_len(out, n) == n);
	body = strtoul(out, &msg, 10);
	assert(*msg++ == ' ');
	msglen = n - (size_t)(msg - out);
	assert(body == msglen);
	facility = m.facility >= 0 ? m.facility : 1;
	snprintf(pri, sizeof(pri), "<%d>1 ", facility * 8 + m.severity);
	assert(msglen > strlen(pri) && memcmp(msg, pri, strlen(pri)) == 0);
	p = strlen(pri);
	/* TIMESTAMP HOSTNAME APP-NAME PROCID MSGID: printable, bounded. */
	for (int f = 0; f < 5; f++) {
		size_t start = p;

		while (p < msglen && msg[p] != ' ') {
			assert(msg[p] > ' ' && msg[p] < 0x7f);
			p++;
		}
		assert(p > start && p - start <= limits[f]);
		assert(p < msglen);
		p++;
	}
	/* The text, then the marker, end the message. */
	if (cut) {
		assert(msglen - p >= sizeof(LOG_MARKER) - 1);
		msglen -= sizeof(LOG_MARKER) - 1;
		assert(memcmp(msg + msglen, LOG_MARKER,
		    sizeof(LOG_MARKER) - 1) == 0);
	}
	assert(msglen - p >= m.text_len);
	assert(memcmp(msg + msglen - m.text_len, m.text, m.text_len) == 0);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		check_url(d + 1, size - 1);
	} else {
		check_frame(d + 1, size - 1, false);
		check_frame(d + 1, size - 1, true);
	}
	return 0;
}
