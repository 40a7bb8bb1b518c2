/*
 * check_http.c - unit tests of the http service's pure parts: request
 * heads, request targets, path normalisation, ranges, dates, entity tags,
 * escaping and media types.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/http/http_parse.h"
#include "services/http/mime.h"

static long
parse(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), 8192, req);
}

static bool
str_is(struct http_str s, const char *want)
{
	return s.p != NULL && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* Normalises s; returns the status or 0 with the result in out. */
static long
norm(const char *s, char *out)
{
	long n = http_normalize_path(s, strlen(s), out, 4096);

	return n < 0 ? n : 0;
}

/* --- request heads ------------------------------------------------------ */

START_TEST(request_simple)
{
	struct http_request req;
	const char *s = "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n"
	    "If-None-Match: \"x\"\r\n\r\nNEXT";

	ck_assert_int_eq(parse(s, &req), (long)(strlen(s) - 4));
	ck_assert_int_eq(req.method, HTTP_GET);
	ck_assert(str_is(req.target, "/a/b?x=1"));
	ck_assert_int_eq(req.version, 11);
	ck_assert(req.keep_alive);
	ck_assert(str_is(req.host, "h"));
	ck_assert(str_is(req.range, "bytes=0-1"));
	ck_assert(str_is(req.if_none_match, "\"x\""));
	ck_assert_int_eq(req.content_length, -1);
}
END_TEST

START_TEST(request_incomplete)
{
	struct http_request req;

	ck_assert_int_eq(parse("", &req), 0);
	ck_assert_int_eq(parse("GET / HT", &req), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n", &req), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n", &req), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r", &req), 0);
}
END_TEST

START_TEST(request_keep_alive_rules)
{
	struct http_request req;

	ck_assert(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
	ck_assert(!req.keep_alive);
	ck_assert_int_eq(req.version, 10);
	ck_assert(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
	ck_assert(req.keep_alive);
	ck_assert(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n",
	    &req) > 0);
	ck_assert(!req.keep_alive);
	/* Bare LF line ends are accepted, as by nginx. */
	ck_assert(parse("HEAD / HTTP/1.1\nHost: a\n\n", &req) > 0);
	ck_assert_int_eq(req.method, HTTP_HEAD);
	/* Empty lines before the request line are skipped. */
	ck_assert_int_eq(parse("\r\n\r\nGET / HTTP/1.0\r\n\r\n", &req), 22);
}
END_TEST

START_TEST(request_errors)
{
	static const struct { const char *req; long want; } cases[] = {
		{ "GET /\r\n", -400 },                        /* HTTP/0.9 */
		{ "GET\r\n", -400 },
		{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400 },
		{ "GET / http/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.12\r\nHost: a\r\n\r\n", -400 },
		{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505 },
		{ "GET / HTTP/0.9\r\n\r\n", -505 },
		{ "GET / HTTP/1.2\r\nHost: a\r\n\r\n", -505 },
		{ "GET / HTTP/1.1\r\n\r\n", -400 },           /* no Host */
		{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		  "Content-Length: 2\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -501 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 3\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked"
		  "\r\n\r\n", -400 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_request req;
		long got = parse(cases[i].req, &req);
		ck_assert_msg(got == cases[i].want, "case %zu: got %ld want %ld",
		    i, got, cases[i].want);
	}
}
END_TEST

START_TEST(request_body_framing)
{
	struct http_request req;

	ck_assert(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
	    &req) > 0);
	ck_assert_int_eq(req.method, HTTP_OTHER);
	ck_assert(str_is(req.method_text, "POST"));
	ck_assert_int_eq(req.content_length, 5);
	ck_assert(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked"
	    "\r\n\r\n", &req) > 0);
	ck_assert(req.chunked);
	ck_assert(parse("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 1\r\n\r\n", &req) > 0);
	ck_assert(req.expect_continue);
	/* Methods are case-sensitive: "get" is some other method. */
	ck_assert(parse("get / HTTP/1.1\r\nHost: a\r\n\r\n", &req) > 0);
	ck_assert_int_eq(req.method, HTTP_OTHER);
}
END_TEST

START_TEST(request_limits)
{
	struct http_request req;
	char *big = malloc(20000);

	memset(big, 'a', 20000);
	memcpy(big, "GET /", 5);
	ck_assert_int_eq(http_parse_request(big, 9000, 8192, &req), -414);
	ck_assert_int_eq(http_parse_request(big, 8000, 8192, &req), 0);
	/* A request line that fits, headers that do not. */
	snprintf(big, 20000, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(big + strlen(big), 'b', 9000);
	ck_assert_int_eq(http_parse_request(big, 9000, 8192, &req), -431);
	memcpy(big + 8000, "\r\n\r\n", 4);
	ck_assert_int_eq(http_parse_request(big, 8004, 8192, &req), 8004);
	ck_assert_int_eq(http_parse_request(big, 8004, 8000, &req), -431);
	free(big);
}
END_TEST

/* --- targets and paths -------------------------------------------------- */

START_TEST(target_forms)
{
	struct http_str path, query;

	ck_assert_int_eq(http_split_target((struct http_str){ "/a?b=c", 6 },
	    &path, &query), 0);
	ck_assert(str_is(path, "/a"));
	ck_assert(str_is(query, "b=c"));
	ck_assert_int_eq(http_split_target((struct http_str){ "http://h:1/x/y", 14 },
	    &path, &query), 0);
	ck_assert(str_is(path, "/x/y"));
	ck_assert_ptr_null(query.p);
	ck_assert_int_eq(http_split_target((struct http_str){ "HTTP://h?q", 10 },
	    &path, &query), 0);
	ck_assert(str_is(path, "/"));
	ck_assert(str_is(query, "q"));
	ck_assert_int_eq(http_split_target((struct http_str){ "*", 1 }, &path,
	    &query), -400);
	ck_assert_int_eq(http_split_target((struct http_str){ "a/b", 3 }, &path,
	    &query), -400);
	ck_assert_int_eq(http_split_target((struct http_str){ "http:///x", 9 },
	    &path, &query), -400);
	ck_assert_int_eq(http_split_target((struct http_str){ "/a#f", 4 }, &path,
	    &query), -400);
}
END_TEST

START_TEST(path_normalise)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "/", "/" },
		{ "", "/" },
		{ "/a", "/a" },
		{ "/a/", "/a/" },
		{ "//a///b", "/a/b" },
		{ "/a/./b", "/a/b" },
		{ "/a/b/..", "/a/" },
		{ "/a/b/../c", "/a/c" },
		{ "/a/.", "/a/" },
		{ "/a/%2e%2E/b", "/b" },
		{ "/%41%62", "/Ab" },
		{ "/a%20b", "/a b" },
		{ "/%252e%252e/x", "/%2e%2e/x" },
		{ "/a/../", "/" },
		{ "/a/b/c/../../d/", "/a/d/" },
	};
	static const struct { const char *in; long want; } bad[] = {
		{ "/..", -404 },
		{ "/../etc/passwd", -404 },
		{ "/a/../../b", -404 },
		{ "/%2e%2e/x", -404 },
		{ "/a/%2e%2e/%2e%2e/x", -404 },
		{ "/a%2fb", -404 },
		{ "/..%2f..%2fetc", -404 },
		{ "/a%00b", -404 },
		{ "/.git/config", -404 },
		{ "/a/.hidden", -404 },
		{ "/%2ehidden", -404 },
		{ "/...", -404 },
		{ "/a%zz", -400 },
		{ "/a%4", -400 },
		{ "/a%", -400 },
	};
	char out[4096];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long n = http_normalize_path(ok[i].in, strlen(ok[i].in), out,
		    sizeof(out));
		ck_assert_msg(n >= 0, "%s: %ld", ok[i].in, n);
		ck_assert_str_eq(out, ok[i].out);
		ck_assert_int_eq((size_t)n, strlen(ok[i].out));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(norm(bad[i].in, out) == bad[i].want, "%s",
		    bad[i].in);
	/* The output buffer must have room for the worst case. */
	ck_assert_int_eq(http_normalize_path("/abc", 4, out, 6), -414);
	ck_assert_int_eq(http_normalize_path("/abc", 4, out, 7), 4);
}
END_TEST

START_TEST(query_params)
{
	struct http_str q = { "a=1&format=json&b", 17 };

	ck_assert(http_query_has(q, "format", "json"));
	ck_assert(!http_query_has(q, "format", "html"));
	ck_assert(!http_query_has((struct http_str){ "xformat=json", 12 },
	    "format", "json"));
	ck_assert(!http_query_has((struct http_str){ NULL, 0 }, "format", "json"));
}
END_TEST

/* --- ranges, dates, validators ------------------------------------------ */

static enum http_range_result
range(const char *v, uint64_t size, uint64_t *a, uint64_t *b)
{
	return http_parse_range((struct http_str){ v, strlen(v) }, size, a, b);
}

START_TEST(byte_ranges)
{
	uint64_t a, b;

	ck_assert_int_eq(range("bytes=0-9", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 0 && b == 9);
	ck_assert_int_eq(range("bytes=90-", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 90 && b == 99);
	ck_assert_int_eq(range("bytes=-10", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 90 && b == 99);
	ck_assert_int_eq(range("bytes=-1000", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 0 && b == 99);
	ck_assert_int_eq(range("bytes=50-1000", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 50 && b == 99);
	ck_assert_int_eq(range("bytes=99-99", 100, &a, &b), HTTP_RANGE_OK);
	ck_assert(a == 99 && b == 99);
	ck_assert_int_eq(range("bytes=100-", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(range("bytes=-0", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(range("bytes=0-", 0, &a, &b), HTTP_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(range("bytes=99999999999999999999999-", 100, &a, &b),
	    HTTP_RANGE_UNSATISFIABLE);
	ck_assert_int_eq(range("bytes=5-1", 100, &a, &b), HTTP_RANGE_NONE);
	ck_assert_int_eq(range("bytes=0-1,5-6", 100, &a, &b), HTTP_RANGE_NONE);
	ck_assert_int_eq(range("bytes=-", 100, &a, &b), HTTP_RANGE_NONE);
	ck_assert_int_eq(range("items=0-1", 100, &a, &b), HTTP_RANGE_NONE);
	ck_assert_int_eq(range("bytes=1-2x", 100, &a, &b), HTTP_RANGE_NONE);
}
END_TEST

START_TEST(dates)
{
	char buf[HTTP_DATE_LEN + 1];
	const char *forms[] = {
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
	};

	http_date_format(784111777, buf);
	ck_assert_str_eq(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(http_date_parse((struct http_str){ forms[i],
		    strlen(forms[i]) }), 784111777);
	ck_assert_int_eq(http_date_parse((struct http_str){ "yesterday", 9 }), -1);
	ck_assert_int_eq(http_date_parse((struct http_str){
	    "Sun, 06 Nov 1994 25:49:37 GMT", 29 }), -1);
	ck_assert_int_eq(http_date_parse((struct http_str){
	    "Sun, 06 Nov 1994 08:49:37 UTC", 29 }), -1);
	ck_assert_int_eq(http_date_parse((struct http_str){ "", 0 }), -1);
}
END_TEST

START_TEST(etags)
{
	const char *e = "\"5f-10\"";

	ck_assert(http_etag_match((struct http_str){ "\"5f-10\"", 7 }, e));
	ck_assert(http_etag_match((struct http_str){ "W/\"5f-10\"", 9 }, e));
	ck_assert(http_etag_match((struct http_str){ "\"a\", \"5f-10\"", 12 }, e));
	ck_assert(http_etag_match((struct http_str){ "*", 1 }, e));
	ck_assert(!http_etag_match((struct http_str){ "\"5f-11\"", 7 }, e));
	ck_assert(!http_etag_match((struct http_str){ "5f-10", 5 }, e));
	ck_assert(!http_etag_match((struct http_str){ "\"5f-10", 6 }, e));
}
END_TEST

/* --- escaping and types ------------------------------------------------- */

START_TEST(escaping)
{
	char out[256];
	size_t n;

	n = http_escape_html("<a href=\"x\">&'", 14, out);
	out[n] = '\0';
	ck_assert_str_eq(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
	n = http_escape_url("a b?#%\"\xc3\xa4/~", 11, out);
	out[n] = '\0';
	ck_assert_str_eq(out, "a%20b%3F%23%25%22%C3%A4/~");
	n = http_escape_url("javascript:x", 12, out);
	out[n] = '\0';
	ck_assert_str_eq(out, "javascript%3Ax");
	n = http_escape_json("q\"\\\n\xc3\xa4\xff", 7, out);
	out[n] = '\0';
	ck_assert_str_eq(out, "q\\\"\\\\\\u000a\xc3\xa4\\ufffd");
}
END_TEST

START_TEST(media_types)
{
	ck_assert_str_eq(mime_type("index.html", 10), "text/html; charset=utf-8");
	ck_assert_str_eq(mime_type("A.PNG", 5), "image/png");
	ck_assert_str_eq(mime_type("README", 6), "application/octet-stream");
	ck_assert_str_eq(mime_type(".bashrc", 7), "application/octet-stream");
	ck_assert_str_eq(mime_type("x.nosuchext", 11), "application/octet-stream");
}
END_TEST

START_TEST(status_pages)
{
	char page[512];
	size_t n = http_error_page(404, page, sizeof(page));

	ck_assert_uint_eq(n, strlen(page));
	ck_assert_ptr_nonnull(strstr(page, "<title>404 Not Found</title>"));
	ck_assert_str_eq(http_status_text(431), "Request Header Fields Too Large");
	ck_assert_str_eq(http_status_text(505), "HTTP Version Not Supported");
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *t = tcase_create("request");

	tcase_add_test(t, request_simple);
	tcase_add_test(t, request_incomplete);
	tcase_add_test(t, request_keep_alive_rules);
	tcase_add_test(t, request_errors);
	tcase_add_test(t, request_body_framing);
	tcase_add_test(t, request_limits);
	suite_add_tcase(s, t);
	t = tcase_create("path");
	tcase_add_test(t, target_forms);
	tcase_add_test(t, path_normalise);
	tcase_add_test(t, query_params);
	suite_add_tcase(s, t);
	t = tcase_create("entity");
	tcase_add_test(t, byte_ranges);
	tcase_add_test(t, dates);
	tcase_add_test(t, etags);
	suite_add_tcase(s, t);
	t = tcase_create("output");
	tcase_add_test(t, escaping);
	tcase_add_test(t, media_types);
	tcase_add_test(t, status_pages);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
