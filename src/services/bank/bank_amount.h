/*
 * bank_amount.h - money amounts of the bank service, as integer cents.
 *
 * Amounts travel as text ("12.30") and live as int64_t cents; no floating
 * point is ever involved, so 0.10 + 0.20 is exactly 0.30.  Every sum that
 * could pass a limit is checked before it is made.
 */
#ifndef MULTID_BANK_AMOUNT_H
#define MULTID_BANK_AMOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BANK_AMOUNT_MAX   100000000000LL     /* 1000000000.00: one command */
#define BANK_BALANCE_MAX  1000000000000000LL /* 10000000000000.00: one account */
#define BANK_AMOUNT_TEXT  24                 /* room for any int64 as text */

/* Parses a command's amount: ^[0-9]{1,10}(\.[0-9]{1,2})?$, more than 0 and
 * at most BANK_AMOUNT_MAX cents.  0 and *cents set, or -EINVAL. */
int bank_amount_parse(const char *text, int64_t *cents);

/* Writes cents with exactly two decimals ("12.30", "-0.05") into out,
 * which holds BANK_AMOUNT_TEXT bytes; returns out. */
char *bank_amount_format(int64_t cents, char *out);

/* Adds amount to balance unless the result would pass limit (or overflow);
 * 0 and *sum set, or -ERANGE. */
int bank_amount_add(int64_t balance, int64_t amount, int64_t limit,
    int64_t *sum);

/* Subtracts amount from balance unless the result would be negative;
 * 0 and *rest set, or -ERANGE. */
int bank_amount_sub(int64_t balance, int64_t amount, int64_t *rest);

#endif
