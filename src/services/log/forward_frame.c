/*
 * forward_frame.c - the pure half of forwarding: reading the forward URL
 * and writing a record as an octet-counted RFC 5424 frame.
 *
 * A collector parses what we send, so every header field is made what
 * RFC 5424 allows (printable US-ASCII, a bounded length, "-" when
 * empty) rather than passed on as received; the message itself is sent
 * byte for byte, which octet counting permits.
 */
#include <stdio.h>
#include <string.h>

#include "forward.h"
#include "output.h"

#define FORWARD_SD_NAME_MAX 32        /* SD-ID and PARAM-NAME */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A byte of a host name: letters, digits, '-', '.' and '_'. */
static bool
is_name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    is_digit(c) || c == '-' || c == '.' || c == '_';
}

const char *
forward_parse_url(const char *url, char *host, unsigned *port)
{
	const char *h, *end, *p;
	unsigned long v = 0;
	size_t n;

	if (strncmp(url, "tcp://", 6) != 0)
		return "expected tcp://HOST:PORT";
	h = url + 6;
	if (*h == '[') {
		if ((end = strchr(++h, ']')) == NULL)
			return "missing ']' after the IPv6 address";
		if (strspn(h, "0123456789abcdefABCDEF:.") < (size_t)(end - h) ||
		    end == h)
			return "not an IPv6 address in brackets";
		p = end + 1;
	} else {
		for (end = h; is_name_byte(*end); end++)
			;
		if (*end == ':' && strchr(end + 1, ':') != NULL)
			return "an IPv6 address goes in brackets: tcp://[::1]:514";
		if (end == h)
			return "missing host";
		p = end;
	}
	if ((n = (size_t)(end - h)) > FORWARD_HOST_MAX)
		return "host name too long";
	if (*p != ':' || !is_digit(p[1]))
		return *p == ':' || *p == '\0' ? "missing port" :
		    "host is not a name, an IPv4 address or [IPv6]";
	for (p++; is_digit(*p) && v <= 65535; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' && !is_digit(*p))
		return "unexpected text after the port";
	if (v == 0 || v > 65535)
		return "port out of range (1..65535)";
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (unsigned)v;
	return NULL;
}

/* ---- frames --------------------------------------------------------------- */

/* Whether s is an RFC 3339 timestamp as RFC 5424 6.2.3 allows it:
 * YYYY-MM-DDTHH:MM:SS, up to six digits of fraction, Z or +HH:MM. */
static bool
forward_time_ok(const char *s, size_t len)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t i, frac;

	if (s == NULL || len < sizeof(shape) || len > FORWARD_TIME_MAX)
		return false;
	for (i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return false;
	if (s[i] == '.') {
		for (frac = 0, i++; i < len && is_digit(s[i]); i++)
			frac++;
		if (frac < 1 || frac > 6)
			return false;
	}
	if (len - i == 1)
		return s[i] == 'Z';
	return len - i == 6 && (s[i] == '+' || s[i] == '-') &&
	    is_digit(s[i + 1]) && is_digit(s[i + 2]) && s[i + 3] == ':' &&
	    is_digit(s[i + 4]) && is_digit(s[i + 5]);
}

/* Writes a header field: at most max bytes, each printable US-ASCII
 * (a space or anything else becomes '_'), or "-" when there is none. */
static char *
forward_field(char *p, const char *s, size_t len, size_t max)
{
	if (s == NULL || len == 0) {
		*p++ = '-';
		return p;
	}
	if (len > max)
		len = max;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		*p++ = c > ' ' && c < 0x7f ? (char)c : '_';
	}
	return p;
}

/* The length of an SD-NAME at s: printable US-ASCII but '=', ']' and
 * '"', 1 to 32 bytes; 0 if there is none. */
static size_t
forward_sd_name(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && i <= FORWARD_SD_NAME_MAX && s[i] > ' ' &&
	    s[i] < 0x7f && s[i] != '=' && s[i] != ']' && s[i] != '"')
		i++;
	return i <= FORWARD_SD_NAME_MAX ? i : 0;
}

/* Whether s is STRUCTURED-DATA as RFC 5424 6.3 defines it: elements
 * [SD-ID *(SP PARAM-NAME="VALUE")], with '"', '\' and ']' escaped in a
 * value.  The parser only checked the brackets and quotes. */
static bool
forward_sd_ok(const char *s, size_t len)
{
	size_t i = 0, n;

	if (len == 0)
		return false;
	while (i < len) {
		if (s[i++] != '[' || (n = forward_sd_name(s + i, len - i)) == 0)
			return false;
		for (i += n; i < len && s[i] == ' '; ) {
			i++;
			if ((n = forward_sd_name(s + i, len - i)) == 0 ||
			    i + n + 1 >= len || s[i + n] != '=' ||
			    s[i + n + 1] != '"')
				return false;
			for (i += n + 2; i < len && s[i] != '"'; i++)
				if (s[i] == ']' || (s[i] == '\\' && ++i == len))
					return false;
			if (i++ >= len)
				return false;
		}
		if (i >= len || s[i++] != ']')
			return false;
	}
	return true;
}

size_t
forward_frame_max(const struct syslog_msg *m)
{
	return FORWARD_PREFIX_MAX + 5 + 2 + FORWARD_TIME_MAX + 1 +
	    FORWARD_HOSTNAME_MAX + 1 + FORWARD_APP_MAX + 1 + FORWARD_PROCID_MAX +
	    1 + FORWARD_MSGID_MAX + 1 + 2 * m->sd_len + 2 + m->text_len +
	    sizeof(LOG_MARKER);
}

/* Writes the RFC 5424 message of a frame; returns its end. */
static char *
forward_message(char *p, const struct syslog_msg *m, bool cut,
    const struct forward_origin *org)
{
	int facility = m->facility >= 0 ? m->facility : 1;   /* user */
	bool sd_ok = m->sd != NULL && forward_sd_ok(m->sd, m->sd_len);

	p += sprintf(p, "<%d>1 ", facility * 8 + (m->severity & 7));
	if (forward_time_ok(m->time, m->time_len))
		p = log_append(p, m->time, m->time_len);
	else
		p = forward_field(p, org->received, strlen(org->received),
		    FORWARD_TIME_MAX);
	*p++ = ' ';
	if (m->host != NULL)
		p = forward_field(p, m->host, m->host_len, FORWARD_HOSTNAME_MAX);
	else
		p = forward_field(p, org->sender, strlen(org->sender),
		    FORWARD_HOSTNAME_MAX);
	*p++ = ' ';
	p = forward_field(p, m->app, m->app_len, FORWARD_APP_MAX);
	*p++ = ' ';
	p = forward_field(p, m->procid, m->procid_len, FORWARD_PROCID_MAX);
	*p++ = ' ';
	p = forward_field(p, m->msgid, m->msgid_len, FORWARD_MSGID_MAX);
	*p++ = ' ';
	if (sd_ok)
		p = log_append(p, m->sd, m->sd_len);
	else
		*p++ = '-';
	if (m->text_len == 0 && !cut && (sd_ok || m->sd == NULL))
		return p;
	*p++ = ' ';
	/* Structured data a collector would refuse is kept as text. */
	if (m->sd != NULL && !sd_ok) {
		p = log_append(p, m->sd, m->sd_len);
		*p++ = ' ';
	}
	p = log_append(p, m->text, m->text_len);
	if (cut)
		p = log_append(p, LOG_MARKER, sizeof(LOG_MARKER) - 1);
	return p;
}

size_t
forward_frame(char *out, const struct syslog_msg *m, bool cut,
    const struct forward_origin *org)
{
	char *msg = out + FORWARD_PREFIX_MAX, prefix[FORWARD_PREFIX_MAX + 1];
	size_t len = (size_t)(forward_message(msg, m, cut, org) - msg);
	int n = snprintf(prefix, sizeof(prefix), "%zu ", len);

	/* The message was written after room for the longest prefix. */
	memmove(out + n, msg, len);
	memcpy(out, prefix, (size_t)n);
	return (size_t)n + len;
}

size_t
forward_frame_len(const char *p, size_t len)
{
	size_t i = 0, n = 0;

	while (i < len && i < FORWARD_PREFIX_MAX - 1 && is_digit(p[i]))
		n = n * 10 + (size_t)(p[i++] - '0');
	if (i == 0 || i >= len || p[i] != ' ' || n > len - i - 1)
		return 0;
	return i + 1 + n;
}
