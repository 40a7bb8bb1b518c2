/*
 * check_chat.c - unit tests of the chat service's pure parts: the name
 * rule for nicknames and rooms (name.c), command parsing of the line and
 * course protocols, and what the sanitiser does to typical chat lines.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "services/chat.h"
#include "utf8.h"

START_TEST(names_valid)
{
	ck_assert(chat_valid_name("a"));
	ck_assert(chat_valid_name("Alice"));
	ck_assert(chat_valid_name("bob_2"));
	ck_assert(chat_valid_name("x-y"));
	ck_assert(chat_valid_name("Z0123456789abcde"));     /* 16 characters */
	ck_assert(chat_valid_name("lobby"));
}
END_TEST

START_TEST(names_invalid)
{
	ck_assert(!chat_valid_name(""));
	ck_assert(!chat_valid_name("1abc"));                 /* digit first */
	ck_assert(!chat_valid_name("_abc"));
	ck_assert(!chat_valid_name("-abc"));
	ck_assert(!chat_valid_name("Z0123456789abcdef"));    /* 17 characters */
	ck_assert(!chat_valid_name("a b"));
	ck_assert(!chat_valid_name("a.b"));
	ck_assert(!chat_valid_name("a!"));
	ck_assert(!chat_valid_name("/nick"));
	ck_assert(!chat_valid_name("j\xc3\xbcrgen"));        /* jürgen: ASCII only */
	ck_assert(!chat_valid_name("a\t"));
}
END_TEST

/* Parses a copy of line; checks the command and its argument. */
static void
check_parse(const char *line, enum chat_cmd want, const char *want_arg)
{
	char *copy = strdup(line), *arg = NULL;

	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(chat_parse(copy, &arg), want);
	ck_assert_str_eq(arg, want_arg);
	free(copy);
}

START_TEST(parse_messages)
{
	check_parse("hello there", CHAT_MESSAGE, "hello there");
	check_parse("  spaced  ", CHAT_MESSAGE, "  spaced  ");
	check_parse("//slash", CHAT_MESSAGE, "/slash");
	check_parse("//", CHAT_MESSAGE, "/");
	check_parse("///x", CHAT_MESSAGE, "//x");
	check_parse("a/b", CHAT_MESSAGE, "a/b");
}
END_TEST

START_TEST(parse_commands)
{
	check_parse("/nick bob", CHAT_NICK, "bob");
	check_parse("/NICK  bob  ", CHAT_NICK, "bob");
	check_parse("/Nick", CHAT_NICK, "");
	check_parse("/msg bob hi there", CHAT_MSG, "bob hi there");
	check_parse("/me waves", CHAT_ME, "waves");
	check_parse("/who", CHAT_WHO, "");
	check_parse("/WHO", CHAT_WHO, "");
	check_parse("/join room1", CHAT_JOIN, "room1");
	check_parse("/rooms", CHAT_ROOMS, "");
	check_parse("/quit", CHAT_QUIT, "");
	check_parse("/quit  gone fishing ", CHAT_QUIT, "gone fishing");
	check_parse("/help", CHAT_HELP, "");
	check_parse("/help\tme", CHAT_HELP, "me");
	check_parse("/frobnicate now", CHAT_UNKNOWN, "frobnicate");
	check_parse("/", CHAT_UNKNOWN, "");
	check_parse("/nicky", CHAT_UNKNOWN, "nicky");
	check_parse("/ nick", CHAT_UNKNOWN, "");
}
END_TEST

START_TEST(words)
{
	char line[] = "  bob   hi  there ";
	char *rest = line;

	ck_assert_str_eq(chat_word(&rest), "bob");
	ck_assert_str_eq(rest, "hi  there ");
	ck_assert_str_eq(chat_word(&rest), "hi");
	ck_assert_str_eq(chat_word(&rest), "there");
	ck_assert_str_eq(rest, "");
	ck_assert_str_eq(chat_word(&rest), "");
}
END_TEST

/* Parses a copy of a course frame; checks the command and its argument. */
static void
check_course(const char *frame, enum chat_course_cmd want,
    const char *want_arg)
{
	char *copy = strdup(frame), *arg = NULL;

	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(chat_course_parse(copy, &arg), want);
	ck_assert_str_eq(arg, want_arg);
	free(copy);
}

START_TEST(parse_course)
{
	check_course("/login bob", CHAT_COURSE_LOGIN, "bob");
	check_course(" /login Aliasname", CHAT_COURSE_LOGIN, "Aliasname");
	check_course("\t /LOGIN  bob  ", CHAT_COURSE_LOGIN, "bob");
	check_course("/login", CHAT_COURSE_LOGIN, "");
	check_course("/login a b", CHAT_COURSE_LOGIN, "a b");
	check_course(" /logout", CHAT_COURSE_LOGOUT, "");
	check_course("/users", CHAT_COURSE_USERS, "");
	check_course("/Users ", CHAT_COURSE_USERS, "");
	/* Anything else is a message, blanks and all. */
	check_course("hello", CHAT_COURSE_MESSAGE, "hello");
	check_course("  hello ", CHAT_COURSE_MESSAGE, "  hello ");
	check_course("/loginbob", CHAT_COURSE_MESSAGE, "/loginbob");
	check_course("/msg bob hi", CHAT_COURSE_MESSAGE, "/msg bob hi");
	check_course("/", CHAT_COURSE_MESSAGE, "/");
	check_course("x /login bob", CHAT_COURSE_MESSAGE, "x /login bob");
}
END_TEST

START_TEST(names_core)
{
	/* The core's rule is the one chat and bank share. */
	ck_assert(name_valid("Z0123456789abcde"));
	ck_assert(!name_valid("Z0123456789abcdef"));
	ck_assert(!name_valid("\xe4" "bc"));
	ck_assert(!name_valid("a\xe4"));
	ck_assert(!name_valid(""));
}
END_TEST

/* A chat line as the service sees it: sanitised, then parsed. */
START_TEST(sanitised_then_parsed)
{
	char line[] = "\x1b[1m/me\x1b[0m dances \x1b]0;pwned\x07now";
	size_t len = utf8_sanitize(line, strlen(line));
	char *arg;

	line[len] = '\0';
	ck_assert_int_eq(chat_parse(line, &arg), CHAT_ME);
	ck_assert_str_eq(arg, "dances now");
}
END_TEST

static Suite *
chat_suite(void)
{
	Suite *s = suite_create("chat");
	TCase *t = tcase_create("names");

	tcase_add_test(t, names_valid);
	tcase_add_test(t, names_invalid);
	tcase_add_test(t, names_core);
	suite_add_tcase(s, t);
	t = tcase_create("parse");
	tcase_add_test(t, parse_messages);
	tcase_add_test(t, parse_commands);
	tcase_add_test(t, words);
	tcase_add_test(t, parse_course);
	tcase_add_test(t, sanitised_then_parsed);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(chat_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
