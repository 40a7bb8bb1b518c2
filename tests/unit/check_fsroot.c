/*
 * check_fsroot.c - unit tests of opening beneath a root (src/fsroot.c) on
 * a temporary tree: files and directories inside are opened, while "..",
 * absolute paths and symlinks that lead out never are, with openat2 and
 * with the component walk of kernels that lack it; and the rule for the
 * paths clients name (no dotfiles).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "fsroot.h"

static char base[64];                             /* the temporary tree */
static char rootdir[96];                          /* base/root */
static int rootfd = -1;                           /* rootdir, O_PATH */

static void
put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void
link_at(const char *target, const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	ck_assert_int_eq(symlink(target, path), 0);
}

static void
dir_at(const char *rel)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

/* root/ holds file.txt, sub/inner.txt, dotfiles and symlinks in and out;
 * outside/ holds the secret nothing may reach.  Each test runs in a
 * process of its own (Check forks), with a tree of its own. */
static void
tree_setup(void)
{
	char outside[128];

	snprintf(base, sizeof(base), "/tmp/check_fsroot.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(rootdir, sizeof(rootdir), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside/secret", base);
	dir_at("root");
	dir_at("outside");
	dir_at("root/sub");
	put("outside/secret", "SECRET\n");
	put("root/file.txt", "file\n");
	put("root/sub/inner.txt", "inner\n");
	put("root/.hidden", "hidden\n");
	link_at("file.txt", "root/link-in");
	link_at("../file.txt", "root/sub/uplink");
	link_at(outside, "root/link-out-abs");
	link_at("../outside/secret", "root/link-out-rel");
	link_at("../outside", "root/dirlink-out");
	link_at("/", "root/slash");
	rootfd = open(rootdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(rootfd, 0);
	umask(022);
}

static void
tree_teardown(void)
{
	char cmd[128];

	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
}

/* Whether this kernel has openat2 (5.6 and later, unless filtered). */
static bool
kernel_has_openat2(void)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC };
	long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return fd >= 0;
}

/* Reads what fd holds (a small file) and closes it. */
static const char *
slurp(int fd)
{
	static char text[64];
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	text[n] = '\0';
	return text;
}

static bool
is_dir(int fd)
{
	struct stat st;
	bool dir;

	ck_assert_int_ge(fd, 0);
	dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
	close(fd);
	return dir;
}

/* The checks both ways of opening share; walk tells which way runs. */
static void
inside_opens(void)
{
	ck_assert_str_eq(slurp(fsroot_open(rootfd, "file.txt", O_RDONLY, 0)),
	    "file\n");
	ck_assert_str_eq(slurp(fsroot_open(rootfd, "sub/inner.txt", O_RDONLY,
	    0)), "inner\n");
	ck_assert_str_eq(slurp(fsroot_open(rootfd, "sub//inner.txt", O_RDONLY,
	    0)), "inner\n");
	ck_assert(is_dir(fsroot_open(rootfd, "", O_RDONLY | O_DIRECTORY, 0)));
	ck_assert(is_dir(fsroot_open(rootfd, ".", O_PATH, 0)));
	ck_assert(is_dir(fsroot_open(rootfd, "sub/", O_RDONLY, 0)));
	ck_assert(is_dir(fsroot_open(rootfd, "sub", O_PATH, 0)));
	ck_assert_int_eq(fsroot_open(rootfd, "file.txt/", O_RDONLY, 0),
	    -ENOTDIR);
	ck_assert_int_eq(fsroot_open(rootfd, "nope", O_RDONLY, 0), -ENOENT);
	/* fsroot_open leaves dotfiles to fsroot_check: a service's own
	 * hidden files are reachable. */
	ck_assert_str_eq(slurp(fsroot_open(rootfd, ".hidden", O_RDONLY, 0)),
	    "hidden\n");
}

static void
nothing_outside(void)
{
	static const char *const out[] = {
		"/etc/passwd", "../outside/secret", "sub/../../outside/secret",
		"sub/../file.txt", "..", "link-out-abs", "link-out-rel",
		"dirlink-out/secret", "dirlink-out/", "slash/etc/passwd",
		"sub/../link-out-rel",
	};

	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		int fd = fsroot_open(rootfd, out[i], O_RDONLY, 0);

		ck_assert_msg(fd == -EXDEV || fd == -ELOOP,
		    "%s: %d instead of -EXDEV or -ELOOP", out[i], fd);
		fd = fsroot_open(rootfd, out[i], O_PATH, 0);
		ck_assert_msg(fd == -EXDEV || fd == -ELOOP,
		    "%s (O_PATH): %d", out[i], fd);
	}
	ck_assert_int_eq(fsroot_open(rootfd, "/", O_PATH, 0), -EXDEV);
}

/* A file created beneath the root gets its mode; one through a symlink
 * out is never created. */
static void
create_inside_only(void)
{
	char path[256];
	struct stat st;
	int fd;

	fd = fsroot_open(rootfd, "sub/new.txt", O_WRONLY | O_CREAT | O_EXCL,
	    0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "new", 3), 3);
	close(fd);
	snprintf(path, sizeof(path), "%s/sub/new.txt", rootdir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(st.st_size, 3);
	ck_assert_int_eq(fsroot_open(rootfd, "sub/new.txt",
	    O_WRONLY | O_CREAT | O_EXCL, 0640), -EEXIST);

	fd = fsroot_open(rootfd, "dirlink-out/planted", O_WRONLY | O_CREAT,
	    0644);
	ck_assert_msg(fd == -EXDEV || fd == -ELOOP, "planted: %d", fd);
	snprintf(path, sizeof(path), "%s/outside/planted", base);
	ck_assert_int_ne(access(path, F_OK), 0);
	fd = fsroot_open(rootfd, "../planted", O_WRONLY | O_CREAT, 0644);
	ck_assert_int_eq(fd, -EXDEV);
	snprintf(path, sizeof(path), "%s/planted", base);
	ck_assert_int_ne(access(path, F_OK), 0);
}

START_TEST(openat2_inside)
{
	bool walking = !kernel_has_openat2();

	fsroot_force_walk(false);
	inside_opens();
	/* The kernel follows symlinks that stay inside; the walk none. */
	if (walking) {
		ck_assert_int_eq(fsroot_open(rootfd, "link-in", O_RDONLY, 0),
		    -ELOOP);
	} else {
		ck_assert_str_eq(slurp(fsroot_open(rootfd, "link-in", O_RDONLY,
		    0)), "file\n");
		ck_assert_str_eq(slurp(fsroot_open(rootfd, "sub/uplink",
		    O_RDONLY, 0)), "file\n");
	}
}
END_TEST

START_TEST(openat2_nothing_outside)
{
	fsroot_force_walk(false);
	nothing_outside();
}
END_TEST

START_TEST(openat2_create)
{
	fsroot_force_walk(false);
	create_inside_only();
}
END_TEST

START_TEST(walk_inside)
{
	fsroot_force_walk(true);
	inside_opens();
}
END_TEST

START_TEST(walk_follows_no_symlink)
{
	fsroot_force_walk(true);
	ck_assert_int_eq(fsroot_open(rootfd, "link-in", O_RDONLY, 0), -ELOOP);
	ck_assert_int_eq(fsroot_open(rootfd, "link-in", O_PATH, 0), -ELOOP);
	ck_assert_int_eq(fsroot_open(rootfd, "sub/uplink", O_RDONLY, 0),
	    -ELOOP);
	nothing_outside();
}
END_TEST

START_TEST(walk_create)
{
	fsroot_force_walk(true);
	create_inside_only();
}
END_TEST

START_TEST(check_rule)
{
	static const struct {
		const char *path;             /* what a client names */
		int         want;             /* fsroot_check's answer */
	} cases[] = {
		{ "", 0 }, { "a", 0 }, { "a/b", 0 }, { "a/b/", 0 },
		{ "x.y", 0 }, { "a.b/c..d", 0 }, { "\xc3\xbc" "ber", 0 },
		{ "/a", -EXDEV }, { "/", -EXDEV }, { "..", -EXDEV },
		{ "a/..", -EXDEV }, { "a/../b", -EXDEV }, { "../a", -EXDEV },
		{ ".", -ENOENT }, { "./a", -ENOENT }, { "a/./b", -ENOENT },
		{ ".hidden", -ENOENT }, { "a/.git/config", -ENOENT },
		{ "a/.x/", -ENOENT }, { "...", -ENOENT }, { "a//b", -ENOENT },
		{ "a/b//", -ENOENT },
	};
	char name[NAME_MAX + 2], *path;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(fsroot_check(cases[i].path) == cases[i].want,
		    "\"%s\": %d, not %d", cases[i].path,
		    fsroot_check(cases[i].path), cases[i].want);
	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	ck_assert_int_eq(fsroot_check(name), 0);
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	ck_assert_int_eq(fsroot_check(name), -ENAMETOOLONG);
	path = malloc(PATH_MAX + 1);
	ck_assert_ptr_nonnull(path);
	for (size_t i = 0; i < PATH_MAX; i++)
		path[i] = i % 8 == 7 ? '/' : 'd';
	path[PATH_MAX] = '\0';
	ck_assert_int_eq(fsroot_check(path), -ENAMETOOLONG);
	path[PATH_MAX - 2] = '\0';
	ck_assert_int_eq(fsroot_check(path), 0);
	free(path);
}
END_TEST

START_TEST(name_rule)
{
	ck_assert(fsroot_name_ok("index.html"));
	ck_assert(fsroot_name_ok("a..b"));
	ck_assert(!fsroot_name_ok(""));
	ck_assert(!fsroot_name_ok("."));
	ck_assert(!fsroot_name_ok(".."));
	ck_assert(!fsroot_name_ok(".index.html"));
	ck_assert(!fsroot_name_ok("a/b"));
	ck_assert(!fsroot_name_ok("a/"));
	ck_assert(!fsroot_name_ok("/a"));
}
END_TEST

static Suite *
fsroot_suite(void)
{
	Suite *s = suite_create("fsroot");
	TCase *t;

	t = tcase_create("openat2");
	tcase_add_checked_fixture(t, tree_setup, tree_teardown);
	tcase_add_test(t, openat2_inside);
	tcase_add_test(t, openat2_nothing_outside);
	tcase_add_test(t, openat2_create);
	suite_add_tcase(s, t);
	t = tcase_create("walk");
	tcase_add_checked_fixture(t, tree_setup, tree_teardown);
	tcase_add_test(t, walk_inside);
	tcase_add_test(t, walk_follows_no_symlink);
	tcase_add_test(t, walk_create);
	suite_add_tcase(s, t);
	t = tcase_create("rules");
	tcase_add_test(t, check_rule);
	tcase_add_test(t, name_rule);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fsroot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
