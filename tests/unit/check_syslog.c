/*
 * check_syslog.c - unit tests of the log service's record splitting,
 * syslog header parsing and escaping.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/log/syslog.h"

/* Parses rec and renders the result as "SEVERITY|APP|TEXT" (APP "~" when
 * unknown), with the text escaped, so one comparison checks it all. */
static const char *
parse(const char *rec)
{
	static char out[4096];
	char app[1024], text[2048];
	struct syslog_msg m;

	syslog_parse(rec, strlen(rec), &m);
	ck_assert_int_ge(m.severity, 0);
	ck_assert_int_le(m.severity, 7);
	app[syslog_escape(app, m.app, m.app != NULL ? m.app_len : 0)] = '\0';
	text[syslog_escape(text, m.text, m.text_len)] = '\0';
	snprintf(out, sizeof(out), "%s|%s|%s", syslog_severity_name(m.severity),
	    m.app != NULL ? app : "~", text);
	return out;
}

static enum syslog_format
format_of(const char *rec)
{
	struct syslog_msg m;

	syslog_parse(rec, strlen(rec), &m);
	return m.format;
}

/* Splits data and joins the records with '|'. */
static const char *
split(const char *data, size_t len)
{
	static char out[1024];
	const char *rec;
	size_t pos = 0, n, o = 0;

	out[0] = '\0';
	while (syslog_next_record(data, len, &pos, &rec, &n)) {
		ck_assert_uint_gt(n, 0);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s",
		    o > 0 ? "|" : "", (int)n, rec);
	}
	ck_assert_uint_eq(pos, len);
	return out;
}

static const char *
escape(const char *in, size_t len)
{
	static char out[4096];

	out[syslog_escape(out, in, len)] = '\0';
	return out;
}

START_TEST(records_split_at_lf)
{
	ck_assert_str_eq(split("one", 3), "one");
	ck_assert_str_eq(split("a\nb\r\nc\n", 7), "a|b|c");
	ck_assert_str_eq(split("\n\r\n\n\na\n\n", 8), "a");
	ck_assert_str_eq(split("\n\n", 2), "");
	ck_assert_str_eq(split("", 0), "");
	/* Only one CR is taken away, before an LF or the datagram's end. */
	ck_assert_str_eq(split("a\r\r\nb\r", 6), "a\r|b");
	ck_assert_str_eq(split("a\rb\r\r", 5), "a\rb\r");
	/* NUL is data, not an end. */
	ck_assert_str_eq(escape("a\0b", 3), "a\\x00b");
	ck_assert_str_eq(split("x\ny", 3), "x|y");
}
END_TEST

START_TEST(pri_range_and_garbage)
{
	ck_assert_str_eq(parse("<0>boom"), "emerg|~|boom");
	ck_assert_str_eq(parse("<191>x"), "debug|~|x");
	ck_assert_str_eq(parse("<13>x"), "notice|~|x");
	ck_assert_str_eq(parse("<013>x"), "notice|~|x");
	ck_assert_int_eq(format_of("<13>x"), SYSLOG_PRI_ONLY);
	/* Out of range or not a number: the whole record is the text. */
	ck_assert_str_eq(parse("<192>x"), "info|~|<192>x");
	ck_assert_str_eq(parse("<999>x"), "info|~|<999>x");
	ck_assert_str_eq(parse("<0013>x"), "info|~|<0013>x");
	ck_assert_str_eq(parse("<>x"), "info|~|<>x");
	ck_assert_str_eq(parse("<-1>x"), "info|~|<-1>x");
	ck_assert_str_eq(parse("<1a>x"), "info|~|<1a>x");
	ck_assert_str_eq(parse("<13"), "info|~|<13");
	ck_assert_str_eq(parse("<"), "info|~|<");
	ck_assert_str_eq(parse("13>x"), "info|~|13>x");
	ck_assert_int_eq(format_of("<192>x"), SYSLOG_PLAIN);
	ck_assert_str_eq(parse("<13>"), "notice|~|");
	ck_assert_str_eq(parse("plain words: here"), "info|~|plain words: here");
}
END_TEST

START_TEST(rfc5424_as_logger_sends_it)
{
	ck_assert_str_eq(parse("<133>1 2026-11-22T04:40:17.364238+00:00 vm backup"
	    " - - [timeQuality tzKnown=\"1\" isSynced=\"0\"] done in 3s"),
	    "notice|backup|done in 3s");
	ck_assert_int_eq(format_of("<133>1 2026-11-22T04:40:17Z vm a - - - m"),
	    SYSLOG_RFC5424);
	ck_assert_str_eq(parse("<13>1 2026-11-22T04:40:17.369611+00:00 vm root "
	    "7052 ID47 [timeQuality tzKnown=\"1\" isSynced=\"0\"][zoo@123 "
	    "tiger=\"hun\\]gry\"] with sd"), "notice|root|with sd");
	/* logger --rfc5424=notq,notime,nohost */
	ck_assert_str_eq(parse("<13>1 - - root - - - bare"), "notice|root|bare");
}
END_TEST

START_TEST(rfc5424_nil_values_and_odd_parts)
{
	ck_assert_str_eq(parse("<11>1 - - - - - -"), "err|~|");
	ck_assert_str_eq(parse("<11>1 - - - - - - "), "err|~|");
	ck_assert_str_eq(parse("<11>1 - - - - - - msg"), "err|~|msg");
	ck_assert_str_eq(parse("<11>1 - ::1 app - - - msg"), "err|app|msg");
	ck_assert_str_eq(parse("<11>1 - - app - - [a x=\"]\"] msg"),
	    "err|app|msg");
	ck_assert_str_eq(parse("<11>1 - - app - - [a x=\"\\\"]\"][b] msg"),
	    "err|app|msg");
	ck_assert_str_eq(parse("<11>1 - - app - - [a][b y=\"\\\\\"] m"),
	    "err|app|m");
	/* The BOM that marks UTF-8 text is not part of it. */
	ck_assert_str_eq(parse("<11>1 - - app - - - \xef\xbb\xbfgr\xc3\xbc\xc3\x9f"),
	    "err|app|gr\xc3\xbc\xc3\x9f");
	ck_assert_str_eq(parse("\xef\xbb\xbfplain"), "info|~|plain");
	/* Control characters in the header fields are escaped too. */
	ck_assert_str_eq(parse("<11>1 - - a\tb - - - m"), "err|a\\x09b|m");
}
END_TEST

START_TEST(rfc5424_broken_keeps_the_text)
{
	/* Too few fields, no structured data, a bad timestamp or an open
	 * element: all of it after <PRI> is the text. */
	ck_assert_str_eq(parse("<13>1 2026-11-22T10:00:00Z host app"),
	    "notice|~|1 2026-11-22T10:00:00Z host app");
	ck_assert_str_eq(parse("<13>1 - - app - -"), "notice|~|1 - - app - -");
	ck_assert_str_eq(parse("<13>1 - - app - - x msg"),
	    "notice|~|1 - - app - - x msg");
	ck_assert_str_eq(parse("<13>1 - - app - - [open msg"),
	    "notice|~|1 - - app - - [open msg");
	ck_assert_str_eq(parse("<13>1 - - app - - [a x=\"]\" msg"),
	    "notice|~|1 - - app - - [a x=\"]\" msg");
	ck_assert_str_eq(parse("<13>1 - - app - - [a]x msg"),
	    "notice|~|1 - - app - - [a]x msg");
	ck_assert_str_eq(parse("<13>1 apple fell on a tree - today"),
	    "notice|~|1 apple fell on a tree - today");
	ck_assert_str_eq(parse("<13>1  - - app - - - m"),
	    "notice|~|1  - - app - - - m");
	ck_assert_str_eq(parse("<13>2 - - app - - - m"),
	    "notice|~|2 - - app - - - m");
}
END_TEST

START_TEST(rfc3164_as_logger_sends_it)
{
	ck_assert_str_eq(parse("<11>Nov 22 04:40:17 vm backup: oops"),
	    "err|backup|oops");
	ck_assert_int_eq(format_of("<11>Nov 22 04:40:17 vm backup: oops"),
	    SYSLOG_RFC3164);
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm app[7054]: with pid"),
	    "notice|app|with pid");
	ck_assert_str_eq(parse("<13>Nov  2 04:40:17 vm root: padded day"),
	    "notice|root|padded day");
	ck_assert_str_eq(parse("<13>Nov 2 04:40:17 vm root: short day"),
	    "notice|root|short day");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17.123 vm a: fraction"),
	    "notice|a|fraction");
	ck_assert_str_eq(parse("<13>2026-11-22T04:40:17+01:00 vm a: iso"),
	    "notice|a|iso");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm cron.daily/x: y"),
	    "notice|cron.daily/x|y");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm a:"), "notice|a|");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm a: "), "notice|a|");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm a:  two"),
	    "notice|a| two");
}
END_TEST

START_TEST(rfc3164_missing_parts)
{
	/* No hostname. */
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 backup: no host"),
	    "notice|backup|no host");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 su[12]: no host"),
	    "notice|su|no host");
	/* IPv6 addresses as hostname are not tags. */
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 ::1 app: v6"),
	    "notice|app|v6");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 2001:db8::1 app: v6"),
	    "notice|app|v6");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 fe80:: app: v6"),
	    "notice|app|v6");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 [::1] app: v6"),
	    "notice|app|v6");
	/* No timestamp: a tag may still be there; a host is not guessed. */
	ck_assert_str_eq(parse("<13>app: no time"), "notice|app|no time");
	ck_assert_str_eq(parse("<13>app[1]: no time"), "notice|app|no time");
	ck_assert_str_eq(parse("<13>vm app: no time"),
	    "notice|~|vm app: no time");
	ck_assert_str_eq(parse("<13>hello world"), "notice|~|hello world");
	ck_assert_str_eq(parse("<13> spaced"), "notice|~| spaced");
	/* A timestamp and no tag: nothing after the timestamp is lost. */
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 vm hello world"),
	    "notice|~|vm hello world");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 lonely"), "notice|~|lonely");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17 "), "notice|~|");
	/* Almost timestamps stay text. */
	ck_assert_str_eq(parse("<13>Foo 22 04:40:17 vm a: b"),
	    "notice|~|Foo 22 04:40:17 vm a: b");
	ck_assert_str_eq(parse("<13>Nov 22 04:40 vm a: b"),
	    "notice|~|Nov 22 04:40 vm a: b");
	ck_assert_str_eq(parse("<13>Nov 22 04:40:17"),
	    "notice|~|Nov 22 04:40:17");
	/* Not tags: a URL, a broken [pid], a name too long. */
	ck_assert_str_eq(parse("<13>http://example.org/ is up"),
	    "notice|~|http://example.org/ is up");
	ck_assert_str_eq(parse("<13>app[12: x"), "notice|~|app[12: x");
	ck_assert_str_eq(parse("<13>app[1 2]: x"), "notice|~|app[1 2]: x");
	ck_assert_str_eq(parse("<13>"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x"),
	    "notice|~|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x");
	ck_assert_str_eq(parse("<13>"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x"),
	    "notice|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|x");
}
END_TEST

START_TEST(escape_every_byte)
{
	for (int b = 0; b < 256; b++) {
		char in = (char)b, want[8];

		if (b >= 0x20 && b < 0x7f)
			snprintf(want, sizeof(want), "%c", b);
		else
			snprintf(want, sizeof(want), "\\x%02x", b);
		ck_assert_str_eq(escape(&in, 1), want);
	}
	ck_assert_str_eq(escape("\t\r\n\x1b[31m\x7f", 9),
	    "\\x09\\x0d\\x0a\\x1b[31m\\x7f");
}
END_TEST

START_TEST(escape_utf8)
{
	/* Well-formed UTF-8 of every length passes. */
	ck_assert_str_eq(escape("\xc3\xa4", 2), "\xc3\xa4");
	ck_assert_str_eq(escape("\xe2\x82\xac", 3), "\xe2\x82\xac");
	ck_assert_str_eq(escape("\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");
	ck_assert_str_eq(escape("\xf4\x8f\xbf\xbf", 4), "\xf4\x8f\xbf\xbf");
	ck_assert_str_eq(escape("\xef\xbf\xbf", 3), "\xef\xbf\xbf");
	/* Overlong forms, surrogates, beyond U+10FFFF, stray continuation
	 * bytes and cut sequences are escaped byte by byte. */
	ck_assert_str_eq(escape("\xc0\x80", 2), "\\xc0\\x80");
	ck_assert_str_eq(escape("\xc1\xbf", 2), "\\xc1\\xbf");
	ck_assert_str_eq(escape("\xe0\x80\xaf", 3), "\\xe0\\x80\\xaf");
	ck_assert_str_eq(escape("\xed\xa0\x80", 3), "\\xed\\xa0\\x80");
	ck_assert_str_eq(escape("\xf0\x8f\xbf\xbf", 4),
	    "\\xf0\\x8f\\xbf\\xbf");
	ck_assert_str_eq(escape("\xf4\x90\x80\x80", 4),
	    "\\xf4\\x90\\x80\\x80");
	ck_assert_str_eq(escape("\xf5\x80\x80\x80", 4),
	    "\\xf5\\x80\\x80\\x80");
	ck_assert_str_eq(escape("\x80", 1), "\\x80");
	ck_assert_str_eq(escape("\xe2\x82", 2), "\\xe2\\x82");
	ck_assert_str_eq(escape("\xe2\x82x", 3), "\\xe2\\x82x");
	ck_assert_str_eq(escape("a\xc3", 2), "a\\xc3");
	ck_assert_str_eq(escape("\xc3\xc3\xa4", 3), "\\xc3\xc3\xa4");
	/* A backslash is text. */
	ck_assert_str_eq(escape("C:\\x41", 6), "C:\\x41");
}
END_TEST

START_TEST(escape_worst_case_fits)
{
	char in[256], out[SYSLOG_ESCAPED_MAX(256) + 1];

	memset(in, 0xff, sizeof(in));
	out[SYSLOG_ESCAPED_MAX(256)] = '#';
	ck_assert_uint_eq(syslog_escape(out, in, sizeof(in)),
	    SYSLOG_ESCAPED_MAX(256));
	ck_assert_int_eq(out[SYSLOG_ESCAPED_MAX(256)], '#');
}
END_TEST

START_TEST(severity_names)
{
	static const char *names[] = { "emerg", "alert", "crit", "err",
	    "warning", "notice", "info", "debug" };

	for (int i = 0; i < 8; i++)
		ck_assert_str_eq(syslog_severity_name(i), names[i]);
}
END_TEST

static Suite *
syslog_suite(void)
{
	Suite *s = suite_create("syslog");
	TCase *tc = tcase_create("syslog");

	tcase_add_test(tc, records_split_at_lf);
	tcase_add_test(tc, pri_range_and_garbage);
	tcase_add_test(tc, rfc5424_as_logger_sends_it);
	tcase_add_test(tc, rfc5424_nil_values_and_odd_parts);
	tcase_add_test(tc, rfc5424_broken_keeps_the_text);
	tcase_add_test(tc, rfc3164_as_logger_sends_it);
	tcase_add_test(tc, rfc3164_missing_parts);
	tcase_add_test(tc, escape_every_byte);
	tcase_add_test(tc, escape_utf8);
	tcase_add_test(tc, escape_worst_case_fits);
	tcase_add_test(tc, severity_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(syslog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
