/*
 * check_durable.c - unit tests of durable writes in a temporary
 * directory: bytes and filled files reach their final names, nothing is
 * replaced when that is asked, a failed request leaves no temporary file,
 * and requests queued together share their directory sync.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "durable.h"
#include "ev.h"

#define NREQS 20

static struct ev_loop *loop;
static pthread_t       loop_thread;
static struct durable *dur;
static char            dir[64];
static int             dirfd_;
static int             finished, expected;
static bool            on_loop = true;

static void
note_done(struct durable_req *req)
{
	(void)req;
	if (!pthread_equal(pthread_self(), loop_thread))
		on_loop = false;
	if (++finished == expected)
		ev_stop(loop);
}

static long
give_up(struct ev_loop *l, long long id, void *data)
{
	(void)id;
	(void)data;
	ev_stop(l);
	return -1;
}

static void
setup(void)
{
	int err = 1;

	snprintf(dir, sizeof(dir), "/tmp/check_durable.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_, 0);
	loop = ev_create(64);
	loop_thread = pthread_self();
	dur = durable_start(loop, "test-durable", &err);
	ck_assert_ptr_nonnull(dur);
	ck_assert_int_eq(err, 0);
	ev_timer_add(loop, 20000, give_up, NULL);
	finished = 0;
	on_loop = true;
}

static void
remove_tree(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;

	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno == EISDIR)
			remove_tree(openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY));
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static void
teardown(void)
{
	durable_stop(dur);
	ev_destroy(loop);
	remove_tree(dirfd_);
	rmdir(dir);
}

/* Runs the loop until n more requests are done. */
static void
wait_for(int n)
{
	expected = finished + n;
	ev_run(loop);
	ck_assert_int_eq(finished, expected);
	ck_assert(on_loop);
}

/* The names in the directory, sorted, joined by spaces. */
static const char *
listing(void)
{
	static char out[1024];
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2) {
			if (out[0] != '\0')
				strcat(out, " ");
			strcat(out, names[i]->d_name);
		}
		free(names[i]);
	}
	free(names);
	return out;
}

static const char *
contents(const char *name)
{
	static char buf[256];
	int fd = openat(dirfd_, name, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static struct durable_req
bytes(const char *name, const char *text, unsigned flags)
{
	return (struct durable_req){ .dirfd = dirfd_, .tmpdirfd = -1,
	    .name = name, .data = text, .len = strlen(text), .fd = -1,
	    .flags = flags };
}

START_TEST(bytes_reach_their_name)
{
	struct durable_req a = bytes("a", "first", 0), b;
	struct stat st;

	ck_assert_int_eq(durable_submit(dur, &a, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(a.result, 0);
	ck_assert_uint_ge(a.shared, 1);
	ck_assert_str_eq(contents("a"), "first");
	ck_assert_int_eq(fstatat(dirfd_, "a", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	/* Replacing is the default. */
	b = bytes("a", "second", 0);
	ck_assert_int_eq(durable_submit(dur, &b, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(b.result, 0);
	ck_assert_str_eq(contents("a"), "second");
	ck_assert_str_eq(listing(), "a");
}
END_TEST

START_TEST(no_overwrite_when_asked)
{
	struct durable_req a = bytes("a", "first", DURABLE_NOREPLACE), b, c;

	ck_assert_int_eq(durable_submit(dur, &a, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(a.result, 0);
	b = bytes("a", "second", DURABLE_NOREPLACE);
	c = bytes("c", "third", DURABLE_NOREPLACE);
	ck_assert_int_eq(durable_submit(dur, &b, note_done), 0);
	ck_assert_int_eq(durable_submit(dur, &c, note_done), 0);
	wait_for(2);
	ck_assert_int_eq(b.result, -EEXIST);
	ck_assert_int_eq(c.result, 0);
	ck_assert_str_eq(contents("a"), "first");
	ck_assert_str_eq(contents("c"), "third");
	ck_assert_str_eq(listing(), "a c");   /* no temporary file left */
}
END_TEST

START_TEST(failure_leaves_no_temporary)
{
	struct durable_req a = bytes("sub", "text", 0);
	struct durable_req b = bytes("nodir/x", "text", 0);

	/* A rename over a directory that is not empty fails. */
	ck_assert_int_eq(mkdirat(dirfd_, "sub", 0700), 0);
	close(openat(dirfd_, "sub/keep", O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(durable_submit(dur, &a, note_done), 0);
	ck_assert_int_eq(durable_submit(dur, &b, note_done), 0);
	wait_for(2);
	ck_assert_int_lt(a.result, 0);
	ck_assert_int_eq(b.result, -ENOENT);
	ck_assert_str_eq(listing(), "sub");
}
END_TEST

START_TEST(a_filled_file_gets_its_name)
{
	struct durable_req a = { .dirfd = dirfd_, .tmpdirfd = -1, .name = "m",
	    .flags = DURABLE_NOREPLACE };
	struct durable_req b = a, c = a;

	a.fd = durable_tmpfile(dirfd_, 0640);
	if (a.fd == -EOPNOTSUPP)
		return;               /* this file system has no O_TMPFILE */
	ck_assert_int_ge(a.fd, 0);
	ck_assert_int_eq(write(a.fd, "mail", 4), 4);
	ck_assert_int_eq(durable_submit(dur, &a, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(a.result, 0);
	ck_assert_int_eq(a.fd, -1);
	ck_assert_str_eq(contents("m"), "mail");
	/* Not over an existing name, unless replacing is allowed. */
	b.fd = durable_tmpfile(dirfd_, 0);
	ck_assert_int_eq(write(b.fd, "other", 5), 5);
	c.fd = durable_tmpfile(dirfd_, 0);
	ck_assert_int_eq(write(c.fd, "third", 5), 5);
	c.flags = 0;
	ck_assert_int_eq(durable_submit(dur, &b, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(b.result, -EEXIST);
	ck_assert_str_eq(contents("m"), "mail");
	ck_assert_int_eq(durable_submit(dur, &c, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(c.result, 0);
	ck_assert_str_eq(contents("m"), "third");
	ck_assert_str_eq(listing(), "m");
}
END_TEST

START_TEST(a_separate_temporary_directory)
{
	struct durable_req a = bytes("msg", "body", DURABLE_NOREPLACE);
	int tmpfd;

	ck_assert_int_eq(mkdirat(dirfd_, "tmp", 0700), 0);
	tmpfd = openat(dirfd_, "tmp", O_RDONLY | O_DIRECTORY);
	a.tmpdirfd = tmpfd;
	ck_assert_int_eq(durable_submit(dur, &a, note_done), 0);
	wait_for(1);
	ck_assert_int_eq(a.result, 0);
	ck_assert_str_eq(contents("msg"), "body");
	ck_assert_str_eq(listing(), "msg tmp");
	close(tmpfd);
}
END_TEST

/* A big first request keeps the thread busy while the others queue up;
 * they are then taken together and share one sync of the directory. */
START_TEST(requests_together_share_the_directory_sync)
{
	static struct durable_req reqs[NREQS];
	static char names[NREQS][16];
	size_t big = 16u << 20;
	char *data = malloc(big);
	unsigned most = 0;

	memset(data, 'x', big);
	for (int i = 0; i < NREQS; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02d", i);
		reqs[i] = bytes(names[i], "small", 0);
	}
	reqs[0].data = data;
	reqs[0].len = big;
	for (int i = 0; i < NREQS; i++)
		ck_assert_int_eq(durable_submit(dur, &reqs[i], note_done), 0);
	wait_for(NREQS);
	for (int i = 0; i < NREQS; i++) {
		ck_assert_int_eq(reqs[i].result, 0);
		ck_assert_uint_ge(reqs[i].shared, 1);
		if (reqs[i].shared > most)
			most = reqs[i].shared;
	}
	ck_assert_uint_ge(most, 2);
	ck_assert_str_eq(contents("f07"), "small");
	free(data);
}
END_TEST

static Suite *
durable_suite(void)
{
	Suite *s = suite_create("durable");
	TCase *tc = tcase_create("durable");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, bytes_reach_their_name);
	tcase_add_test(tc, no_overwrite_when_asked);
	tcase_add_test(tc, failure_leaves_no_temporary);
	tcase_add_test(tc, a_filled_file_gets_its_name);
	tcase_add_test(tc, a_separate_temporary_directory);
	tcase_add_test(tc, requests_together_share_the_directory_sync);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(durable_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
