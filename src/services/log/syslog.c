/*
 * syslog.c - record splitting, syslog header parsing and escaping.
 *
 * The parser is deliberately forgiving in what it accepts and strict in
 * what it takes away: a header field is only consumed once the fields
 * around it prove that it is one, so a broken or missing header leaves
 * the words in the message instead of losing them.
 */
#include <string.h>

#include "../../utf8.h"
#include "syslog.h"

#define SYSLOG_TAG_MAX 48             /* longest TAG or APP-NAME we accept */

static const char *const severity_names[8] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

const char *
syslog_severity_name(int severity)
{
	return severity_names[severity & 7];
}

bool
syslog_next_record(const char *data, size_t len, size_t *pos,
    const char **rec, size_t *reclen)
{
	while (*pos < len) {
		const char *start = data + *pos;
		const char *lf = memchr(start, '\n', len - *pos);
		size_t n = lf != NULL ? (size_t)(lf - start) : len - *pos;

		*pos += lf != NULL ? n + 1 : n;
		/* The end of the datagram ends a record as an LF does, so a CR
		 * there is line-end noise too ("nc -u -C" sends CRLF). */
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > 0) {
			*rec = start;
			*reclen = n;
			return true;
		}
	}
	return false;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads "<PRI>" with PRI 0..191; returns its length, or 0 if it is not
 * there or out of range. */
static size_t
syslog_pri(const char *s, size_t len, int *pri)
{
	size_t i = 1;
	int v = 0;

	if (len < 3 || s[0] != '<')
		return 0;
	while (i < len && i <= 3 && is_digit(s[i]))
		v = v * 10 + (s[i++] - '0');
	if (i == 1 || i >= len || s[i] != '>' || v > SYSLOG_PRI_MAX)
		return 0;
	*pri = v;
	return i + 1;
}

/* The end of the run of non-space bytes starting at p. */
static size_t
token_end(const char *s, size_t len, size_t p)
{
	while (p < len && s[p] != ' ')
		p++;
	return p;
}

/* An RFC 3339 timestamp starts with a four-digit year and a dash. */
static bool
looks_like_iso_time(const char *s, size_t len)
{
	return len >= 5 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
	    is_digit(s[3]) && s[4] == '-';
}

/* Returns the offset just past STRUCTURED-DATA at p: "-" or one or more
 * [ID NAME="VALUE" ...] elements, where a value may hold \" \\ and \].
 * Returns 0 when it is malformed. */
static size_t
syslog_sd_end(const char *s, size_t len, size_t p)
{
	if (p < len && s[p] == '-')
		return p + 1;
	if (p >= len || s[p] != '[')
		return 0;
	while (p < len && s[p] == '[') {
		bool quoted = false;

		for (p++; p < len; p++) {
			if (quoted && s[p] == '\\')
				p++;
			else if (s[p] == '"')
				quoted = !quoted;
			else if (!quoted && s[p] == ']')
				break;
		}
		if (p >= len)
			return 0;
		p++;
	}
	return p;
}

/* The field s[p..end), or NULL for the NILVALUE "-". */
static const char *
syslog_field(const char *s, size_t p, size_t end, size_t *len)
{
	if (end - p == 1 && s[p] == '-') {
		*len = 0;
		return NULL;
	}
	*len = end - p;
	return s + p;
}

/* Parses what follows <PRI> as "1 TIMESTAMP HOST APP PROCID MSGID SD
 * [MSG]"; false, and m untouched, if any part of it is missing. */
static bool
syslog_parse_5424(const char *s, size_t len, struct syslog_msg *m)
{
	const char *f[5];
	size_t flen[5], p = 2, end, sd;

	if (len < 2 || s[0] != '1' || s[1] != ' ')
		return false;
	/* TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each followed by a space. */
	for (int field = 0; field < 5; field++) {
		end = token_end(s, len, p);
		if (end == p || end == len)
			return false;
		f[field] = syslog_field(s, p, end, &flen[field]);
		if (field == 0 && f[0] != NULL &&
		    !looks_like_iso_time(s + p, end - p))
			return false;
		p = end + 1;
	}
	sd = p;
	if ((p = syslog_sd_end(s, len, p)) == 0 || (p < len && s[p] != ' '))
		return false;
	m->format = SYSLOG_RFC5424;
	m->time = f[0];
	m->time_len = flen[0];
	m->host = f[1];
	m->host_len = flen[1];
	m->app = f[2];
	m->app_len = flen[2];
	m->procid = f[3];
	m->procid_len = flen[3];
	m->msgid = f[4];
	m->msgid_len = flen[4];
	m->sd = syslog_field(s, sd, p, &m->sd_len);
	if (p < len)
		p++;
	m->text = s + p;
	m->text_len = len - p;
	return true;
}

/* Returns the length of a BSD timestamp and the space after it
 * ("Nov 22 10:15:30 ", "Nov  2 ...", optionally with a fraction of a
 * second, or an RFC 3339 timestamp as rsyslog forwards it), or 0. */
static size_t
syslog_3164_time(const char *s, size_t len)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	size_t p = 4, end;

	if (looks_like_iso_time(s, len)) {
		end = token_end(s, len, 0);
		return end < len ? end + 1 : 0;
	}
	if (len < 16 || s[3] != ' ')
		return 0;
	for (p = 0; p < 36 && memcmp(months + p, s, 3) != 0; p += 3)
		;
	if (p == 36)
		return 0;
	p = s[4] == ' ' ? 5 : 4;
	if (!is_digit(s[p]))
		return 0;
	p += is_digit(s[p + 1]) ? 2 : 1;
	if (len < p + 10 || s[p] != ' ' || !is_digit(s[p + 1]) ||
	    !is_digit(s[p + 2]) || s[p + 3] != ':' || !is_digit(s[p + 4]) ||
	    !is_digit(s[p + 5]) || s[p + 6] != ':' || !is_digit(s[p + 7]) ||
	    !is_digit(s[p + 8]))
		return 0;
	p += 9;
	if (s[p] == '.')
		while (++p < len && is_digit(s[p]))
			;
	return p < len && s[p] == ' ' ? p + 1 : 0;
}

/* Returns the length of "TAG: " or "TAG[PID]: " at s (or of "TAG:" at
 * the very end), or 0 when s does not start with a tag; *pid_len is the
 * length of PID (0 without one).  A colon inside the name means it is
 * not a tag: IPv6 hostnames are not mistaken. */
static size_t
syslog_tag(const char *s, size_t len, size_t *tag_len, size_t *pid_len)
{
	size_t i = 0;

	while (i < len && i < SYSLOG_TAG_MAX && s[i] > ' ' && s[i] < 0x7f &&
	    s[i] != ':' && s[i] != '[' && s[i] != ']')
		i++;
	if (i == 0)
		return 0;
	*tag_len = i;
	*pid_len = 0;
	if (i < len && s[i] == '[') {
		while (++i < len && s[i] != ']' && s[i] > ' ')
			;
		if (i == len || s[i] != ']')
			return 0;
		*pid_len = i - *tag_len - 1;
		i++;
	}
	if (i == len || s[i] != ':')
		return 0;
	i++;
	if (i == len)
		return i;
	return s[i] == ' ' ? i + 1 : 0;
}

/* Parses what follows <PRI> as "[TIMESTAMP ][HOST ]TAG: MSG".  HOST is
 * taken only when a timestamp comes before it and a tag after it; what is
 * not recognised stays in the text. */
static void
syslog_parse_3164(const char *s, size_t len, struct syslog_msg *m)
{
	size_t p = syslog_3164_time(s, len), host_end = 0, n, tag_len, pid_len;

	m->text = s + p;
	m->text_len = len - p;
	m->format = p > 0 ? SYSLOG_RFC3164 : SYSLOG_PRI_ONLY;
	if (p > 0) {
		m->time = s;
		m->time_len = p - 1;
	}
	if ((n = syslog_tag(s + p, len - p, &tag_len, &pid_len)) == 0 &&
	    p > 0) {
		host_end = token_end(s, len, p);
		if (host_end > p && host_end < len &&
		    (n = syslog_tag(s + host_end + 1, len - host_end - 1,
		    &tag_len, &pid_len)) > 0) {
			m->host = s + p;
			m->host_len = host_end - p;
			p = host_end + 1;
		}
	}
	if (n == 0)
		return;
	m->format = SYSLOG_RFC3164;
	m->app = s + p;
	m->app_len = tag_len;
	if (pid_len > 0) {
		m->procid = s + p + tag_len + 1;
		m->procid_len = pid_len;
	}
	m->text = s + p + n;
	m->text_len = len - p - n;
}

void
syslog_parse(const char *rec, size_t len, struct syslog_msg *out)
{
	size_t n;
	int pri;

	memset(out, 0, sizeof(*out));
	out->format = SYSLOG_PLAIN;
	out->facility = -1;
	out->severity = SYSLOG_SEV_INFO;
	out->text = rec;
	out->text_len = len;
	if ((n = syslog_pri(rec, len, &pri)) > 0) {
		out->facility = pri >> 3;
		out->severity = pri & 7;
		if (!syslog_parse_5424(rec + n, len - n, out))
			syslog_parse_3164(rec + n, len - n, out);
	}
	/* A byte order mark says the text is UTF-8; it is not part of it. */
	if (out->text_len >= 3 && memcmp(out->text, "\xef\xbb\xbf", 3) == 0) {
		out->text += 3;
		out->text_len -= 3;
	}
}

size_t
syslog_escape(char *out, const char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0, n;
	uint32_t cp;

	while (i < len) {
		size_t run = i;

		/* Printable ASCII, the usual case, is copied in runs. */
		while (run < len && s[run] >= 0x20 && s[run] < 0x7f)
			run++;
		memcpy(out + o, s + i, run - i);
		o += run - i;
		if ((i = run) == len)
			break;
		if (s[i] >= 0x80 && (n = utf8_decode(in + i, len - i, &cp)) > 0) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[s[i] >> 4];
			out[o++] = hex[s[i++] & 15];
		}
	}
	return o;
}
