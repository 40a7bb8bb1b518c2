/*
 * store_pg_conn.h - where the PostgreSQL store connects to: the conninfo
 * parsed once into libpq's keywords and values, and its host names
 * looked up on a worker thread, since libpq would look them up with a
 * blocking getaddrinfo(3) on the reactor.
 */
#ifndef MULTID_BANK_STORE_PG_CONN_H
#define MULTID_BANK_STORE_PG_CONN_H

#include <stdbool.h>
#include <stddef.h>

#define PG_CONN_KEYS       64         /* keywords of a conninfo at most */
#define PG_CONN_ADDRS      8          /* addresses kept of one host name */

/* Parameters for PQconnectStartParams. */
struct pg_conn_target {
	char *keywords[PG_CONN_KEYS + 1]; /* NULL-ended */
	char *values[PG_CONN_KEYS + 1];   /* their values */
	bool  lookup;                 /* host names wait to be looked up */
};

/* Parses conninfo; 0, or -EINVAL (why says what is wrong) or -ENOMEM. */
int pg_conn_parse(const char *conninfo, struct pg_conn_target *t,
    char *why, size_t len);

/* Looks up t's host names (blocking: for a worker thread) into out: each
 * host name once per address found, the address in hostaddr, so libpq
 * tries them in turn and looks nothing up.  Socket directories and
 * addresses pass as they are.  0, or -EHOSTUNREACH (why says which host)
 * or -ENOMEM. */
int pg_conn_resolve(const struct pg_conn_target *t,
    struct pg_conn_target *out, char *why, size_t len);

/* The value of keyword key in t, or NULL. */
const char *pg_conn_get(const struct pg_conn_target *t, const char *key);

/* Frees what parse or resolve put in t. */
void pg_conn_free(struct pg_conn_target *t);

#endif
