/*
 * fuzz_syslog.c - the log service's record splitting, syslog header
 * parsing and escaping, on arbitrary datagrams.
 *
 * Invariants: the records are exactly what an independent split at LF
 * gives (one CR before each LF, and one at the very end, dropped; empty
 * records skipped), and the scan ends at the end of the datagram; a
 * parsed record has a severity 0..7, a facility -1..23 (-1 only without a
 * header), an application name (when found) that is non-empty and lies
 * before the text, and a text that is a suffix of the record, so no word
 * after the header is ever swallowed; an escaped text is at most four
 * times as long, holds no byte below 0x20 and no 0x7f, is valid UTF-8,
 * leaves valid printable text as it was, and turns back into the input
 * when every "\xNN" is read back (for inputs without a backslash of their
 * own); a composed output line holds exactly one LF, its last byte.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/log/syslog.h"
#include "utf8.h"
#include "fuzz_utf8_ref.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;       /* upper-case hex is not what the escaper writes */
}

/* Escapes in and checks everything the output must be. */
static void
check_escape(const char *in, size_t len)
{
	char *out = malloc(SYSLOG_ESCAPED_MAX(len) + 1);
	char *back = malloc(len + 1);
	size_t n = syslog_escape(out, in, len), b = 0;
	bool plain = ref_valid(in, len);

	assert(n <= SYSLOG_ESCAPED_MAX(len));
	assert(n >= len);
	for (size_t i = 0; i < n; i++)
		assert((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
	assert(ref_valid(out, n));
	assert(utf8_valid(out, n));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)in[i] < 0x20 || in[i] == 0x7f)
			plain = false;
	if (plain)
		assert(n == len && memcmp(out, in, len) == 0);
	/* Read it back: "\xNN" is the byte NN, anything else itself. */
	if (memchr(in, '\\', len) == NULL) {
		for (size_t i = 0; i < n;) {
			if (out[i] == '\\') {
				assert(i + 3 < n && out[i + 1] == 'x');
				assert(hexval(out[i + 2]) >= 0 && hexval(out[i + 3]) >= 0);
				assert(b < len);
				back[b++] = (char)(hexval(out[i + 2]) * 16 +
				    hexval(out[i + 3]));
				i += 4;
			} else {
				assert(b < len);
				back[b++] = out[i++];
			}
		}
		assert(b == len && memcmp(back, in, len) == 0);
	}
	free(back);
	free(out);
}

/* Parses one record and checks where the pieces point. */
static void
check_parse(const char *rec, size_t len)
{
	struct syslog_msg m;
	const char *sev;

	syslog_parse(rec, len, &m);
	assert(m.severity >= 0 && m.severity <= 7);
	assert(m.facility >= -1 && m.facility <= 23);
	sev = syslog_severity_name(m.severity);
	assert(sev != NULL && strlen(sev) >= 3);
	/* The text is always what is left at the end of the record. */
	assert(m.text >= rec && m.text_len <= len);
	assert(m.text + m.text_len == rec + len);
	if (m.facility < 0) {
		assert(m.format == SYSLOG_PLAIN);
		assert(m.severity == SYSLOG_SEV_INFO);
		assert(m.app == NULL);
		/* Nothing but a byte order mark is ever taken away. */
		assert(m.text == rec || (m.text == rec + 3 &&
		    memcmp(rec, "\xef\xbb\xbf", 3) == 0));
	} else {
		assert(m.format != SYSLOG_PLAIN);
		assert(len >= 3 && rec[0] == '<');
		assert((m.facility << 3 | m.severity) <= SYSLOG_PRI_MAX);
	}
	if (m.app != NULL) {
		assert(m.app_len > 0);
		assert(m.app >= rec && m.app + m.app_len <= m.text);
		assert(memchr(m.app, ' ', m.app_len) == NULL);
		if (m.format == SYSLOG_RFC3164)
			for (size_t i = 0; i < m.app_len; i++)
				assert(m.app[i] > ' ' && m.app[i] < 0x7f &&
				    m.app[i] != ':');
	}
	if (m.format == SYSLOG_PRI_ONLY)
		assert(m.app == NULL);
	check_escape(m.text, m.text_len);
	if (m.app != NULL)
		check_escape(m.app, m.app_len);
}

/* Composes the output line as the log service does and checks that the
 * record stays one line. */
static void
check_line(const char *rec, size_t len)
{
	static const char head[] = "2026-01-01T00:00:00.000Z 127.0.0.1:5 ";
	struct syslog_msg m;
	char *line, *p;

	syslog_parse(rec, len, &m);
	line = malloc(sizeof(head) + 16 + SYSLOG_ESCAPED_MAX(m.app_len) + 2 +
	    SYSLOG_ESCAPED_MAX(m.text_len) + 1);
	p = line;
	memcpy(p, head, sizeof(head) - 1);
	p += sizeof(head) - 1;
	strcpy(p, syslog_severity_name(m.severity));
	p += strlen(p);
	*p++ = ' ';
	if (m.app != NULL) {
		p += syslog_escape(p, m.app, m.app_len);
		*p++ = ':';
		*p++ = ' ';
	}
	p += syslog_escape(p, m.text, m.text_len);
	*p++ = '\n';
	assert(memchr(line, '\n', (size_t)(p - line)) == p - 1);
	assert(memchr(line, '\r', (size_t)(p - line)) == NULL);
	free(line);
}

/* Splits data with syslog_next_record and, independently, by hand; both
 * must give the same records at the same places.  The end of the data
 * ends a record as an LF does, so a CR just before it goes too. */
static void
check_split(const char *data, size_t len)
{
	const char *rec;
	size_t pos = 0, reclen, start = 0, records = 0, expected = 0;

	while (syslog_next_record(data, len, &pos, &rec, &reclen)) {
		/* The reference: the next non-empty piece from start. */
		size_t end, n;
		const char *lf;

		for (;;) {
			assert(start < len);
			lf = memchr(data + start, '\n', len - start);
			end = lf != NULL ? (size_t)(lf - data) : len;
			n = end - start;
			if (n > 0 && data[end - 1] == '\r')
				n--;
			if (n > 0)
				break;
			start = end + 1;
		}
		assert(rec == data + start && reclen == n);
		assert(memchr(rec, '\n', reclen) == NULL);
		assert(pos <= len);
		records++;
		check_parse(rec, reclen);
		check_line(rec, reclen);
		start = end + 1;
	}
	assert(pos == len);
	/* Nothing non-empty was left behind the last record. */
	for (size_t s = start; s < len;) {
		const char *lf = memchr(data + s, '\n', len - s);
		size_t end = lf != NULL ? (size_t)(lf - data) : len;
		size_t n = end - s;

		if (n > 0 && data[end - 1] == '\r')
			n--;
		expected += n > 0;
		s = end + 1;
	}
	assert(expected == 0);
	(void)records;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;

	check_split(d, size);
	/* The whole datagram as one record too: CR, NUL and LF inside. */
	check_parse(d, size);
	check_escape(d, size);
	return 0;
}
