/*
 * http_parse.c - the pure parts of HTTP/1.x that read a request: its
 * head, its target and its path (see http_parse.h; http_text.c has the
 * rest).
 *
 * The request parser is strict in the way ngx_http_parse.c is: a method
 * is a token, the request line has single spaces, the version is
 * "HTTP/" DIGIT "." DIGIT, header names are tokens with the colon right
 * after them, folded lines and control bytes are refused.  Being strict
 * here is what keeps request smuggling and odd framing out.
 */
#include <string.h>
#include <strings.h>

#include "../../fsroot.h"
#include "http_parse.h"

#define HTTP_METHOD_MAX 32        /* longest method token accepted */
#define HTTP_CL_DIGITS  15        /* longest Content-Length accepted */

/* RFC 9110 tchar: the bytes of a token. */
static bool
http_is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Bytes allowed in a field value: visible ASCII, SP, HTAB, obs-text. */
static bool
http_is_vbyte(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static bool
http_str_ieq(struct http_str s, const char *word)
{
	return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* Parses "METHOD SP TARGET SP HTTP/x.y" (CR already removed). */
static int
http_parse_request_line(const char *p, size_t len, struct http_request *req)
{
	size_t i = 0, start;

	while (i < len && http_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i > HTTP_METHOD_MAX || i == len || p[i] != ' ')
		return -400;
	req->method_text = (struct http_str){ p, i };
	if (i == 3 && memcmp(p, "GET", 3) == 0)
		req->method = HTTP_GET;
	else if (i == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = HTTP_HEAD;
	else
		req->method = HTTP_OTHER;
	start = ++i;
	while (i < len && p[i] != ' ') {
		unsigned char ch = (unsigned char)p[i];
		if (ch <= 0x20 || ch == 0x7f)
			return -400;
		i++;
	}
	if (i == start || i == len)
		return -400;   /* no target, or no version: HTTP/0.9 */
	req->target = (struct http_str){ p + start, i - start };
	p += i + 1;
	len -= i + 1;
	if (len != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return -505;
	req->version = p[7] == '1' ? 11 : 10;
	return 0;
}

/* Calls fn for every element of a comma-separated list, trimmed. */
static int
http_list_each(struct http_str v, int (*fn)(struct http_str, void *),
    void *arg)
{
	size_t i = 0;

	while (i < v.len) {
		size_t b, e;
		int rc;

		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		b = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		e = i;
		while (e > b && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
			e--;
		if (e > b && (rc = fn((struct http_str){ v.p + b, e - b }, arg)) != 0)
			return rc;
		i++;
	}
	return 0;
}

/* What the list headers leave behind while the head is read. */
struct http_scan {
	bool conn_close;          /* Connection: close */
	bool conn_keep_alive;     /* Connection: keep-alive */
	int  chunked;             /* "chunked" codings seen */
	int  codings;             /* transfer codings seen */
	bool host_seen;           /* a Host header was read */
};

static int
http_connection_token(struct http_str tok, void *arg)
{
	struct http_scan *sc = arg;

	if (http_str_ieq(tok, "close"))
		sc->conn_close = true;
	else if (http_str_ieq(tok, "keep-alive"))
		sc->conn_keep_alive = true;
	return 0;
}

/* Only "chunked" is a transfer coding this server understands. */
static int
http_coding_token(struct http_str tok, void *arg)
{
	struct http_scan *sc = arg;

	sc->codings++;
	if (!http_str_ieq(tok, "chunked"))
		return -501;
	sc->chunked++;
	return 0;
}

static int
http_content_length(struct http_str v, struct http_request *req)
{
	long long n = 0;

	if (v.len == 0 || v.len > HTTP_CL_DIGITS)
		return -400;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -400;
		n = n * 10 + (v.p[i] - '0');
	}
	if (req->content_length >= 0 && req->content_length != n)
		return -400;
	req->content_length = n;
	return 0;
}

/* Stores one header the server cares about; others are skipped. */
static int
http_header(struct http_str name, struct http_str v, struct http_request *req,
    struct http_scan *sc)
{
	static const struct {
		const char *name;
		size_t      off;
	} plain[] = {
		{ "if-modified-since", offsetof(struct http_request, if_modified_since) },
		{ "if-none-match", offsetof(struct http_request, if_none_match) },
		{ "range", offsetof(struct http_request, range) },
		{ "if-range", offsetof(struct http_request, if_range) },
	};

	if (http_str_ieq(name, "host")) {
		if (sc->host_seen)
			return -400;
		sc->host_seen = true;
		req->host = v;
		return 0;
	}
	if (http_str_ieq(name, "connection"))
		return http_list_each(v, http_connection_token, sc);
	if (http_str_ieq(name, "content-length"))
		return http_content_length(v, req);
	if (http_str_ieq(name, "transfer-encoding"))
		return http_list_each(v, http_coding_token, sc);
	if (http_str_ieq(name, "expect")) {
		req->expect_continue = http_str_ieq(v, "100-continue");
		return 0;
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (http_str_ieq(name, plain[i].name)) {
			*(struct http_str *)((char *)req + plain[i].off) = v;
			return 0;
		}
	return 0;
}

/* Parses "Name: value" (CR already removed). */
static int
http_parse_header_line(const char *p, size_t len, struct http_request *req,
    struct http_scan *sc)
{
	size_t i = 0, b, e;

	while (i < len && http_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == len || p[i] != ':')
		return -400;   /* folded line, empty name, space before ':' */
	b = i + 1;
	while (b < len && (p[b] == ' ' || p[b] == '\t'))
		b++;
	e = len;
	while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t'))
		e--;
	for (size_t k = b; k < e; k++)
		if (!http_is_vbyte((unsigned char)p[k]))
			return -400;
	return http_header((struct http_str){ p, i },
	    (struct http_str){ p + b, e - b }, req, sc);
}

/* Length of the line at p..end without its LF and one CR before it;
 * a CR anywhere else is left in and refused later as a control byte. */
static size_t
http_line_len(const char *p, const char *lf)
{
	size_t n = (size_t)(lf - p);

	return n > 0 && p[n - 1] == '\r' ? n - 1 : n;
}

/* Finds the blank line ending the head that starts at p; returns the
 * offset just after it, or 0 when it has not arrived yet. */
static size_t
http_find_head_end(const char *p, size_t len, size_t from)
{
	const char *lf;

	while (from < len && (lf = memchr(p + from, '\n', len - from)) != NULL) {
		size_t next = (size_t)(lf - p) + 1;
		if (http_line_len(p + from, lf) == 0)
			return next;
		from = next;
	}
	return 0;
}

/* Parses the header lines between p and end, then checks them together. */
static int
http_parse_headers(const char *p, const char *end, struct http_request *req)
{
	struct http_scan sc = { 0 };
	int rc;

	for (;;) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = http_line_len(p, lf);
		if (n == 0)
			break;
		if ((rc = http_parse_header_line(p, n, req, &sc)) != 0)
			return rc;
		p = lf + 1;
	}
	if (req->version == 11 && !sc.host_seen)
		return -400;
	if (sc.chunked > 1 || (sc.codings > 0 && req->content_length >= 0))
		return -400;
	req->chunked = sc.chunked == 1;
	req->keep_alive = !sc.conn_close &&
	    (req->version == 11 || sc.conn_keep_alive);
	return 0;
}

long
http_parse_request(const char *data, size_t len, size_t max,
    struct http_request *req)
{
	size_t skip = 0, body;
	const char *lf, *line;
	int rc;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	/* Empty lines before a request line are ignored (RFC 9112, 2.2). */
	while (skip < len && (data[skip] == '\r' || data[skip] == '\n'))
		skip++;
	line = data + skip;
	if ((lf = memchr(line, '\n', len - skip)) == NULL)
		return len - skip > max ? -414 : 0;
	if ((size_t)(lf - line) > max)
		return -414;
	if ((rc = http_parse_request_line(line, http_line_len(line, lf), req)) != 0)
		return rc;
	body = http_find_head_end(data, len, (size_t)(lf - data) + 1);
	if (body == 0)
		return len - skip > max ? -431 : 0;
	if (body - skip > max)
		return -431;
	if ((rc = http_parse_headers(lf + 1, data + body, req)) != 0)
		return rc;
	req->head_len = body;
	return (long)body;
}

int
http_split_target(struct http_str target, struct http_str *path,
    struct http_str *query)
{
	const char *p = target.p, *end = target.p + target.len;
	const char *q;

	*query = (struct http_str){ NULL, 0 };
	if (target.len > 7 && strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else if (target.len > 8 && strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (target.len == 0 || *p != '/')
		return -400;
	if (p != target.p) {
		/* Absolute-form: the authority is skipped, the path stays. */
		const char *a = p;
		while (p < end && *p != '/' && *p != '?')
			p++;
		if (p == a)
			return -400;
	}
	if (memchr(p, '#', (size_t)(end - p)) != NULL)
		return -400;
	q = memchr(p, '?', (size_t)(end - p));
	if (q != NULL)
		*query = (struct http_str){ q + 1, (size_t)(end - q - 1) };
	else
		q = end;
	if (q == p)
		*path = (struct http_str){ "/", 1 };
	else
		*path = (struct http_str){ p, (size_t)(q - p) };
	return 0;
}

static int
http_hex(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Decodes one segment of raw (up to the next '/') into out; returns the
 * bytes read from raw, or a negated status. */
static long
http_decode_segment(const char *raw, size_t len, char *out, size_t *olen)
{
	size_t i = 0, o = 0;

	while (i < len && raw[i] != '/') {
		int hi, lo;
		char ch = raw[i];

		if (ch == '%') {
			if (i + 2 >= len)
				return -400;
			if ((hi = http_hex((unsigned char)raw[i + 1])) < 0 ||
			    (lo = http_hex((unsigned char)raw[i + 2])) < 0)
				return -400;
			ch = (char)(hi << 4 | lo);
			if (ch == '/')
				return -404;   /* an encoded slash names no file */
			i += 3;
		} else {
			i++;
		}
		if (ch == '\0')
			return -404;
		out[o++] = ch;
	}
	*olen = o;
	return (long)i;
}

long
http_normalize_path(const char *raw, size_t len, char *out, size_t outsize)
{
	size_t i = 0, o = 1;
	bool dir = true;   /* the result names a directory form */

	if (outsize < len + 3)
		return -414;
	out[0] = '/';
	while (i < len) {
		size_t seg = o, slen;
		long n;

		if (raw[i] == '/') {
			i++;
			dir = true;
			continue;
		}
		if ((n = http_decode_segment(raw + i, len - i, out + o, &slen)) < 0)
			return n;
		i += (size_t)n;
		dir = false;
		if (slen == 1 && out[seg] == '.') {
			dir = true;
			continue;
		}
		if (slen == 2 && out[seg] == '.' && out[seg + 1] == '.') {
			if (seg == 1)
				return -404;   /* above the root */
			o = seg - 1;
			while (out[o - 1] != '/')
				o--;
			dir = true;
			continue;
		}
		o = seg + slen;
		out[o++] = '/';
	}
	if (!dir && o > 1)
		o--;
	out[o] = '\0';
	/* "." and ".." are gone; what is left must pass the rule for every
	 * path a client names beneath a root (no dotfiles). */
	if (fsroot_check(out + 1) != 0)
		return -404;
	return (long)o;
}

bool
http_query_has(struct http_str query, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), i = 0;

	while (i < query.len) {
		const char *amp = memchr(query.p + i, '&', query.len - i);
		size_t e = amp ? (size_t)(amp - query.p) : query.len;

		if (e - i == nl + 1 + vl && memcmp(query.p + i, name, nl) == 0 &&
		    query.p[i + nl] == '=' && memcmp(query.p + i + nl + 1, value, vl) == 0)
			return true;
		i = e + 1;
	}
	return false;
}
