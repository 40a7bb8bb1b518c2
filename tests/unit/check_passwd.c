/*
 * check_passwd.c - unit tests of the password helper: hash then verify,
 * a wrong secret, a malformed hash, the checks crypt(3) hashes from
 * mkpasswd pass, and the pool's completions on the loop thread.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "passwd.h"

/* `mkpasswd -m yescrypt` of "open sesame", salt fixed. */
#define KNOWN_HASH "$y$j9T$Bk7F0nLq1sS8XcJYzXzGm/" \
	"$afn6TWyvEWbyEn6/uU2OUscneL84E0rLpEh4lsiUw8D"

START_TEST(hash_then_verify)
{
	char h1[PASSWD_HASH_MAX], h2[PASSWD_HASH_MAX];

	ck_assert_int_eq(passwd_hash_now("sesame", h1, sizeof(h1)), 0);
	ck_assert_int_eq(strncmp(h1, "$y$", 3), 0);
	ck_assert_int_eq(passwd_verify_now("sesame", h1), 0);
	ck_assert_int_eq(passwd_check_hash(h1), 0);
	/* Salted: the same secret twice gives two hashes. */
	ck_assert_int_eq(passwd_hash_now("sesame", h2, sizeof(h2)), 0);
	ck_assert_str_ne(h1, h2);
	ck_assert_int_eq(passwd_hash_now("sesame", h2, 8), -ENAMETOOLONG);
}
END_TEST

START_TEST(wrong_secret)
{
	char h[PASSWD_HASH_MAX];

	ck_assert_int_eq(passwd_hash_now("sesame", h, sizeof(h)), 0);
	ck_assert_int_eq(passwd_verify_now("Sesame", h), -EACCES);
	ck_assert_int_eq(passwd_verify_now("sesam", h), -EACCES);
	ck_assert_int_eq(passwd_verify_now("", h), -EACCES);
}
END_TEST

START_TEST(known_crypt_hash)
{
	ck_assert_int_eq(passwd_check_hash(KNOWN_HASH), 0);
	ck_assert_int_eq(passwd_verify_now("open sesame", KNOWN_HASH), 0);
	ck_assert_int_eq(passwd_verify_now("open sesame ", KNOWN_HASH), -EACCES);
}
END_TEST

START_TEST(malformed_hash)
{
	ck_assert_int_eq(passwd_verify_now("sesame", "garbage"), -EINVAL);
	ck_assert_int_eq(passwd_verify_now("sesame", ""), -EINVAL);
	ck_assert_int_eq(passwd_verify_now("sesame", "*"), -EINVAL);
	ck_assert_int_eq(passwd_check_hash("garbage"), -EINVAL);
	ck_assert_int_eq(passwd_check_hash(""), -EINVAL);
	/* A setting alone is no hash: nothing could ever match it. */
	ck_assert_int_eq(passwd_check_hash("$y$j9T$Bk7F0nLq1sS8XcJYzXzGm/"),
	    -EINVAL);
	/* A hash cut short. */
	ck_assert_int_eq(passwd_check_hash("$y$j9T$Bk7F0nLq1sS8XcJYzXzGm/$afn6"),
	    -EINVAL);
}
END_TEST

START_TEST(equal_compares_whole_strings)
{
	ck_assert(passwd_equal("abc", "abc"));
	ck_assert(passwd_equal("", ""));
	ck_assert(!passwd_equal("abc", "abd"));
	ck_assert(!passwd_equal("abc", "ab"));
	ck_assert(!passwd_equal("ab", "abc"));
}
END_TEST

START_TEST(set_secret_wipes_the_source)
{
	struct passwd_job pj;
	char line[] = "LOGIN alice sesame", big[PASSWD_SECRET_MAX + 10];

	memset(&pj, 0, sizeof(pj));
	passwd_set_secret(&pj, line + 12);
	ck_assert_str_eq(pj.secret, "sesame");
	ck_assert(!pj.too_long);
	ck_assert_int_eq(memcmp(line, "LOGIN alice \0\0\0\0\0\0", 19), 0);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	passwd_set_secret(&pj, big);
	ck_assert(pj.too_long);
	ck_assert_uint_eq(strlen(pj.secret), PASSWD_SECRET_MAX);
	ck_assert_uint_eq(strlen(big), 0);
}
END_TEST

/* ---- the pool ------------------------------------------------------------ */

static struct ev_loop     *loop;
static pthread_t           loop_thread;
static struct passwd_pool *pool;
static int                 results[4];
static int                 finished;
static bool                off_loop = true;

struct test_job {
	struct passwd_job pj;         /* the helper's part */
	int               slot;       /* where its result goes */
};

static void
note_done(struct passwd_job *pj)
{
	struct test_job *t = (struct test_job *)pj;

	if (!pthread_equal(pthread_self(), loop_thread))
		off_loop = false;
	ck_assert_str_eq(pj->secret, "");        /* wiped on the thread */
	results[t->slot] = pj->result;
	if (++finished == 4)
		ev_stop(loop);
}

static struct test_job hashed;                /* slot 0, then verified */
static struct test_job checks[3];             /* slots 1 to 3 */

/* Once the new hash is back, verify it with the same secret. */
static void
hash_done(struct passwd_job *pj)
{
	results[0] = pj->result;
	ck_assert_int_eq(strncmp(pj->hash, "$y$", 3), 0);
	passwd_set_secret(pj, (char[]){ "sesame" });
	pj->done = note_done;
	ck_assert_int_eq(passwd_verify(pool, pj, note_done), 0);
}

static long
give_up(struct ev_loop *l, long long id, void *data)
{
	(void)id;
	(void)data;
	ev_stop(l);
	return -1;
}

START_TEST(pool_completes_on_the_loop)
{
	char secret[] = "sesame", wrong[] = "sesame!", prefix[PASSWD_SECRET_MAX + 2];
	int err = 1;

	loop = ev_create(64);
	loop_thread = pthread_self();
	pool = passwd_start(loop, "test-pw", 2, &err);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(err, 0);
	ev_timer_add(loop, 20000, give_up, NULL);

	passwd_set_secret(&hashed.pj, secret);
	ck_assert_int_eq(passwd_hash(pool, &hashed.pj, hash_done), 0);
	/* A wrong secret, no stored hash at all, and a secret too long to
	 * hold whose first bytes are the right one. */
	for (int i = 0; i < 3; i++) {
		checks[i].slot = i + 1;
		strcpy(checks[i].pj.hash, KNOWN_HASH);
	}
	passwd_set_secret(&checks[0].pj, wrong);
	checks[1].pj.hash[0] = '\0';
	passwd_set_secret(&checks[1].pj, (char[]){ "open sesame" });
	memset(prefix, ' ', sizeof(prefix) - 1);
	memcpy(prefix, "open sesame", 11);
	prefix[sizeof(prefix) - 1] = '\0';
	passwd_set_secret(&checks[2].pj, prefix);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(passwd_verify(pool, &checks[i].pj, note_done), 0);
	ev_run(loop);
	ck_assert_int_eq(finished, 4);
	ck_assert(off_loop);
	ck_assert_int_eq(results[0], 0);
	ck_assert_int_eq(results[1], -EACCES);
	ck_assert_int_eq(results[2], -EACCES);
	ck_assert_int_eq(results[3], -EACCES);
	passwd_stop(pool);
	ev_destroy(loop);
}
END_TEST

static Suite *
passwd_suite(void)
{
	Suite *s = suite_create("passwd");
	TCase *tc = tcase_create("passwd");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hash_then_verify);
	tcase_add_test(tc, wrong_secret);
	tcase_add_test(tc, known_crypt_hash);
	tcase_add_test(tc, malformed_hash);
	tcase_add_test(tc, equal_compares_whole_strings);
	tcase_add_test(tc, set_secret_wipes_the_source);
	tcase_add_test(tc, pool_completes_on_the_loop);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(passwd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
