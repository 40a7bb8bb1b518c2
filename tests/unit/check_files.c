/*
 * check_files.c - unit tests of the files service's pure rules
 * (src/services/files/entry.c): path normalisation, where a symlink may
 * point, the verdict on whole entries, and names made printable for a
 * reply; and the final name of an upload.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "services/files/files.h"

static char out[PATH_MAX], link_out[PATH_MAX];

START_TEST(path_norm_keeps_relative_paths)
{
	ck_assert_int_eq(files_path_norm("a/b/c", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a/b/c");
	ck_assert_int_eq(files_path_norm("./a//b/./c/", out, sizeof(out)), 3);
	ck_assert_str_eq(out, "a/b/c");
	ck_assert_int_eq(files_path_norm("./", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(files_path_norm(".hidden/x", out, sizeof(out)), 2);
	ck_assert_str_eq(out, ".hidden/x");
	ck_assert_int_eq(files_path_norm("a..b/...", out, sizeof(out)), 2);
}
END_TEST

START_TEST(path_norm_refuses_escapes)
{
	char longname[NAME_MAX + 2], deep[FILES_DEPTH_MAX * 2 + 4];

	ck_assert_int_eq(files_path_norm("/etc/passwd", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm("..", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm("../x", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm("a/../../x", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm("a/..", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm("", out, sizeof(out)), -1);
	ck_assert_int_eq(files_path_norm(NULL, out, sizeof(out)), -1);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(files_path_norm(longname, out, sizeof(out)), -1);
	for (int i = 0; i <= FILES_DEPTH_MAX; i++)
		memcpy(deep + 2 * i, "d/", 2);
	deep[2 * (FILES_DEPTH_MAX + 1)] = '\0';
	ck_assert_int_eq(files_path_norm(deep, out, sizeof(out)), -1);
	/* Too small an output is a refusal, not an overflow. */
	ck_assert_int_eq(files_path_norm("abc/def", out, 4), -1);
}
END_TEST

START_TEST(link_inside_rule)
{
	ck_assert(files_link_inside(1, "target"));
	ck_assert(files_link_inside(1, "."));
	ck_assert(files_link_inside(2, "../x"));
	ck_assert(files_link_inside(2, ".."));
	ck_assert(files_link_inside(3, "../../a/b"));
	ck_assert(files_link_inside(1, "./a/./b"));
	ck_assert(!files_link_inside(1, "../x"));
	ck_assert(!files_link_inside(2, "../../x"));
	ck_assert(!files_link_inside(3, "/etc"));
	ck_assert(!files_link_inside(3, ""));
	ck_assert(!files_link_inside(3, NULL));
	/* A climb after a step down may pass through a symlink. */
	ck_assert(!files_link_inside(3, "a/.."));
	ck_assert(!files_link_inside(3, "../a/../b"));
}
END_TEST

static enum files_verdict
verdict(const char *path, enum files_entry_kind kind, unsigned mode,
    const char *link)
{
	struct files_entry e = { path, kind, mode, link };

	return files_entry_check(&e, out, link_out);
}

START_TEST(entry_rule)
{
	ck_assert_int_eq(verdict("a/f", FILES_ENTRY_FILE, 0644, NULL), FILES_OK);
	ck_assert_str_eq(out, "a/f");
	ck_assert_int_eq(verdict("./", FILES_ENTRY_DIR, 0755, NULL), FILES_SKIP);
	ck_assert_int_eq(verdict("./", FILES_ENTRY_FILE, 0644, NULL),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("d/", FILES_ENTRY_DIR, 01777, NULL), FILES_OK);
	ck_assert_int_eq(verdict("f", FILES_ENTRY_FILE, 04755, NULL),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("d", FILES_ENTRY_DIR, 02755, NULL),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("dev", FILES_ENTRY_OTHER, 0600, NULL),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("../f", FILES_ENTRY_FILE, 0644, NULL),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("a/l", FILES_ENTRY_SYMLINK, 0777, "../b"),
	    FILES_OK);
	ck_assert_str_eq(link_out, "../b");
	ck_assert_int_eq(verdict("l", FILES_ENTRY_SYMLINK, 0777, "../b"),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("h", FILES_ENTRY_HARDLINK, 0644, "./a/f"),
	    FILES_OK);
	ck_assert_str_eq(link_out, "a/f");
	ck_assert_int_eq(verdict("h", FILES_ENTRY_HARDLINK, 0644, "../f"),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("h", FILES_ENTRY_HARDLINK, 0644, "/etc/passwd"),
	    FILES_UNSAFE);
	ck_assert_int_eq(verdict("h", FILES_ENTRY_HARDLINK, 0644, "."),
	    FILES_UNSAFE);
}
END_TEST

START_TEST(printable_names)
{
	char p[8];

	files_printable("a\r\nb\x7f", p, sizeof(p));
	ck_assert_str_eq(p, "a??b?");
	files_printable("0123456789", p, sizeof(p));
	ck_assert_str_eq(p, "0123456");
	files_printable(NULL, p, sizeof(p));
	ck_assert_str_eq(p, "");
}
END_TEST

START_TEST(final_names)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET,
	    .sin_port = htons(51234) };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(7) };
	char name[FILES_NAME_MAX];

	inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
	files_final_name(name, sizeof(name), (struct sockaddr *)&v4,
	    1796240101);
	ck_assert_str_eq(name, "20261202T193501Z_127.0.0.1_51234");
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr);
	files_final_name(name, sizeof(name), (struct sockaddr *)&v6, 0);
	ck_assert_str_eq(name, "19700101T000000Z_10.0.0.1_7");
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	files_final_name(name, sizeof(name), (struct sockaddr *)&v6, 0);
	ck_assert_str_eq(name, "19700101T000000Z_2001:db8::1_7");
}
END_TEST

static Suite *
files_suite(void)
{
	Suite *s = suite_create("files");
	TCase *t = tcase_create("rules");

	tcase_add_test(t, path_norm_keeps_relative_paths);
	tcase_add_test(t, path_norm_refuses_escapes);
	tcase_add_test(t, link_inside_rule);
	tcase_add_test(t, entry_rule);
	tcase_add_test(t, printable_names);
	tcase_add_test(t, final_names);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(files_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
