/*
 * check_cfg_include.c - unit tests of the pure parts of @include: finding
 * the directives libconfig's scanner would act on, blanking them with
 * every line kept, and the paths they name.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_include.h"

/* Scans a copy of text; checks that only directives were blanked (same
 * length, same newlines) and returns the blanked copy (to free). */
static char *
scan(const char *text, struct cfg_scan *out)
{
	char *copy = strdup(text);

	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(cfg_include_scan(copy, out), 0);
	ck_assert_uint_eq(strlen(copy), strlen(text));
	for (size_t i = 0; text[i] != '\0'; i++)
		ck_assert_int_eq(copy[i] == '\n', text[i] == '\n');
	return copy;
}

START_TEST(scan_top_level)
{
	struct cfg_scan s;
	char *out = scan("daemon = { };\n"
	    "@include \"conf.d/*.conf\"\n"
	    "  \t@include\t\"/etc/x.conf\" # after\n"
	    "services = ( );\n", &s);

	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.v[0].name, "conf.d/*.conf");
	ck_assert_int_eq(s.v[0].line, 2);
	ck_assert(s.v[0].top);
	ck_assert_str_eq(s.v[1].name, "/etc/x.conf");
	ck_assert_int_eq(s.v[1].line, 3);
	ck_assert(s.v[1].top);
	/* Only the directive is blanked: the rest of its line stays for
	 * libconfig, as libconfig goes on after the closing quote. */
	ck_assert_str_eq(out, "daemon = { };\n"
	    "                        \n"
	    "                          # after\n"
	    "services = ( );\n");
	cfg_include_scan_free(&s);
	free(out);
}
END_TEST

START_TEST(scan_nested)
{
	struct cfg_scan s;
	char *out = scan("services = (\n"
	    "@include \"a.conf\"\n"
	    "  { x = [ 1,\n"
	    "@include \"b.conf\"\n"
	    "  ] }\n"
	    ");\n"
	    "@include \"c.conf\"\n", &s);

	ck_assert_uint_eq(s.n, 3);
	ck_assert(!s.v[0].top);
	ck_assert_int_eq(s.v[0].line, 2);
	ck_assert(!s.v[1].top);
	ck_assert_int_eq(s.v[1].line, 4);
	ck_assert(s.v[2].top);
	ck_assert_str_eq(s.v[2].name, "c.conf");
	cfg_include_scan_free(&s);
	free(out);
}
END_TEST

/* What libconfig does not take for a directive is left alone: inside a
 * string or a comment, not at the start of a line, no blank after
 * @include; brackets in strings and comments do not count. */
START_TEST(scan_not_directives)
{
	const char *text = "a = \"x(\n"
	    "@include \\\"q\\\"\n"
	    "\\\\\";\n"
	    "/* ( \n"
	    "@include \"r\"\n"
	    "*/ // (\n"
	    "# @include \"s\"\n"
	    "b = 1; @include \"t\"\n"
	    "@include\"u\"\n"
	    "@includes \"v\"\n"
	    "@include \"w\"\n";
	struct cfg_scan s;
	char *out = scan(text, &s);

	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.v[0].name, "w");
	ck_assert_int_eq(s.v[0].line, 11);
	ck_assert(s.v[0].top);
	ck_assert_int_eq(strncmp(out, text, strlen(text) - strlen("@include \"w\"\n")),
	    0);
	cfg_include_scan_free(&s);
	free(out);
}
END_TEST

START_TEST(scan_escapes_and_unterminated)
{
	struct cfg_scan s;
	char *out = scan("@include \"a\\\"b\\\\c\\d\"\n"
	    "@include \"open\n"
	    "x = 1;\n", &s);

	ck_assert_uint_eq(s.n, 2);
	ck_assert_str_eq(s.v[0].name, "a\"b\\c\\d");
	ck_assert_ptr_null(s.v[1].name);
	ck_assert_int_eq(s.v[1].line, 2);
	ck_assert_str_eq(out, "                    \n"
	    "              \n"
	    "x = 1;\n");
	cfg_include_scan_free(&s);
	free(out);
}
END_TEST

START_TEST(scan_empty)
{
	struct cfg_scan s;
	char *out = scan("", &s);

	ck_assert_uint_eq(s.n, 0);
	cfg_include_scan_free(&s);
	free(out);
}
END_TEST

static void
expect_resolve(const char *from, const char *name, bool glob,
    const char *want)
{
	char *got = cfg_include_resolve(from, name, glob);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(resolve_paths)
{
	expect_resolve("/etc/multid/multid.conf", "conf.d/a.conf", false,
	    "/etc/multid/conf.d/a.conf");
	expect_resolve("/etc/multid/multid.conf", "/srv/x.conf", false,
	    "/srv/x.conf");
	expect_resolve("conf/multid.conf", "x.conf", false, "conf/x.conf");
	expect_resolve("multid.conf", "x.conf", false, "x.conf");
	expect_resolve("/multid.conf", "x.conf", false, "/x.conf");
	expect_resolve("conf/sub/y.conf", "../z.conf", false,
	    "conf/sub/../z.conf");
	/* In a pattern, only the name's own wildcards count. */
	expect_resolve("/a[1]/b*?\\/m.conf", "*.conf", true,
	    "/a\\[1]/b\\*\\?\\\\/*.conf");
	expect_resolve("/a[1]/m.conf", "x.conf", false, "/a[1]/x.conf");
}
END_TEST

static Suite *
cfg_include_suite(void)
{
	Suite *s = suite_create("cfg_include");
	TCase *t = tcase_create("scan");

	tcase_add_test(t, scan_top_level);
	tcase_add_test(t, scan_nested);
	tcase_add_test(t, scan_not_directives);
	tcase_add_test(t, scan_escapes_and_unterminated);
	tcase_add_test(t, scan_empty);
	suite_add_tcase(s, t);
	t = tcase_create("resolve");
	tcase_add_test(t, resolve_paths);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cfg_include_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
