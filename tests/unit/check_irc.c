/*
 * check_irc.c - unit tests of the pure parts of the chat's IRC protocol
 * (services/chat/irc_parse.c): messages split into prefix, command and
 * parameters as RFC 2812 2.3.1 says, the sanitiser that keeps IRC's
 * formatting codes, their removal for everybody else, and CTCP.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/chat/irc.h"

/* Parses a copy of text into m; the copy lives in buf. */
static int
parse(const char *text, char *buf, struct irc_msg *m)
{
	strcpy(buf, text);
	return irc_parse(buf, m);
}

START_TEST(parse_plain)
{
	char buf[600];
	struct irc_msg m;

	ck_assert_int_eq(parse("PRIVMSG #lobby :hello there", buf, &m), 0);
	ck_assert_ptr_null(m.prefix);
	ck_assert_str_eq(m.command, "PRIVMSG");
	ck_assert_int_eq(m.nparams, 2);
	ck_assert_str_eq(m.params[0], "#lobby");
	ck_assert_str_eq(m.params[1], "hello there");
	ck_assert(m.trailing);

	ck_assert_int_eq(parse("USER a 0 * :Real  Name ", buf, &m), 0);
	ck_assert_int_eq(m.nparams, 4);
	ck_assert_str_eq(m.params[3], "Real  Name ");

	ck_assert_int_eq(parse("JOIN #a,#b", buf, &m), 0);
	ck_assert_int_eq(m.nparams, 1);
	ck_assert(!m.trailing);
	ck_assert_str_eq(m.params[0], "#a,#b");
}
END_TEST

START_TEST(parse_prefix_blanks_trailing)
{
	char buf[600];
	struct irc_msg m;

	/* A prefix is taken apart and left to the caller to ignore. */
	ck_assert_int_eq(parse(":bob!b@h NICK alice", buf, &m), 0);
	ck_assert_str_eq(m.prefix, "bob!b@h");
	ck_assert_str_eq(m.command, "NICK");
	ck_assert_str_eq(m.params[0], "alice");
	/* Repeated blanks, and an empty trailing parameter. */
	ck_assert_int_eq(parse("  TOPIC   #x   :", buf, &m), 0);
	ck_assert_str_eq(m.command, "TOPIC");
	ck_assert_int_eq(m.nparams, 2);
	ck_assert_str_eq(m.params[1], "");
	/* A colon inside a middle parameter is part of it. */
	ck_assert_int_eq(parse("PING a:b", buf, &m), 0);
	ck_assert_str_eq(m.params[0], "a:b");
	/* No command: a prefix alone, blanks alone, nothing. */
	ck_assert_int_eq(parse(":only.prefix", buf, &m), -EINVAL);
	ck_assert_int_eq(parse("   ", buf, &m), -EINVAL);
	ck_assert_int_eq(parse("", buf, &m), -EINVAL);
	ck_assert_int_eq(parse(":", buf, &m), -EINVAL);
}
END_TEST

START_TEST(parse_fifteen_params)
{
	char buf[600];
	struct irc_msg m;

	ck_assert_int_eq(parse("X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
	    buf, &m), 0);
	ck_assert_int_eq(m.nparams, IRC_PARAMS_MAX);
	ck_assert_str_eq(m.params[13], "14");
	/* The 15th takes the rest of the line, as a trailing one. */
	ck_assert_str_eq(m.params[14], "15 16 17");
	ck_assert(m.trailing);
}
END_TEST

START_TEST(sanitize_keeps_format)
{
	char s[] = "\x02" "b\x02 \x03" "4,5c\x0f \x16r\x1di\x1fu\x12x \001ACTION y\001";
	size_t len = irc_sanitize(s, strlen(s));

	ck_assert_uint_eq(len, strlen(s));
	ck_assert_str_eq(s, "\x02" "b\x02 \x03" "4,5c\x0f \x16r\x1di\x1fu\x12x "
	    "\001ACTION y\001");
}
END_TEST

START_TEST(sanitize_removes_terminal_controls)
{
	char s[] = "a\x1b[31mb\x07" "c\r\n\x7f" "d\x1b]0;title\x07" "e\tf";
	char t[] = "x\x1b[\x02" "31my";      /* an escape cut by a code */
	size_t len = irc_sanitize(s, strlen(s));

	s[len] = '\0';
	ck_assert_str_eq(s, "abcde\tf");
	len = irc_sanitize(t, strlen(t));
	t[len] = '\0';
	ck_assert_ptr_null(strchr(t, 0x1b));
	ck_assert_str_eq(t, "x\x02" "31my");
}
END_TEST

START_TEST(sanitize_nul_and_c1)
{
	char s[] = { 'a', '\0', 'b', (char)0xc2, (char)0x9b, '3', '1', 'm',
	    'c', (char)0xc3, (char)0xa9, '\0' };
	size_t len = irc_sanitize(s, sizeof(s) - 1);

	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(s, "abc\xc3\xa9", 5), 0);
}
END_TEST

START_TEST(strip_format)
{
	char out[100];

	ck_assert_uint_eq(irc_strip_format(out, "\x02" "bold\x02"), 4);
	ck_assert_str_eq(out, "bold");
	irc_strip_format(out, "\x03" "4red \x03" "04,12two \x03" "4,x \x03 \x03" "123");
	ck_assert_str_eq(out, "red two ,x  3");
	irc_strip_format(out, "\x1funder\x0f \x16rev\x1dital\x12");
	ck_assert_str_eq(out, "under revital");
	irc_strip_format(out, "\001ACTION x\001");
	ck_assert_str_eq(out, "ACTION x");
	ck_assert_uint_eq(irc_strip_format(out, ""), 0);
}
END_TEST

START_TEST(ctcp)
{
	char a[] = "\001ACTION waves hello\001", b[] = "\001VERSION\001";
	char c[] = "\001PING 123", d[] = "plain", e[] = "\001\001", f[] = "\001";
	char *verb, *arg;

	ck_assert(irc_ctcp(a, &verb, &arg));
	ck_assert_str_eq(verb, "ACTION");
	ck_assert_str_eq(arg, "waves hello");
	ck_assert(irc_ctcp(b, &verb, &arg));
	ck_assert_str_eq(verb, "VERSION");
	ck_assert_str_eq(arg, "");
	ck_assert(irc_ctcp(c, &verb, &arg));    /* no closing ^A */
	ck_assert_str_eq(verb, "PING");
	ck_assert_str_eq(arg, "123");
	ck_assert(!irc_ctcp(d, &verb, &arg));
	ck_assert(!irc_ctcp(e, &verb, &arg));
	ck_assert(!irc_ctcp(f, &verb, &arg));
}
END_TEST

static Suite *
irc_suite(void)
{
	Suite *s = suite_create("irc");
	TCase *t = tcase_create("parse");

	tcase_add_test(t, parse_plain);
	tcase_add_test(t, parse_prefix_blanks_trailing);
	tcase_add_test(t, parse_fifteen_params);
	suite_add_tcase(s, t);
	t = tcase_create("text");
	tcase_add_test(t, sanitize_keeps_format);
	tcase_add_test(t, sanitize_removes_terminal_controls);
	tcase_add_test(t, sanitize_nul_and_c1);
	tcase_add_test(t, strip_format);
	tcase_add_test(t, ctcp);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(irc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
