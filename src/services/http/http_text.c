/*
 * http_text.c - the pure parts of HTTP/1.x that read and write field
 * values and text: byte ranges, dates, entity tags, the escaping a
 * listing needs, status phrases and error pages (see http_parse.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../utf8.h"
#include "http_parse.h"

/* Reads decimal digits at *i; a value past 2^63 is kept at that. */
static bool
http_range_number(struct http_str v, size_t *i, uint64_t *out)
{
	size_t start = *i;
	uint64_t n = 0;

	while (*i < v.len && v.p[*i] >= '0' && v.p[*i] <= '9') {
		if (n < (UINT64_C(1) << 63))
			n = n * 10 + (uint64_t)(v.p[*i] - '0');
		(*i)++;
	}
	if (n > (UINT64_C(1) << 63))
		n = UINT64_C(1) << 63;
	*out = n;
	return *i > start;
}

enum http_range_result
http_parse_range(struct http_str v, uint64_t size, uint64_t *first,
    uint64_t *last)
{
	uint64_t a = 0, b = 0;
	bool has_a, has_b;
	size_t i = 6;

	if (v.len < 7 || strncasecmp(v.p, "bytes=", 6) != 0)
		return HTTP_RANGE_NONE;
	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	has_a = http_range_number(v, &i, &a);
	if (i == v.len || v.p[i] != '-')
		return HTTP_RANGE_NONE;
	i++;
	has_b = http_range_number(v, &i, &b);
	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	if (i != v.len || (!has_a && !has_b))
		return HTTP_RANGE_NONE;   /* several ranges, or garbage */
	if (!has_a) {
		if (b == 0 || size == 0)
			return HTTP_RANGE_UNSATISFIABLE;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return HTTP_RANGE_OK;
	}
	if (has_b && b < a)
		return HTTP_RANGE_NONE;
	if (a >= size)
		return HTTP_RANGE_UNSATISFIABLE;
	*first = a;
	*last = !has_b || b >= size ? size - 1 : b;
	return HTTP_RANGE_OK;
}

static const char http_days[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char http_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Writes n as width decimal digits. */
static char *
http_digits(char *p, unsigned n, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + width;
}

/* Written by hand rather than with strftime: it runs for every response
 * and must not depend on the locale. */
void
http_date_format(time_t t, char *buf)
{
	struct tm tm;
	char *p = buf;

	gmtime_r(&t, &tm);
	memcpy(p, http_days[tm.tm_wday % 7], 3);
	memcpy(p + 3, ", ", 2);
	p = http_digits(p + 5, (unsigned)tm.tm_mday, 2);
	*p++ = ' ';
	memcpy(p, http_months[tm.tm_mon % 12], 3);
	*(p += 3) = ' ';
	p = http_digits(p + 1, (unsigned)(tm.tm_year + 1900) % 10000, 4);
	*p++ = ' ';
	p = http_digits(p, (unsigned)tm.tm_hour, 2);
	*p++ = ':';
	p = http_digits(p, (unsigned)tm.tm_min, 2);
	*p++ = ':';
	p = http_digits(p, (unsigned)tm.tm_sec, 2);
	memcpy(p, " GMT", 5);
}

/* A tiny cursor for the date parser. */
struct http_cur {
	const char *p;            /* next byte */
	const char *end;          /* end of input */
};

static bool
http_cur_char(struct http_cur *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

/* Reads min..max digits. */
static bool
http_cur_num(struct http_cur *c, int min, int max, int *out)
{
	int n = 0, k = 0;

	while (k < max && c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		n = n * 10 + (*c->p++ - '0');
		k++;
	}
	*out = n;
	return k >= min;
}

static bool
http_cur_month(struct http_cur *c, int *mon)
{
	if (c->end - c->p < 3)
		return false;
	for (int i = 0; i < 12; i++)
		if (memcmp(c->p, http_months[i], 3) == 0) {
			*mon = i;
			c->p += 3;
			return true;
		}
	return false;
}

/* Reads "HH:MM:SS". */
static bool
http_cur_time(struct http_cur *c, struct tm *tm)
{
	return http_cur_num(c, 2, 2, &tm->tm_hour) && http_cur_char(c, ':') &&
	    http_cur_num(c, 2, 2, &tm->tm_min) && http_cur_char(c, ':') &&
	    http_cur_num(c, 2, 2, &tm->tm_sec);
}

time_t
http_date_parse(struct http_str v)
{
	struct http_cur c = { v.p, v.p + v.len };
	struct tm tm = { 0 };
	bool ok;

	while (c.p < c.end && ((*c.p >= 'A' && *c.p <= 'Z') ||
	    (*c.p >= 'a' && *c.p <= 'z')))
		c.p++;
	if (http_cur_char(&c, ',')) {
		ok = http_cur_char(&c, ' ') && http_cur_num(&c, 2, 2, &tm.tm_mday);
		if (ok && http_cur_char(&c, ' '))      /* IMF-fixdate */
			ok = http_cur_month(&c, &tm.tm_mon) && http_cur_char(&c, ' ') &&
			    http_cur_num(&c, 4, 4, &tm.tm_year);
		else if (ok && http_cur_char(&c, '-')) /* RFC 850 */
			ok = http_cur_month(&c, &tm.tm_mon) && http_cur_char(&c, '-') &&
			    http_cur_num(&c, 2, 2, &tm.tm_year);
		else
			ok = false;
		ok = ok && http_cur_char(&c, ' ') && http_cur_time(&c, &tm) &&
		    c.end - c.p == 4 && memcmp(c.p, " GMT", 4) == 0;
	} else {                                   /* asctime */
		ok = http_cur_char(&c, ' ') && http_cur_month(&c, &tm.tm_mon) &&
		    http_cur_char(&c, ' ');
		(void)http_cur_char(&c, ' ');
		ok = ok && http_cur_num(&c, 1, 2, &tm.tm_mday) &&
		    http_cur_char(&c, ' ') && http_cur_time(&c, &tm) &&
		    http_cur_char(&c, ' ') && http_cur_num(&c, 4, 4, &tm.tm_year) &&
		    c.p == c.end;
	}
	if (!ok || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	if (tm.tm_year < 100)
		tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
	tm.tm_year -= 1900;
	return timegm(&tm);
}

bool
http_etag_match(struct http_str list, const char *etag)
{
	size_t elen = strlen(etag), i = 0;

	if (elen >= 2 && etag[0] == 'W' && etag[1] == '/') {
		etag += 2;
		elen -= 2;
	}
	while (i < list.len) {
		const char *q;
		size_t b;

		if (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ',') {
			i++;
			continue;
		}
		if (list.p[i] == '*')
			return true;
		if (list.len - i >= 2 && list.p[i] == 'W' && list.p[i + 1] == '/')
			i += 2;
		if (i >= list.len || list.p[i] != '"')
			return false;
		b = i;
		if ((q = memchr(list.p + i + 1, '"', list.len - i - 1)) == NULL)
			return false;
		i = (size_t)(q - list.p) + 1;
		if (i - b == elen && memcmp(list.p + b, etag, elen) == 0)
			return true;
	}
	return false;
}

size_t
http_escape_html(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;

		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		}
		if (rep != NULL) {
			memcpy(out + o, rep, strlen(rep));
			o += strlen(rep);
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

/* Everything but the unreserved characters and '/' is escaped, so a
 * name can never turn into a scheme, a query or a fragment. */
size_t
http_escape_url(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~' || ch == '/') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	return o;
}

/* JSON text must be UTF-8: a byte that is not part of a valid sequence
 * becomes U+FFFD, and control characters are written as \u00XX. */
size_t
http_escape_json(const char *s, size_t len, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0, i = 0;
	uint32_t cp;

	while (i < len) {
		size_t n = utf8_decode(s + i, len - i, &cp);

		if (n == 0) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			i++;
		} else if (u[i] == '"' || u[i] == '\\') {
			out[o++] = '\\';
			out[o++] = (char)u[i++];
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[u[i] >> 4];
			out[o + 5] = hex[u[i] & 15];
			o += 6;
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}

const char *
http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default:  return "Unknown";
	}
}

size_t
http_error_page(int status, char *out, size_t size)
{
	const char *text = http_status_text(status);
	int n = snprintf(out, size,
	    "<html>\n<head><title>%d %s</title></head>\n<body>\n"
	    "<center><h1>%d %s</h1></center>\n<hr><center>multid</center>\n"
	    "</body>\n</html>\n", status, text, status, text);

	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}
