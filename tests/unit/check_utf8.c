/*
 * check_utf8.c - unit tests of utf8.c: validation (RFC 3629), counting,
 * Unicode case mapping, reversing by character, and the sanitiser that
 * keeps terminal controls out of chat text.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define S(lit) (lit), (sizeof(lit) - 1)

/* --- validation ------------------------------------------------------- */

START_TEST(valid_text)
{
	ck_assert(utf8_valid(S("")));
	ck_assert(utf8_valid(S("plain ASCII\t~")));
	ck_assert(utf8_valid(S("gr\xc3\xbc\xc3\x9f" "e")));          /* grüße */
	ck_assert(utf8_valid(S("\xe2\x82\xac")));                    /* € */
	ck_assert(utf8_valid(S("\xf0\x9f\x98\x80")));                /* 😀 */
	ck_assert(utf8_valid(S("\xf4\x8f\xbf\xbf")));                /* U+10FFFF */
	ck_assert(utf8_valid(S("\xed\x9f\xbf")));                    /* U+D7FF */
	ck_assert(utf8_valid(S("\xee\x80\x80")));                    /* U+E000 */
	ck_assert(utf8_valid("a\0b", 3));                            /* NUL is text */
}
END_TEST

START_TEST(invalid_text)
{
	ck_assert(!utf8_valid(S("\x80")));                   /* lone continuation */
	ck_assert(!utf8_valid(S("\xc3")));                   /* truncated */
	ck_assert(!utf8_valid(S("\xc3\x28")));               /* bad continuation */
	ck_assert(!utf8_valid(S("\xc0\xaf")));               /* overlong '/' */
	ck_assert(!utf8_valid(S("\xc1\xbf")));               /* overlong */
	ck_assert(!utf8_valid(S("\xe0\x80\xaf")));           /* overlong, 3 bytes */
	ck_assert(!utf8_valid(S("\xf0\x80\x80\xaf")));       /* overlong, 4 bytes */
	ck_assert(!utf8_valid(S("\xed\xa0\x80")));           /* surrogate D800 */
	ck_assert(!utf8_valid(S("\xed\xbf\xbf")));           /* surrogate DFFF */
	ck_assert(!utf8_valid(S("\xf4\x90\x80\x80")));       /* past U+10FFFF */
	ck_assert(!utf8_valid(S("\xf5\x80\x80\x80")));       /* bad lead */
	ck_assert(!utf8_valid(S("\xff")));
	ck_assert(!utf8_valid(S("\xe2\x82")));               /* truncated € */
	ck_assert(!utf8_valid(S("ok\xe2\x82" "x")));
}
END_TEST

START_TEST(decode_encode_roundtrip)
{
	static const uint32_t cps[] = { 0, 0x41, 0x7f, 0x80, 0x7ff, 0x800,
	    0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff };
	char buf[4];
	uint32_t cp;

	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		size_t n = utf8_encode(cps[i], buf);
		ck_assert_uint_eq(utf8_decode(buf, n, &cp), n);
		ck_assert_uint_eq(cp, cps[i]);
		ck_assert_uint_eq(utf8_decode(buf, n - 1, &cp), 0);
	}
	ck_assert_uint_eq(utf8_decode(S("\xc3\xa4"), &cp), 2);
	ck_assert_uint_eq(cp, 0xe4);
}
END_TEST

START_TEST(count_code_points)
{
	ck_assert_uint_eq(utf8_count(S("")), 0);
	ck_assert_uint_eq(utf8_count(S("hello")), 5);
	ck_assert_uint_eq(utf8_count(S("gr\xc3\xbc\xc3\x9f" "e")), 5);
	ck_assert_uint_eq(utf8_count(S("\xe2\x82\xac\xf0\x9f\x98\x80")), 2);
	/* A decomposed ä is two code points. */
	ck_assert_uint_eq(utf8_count(S("a\xcc\x88")), 2);
}
END_TEST

/* --- case mapping ------------------------------------------------------- */

/* Maps s and compares with want. */
static void
check_case(const char *s, enum utf8_case how, const char *want)
{
	size_t len = strlen(s);
	char *out = malloc(UTF8_CASE_MAX(len) + 1);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	n = utf8_case(out, UTF8_CASE_MAX(len), s, len, how);
	ck_assert_int_eq(n, (ssize_t)strlen(want));
	out[n] = '\0';
	ck_assert_str_eq(out, want);
	free(out);
}

START_TEST(case_mapping)
{
	ck_assert_int_eq(utf8_init(), 0);
	check_case("hello, World 42!", UTF8_UPPER, "HELLO, WORLD 42!");
	check_case("hello, World 42!", UTF8_LOWER, "hello, world 42!");
	check_case("\xc3\xa4\xc3\xb6\xc3\xbc", UTF8_UPPER,
	    "\xc3\x84\xc3\x96\xc3\x9c");                  /* äöü -> ÄÖÜ */
	check_case("\xc3\x84\xc3\x96\xc3\x9c", UTF8_LOWER,
	    "\xc3\xa4\xc3\xb6\xc3\xbc");
	check_case("gr\xc3\xbc\xc3\x9f" "e", UTF8_UPPER,
	    "GR\xc3\x9c\xc3\x9f" "E");                    /* ß has no capital here */
	check_case("\xce\xb1\xce\xb2\xce\xb3", UTF8_UPPER,
	    "\xce\x91\xce\x92\xce\x93");                  /* αβγ -> ΑΒΓ */
	check_case("\xd0\x96", UTF8_LOWER, "\xd0\xb6");   /* Ж -> ж */
	/* U+0250 (2 bytes) has the capital U+2C6F (3 bytes): text grows. */
	check_case("\xc9\x90", UTF8_UPPER, "\xe2\xb1\xaf");
	check_case("\xf0\x9f\x98\x80", UTF8_UPPER, "\xf0\x9f\x98\x80");
	check_case("", UTF8_UPPER, "");
}
END_TEST

START_TEST(case_errors)
{
	char out[16];

	ck_assert_int_eq(utf8_case(out, sizeof(out), S("a\xc3"), UTF8_UPPER),
	    -EILSEQ);
	ck_assert_int_eq(utf8_case(out, 3, S("abcd"), UTF8_UPPER), -ENOBUFS);
}
END_TEST

/* --- reversing ------------------------------------------------------------ */

static void
check_reverse(const char *s, const char *want)
{
	size_t len = strlen(s);
	char out[64];

	utf8_reverse(out, s, len);
	out[len] = '\0';
	ck_assert_str_eq(out, want);
}

START_TEST(reverse_by_character)
{
	check_reverse("", "");
	check_reverse("a", "a");
	check_reverse("hello", "olleh");
	check_reverse("gr\xc3\xbc\xc3\x9f" "e", "e\xc3\x9f\xc3\xbcrg");
	check_reverse("\xe2\x82\xac" "1\xf0\x9f\x98\x80",
	    "\xf0\x9f\x98\x80" "1\xe2\x82\xac");
}
END_TEST

/* --- sanitiser -------------------------------------------------------------- */

/* Sanitises s and compares with want. */
static void
check_clean(const char *s, size_t len, const char *want)
{
	char buf[256];
	size_t n;

	memcpy(buf, s, len);
	n = utf8_sanitize(buf, len);
	buf[n] = '\0';
	ck_assert_uint_eq(n, strlen(want));
	ck_assert_str_eq(buf, want);
}

#define CLEAN(lit, want) check_clean((lit), sizeof(lit) - 1, (want))

START_TEST(sanitize_plain_text_kept)
{
	CLEAN("hello world", "hello world");
	CLEAN("tab\tkept", "tab\tkept");
	CLEAN("gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80",
	    "gr\xc3\xbc\xc3\x9f" "e \xe2\x82\xac \xf0\x9f\x98\x80");
	CLEAN("\xc2\xa0nbsp", "\xc2\xa0nbsp");        /* U+00A0 is not C1 */
	CLEAN("", "");
}
END_TEST

START_TEST(sanitize_c0_del_c1)
{
	CLEAN("a\x07" "b\x08" "c\rd\x00" "e\x7f" "f", "abcdef");
	CLEAN("\x01\x02\x1f", "");
	CLEAN("x\xc2\x80y\xc2\x85z\xc2\x9f", "xyz");  /* C1 U+0080..U+009F */
}
END_TEST

START_TEST(sanitize_escape_sequences)
{
	CLEAN("\x1b[31mred\x1b[0m", "red");                     /* SGR */
	CLEAN("\x1b[2J\x1b[H" "clear", "clear");                /* CSI J, H */
	CLEAN("a\x1b[?1049h" "b", "ab");                        /* private mode */
	CLEAN("\x1b]0;evil title\x07" "ok", "ok");              /* OSC ... BEL */
	CLEAN("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"); /* OSC 8 */
	CLEAN("\x1bP" "dcs data\x1b\\after", "after");          /* DCS ... ST */
	CLEAN("\x1b_apc\x1b\\z", "z");                          /* APC */
	CLEAN("\x1b(B" "g", "g");                               /* nF: ESC ( B */
	CLEAN("\x1b" "c" "reset", "reset");                     /* RIS */
	CLEAN("\x1b" "7" "x\x1b" "8", "x");                     /* DECSC/DECRC */
	CLEAN("\xc2\x9b" "31m" "c1csi", "c1csi");               /* C1 CSI */
	CLEAN("\xc2\x9d" "0;t\xc2\x9c" "c1osc", "c1osc");       /* C1 OSC ... ST */
	CLEAN("end\x1b", "end");                                /* lone ESC */
	CLEAN("\x1b]0;unterminated", "");                       /* runs to the end */
	CLEAN("\x1b[31", "");                                   /* cut CSI */
	CLEAN("\x1b]0;a\x18" "b", "b");                         /* CAN aborts */
	CLEAN("\x1b\xc3\xa4", "\xc3\xa4");                      /* ESC + text */
}
END_TEST

START_TEST(sanitize_result_has_no_controls)
{
	char buf[512];
	size_t n;

	/* Every byte value, as valid UTF-8: nothing below 0x20 but TAB,
	 * no DEL, no C1, no ESC may survive. */
	for (unsigned rounds = 0; rounds < 2; rounds++) {
		size_t len = 0;
		for (uint32_t cp = 0; cp < 0x100; cp++)
			len += utf8_encode((cp + rounds * 7) & 0xff, buf + len);
		n = utf8_sanitize(buf, len);
		ck_assert(utf8_valid(buf, n));
		for (size_t i = 0; i < n; i++) {
			unsigned char b = (unsigned char)buf[i];
			ck_assert(b == '\t' || (b >= 0x20 && b != 0x7f));
			if (b == 0xc2 && i + 1 < n)
				ck_assert_uint_ge((unsigned char)buf[i + 1], 0xa0);
		}
	}
}
END_TEST

static Suite *
utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *t = tcase_create("validate");

	tcase_add_test(t, valid_text);
	tcase_add_test(t, invalid_text);
	tcase_add_test(t, decode_encode_roundtrip);
	tcase_add_test(t, count_code_points);
	suite_add_tcase(s, t);
	t = tcase_create("transform");
	tcase_add_test(t, case_mapping);
	tcase_add_test(t, case_errors);
	tcase_add_test(t, reverse_by_character);
	suite_add_tcase(s, t);
	t = tcase_create("sanitize");
	tcase_add_test(t, sanitize_plain_text_kept);
	tcase_add_test(t, sanitize_c0_del_c1);
	tcase_add_test(t, sanitize_escape_sequences);
	tcase_add_test(t, sanitize_result_has_no_controls);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(utf8_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
