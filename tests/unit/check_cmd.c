/*
 * check_cmd.c - unit tests of the command tables: lookup in any case,
 * argument counts, the rest of the line, state masks, and the order in
 * which a bad line is judged.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

enum { ST_ANON = 1 << 0, ST_USER = 1 << 1 };

static int
proc_ok(void *session, int argc, char **argv)
{
	(void)argv;
	*(int *)session = argc;
	return 42;
}

static const struct cmd_def table[] = {
	{ CMD_WORD("OPEN"), .min = 2, .max = 2, .states = CMD_ALL_STATES,
	  .flags = CMD_REST, .usage = "OPEN NAME SECRET", .proc = proc_ok },
	{ CMD_WORD("OP"), .min = 0, .max = 0, .states = CMD_ALL_STATES,
	  .usage = "OP", .proc = proc_ok },
	{ CMD_WORD("DEPOSIT"), .min = 1, .max = 1, .states = ST_USER,
	  .usage = "DEPOSIT AMOUNT", .proc = proc_ok },
	{ CMD_WORD("HISTORY"), .min = 0, .max = 1, .states = ST_USER,
	  .usage = "HISTORY [N]", .proc = proc_ok },
	{ CMD_WORD("QUIT"), .min = 0, .max = CMD_ANY,
	  .states = CMD_ALL_STATES, .usage = "QUIT", .proc = proc_ok },
	{ CMD_WORD("NEVER"), .min = 0, .max = 0, .usage = "NEVER",
	  .proc = proc_ok },
	{ .word = NULL }
};

/* Parses text (copied, since the parse cuts it) in state st. */
static enum cmd_result
parse(const char *text, unsigned st, struct cmd_call *call, char *buf)
{
	strcpy(buf, text);
	return cmd_parse(table, buf, strlen(buf), st, call);
}

START_TEST(lookup_is_case_insensitive_and_exact)
{
	ck_assert_ptr_eq(cmd_find(table, "open", 4), &table[0]);
	ck_assert_ptr_eq(cmd_find(table, "OpEn", 4), &table[0]);
	ck_assert_ptr_eq(cmd_find(table, "op", 2), &table[1]);
	ck_assert_ptr_eq(cmd_find(table, "opens", 4), &table[0]);
	ck_assert_ptr_null(cmd_find(table, "opens", 5));
	ck_assert_ptr_null(cmd_find(table, "ope", 3));
	ck_assert_ptr_null(cmd_find(table, "", 0));
	/* Not a locale's idea of case: only ASCII letters fold. */
	ck_assert_ptr_null(cmd_find(table, "OPEN\xc4", 5));
	for (const struct cmd_def *d = table; d->word != NULL; d++)
		ck_assert_uint_eq(d->word_len, strlen(d->word));
}
END_TEST

START_TEST(arguments_are_split_and_counted)
{
	struct cmd_call call;
	char buf[256];
	int argc = 0;

	ck_assert_int_eq(parse("  deposit\t 12.30  ", ST_USER, &call, buf), CMD_OK);
	ck_assert_ptr_eq(call.def, &table[2]);
	ck_assert_int_eq(call.argc, 2);
	ck_assert_str_eq(call.argv[0], "deposit");
	ck_assert_str_eq(call.argv[1], "12.30");
	ck_assert_int_eq(cmd_call(&call, &argc), 42);
	ck_assert_int_eq(argc, 2);
	ck_assert_int_eq(parse("DEPOSIT", ST_USER, &call, buf), CMD_USAGE);
	ck_assert_ptr_eq(call.def, &table[2]);
	ck_assert_int_eq(parse("DEPOSIT 1 2", ST_USER, &call, buf), CMD_USAGE);
	ck_assert_int_eq(parse("HISTORY", ST_USER, &call, buf), CMD_OK);
	ck_assert_int_eq(call.argc, 1);
	ck_assert_int_eq(parse("HISTORY 5", ST_USER, &call, buf), CMD_OK);
	ck_assert_int_eq(call.argc, 2);
	ck_assert_str_eq(call.argv[1], "5");
}
END_TEST

START_TEST(rest_takes_the_end_of_the_line)
{
	struct cmd_call call;
	char buf[256];

	ck_assert_int_eq(parse("OPEN alice my secret  ", ST_ANON, &call, buf),
	    CMD_OK);
	ck_assert_int_eq(call.argc, 3);
	ck_assert_str_eq(call.argv[1], "alice");
	ck_assert_str_eq(call.argv[2], "my secret");
	ck_assert_int_eq(parse("OPEN alice", ST_ANON, &call, buf), CMD_USAGE);
	ck_assert_int_eq(parse("OPEN alice   ", ST_ANON, &call, buf), CMD_USAGE);
}
END_TEST

START_TEST(any_count_keeps_the_rest)
{
	struct cmd_call call;
	char buf[256];

	ck_assert_int_eq(parse("quit", ST_ANON, &call, buf), CMD_OK);
	ck_assert_int_eq(call.argc, 1);
	ck_assert_int_eq(parse("QUIT a b c d e f g h i j k", ST_ANON, &call, buf),
	    CMD_OK);
	ck_assert_int_eq(call.argc, CMD_ARGS_MAX + 1);
	ck_assert_str_eq(call.argv[1], "a");
	ck_assert_str_eq(call.argv[CMD_ARGS_MAX], "h i j k");
}
END_TEST

START_TEST(unknown_then_usage_then_state)
{
	struct cmd_call call;
	char buf[256];

	ck_assert_int_eq(parse("", ST_ANON, &call, buf), CMD_BLANK);
	ck_assert_int_eq(parse(" \t ", ST_ANON, &call, buf), CMD_BLANK);
	ck_assert_int_eq(parse("OPENX a b", ST_ANON, &call, buf), CMD_UNKNOWN);
	ck_assert_ptr_null(call.def);
	ck_assert_int_eq(parse("DEPOSIT", ST_ANON, &call, buf), CMD_USAGE);
	ck_assert_int_eq(parse("DEPOSIT 1", ST_ANON, &call, buf), CMD_STATE);
	ck_assert_ptr_eq(call.def, &table[2]);
	ck_assert_int_eq(parse("DEPOSIT 1", ST_ANON | ST_USER, &call, buf),
	    CMD_OK);
	/* A row with no state bits runs nowhere. */
	ck_assert_int_eq(parse("NEVER", ~0u, &call, buf), CMD_STATE);
}
END_TEST

START_TEST(split_reports_too_many)
{
	char line[] = "a b c d", *argv[3];

	ck_assert_int_eq(cmd_split(line, argv, 3, false), 4);
	ck_assert_str_eq(argv[2], "c");
}
END_TEST

static Suite *
cmd_suite(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc = tcase_create("cmd");

	tcase_add_test(tc, lookup_is_case_insensitive_and_exact);
	tcase_add_test(tc, arguments_are_split_and_counted);
	tcase_add_test(tc, rest_takes_the_end_of_the_line);
	tcase_add_test(tc, any_count_keeps_the_rest);
	tcase_add_test(tc, unknown_then_usage_then_state);
	tcase_add_test(tc, split_reports_too_many);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cmd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
