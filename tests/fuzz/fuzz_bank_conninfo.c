/*
 * fuzz_bank_conninfo.c - the PostgreSQL store's connection parameters
 * (store_pg_conn.c) on arbitrary conninfo text.
 *
 * A conninfo libpq accepts becomes keywords and values, NULL-ended, each
 * keyword once.  When it names no host to look up (sockets and addresses
 * only, so nothing goes to the network), pg_conn_resolve rebuilds it: the
 * host and hostaddr lists then have as many entries each, and so does the
 * port list when it had one entry per host; every other parameter is kept
 * as it was.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/bank/store_pg_conn.h"

static size_t
entries(const char *list)
{
	size_t n = 1;

	for (const char *c = list; *c != '\0'; c++)
		n += *c == ',';
	return n;
}

static void
check_resolved(const struct pg_conn_target *t)
{
	struct pg_conn_target out;
	char why[200];
	const char *host = pg_conn_get(t, "host"), *port = pg_conn_get(t, "port");

	if (pg_conn_resolve(t, &out, why, sizeof(why)) != 0)
		return;
	assert(pg_conn_get(&out, "host") != NULL && pg_conn_get(&out, "hostaddr") != NULL);
	assert(entries(pg_conn_get(&out, "host")) == entries(pg_conn_get(&out, "hostaddr")));
	if (host != NULL && port != NULL && entries(port) == entries(host) &&
	    entries(host) > 1)
		assert(entries(pg_conn_get(&out, "port")) ==
		    entries(pg_conn_get(&out, "host")));
	for (int i = 0; t->keywords[i] != NULL; i++)
		if (strcmp(t->keywords[i], "host") != 0 &&
		    strcmp(t->keywords[i], "hostaddr") != 0 &&
		    strcmp(t->keywords[i], "port") != 0)
			assert(strcmp(pg_conn_get(&out, t->keywords[i]),
			    t->values[i]) == 0);
	pg_conn_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), why[200];
	struct pg_conn_target t;

	if (text == NULL)
		return 0;
	if (pg_conn_parse(text, &t, why, sizeof(why)) == 0) {
		for (int i = 0; t.keywords[i] != NULL; i++) {
			assert(t.values[i] != NULL);
			for (int j = 0; j < i; j++)
				assert(strcmp(t.keywords[i], t.keywords[j]) != 0);
		}
		if (!t.lookup && pg_conn_get(&t, "host") != NULL &&
		    (pg_conn_get(&t, "hostaddr") == NULL ||
		    *pg_conn_get(&t, "hostaddr") == '\0'))
			check_resolved(&t);
		pg_conn_free(&t);
	} else {
		assert(why[0] != '\0');
	}
	free(text);
	return 0;
}
