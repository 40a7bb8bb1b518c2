/*
 * check_bank_pg.c - unit tests of the PostgreSQL store's SQL side
 * (store_pg_sql.c): which statement a request runs with which
 * parameters, and what rows mean for it, on results made in memory.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "services/bank/store_pg_conn.h"
#include "services/bank/store_pg_sql.h"

/* A TUPLES_OK result of ncols text columns and nrows rows; values are
 * given row by row, NULL for an SQL NULL. */
static PGresult *
rows(int ncols, int nrows, const char *const *values)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc att[8];

	ck_assert_ptr_nonnull(res);
	ck_assert_int_le(ncols, 8);
	memset(att, 0, sizeof(att));
	for (int i = 0; i < ncols; i++) {
		att[i].name = (char *)"c";
		att[i].typid = 25;
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	ck_assert_int_eq(PQsetResultAttrs(res, ncols, att), 1);
	for (int r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++) {
			const char *v = values[r * ncols + c];

			ck_assert_int_eq(PQsetvalue(res, r, c, (char *)v,
			    v == NULL ? -1 : (int)strlen(v)), 1);
		}
	return res;
}

/* The status rows give req, which is reset first but for its inputs. */
static enum bank_status
read_rows(struct bank_req *req, PGresult *res)
{
	enum bank_status st;

	req->wrote = false;
	req->error[0] = '\0';
	st = pg_read_rows(req, res);
	PQclear(res);
	return st;
}

static struct bank_req
request(enum bank_req_op op, const char *self, const char *name)
{
	struct bank_req req;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.account = 7;
	req.amount = 1250;
	req.count = 10;
	req.hash = "$y$hash";
	strcpy(req.self, self);
	strcpy(req.name, name);
	return req;
}

START_TEST(params_pick_the_statement)
{
	struct bank_req req = request(BANK_OP_DEPOSIT, "Alice", "");
	struct pg_params p;

	pg_params(&req, &p);
	ck_assert_int_eq(p.st, PS_DEPOSIT);
	ck_assert_int_eq(pg_stmts[p.st].nparams, 3);
	ck_assert_str_eq(p.v[0], "7");
	ck_assert_str_eq(p.v[1], "1250");
	ck_assert_str_eq(p.v[2], "1000000000000000");
	req = request(BANK_OP_TRANSFER, "Alice", "bob");
	pg_params(&req, &p);
	ck_assert_int_eq(p.st, PS_TRANSFER);
	ck_assert_str_eq(p.v[1], "bob");
	ck_assert_str_eq(p.v[4], "Alice");
	req = request(BANK_OP_TRANSFER, "Alice", "aLICE");
	ck_assert(pg_self_transfer(&req));
	pg_params(&req, &p);
	ck_assert_int_eq(p.st, PS_TRANSFER_SELF);
	ck_assert_str_eq(p.v[2], "Alice");
	req = request(BANK_OP_HISTORY, "Alice", "");
	req.count = 1000;
	pg_params(&req, &p);
	ck_assert_int_eq(p.st, PS_HISTORY);
	ck_assert_str_eq(p.v[1], "1000");
	req = request(BANK_OP_CREATE, "", "Carol");
	pg_params(&req, &p);
	ck_assert_int_eq(p.st, PS_CREATE);
	ck_assert_str_eq(p.v[0], "Carol");
	ck_assert_str_eq(p.v[1], "$y$hash");
}
END_TEST

START_TEST(every_statement_has_its_parameters)
{
	for (int i = 0; i < PS_MAX; i++) {
		char want[16];

		ck_assert_ptr_nonnull(pg_stmts[i].name);
		ck_assert_int_ge(pg_stmts[i].nparams, 1);
		snprintf(want, sizeof(want), "$%d", pg_stmts[i].nparams);
		ck_assert_ptr_nonnull(strstr(pg_stmts[i].sql, want));
		snprintf(want, sizeof(want), "$%d", pg_stmts[i].nparams + 1);
		ck_assert_ptr_null(strstr(pg_stmts[i].sql, want));
	}
}
END_TEST

START_TEST(create_and_find)
{
	struct bank_req req = request(BANK_OP_CREATE, "", "Carol");
	const char *found[] = { "42", "Carol", "$y$stored", "1230" };

	ck_assert_int_eq(read_rows(&req, rows(1, 1,
	    (const char *[]){ "42" })), BANK_OK);
	ck_assert_int_eq(req.id, 42);
	ck_assert(req.wrote);
	ck_assert_int_eq(read_rows(&req, rows(1, 0, NULL)), BANK_EXISTS);
	req = request(BANK_OP_FIND, "", "CAROL");
	ck_assert_int_eq(read_rows(&req, rows(4, 1, found)), BANK_OK);
	ck_assert_int_eq(req.id, 42);
	ck_assert_str_eq(req.name, "Carol");
	ck_assert_str_eq(req.stored, "$y$stored");
	ck_assert_int_eq(req.balance, 1230);
	ck_assert(!req.wrote);
	ck_assert_int_eq(read_rows(&req, rows(4, 0, NULL)), BANK_NO_ACCOUNT);
}
END_TEST

START_TEST(no_row_is_a_refusal)
{
	struct bank_req req = request(BANK_OP_DEPOSIT, "Alice", "");

	ck_assert_int_eq(read_rows(&req, rows(1, 0, NULL)), BANK_LIMIT);
	ck_assert(!req.wrote);
	ck_assert_int_eq(read_rows(&req, rows(1, 1,
	    (const char *[]){ "99" })), BANK_OK);
	ck_assert_int_eq(req.balance, 99);
	ck_assert(req.wrote);
	req = request(BANK_OP_WITHDRAW, "Alice", "");
	ck_assert_int_eq(read_rows(&req, rows(1, 0, NULL)), BANK_INSUFFICIENT);
	req = request(BANK_OP_BALANCE, "Alice", "");
	ck_assert_int_eq(read_rows(&req, rows(1, 0, NULL)), BANK_FAILED);
	ck_assert_ptr_nonnull(strstr(req.error, "account 7 is gone"));
}
END_TEST

START_TEST(transfer_says_why)
{
	struct bank_req req = request(BANK_OP_TRANSFER, "Alice", "bob");

	ck_assert_int_eq(read_rows(&req, rows(3, 1,
	    (const char *[]){ "0", NULL, "t" })), BANK_NO_ACCOUNT);
	ck_assert_int_eq(read_rows(&req, rows(3, 1,
	    (const char *[]){ "1", NULL, "f" })), BANK_INSUFFICIENT);
	ck_assert_int_eq(read_rows(&req, rows(3, 1,
	    (const char *[]){ "1", NULL, "t" })), BANK_LIMIT);
	ck_assert(!req.wrote);
	ck_assert_int_eq(read_rows(&req, rows(3, 1,
	    (const char *[]){ "1", "500", "t" })), BANK_OK);
	ck_assert_int_eq(req.balance, 500);
	ck_assert(req.wrote);
	req = request(BANK_OP_TRANSFER, "Alice", "alice");
	ck_assert_int_eq(read_rows(&req, rows(1, 0, NULL)), BANK_INSUFFICIENT);
	ck_assert_int_eq(read_rows(&req, rows(1, 1,
	    (const char *[]){ "800" })), BANK_OK);
	ck_assert_int_eq(req.balance, 800);
}
END_TEST

START_TEST(history_lines)
{
	struct bank_req req = request(BANK_OP_HISTORY, "Alice", "");
	const char *v[] = {
		"1700000001", "transfer-in", "50", "150", "bob",
		"1700000000", "deposit", "100", "100", "",
	};

	ck_assert_int_eq(read_rows(&req, rows(5, 2, v)), BANK_OK);
	ck_assert_int_eq(req.nentries, 2);
	ck_assert_int_eq(req.entries[0].time, 1700000001);
	ck_assert_int_eq(req.entries[0].kind, BANK_TRANSFER_IN);
	ck_assert_int_eq(req.entries[0].amount, 50);
	ck_assert_int_eq(req.entries[0].balance, 150);
	ck_assert_str_eq(req.entries[0].other, "bob");
	ck_assert_int_eq(req.entries[1].kind, BANK_DEPOSIT);
	ck_assert_str_eq(req.entries[1].other, "");
	free(req.entries);
	ck_assert_int_eq(read_rows(&req, rows(5, 0, NULL)), BANK_OK);
	ck_assert_int_eq(req.nentries, 0);
	free(req.entries);
}
END_TEST

/* Whether conninfo has host names to look up. */
static bool
needs_lookup(const char *conninfo)
{
	struct pg_conn_target t;
	char why[200];
	bool lookup;

	ck_assert_int_eq(pg_conn_parse(conninfo, &t, why, sizeof(why)), 0);
	lookup = t.lookup;
	pg_conn_free(&t);
	return lookup;
}

START_TEST(conninfo_host_names_are_found)
{
	struct pg_conn_target t;
	char why[200];

	ck_assert(!needs_lookup("dbname=x"));
	ck_assert(!needs_lookup("host=/run/postgresql dbname=x"));
	ck_assert(!needs_lookup("host=127.0.0.1,::1 port=5432"));
	ck_assert(!needs_lookup("host=db1 hostaddr=10.0.0.5"));
	ck_assert(needs_lookup("host=db1 dbname=x"));
	ck_assert(needs_lookup("host=/tmp,db1"));
	ck_assert(needs_lookup("postgresql://multid@db1/multid"));
	/* Keepalives notice a vanished server in seconds, unless set. */
	ck_assert_int_eq(pg_conn_parse("dbname=x keepalives_idle=60", &t, why,
	    sizeof(why)), 0);
	ck_assert_str_eq(pg_conn_get(&t, "keepalives_idle"), "60");
	ck_assert_str_eq(pg_conn_get(&t, "tcp_user_timeout"), "20000");
	pg_conn_free(&t);
	ck_assert_int_eq(pg_conn_parse("nosuchoption=1", &t, why, sizeof(why)),
	    -EINVAL);
	ck_assert_str_eq(why, "invalid connection option \"nosuchoption\"");
}
END_TEST

START_TEST(conninfo_lookup_fills_hostaddr)
{
	struct pg_conn_target t, out;
	char why[200];
	const char *addr;

	ck_assert_int_eq(pg_conn_parse("host=localhost,/tmp port=5432,5433 "
	    "dbname=multid user=u", &t, why, sizeof(why)), 0);
	ck_assert_int_eq(pg_conn_resolve(&t, &out, why, sizeof(why)), 0);
	addr = pg_conn_get(&out, "hostaddr");
	ck_assert_ptr_nonnull(addr);
	ck_assert_ptr_nonnull(strstr(addr, "127.0.0.1"));
	ck_assert_int_eq(addr[strlen(addr) - 1], ',');   /* /tmp: none */
	ck_assert_str_eq(pg_conn_get(&out, "dbname"), "multid");
	ck_assert_str_eq(pg_conn_get(&out, "user"), "u");
	/* One host and one port for each address, the socket last. */
	for (const char *k = "host"; k != NULL;
	    k = strcmp(k, "host") == 0 ? "port" : NULL) {
		const char *v = pg_conn_get(&out, k);
		int commas = 0, want = 0;

		for (const char *c = v; *c != '\0'; c++)
			commas += *c == ',';
		for (const char *c = addr; *c != '\0'; c++)
			want += *c == ',';
		ck_assert_int_eq(commas, want);
	}
	ck_assert_ptr_nonnull(strstr(pg_conn_get(&out, "host"), "localhost,/tmp"));
	ck_assert_ptr_nonnull(strstr(pg_conn_get(&out, "port"), "5432,5433"));
	pg_conn_free(&out);
	pg_conn_free(&t);
	ck_assert_int_eq(pg_conn_parse("host=nosuchhost.invalid", &t, why,
	    sizeof(why)), 0);
	ck_assert_int_eq(pg_conn_resolve(&t, &out, why, sizeof(why)),
	    -EHOSTUNREACH);
	ck_assert_ptr_nonnull(strstr(why, "cannot resolve nosuchhost.invalid"));
	pg_conn_free(&t);
}
END_TEST

static Suite *
pg_suite(void)
{
	Suite *s = suite_create("bank_pg");
	TCase *tc = tcase_create("sql");

	tcase_add_test(tc, params_pick_the_statement);
	tcase_add_test(tc, every_statement_has_its_parameters);
	tcase_add_test(tc, create_and_find);
	tcase_add_test(tc, no_row_is_a_refusal);
	tcase_add_test(tc, transfer_says_why);
	tcase_add_test(tc, history_lines);
	tcase_add_test(tc, conninfo_host_names_are_found);
	tcase_add_test(tc, conninfo_lookup_fills_hostaddr);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
