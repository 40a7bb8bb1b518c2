/*
 * fuzz_http.c - the HTTP request parser, target splitting and path
 * normalisation, with byte ranges, dates, entity tags and escaping on the
 * side.
 *
 * Invariants: the parser returns 0, a known error status, or a head
 * length within the input, and any shorter prefix of a complete head is
 * "need more" (so pipelined requests split anywhere parse the same); a
 * normalised path starts with "/", has no empty, "." or ".." segment and
 * no segment starting with "." (so it never leaves the root and never
 * names a dotfile), and holds no NUL; a satisfiable range lies inside the
 * file; escapers stay within their stated bounds and leave no byte that
 * would break out of an attribute or a URL.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/http/http_parse.h"

static void
check_normalised(const char *out, long n)
{
	assert(n >= 1);
	assert(out[0] == '/');
	assert(strlen(out) == (size_t)n);
	assert(strstr(out, "//") == NULL);
	assert(strstr(out, "/.") == NULL);   /* no ".", "..", dotfiles */
}

static void
fuzz_path(const char *p, size_t len)
{
	char *out = malloc(len + 3);
	long n = http_normalize_path(p, len, out, len + 3);

	assert(n >= 0 || n == -400 || n == -404);
	if (n >= 0)
		check_normalised(out, n);
	free(out);
}

static void
fuzz_request(const char *d, size_t size, size_t max)
{
	struct http_request req;
	struct http_str path, query;
	long r = http_parse_request(d, size, max, &req);

	assert(r == 0 || r == -400 || r == -414 || r == -431 || r == -501 ||
	    r == -505 || (r > 0 && (size_t)r <= size));
	if (r <= 0)
		return;
	assert(req.head_len == (size_t)r);
	assert(req.version == 10 || req.version == 11);
	assert(req.target.p >= d && req.target.p + req.target.len <= d + r);
	/* A prefix of a complete head is never anything but "need more". */
	if (r > 1) {
		struct http_request pre;
		size_t k = (size_t)(d[0] & 0x7f) % (size_t)r;
		long pr = http_parse_request(d, k, max, &pre);
		assert(pr == 0);
	}
	if (http_split_target(req.target, &path, &query) == 0) {
		assert(path.len > 0 && path.p[0] == '/');
		fuzz_path(path.p, path.len);
	}
}

static void
fuzz_entity(const char *d, size_t size)
{
	struct http_str v = { d, size };
	uint64_t first, last, fsize = size > 0 ? (uint8_t)d[0] * 977u : 0;
	char date[HTTP_DATE_LEN + 1];
	time_t t;

	if (http_parse_range(v, fsize, &first, &last) == HTTP_RANGE_OK)
		assert(first <= last && last < fsize);
	t = http_date_parse(v);
	if (t >= 0 && t < 253402300800) {   /* years 1970..9999 */
		http_date_format(t, date);
		assert(http_date_parse((struct http_str){ date, HTTP_DATE_LEN }) == t);
	}
	(void)http_etag_match(v, "\"5f-10\"");
}

static void
fuzz_escape(const char *d, size_t size)
{
	char *out = malloc(size * 6 + 1);
	size_t n;

	n = http_escape_html(d, size, out);
	assert(n <= size * 6);
	for (size_t i = 0; i < n; i++)
		assert(out[i] != '<' && out[i] != '>' && out[i] != '"' &&
		    out[i] != '\'');
	n = http_escape_url(d, size, out);
	assert(n <= size * 3);
	for (size_t i = 0; i < n; i++)
		assert(strchr("\"'<>?#: \r\n", out[i]) == NULL && out[i] != '\0');
	n = http_escape_json(d, size, out);
	assert(n <= size * 6);
	for (size_t i = 0; i < n; i++)
		assert((unsigned char)out[i] >= 0x20);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	size_t max = size > 0 ? 64 + (size_t)data[0] * 32 : 8192;

	fuzz_request(d, size, max);
	fuzz_request(d, size, 8192);
	fuzz_path(d, size);
	fuzz_entity(d, size);
	fuzz_escape(d, size);
	return 0;
}
