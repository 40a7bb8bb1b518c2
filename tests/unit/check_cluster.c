/*
 * check_cluster.c - unit tests of the wire form chat instances use to
 * tell each other what their users do (services/chat/cluster_msg.c):
 * what is encoded decodes to the same fields, any text passes as it is
 * (blanks, IRC formatting), and what breaks the rules is refused; and
 * the forms of the cluster key's URL (cluster.c).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/chat/cluster.h"

/* Decodes a NUL-terminated wire form; the strings live in store. */
static int
decode(const char *wire, struct cluster_msg *m, char *store)
{
	return cluster_msg_decode(wire, strlen(wire), m, store);
}

START_TEST(round_trip)
{
	struct cluster_msg m = { .type = CLUSTER_PRIVATE, .from = 0xabcdef12345,
	    .notice = true, .nick = "alice", .text = "a b:c 12:x",
	    .styled = "\002a\002 b:c 12:x", .to = "Bob" }, d;
	char store[256], *wire;
	size_t len;

	wire = cluster_msg_encode(&m, &len);
	ck_assert_ptr_nonnull(wire);
	ck_assert_uint_eq(len, strlen(wire));
	ck_assert_int_eq(cluster_msg_decode(wire, len, &d, store), 0);
	ck_assert_int_eq(d.type, CLUSTER_PRIVATE);
	ck_assert(d.from == 0xabcdef12345);
	ck_assert(d.notice && !d.silent);
	ck_assert_str_eq(d.nick, "alice");
	ck_assert_ptr_null(d.room);
	ck_assert_str_eq(d.text, "a b:c 12:x");
	ck_assert_str_eq(d.styled, "\002a\002 b:c 12:x");
	ck_assert_str_eq(d.to, "Bob");
	free(wire);
}
END_TEST

START_TEST(wire_form)
{
	struct cluster_msg m = { .type = CLUSTER_MESSAGE, .from = 255,
	    .nick = "bob", .room = "lobby", .text = "hi" };
	char *wire;
	size_t len;

	wire = cluster_msg_encode(&m, &len);
	ck_assert_str_eq(wire, "1 00000000000000ff M- 3:bob5:lobby2:hi--");
	free(wire);
}
END_TEST

START_TEST(text_sanitised)
{
	struct cluster_msg m;
	char store[128];

	ck_assert_int_eq(decode("1 00000000000000ff M- 3:bob5:lobby6:a\033[2Jb"
	    "--", &m, store), 0);
	ck_assert_str_eq(m.text, "ab");
}
END_TEST

START_TEST(refused)
{
	static const char *const bad[] = {
		"",
		"1 00000000000000ff M- 3:bob5:lobby2:hi-",       /* a field short */
		"1 00000000000000ff M- 3:bob5:lobby2:hi---",     /* one too many */
		"1 00000000000000ff M- 3:bob5:lobby3:hi--",      /* past the end */
		"1 00000000000000ff M- 3:bob5:lobby02:hi--",     /* leading zero */
		"1 00000000000000ff M- 3:bob--2:hi--",           /* no room */
		"1 00000000000000ff M- 3:b b5:lobby2:hi--",      /* a bad name */
		"1 00000000000000ff X- 3:bob5:lobby2:hi--",      /* unknown type */
		"1 00000000000000FF M- 3:bob5:lobby2:hi--",      /* upper-case id */
		"2 00000000000000ff M- 3:bob5:lobby2:hi--",      /* version */
		"1 00000000000000ff N- 3:bob-3:b b--",           /* a bad new nick */
		"1 00000000000000ff D- 3:bob-2:hi--",            /* to whom? */
		"1 00000000000000ff U- 3:bob-6:a  b c--",        /* a bad room list */
		"1 00000000000000ff S- 3:bob----",               /* SYNC has no nick */
		"1 00000000000000ff M- 3:bob5:lobby2:\xc3\x28--", /* bad UTF-8 */
		NULL
	};
	struct cluster_msg m;
	char store[128];

	for (int i = 0; bad[i] != NULL; i++)
		ck_assert_msg(decode(bad[i], &m, store) == -EINVAL, "%s", bad[i]);
	/* A NUL inside a field. */
	ck_assert_int_eq(cluster_msg_decode("1 00000000000000ff M- 3:b\0b5:lobby"
	    "2:hi--", 39, &m, store), -EINVAL);
}
END_TEST

START_TEST(url_forms)
{
	static const char *good[] = {
		"redis://127.0.0.1", "redis://127.0.0.1:6380", "redis://db1",
		"redis://[::1]:6379", "redis://[::1]", "redis://:pw@db1",
		"redis://u:pw@db1:7000/2", "redis://:p%40s%3As@db1",
		"redis://:a@b@db1", "redis://db1/0", "redis://db1:6379/15",
	};
	static const char *bad[] = {
		"", "redis:/db1", "http://db1", "redis://", "redis://:6379",
		"redis://db1:", "redis://db1:0", "redis://db1:65536",
		"redis://db1:+1", "redis://db1:63x", "redis://u@db1",
		"redis://u:@db1", "redis://:%4@db1", "redis://:%zz@db1",
		"redis://:a%0ab@db1", "redis://:a\tb@db1", "redis://db1/",
		"redis://db1/x", "redis://db1/-1", "redis://db1/+1",
		"redis://db1/70000", "redis://[::1", "redis://[::1]x",
		"redis://[]:6379", "redis://@db1",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(cluster_url_check(good[i]) == NULL, "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cluster_url_check(bad[i]) != NULL, "%s", bad[i]);
}
END_TEST

static Suite *
cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *t = tcase_create("codec");

	tcase_add_test(t, round_trip);
	tcase_add_test(t, wire_form);
	tcase_add_test(t, text_sanitised);
	tcase_add_test(t, refused);
	tcase_add_test(t, url_forms);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cluster_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
