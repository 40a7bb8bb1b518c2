/*
 * check_frame.c - the core's framer in each of its modes: line (with the
 * telnet answers), course, NUL frames and IRC lines.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"

#define GOT_MAX 16

/* What the framer handed over. */
struct seen {
	char   msg[GOT_MAX][600];     /* the messages */
	char   end[GOT_MAX][3];       /* the ending each was answered with */
	int    n;                     /* messages */
	int    longs;                 /* over-long messages */
	char   longend[GOT_MAX][3];   /* the ending of each over-long one */
	unsigned char telnet[64];     /* bytes answered to telnet */
	size_t ntelnet;               /* bytes in telnet */
	struct line_reader *lr;       /* the framer, for its ending */
};

static void
take_end(struct seen *s, char *to)
{
	memcpy(to, s->lr->end, s->lr->endlen);
	to[s->lr->endlen] = '\0';
}

static enum line_result
on_msg(void *ctx, char *msg, size_t len)
{
	struct seen *s = ctx;

	ck_assert_uint_eq(strlen(msg), len);
	ck_assert_int_lt(s->n, GOT_MAX);
	strcpy(s->msg[s->n], msg);
	take_end(s, s->end[s->n]);
	s->n++;
	return LINE_MORE;
}

static enum line_result
on_long(void *ctx, char *msg, size_t len)
{
	struct seen *s = ctx;

	ck_assert_ptr_null(msg);
	ck_assert_uint_eq(len, 0);
	take_end(s, s->longend[s->longs]);
	s->longs++;
	return LINE_MORE;
}

static void
on_telnet(void *ctx, const void *reply, size_t len)
{
	struct seen *s = ctx;

	ck_assert_uint_le(s->ntelnet + len, sizeof(s->telnet));
	memcpy(s->telnet + s->ntelnet, reply, len);
	s->ntelnet += len;
}

static const struct frame_ops ops = { on_msg, on_long, on_telnet };

static size_t
feed(struct seen *s, const char *d, size_t n)
{
	return frame_feed(s->lr, d, n, &ops, s);
}

START_TEST(telnet_answers)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };
	/* Ctrl-C: IAC IP IAC DO TIMING-MARK; then DO ECHO, WILL NAWS (split
	 * across reads), WONT and DONT (never answered), IAC AO. */
	const char in[] = "a\xff\xf4\xff\xfd\x06" "b\xff\xfd\x01\xff";
	const unsigned char want[] = { 255, 251, 6, 255, 252, 1, 255, 254, 31 };

	frame_init(&lr, FRAME_LINE, 64);
	feed(&s, in, sizeof(in) - 1);
	feed(&s, "\xfb\x1f\xff\xfc\x03\xff\xfe\x05\xff\xf5" "c\r\n", 13);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.msg[0], "abc");
	ck_assert_str_eq(s.end[0], "\r\n");
	ck_assert_uint_eq(s.ntelnet, sizeof(want));
	ck_assert(memcmp(s.telnet, want, sizeof(want)) == 0);
	line_free(&lr);
}
END_TEST

START_TEST(line_last_at_eof)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };

	frame_init(&lr, FRAME_LINE, 64);
	feed(&s, "one\nabc", 7);
	ck_assert_int_eq(s.n, 1);
	ck_assert(frame_holding(&lr));
	frame_flush(&lr, &ops, &s);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.msg[1], "abc");
	ck_assert(!frame_holding(&lr));
	frame_flush(&lr, &ops, &s);               /* nothing more */
	ck_assert_int_eq(s.n, 2);
	line_free(&lr);
}
END_TEST

START_TEST(course_endings)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };

	frame_init(&lr, FRAME_COURSE, 64);
	feed(&s, "lf\ncrlf\r\nnone", 13);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.msg[0], "lf");
	ck_assert_str_eq(s.end[0], "\n");
	ck_assert_str_eq(s.msg[1], "crlf");
	ck_assert_str_eq(s.end[1], "\r\n");
	frame_flush(&lr, &ops, &s);               /* nothing more waits */
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.msg[2], "none");
	ck_assert_str_eq(s.end[2], "");
	frame_flush(&lr, &ops, &s);               /* nothing held: nothing */
	ck_assert_int_eq(s.n, 3);
	feed(&s, "\nx\r", 3);                     /* an empty line counts */
	frame_flush(&lr, &ops, &s);
	ck_assert_int_eq(s.n, 5);
	ck_assert_str_eq(s.msg[3], "");
	ck_assert_str_eq(s.end[3], "\n");
	ck_assert_str_eq(s.msg[4], "x\r");          /* no LF: the CR stays */
	ck_assert_str_eq(s.end[4], "");
	s.n = 3;
	/* No telnet in the course protocol: 0xff is data. */
	feed(&s, "\xff\xfd\x06x\n", 5);
	ck_assert_int_eq(s.n, 4);
	ck_assert_str_eq(s.msg[3], "\xff\xfd\x06x");
	ck_assert_uint_eq(s.ntelnet, 0);
	line_free(&lr);
}
END_TEST

START_TEST(course_too_long)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };
	char big[100];

	memset(big, 'x', sizeof(big));
	frame_init(&lr, FRAME_COURSE, 8);
	feed(&s, big, sizeof(big));
	feed(&s, big, sizeof(big));
	ck_assert_int_eq(s.longs, 0);             /* answered at its end */
	feed(&s, "tail\r\nok\n", 9);
	ck_assert_int_eq(s.longs, 1);
	ck_assert_str_eq(s.longend[0], "\r\n");
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.msg[0], "ok");
	feed(&s, big, sizeof(big));               /* ended by nothing waiting */
	frame_flush(&lr, &ops, &s);
	ck_assert_int_eq(s.longs, 2);
	ck_assert_str_eq(s.longend[1], "");
	ck_assert_int_eq(s.n, 1);
	line_free(&lr);
}
END_TEST

START_TEST(nul_frames)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };
	char big[40];

	memset(big, 'y', sizeof(big));
	frame_init(&lr, FRAME_NUL, 16);
	feed(&s, "/login bob\0hi\nthere\r\0\0", 22);
	ck_assert_int_eq(s.n, 2);                 /* the empty frame skipped */
	ck_assert_str_eq(s.msg[0], "/login bob");
	ck_assert_uint_eq(lr.endlen, 1);               /* a NUL */
	ck_assert_int_eq(lr.end[0], '\0');
	ck_assert_str_eq(s.msg[1], "hi\nthere\r");  /* LF and CR are text */
	feed(&s, big, sizeof(big));               /* reported at once */
	ck_assert_int_eq(s.longs, 1);
	feed(&s, big, sizeof(big));
	feed(&s, "\0ok\0", 4);
	ck_assert_int_eq(s.longs, 1);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.msg[2], "ok");
	line_free(&lr);
}
END_TEST

START_TEST(irc_lines)
{
	struct line_reader lr;
	struct seen s = { .lr = &lr };
	char line[600];

	frame_init(&lr, FRAME_IRC, 4096);         /* max is IRC's own */
	ck_assert_uint_eq(lr.max, FRAME_IRC_MAX);
	memset(line, 'z', sizeof(line));
	memcpy(line, "PRIVMSG #a :", 12);
	line[510] = '\r';
	line[511] = '\n';
	feed(&s, line, 512);                      /* 512 with CR LF: fine */
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(strlen(s.msg[0]), 510);
	ck_assert_str_eq(s.end[0], "\r\n");
	line[511] = 'z';
	line[512] = '\n';
	line[510] = 'z';
	feed(&s, line, 513);                      /* 511 bytes: too long */
	ck_assert_int_eq(s.longs, 1);
	ck_assert_int_eq(s.n, 1);
	feed(&s, "\xff\xfd\x06PING x\n", 10);     /* no telnet here */
	ck_assert_uint_eq(s.ntelnet, 0);
	ck_assert_int_eq(s.n, 2);
	line_free(&lr);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("frame");
	TCase *tc = tcase_create("frame");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, telnet_answers);
	tcase_add_test(tc, line_last_at_eof);
	tcase_add_test(tc, course_endings);
	tcase_add_test(tc, course_too_long);
	tcase_add_test(tc, nul_frames);
	tcase_add_test(tc, irc_lines);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
