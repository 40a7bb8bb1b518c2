/*
 * store_pg.h - what the bank's configuration asks of the PostgreSQL store
 * before it starts (the store itself is bank_store_pg, in store.h).
 */
#ifndef MULTID_BANK_STORE_PG_H
#define MULTID_BANK_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>

/* Whether libpq can parse conninfo (a connection string or URI); if not,
 * why says what is wrong, in one line. */
bool bank_pg_conninfo_check(const char *conninfo, char *why, size_t len);

#endif
