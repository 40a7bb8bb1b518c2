/*
 * check_bank_amount.c - unit tests of the bank's amount grammar, printing
 * and checked arithmetic.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "services/bank/bank_amount.h"

/* Parses text and returns the cents, or -1 when it is refused. */
static int64_t
parse(const char *text)
{
	int64_t cents = -12345;
	int rc = bank_amount_parse(text, &cents);

	if (rc != 0) {
		ck_assert_int_eq(rc, -EINVAL);
		ck_assert_int_eq(cents, -12345);   /* untouched on error */
		return -1;
	}
	return cents;
}

START_TEST(parse_accepts_the_grammar)
{
	ck_assert_int_eq(parse("1"), 100);
	ck_assert_int_eq(parse("12.3"), 1230);
	ck_assert_int_eq(parse("12.30"), 1230);
	ck_assert_int_eq(parse("12.03"), 1203);
	ck_assert_int_eq(parse("0.01"), 1);
	ck_assert_int_eq(parse("0.1"), 10);
	ck_assert_int_eq(parse("00.10"), 10);
	ck_assert_int_eq(parse("0000000001"), 100);        /* ten digits */
	ck_assert_int_eq(parse("0000000001.99"), 199);
	ck_assert_int_eq(parse("999999999.99"), 99999999999LL);
	ck_assert_int_eq(parse("1000000000"), 100000000000LL);  /* the maximum */
	ck_assert_int_eq(parse("1000000000.0"), 100000000000LL);
	ck_assert_int_eq(parse("1000000000.00"), 100000000000LL);
}
END_TEST

START_TEST(parse_refuses_zero_and_too_much)
{
	ck_assert_int_eq(parse("0"), -1);
	ck_assert_int_eq(parse("0.0"), -1);
	ck_assert_int_eq(parse("0.00"), -1);
	ck_assert_int_eq(parse("0000000000.00"), -1);
	ck_assert_int_eq(parse("1000000000.01"), -1);
	ck_assert_int_eq(parse("1000000001"), -1);
	ck_assert_int_eq(parse("9999999999.99"), -1);
	ck_assert_int_eq(parse("9999999999"), -1);
}
END_TEST

START_TEST(parse_refuses_malformed_text)
{
	static const char *const bad[] = {
		"", ".", ".5", "1.", "1.234", "1.2.3", "+1", "-1", "-0.01",
		" 1", "1 ", "1,00", "1e3", "0x10", "1O", "abc", "1.a", "1.-1",
		"12345678901",          /* eleven digits, even with zeros */
		"00000000001", "01234567890.5", "1..2", "1.\n", "\t1",
		"１", "NaN", "inf", "99999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i]) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(format_prints_two_decimals)
{
	char out[BANK_AMOUNT_TEXT];

	ck_assert_str_eq(bank_amount_format(0, out), "0.00");
	ck_assert_str_eq(bank_amount_format(1, out), "0.01");
	ck_assert_str_eq(bank_amount_format(10, out), "0.10");
	ck_assert_str_eq(bank_amount_format(1230, out), "12.30");
	ck_assert_str_eq(bank_amount_format(100000000000LL, out),
	    "1000000000.00");
	ck_assert_str_eq(bank_amount_format(BANK_BALANCE_MAX, out),
	    "10000000000000.00");
	ck_assert_str_eq(bank_amount_format(-5, out), "-0.05");
	ck_assert_str_eq(bank_amount_format(INT64_MAX, out),
	    "92233720368547758.07");
	ck_assert_str_eq(bank_amount_format(INT64_MIN, out),
	    "-92233720368547758.08");
}
END_TEST

START_TEST(format_and_parse_round_trip)
{
	char out[BANK_AMOUNT_TEXT];

	for (int64_t c = 1; c <= 100000; c += 7)
		ck_assert_int_eq(parse(bank_amount_format(c, out)), c);
	ck_assert_int_eq(parse(bank_amount_format(BANK_AMOUNT_MAX, out)),
	    BANK_AMOUNT_MAX);
}
END_TEST

START_TEST(add_checks_the_limit_and_overflow)
{
	int64_t sum = -1;

	ck_assert_int_eq(bank_amount_add(100, 250, BANK_BALANCE_MAX, &sum), 0);
	ck_assert_int_eq(sum, 350);
	ck_assert_int_eq(bank_amount_add(BANK_BALANCE_MAX - 1, 1,
	    BANK_BALANCE_MAX, &sum), 0);
	ck_assert_int_eq(sum, BANK_BALANCE_MAX);
	sum = -1;
	ck_assert_int_eq(bank_amount_add(BANK_BALANCE_MAX, 1, BANK_BALANCE_MAX,
	    &sum), -ERANGE);
	ck_assert_int_eq(bank_amount_add(BANK_BALANCE_MAX - BANK_AMOUNT_MAX + 1,
	    BANK_AMOUNT_MAX, BANK_BALANCE_MAX, &sum), -ERANGE);
	ck_assert_int_eq(bank_amount_add(INT64_MAX, 1, INT64_MAX, &sum),
	    -ERANGE);
	ck_assert_int_eq(bank_amount_add(INT64_MAX - 5, 10, INT64_MAX, &sum),
	    -ERANGE);
	ck_assert_int_eq(bank_amount_add(5, -1, BANK_BALANCE_MAX, &sum),
	    -ERANGE);
	ck_assert_int_eq(sum, -1);          /* untouched on error */
}
END_TEST

START_TEST(sub_never_goes_negative)
{
	int64_t rest = -1;

	ck_assert_int_eq(bank_amount_sub(500, 500, &rest), 0);
	ck_assert_int_eq(rest, 0);
	ck_assert_int_eq(bank_amount_sub(500, 1, &rest), 0);
	ck_assert_int_eq(rest, 499);
	rest = -1;
	ck_assert_int_eq(bank_amount_sub(500, 501, &rest), -ERANGE);
	ck_assert_int_eq(bank_amount_sub(0, 1, &rest), -ERANGE);
	ck_assert_int_eq(bank_amount_sub(500, -1, &rest), -ERANGE);
	ck_assert_int_eq(rest, -1);
}
END_TEST

static Suite *
amount_suite(void)
{
	Suite *s = suite_create("bank_amount");
	TCase *tc = tcase_create("amount");

	tcase_add_test(tc, parse_accepts_the_grammar);
	tcase_add_test(tc, parse_refuses_zero_and_too_much);
	tcase_add_test(tc, parse_refuses_malformed_text);
	tcase_add_test(tc, format_prints_two_decimals);
	tcase_add_test(tc, format_and_parse_round_trip);
	tcase_add_test(tc, add_checks_the_limit_and_overflow);
	tcase_add_test(tc, sub_never_goes_negative);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(amount_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
