/*
 * bank_amount.c - parsing, printing and checked arithmetic of amounts.
 */
#include <errno.h>
#include <stdio.h>

#include "bank_amount.h"

#define AMOUNT_INT_DIGITS  10         /* digits before the point, at most */
#define AMOUNT_FRAC_DIGITS 2          /* digits after it, at most */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The grammar is checked by hand rather than with strtoll(3), which would
 * take signs, blanks, hex and overflow silently. */
int
bank_amount_parse(const char *text, int64_t *cents)
{
	int64_t whole = 0, frac = 0;
	int n = 0, f = 0;
	const char *p = text;

	while (is_digit(*p) && n < AMOUNT_INT_DIGITS) {
		whole = whole * 10 + (*p++ - '0');
		n++;
	}
	if (n == 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (is_digit(*p) && f < AMOUNT_FRAC_DIGITS) {
			frac = frac * 10 + (*p++ - '0');
			f++;
		}
		if (f == 0)
			return -EINVAL;
		if (f == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return -EINVAL;
	/* Ten digits are below 10^10, so this cannot overflow int64_t. */
	whole = whole * 100 + frac;
	if (whole <= 0 || whole > BANK_AMOUNT_MAX)
		return -EINVAL;
	*cents = whole;
	return 0;
}

char *
bank_amount_format(int64_t cents, char *out)
{
	/* Unsigned, so that INT64_MIN has a magnitude too. */
	uint64_t mag = cents < 0 ? -(uint64_t)cents : (uint64_t)cents;

	snprintf(out, BANK_AMOUNT_TEXT, "%s%llu.%02llu", cents < 0 ? "-" : "",
	    (unsigned long long)(mag / 100), (unsigned long long)(mag % 100));
	return out;
}

int
bank_amount_add(int64_t balance, int64_t amount, int64_t limit, int64_t *sum)
{
	int64_t r;

	if (amount < 0 || __builtin_add_overflow(balance, amount, &r) ||
	    r > limit)
		return -ERANGE;
	*sum = r;
	return 0;
}

int
bank_amount_sub(int64_t balance, int64_t amount, int64_t *rest)
{
	if (amount < 0 || balance < amount)
		return -ERANGE;
	*rest = balance - amount;
	return 0;
}
