/*
 * check_forward.c - unit tests of the log service's forwarding: the
 * forward URL, and a record as an octet-counted RFC 5424 frame.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/log/forward.h"

static const struct forward_origin origin = {
	.received = "2026-11-22T10:15:30.123Z",
	.sender = "192.0.2.7",
};

/* Parses rec and frames it; checks the prefix against the length and
 * returns the message after it. */
static const char *
frame_of(const char *rec, size_t len, bool cut)
{
	static char out[70000];
	struct syslog_msg m;
	size_t n, body;
	char *sp;

	syslog_parse(rec, len, &m);
	n = forward_frame(out, &m, cut, &origin);
	ck_assert_uint_le(n, forward_frame_max(&m));
	ck_assert_uint_eq(forward_frame_len(out, n), n);
	ck_assert_uint_eq(forward_frame_len(out, n - 1), 0);
	out[n] = '\0';
	sp = strchr(out, ' ');
	ck_assert_ptr_nonnull(sp);
	body = strtoul(out, NULL, 10);
	ck_assert_uint_eq(body, n - (size_t)(sp + 1 - out));
	return sp + 1;
}

static const char *
frame(const char *rec)
{
	return frame_of(rec, strlen(rec), false);
}

/* Parses url and renders "HOST|PORT", or the error phrase. */
static const char *
url(const char *u)
{
	static char out[400];
	char host[FORWARD_HOST_MAX + 1];
	unsigned port = 0;
	const char *err = forward_parse_url(u, host, &port);

	if (err != NULL)
		return err;
	snprintf(out, sizeof(out), "%s|%u", host, port);
	return out;
}

START_TEST(url_accepts_names_and_addresses)
{
	ck_assert_str_eq(url("tcp://127.0.0.1:514"), "127.0.0.1|514");
	ck_assert_str_eq(url("tcp://[::1]:514"), "::1|514");
	ck_assert_str_eq(url("tcp://[2001:db8::1]:6514"), "2001:db8::1|6514");
	ck_assert_str_eq(url("tcp://logs.example.com:1"), "logs.example.com|1");
	ck_assert_str_eq(url("tcp://collector_1:65535"), "collector_1|65535");
}
END_TEST

START_TEST(url_refuses_what_is_not_one)
{
	char longname[400];

	ck_assert_str_eq(url("udp://127.0.0.1:514"), "expected tcp://HOST:PORT");
	ck_assert_str_eq(url("127.0.0.1:514"), "expected tcp://HOST:PORT");
	ck_assert_str_eq(url("tcp://"), "missing host");
	ck_assert_str_eq(url("tcp://:514"), "missing host");
	ck_assert_str_eq(url("tcp://host"), "missing port");
	ck_assert_str_eq(url("tcp://host:"), "missing port");
	ck_assert_str_eq(url("tcp://host:0"), "port out of range (1..65535)");
	ck_assert_str_eq(url("tcp://host:65536"), "port out of range (1..65535)");
	ck_assert_str_eq(url("tcp://host:99999999999999999999"),
	    "port out of range (1..65535)");
	ck_assert_str_eq(url("tcp://host:514x"), "unexpected text after the port");
	ck_assert_str_eq(url("tcp://host:514/"), "unexpected text after the port");
	ck_assert_str_eq(url("tcp://ho st:514"),
	    "host is not a name, an IPv4 address or [IPv6]");
	ck_assert_str_eq(url("tcp://::1:514"),
	    "an IPv6 address goes in brackets: tcp://[::1]:514");
	ck_assert_str_eq(url("tcp://[::1:514"),
	    "missing ']' after the IPv6 address");
	ck_assert_str_eq(url("tcp://[]:514"), "not an IPv6 address in brackets");
	ck_assert_str_eq(url("tcp://[::g]:514"), "not an IPv6 address in brackets");
	ck_assert_str_eq(url("tcp://[::1]514"),
	    "host is not a name, an IPv4 address or [IPv6]");
	memset(longname, 'a', 262);
	strcpy(longname + 262, ":514");
	ck_assert_str_eq(url(longname), "expected tcp://HOST:PORT");
	memcpy(longname, "tcp://", 6);
	ck_assert_str_eq(url(longname), "host name too long");
	longname[7] = ':';
	longname[8] = '1';
	longname[9] = '\0';
	ck_assert_str_eq(url(longname), "a|1");
}
END_TEST

START_TEST(frame_keeps_an_rfc5424_record)
{
	ck_assert_str_eq(frame("<165>1 2026-11-22T10:15:30.123456+01:00 "
	    "web1 backup 4242 ID47 [ex@1 a=\"b\\\"\\]\"] done in 3s"),
	    "<165>1 2026-11-22T10:15:30.123456+01:00 web1 backup 4242 ID47 "
	    "[ex@1 a=\"b\\\"\\]\"] done in 3s");
	ck_assert_str_eq(frame("<13>1 2026-11-22T10:15:30Z h a p m - text"),
	    "<13>1 2026-11-22T10:15:30Z h a p m - text");
	/* NILVALUEs: the time is the receipt time, the host the sender. */
	ck_assert_str_eq(frame("<191>1 - - - - - - x"),
	    "<191>1 2026-11-22T10:15:30.123Z 192.0.2.7 - - - - x");
	/* No message: no space after the structured data. */
	ck_assert_str_eq(frame("<0>1 2026-11-22T10:15:30Z h a - - -"),
	    "<0>1 2026-11-22T10:15:30Z h a - - -");
}
END_TEST

START_TEST(frame_of_bsd_and_plain_records)
{
	ck_assert_str_eq(frame("<38>Nov 22 10:15:30 web1 sshd[811]: accepted"),
	    "<38>1 2026-11-22T10:15:30.123Z web1 sshd 811 - - accepted");
	ck_assert_str_eq(frame("<13>backup: done"),
	    "<13>1 2026-11-22T10:15:30.123Z 192.0.2.7 backup - - - done");
	/* Without <PRI>: user.info, the whole record is the message. */
	ck_assert_str_eq(frame("just text: here"),
	    "<14>1 2026-11-22T10:15:30.123Z 192.0.2.7 - - - - just text: here");
	ck_assert_str_eq(frame_of("<11>cut", 7, true),
	    "<11>1 2026-11-22T10:15:30.123Z 192.0.2.7 - - - - cut...[truncated]");
	ck_assert_str_eq(frame_of("x", 0, true),
	    "<14>1 2026-11-22T10:15:30.123Z 192.0.2.7 - - - - ...[truncated]");
}
END_TEST

START_TEST(frame_limits_header_fields)
{
	char rec[1024], want[1024];
	const char *got;

	/* A timestamp that is not RFC 3339 is replaced. */
	ck_assert_str_eq(frame("<13>1 2026-13-99 h a - - - m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - - m");
	ck_assert_str_eq(frame("<13>1 2026-11-22T10:15:30.1234567Z h a - - - m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - - m");
	ck_assert_str_eq(frame("<13>1 2026-11-22T10:15:30+0100 h a - - - m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - - m");
	/* Bytes outside printable US-ASCII become '_'. */
	ck_assert_str_eq(frame("<13>1 - h\xc3\xa9 \x01pp - - - m"),
	    "<13>1 2026-11-22T10:15:30.123Z h__ _pp - - - m");
	/* APP-NAME is cut at 48 bytes, MSGID at 32. */
	snprintf(rec, sizeof(rec), "<13>1 - h %0100d - %0100d - m", 0, 0);
	snprintf(want, sizeof(want),
	    "<13>1 2026-11-22T10:15:30.123Z h %048d - %032d - m", 0, 0);
	got = frame(rec);
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(frame_keeps_bad_structured_data_as_text)
{
	/* An unescaped ']' in a value, and a name with '=': not SD. */
	ck_assert_str_eq(frame("<13>1 - h a - - [x@1 k=\"a]\"] m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - - [x@1 k=\"a]\"] m");
	ck_assert_str_eq(frame("<13>1 - h a - - [x=1] m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - - [x=1] m");
	ck_assert_str_eq(frame("<13>1 - h a - - [x@1][y@2 a=\"\" b=\"\\\\\"] m"),
	    "<13>1 2026-11-22T10:15:30.123Z h a - - [x@1][y@2 a=\"\" b=\"\\\\\"] m");
}
END_TEST

START_TEST(frame_sends_the_message_as_it_came)
{
	static const char rec[] = "<13>1 - h a - - - line1\nline2\x01\xff";
	const char *got = frame_of(rec, sizeof(rec) - 1, false);

	ck_assert_str_eq(got, "<13>1 2026-11-22T10:15:30.123Z h a - - - "
	    "line1\nline2\x01\xff");
}
END_TEST

START_TEST(frame_len_reads_prefixes)
{
	ck_assert_uint_eq(forward_frame_len("3 abc", 5), 5);
	ck_assert_uint_eq(forward_frame_len("3 abcdef", 8), 5);
	ck_assert_uint_eq(forward_frame_len("3 ab", 4), 0);
	ck_assert_uint_eq(forward_frame_len(" abc", 4), 0);
	ck_assert_uint_eq(forward_frame_len("3", 1), 0);
	ck_assert_uint_eq(forward_frame_len("", 0), 0);
	ck_assert_uint_eq(forward_frame_len("99999999999999999999 x", 22), 0);
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, url_accepts_names_and_addresses);
	tcase_add_test(tc, url_refuses_what_is_not_one);
	tcase_add_test(tc, frame_keeps_an_rfc5424_record);
	tcase_add_test(tc, frame_of_bsd_and_plain_records);
	tcase_add_test(tc, frame_limits_header_fields);
	tcase_add_test(tc, frame_keeps_bad_structured_data_as_text);
	tcase_add_test(tc, frame_sends_the_message_as_it_came);
	tcase_add_test(tc, frame_len_reads_prefixes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(forward_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
