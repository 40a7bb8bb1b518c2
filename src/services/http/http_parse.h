/*
 * http_parse.h - the pure parts of HTTP/1.x: request heads, the request
 * target and its path, byte ranges, dates, entity tags, and the escaping
 * a directory listing needs.
 *
 * Nothing here does I/O or keeps state, so the unit tests and the fuzzer
 * drive it directly, and both the http and the metrics service use it.
 * http_parse.c reads requests; http_text.c has ranges, dates, entity
 * tags, escaping and status texts.
 * Errors are HTTP status codes, returned negated.
 */
#ifndef MULTID_HTTP_PARSE_H
#define MULTID_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* A piece of the request, pointing into the caller's input. */
struct http_str {
	const char *p;            /* first byte, NULL when absent */
	size_t      len;          /* bytes */
};

enum http_method {
	HTTP_GET,                 /* GET */
	HTTP_HEAD,                /* HEAD */
	HTTP_OTHER,               /* any other token: answered with 405 */
};

/* One parsed request head. */
struct http_request {
	enum http_method method;     /* which method */
	struct http_str  method_text; /* the method as sent */
	struct http_str  target;     /* the request target as sent */
	int              version;    /* 10 or 11 */
	bool             keep_alive; /* the connection persists after it */
	bool             chunked;    /* a chunked body follows */
	bool             expect_continue; /* Expect: 100-continue */
	long long        content_length; /* body bytes, -1 when absent */
	struct http_str  host;       /* Host */
	struct http_str  if_modified_since; /* If-Modified-Since */
	struct http_str  if_none_match; /* If-None-Match */
	struct http_str  range;      /* Range */
	struct http_str  if_range;   /* If-Range */
	size_t           head_len;   /* bytes of the head, blank line included */
};

/* Parses one request head at the start of data.  Returns the head's
 * length (also in req->head_len) once it is complete, 0 while more input
 * is needed, or a negated status: -400 malformed (an HTTP/0.9 request
 * line included), -414 request line longer than max, -431 head longer
 * than max, -501 unknown transfer coding, -505 other HTTP version. */
long http_parse_request(const char *data, size_t len, size_t max,
    struct http_request *req);

/* Splits a request target (origin-form "/p?q" or absolute-form
 * "http://host/p?q") into its raw path and query.  0, or -400. */
int http_split_target(struct http_str target, struct http_str *path,
    struct http_str *query);

/* Percent-decodes and normalises a raw path into out ("/", or "/a/b" with
 * a trailing "/" when the path names a directory form).  Empty, "." and
 * ".." segments are resolved; the result never climbs above "/", never
 * holds a NUL, and has no segment starting with "." (dotfiles).  Returns
 * the length (out is NUL-terminated), -400 for a bad escape, -404 for a
 * path that leaves the root, holds an encoded "/" or NUL, or names a
 * dotfile, or -414 when outsize is less than len + 3. */
long http_normalize_path(const char *raw, size_t len, char *out,
    size_t outsize);

/* Whether the query holds the parameter name=value. */
bool http_query_has(struct http_str query, const char *name,
    const char *value);

enum http_range_result {
	HTTP_RANGE_NONE,          /* absent, malformed or several: send all */
	HTTP_RANGE_OK,            /* one satisfiable range in first..last */
	HTTP_RANGE_UNSATISFIABLE, /* answer 416 */
};

/* Parses a Range value ("bytes=A-B", "bytes=A-", "bytes=-N") against a
 * representation of size bytes. */
enum http_range_result http_parse_range(struct http_str value, uint64_t size,
    uint64_t *first, uint64_t *last);

#define HTTP_DATE_LEN 29          /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Formats t as an IMF-fixdate; buf gets HTTP_DATE_LEN bytes and a NUL. */
void http_date_format(time_t t, char *buf);
/* Parses an IMF-fixdate, RFC 850 or asctime date; -1 when invalid. */
time_t http_date_parse(struct http_str value);

/* Whether an If-None-Match list matches etag (weak comparison), or is
 * "*". */
bool http_etag_match(struct http_str list, const char *etag);

/* Escapers for listings.  Each writes at most the stated multiple of len
 * bytes into out and returns how many it wrote. */
size_t http_escape_html(const char *s, size_t len, char *out);  /* 6 * len */
size_t http_escape_url(const char *s, size_t len, char *out);   /* 3 * len */
size_t http_escape_json(const char *s, size_t len, char *out);  /* 6 * len */

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);
/* Writes the small HTML page of an error status into out; returns its
 * length (less than size). */
size_t http_error_page(int status, char *out, size_t size);

#endif
