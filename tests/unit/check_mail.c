/*
 * check_mail.c - unit tests of the mail services' pure parts: SMTP lines
 * with their endings, the end of DATA in both kinds of session (the
 * smuggling matrix), dot-stuffing, sizes; Maildir names, flags, unique
 * ids and a listing of a real directory.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "services/mail/maildir.h"
#include "services/mail/pop3_box.h"
#include "services/mail/smtp_line.h"

#define CUT 64                        /* a small cut size: long lines */

/* Feeds in to a DATA reader as smtp does, after a DATA command that ended
 * as e says.  Returns the result of the last piece taken; *used is the
 * bytes consumed (up to the end of the message). */
static enum smtp_body_result
feed(struct smtp_ends *e, struct smtp_body *b, const char *in, size_t len,
    size_t *used)
{
	enum smtp_body_result r = SMTP_BODY_MORE;
	size_t at = 0;

	smtp_body_begin(b, 1 << 20);
	while (at < len && r == SMTP_BODY_MORE) {
		struct smtp_piece p;
		size_t n = smtp_cut(in + at, len - at, CUT, &p);

		if (n == 0)
			break;
		at += n;
		r = smtp_body_piece(b, e, &p);
	}
	*used = at;
	return r;
}

/* A session that so far sent only bare LF lines ("DATA\n"). */
static const struct smtp_ends lf_session = { false, SMTP_EOL_LF };
/* A session that sent CRLF lines ("EHLO x\r\n" ... "DATA\r\n"). */
static const struct smtp_ends crlf_session = { true, SMTP_EOL_CRLF };

/* What a message in a session of kind ends does: the result, and the
 * bytes consumed (all of in unless it ended before). */
static enum smtp_body_result
outcome(const struct smtp_ends *start, const char *in, size_t *used)
{
	struct smtp_ends e = *start;
	struct smtp_body b = { 0 };
	enum smtp_body_result r = feed(&e, &b, in, strlen(in), used);

	smtp_body_free(&b);
	return r;
}

START_TEST(cut_keeps_each_ending)
{
	struct smtp_piece p;

	ck_assert_uint_eq(smtp_cut("HELO x\r\nrest", 12, CUT, &p), 8);
	ck_assert_uint_eq(p.len, 6);
	ck_assert_int_eq(p.eol, SMTP_EOL_CRLF);
	ck_assert_uint_eq(smtp_cut("HELO x\nrest", 11, CUT, &p), 7);
	ck_assert_uint_eq(p.len, 6);
	ck_assert_int_eq(p.eol, SMTP_EOL_LF);
	/* A CR elsewhere is a byte of the line. */
	ck_assert_uint_eq(smtp_cut("a\rb\n", 4, CUT, &p), 4);
	ck_assert_uint_eq(p.len, 3);
	ck_assert_int_eq(p.eol, SMTP_EOL_LF);
	/* Not complete yet. */
	ck_assert_uint_eq(smtp_cut("HELO x\r", 7, CUT, &p), 0);
	ck_assert_uint_eq(smtp_cut("", 0, CUT, &p), 0);
}
END_TEST

START_TEST(cut_never_splits_crlf)
{
	char line[CUT + 2];
	struct smtp_piece p;

	memset(line, 'x', sizeof(line));
	line[CUT - 1] = '\r';
	line[CUT] = '\n';
	/* The CR at the cut waits for the next piece... */
	ck_assert_uint_eq(smtp_cut(line, sizeof(line), CUT, &p), CUT - 1);
	ck_assert_int_eq(p.eol, SMTP_EOL_NONE);
	/* ...which is then an empty CRLF line. */
	ck_assert_uint_eq(smtp_cut(line + CUT - 1, 3, CUT, &p), 2);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_int_eq(p.eol, SMTP_EOL_CRLF);
	/* A long line without CR comes in pieces of CUT. */
	memset(line, 'y', sizeof(line));
	ck_assert_uint_eq(smtp_cut(line, sizeof(line), CUT, &p), CUT);
	ck_assert_int_eq(p.eol, SMTP_EOL_NONE);
}
END_TEST

START_TEST(lf_session_ends_at_lf_dot_lf)
{
	size_t used;

	/* The course's client: "\n.\n" after its text. */
	ck_assert_int_eq(outcome(&lf_session,
	    "Subject: Hallo\n\nHallo,\nGrafen\n\n.\nQUIT\n", &used),
	    SMTP_BODY_END);
	ck_assert_uint_eq(used, strlen("Subject: Hallo\n\nHallo,\nGrafen\n\n.\n"));
	/* A CRLF message in a session that used bare LF only for commands. */
	ck_assert_int_eq(outcome(&lf_session, "a\r\n.\r\n", &used),
	    SMTP_BODY_END);
	/* An empty message. */
	ck_assert_int_eq(outcome(&lf_session, ".\n", &used), SMTP_BODY_END);
}
END_TEST

START_TEST(lf_session_malformed_endings_do_not_end)
{
	size_t used;

	/* LF . CRLF: the session now sent CRLF, and LF "." is no end. */
	ck_assert_int_eq(outcome(&lf_session, "a\n.\r\nb\n", &used),
	    SMTP_BODY_MORE);
	/* CR . LF, CR . CR: no line ends at a lone CR. */
	ck_assert_int_eq(outcome(&lf_session, "a\r.\nb\n", &used),
	    SMTP_BODY_MORE);
	ck_assert_int_eq(outcome(&lf_session, "a\n.\rb\n", &used),
	    SMTP_BODY_MORE);
	/* Once the session sent CRLF, a later LF . LF is data. */
	ck_assert_int_eq(outcome(&lf_session, "a\r\nb\n.\nc\n", &used),
	    SMTP_BODY_MORE);
	/* ... and the message, ended properly, holds bare LFs: refused. */
	ck_assert_int_eq(outcome(&lf_session, "a\n.\r\nb\r\n.\r\n", &used),
	    SMTP_BODY_BARE);
	ck_assert_int_eq(outcome(&lf_session, "a\r\nb\n.\nc\r\n.\r\n", &used),
	    SMTP_BODY_BARE);
}
END_TEST

START_TEST(crlf_session_malformed_endings)
{
	static const char *const not_ends[] = {
		"a\n.\n", "a\r.\n", "a\n.\r\n", "a\r\n.\r", "a\r\n.\n",
		"a\r.\r\n", "a\r\n.\rb\r\n", "a\n.\rb\n", "a\r\n .\r\n",
		"a\r\n.x\r\n", "a\r\n.\r\r\n",
	};
	size_t used;

	for (size_t i = 0; i < sizeof(not_ends) / sizeof(not_ends[0]); i++)
		ck_assert_msg(outcome(&crlf_session, not_ends[i], &used) ==
		    SMTP_BODY_MORE, "%zu ended", i);
	/* Each, followed by a proper end, is refused when it held a bare
	 * LF or CR, and taken when it did not. */
	for (size_t i = 0; i < sizeof(not_ends) / sizeof(not_ends[0]); i++) {
		char in[64];
		bool bare;

		snprintf(in, sizeof(in), "%s\r\n.\r\n", not_ends[i]);
		bare = strcmp(not_ends[i], "a\r\n .\r\n") != 0 &&
		    strcmp(not_ends[i], "a\r\n.x\r\n") != 0;
		ck_assert_msg(outcome(&crlf_session, in, &used) ==
		    (bare ? SMTP_BODY_BARE : SMTP_BODY_END), "%zu", i);
		ck_assert_uint_eq(used, strlen(in));
	}
	ck_assert_int_eq(outcome(&crlf_session, "a\r\n.\r\n", &used),
	    SMTP_BODY_END);
	ck_assert_int_eq(outcome(&crlf_session, ".\r\n", &used),
	    SMTP_BODY_END);
}
END_TEST

START_TEST(body_is_stored_unstuffed_with_lf)
{
	struct smtp_ends e = crlf_session;
	struct smtp_body b = { 0 };
	const char *in = "..x\r\n..\r\n.\r\nafter";
	size_t used;

	ck_assert_int_eq(feed(&e, &b, in, strlen(in), &used), SMTP_BODY_END);
	ck_assert_uint_eq(b.len, 5);
	ck_assert(memcmp(b.buf, ".x\n.\n", 5) == 0);
	ck_assert_uint_eq(b.size, 7);         /* ".x\r\n.\r\n" */
	ck_assert_uint_eq(b.lines, 2);
	ck_assert_uint_eq(used, strlen(in) - 5);
	smtp_body_free(&b);
}
END_TEST

START_TEST(long_lines_keep_dots_in_place)
{
	struct smtp_ends e = crlf_session;
	struct smtp_body b = { 0 };
	char in[3 * CUT];
	size_t used, n;

	/* A long line, then "." that continues it (not a line start). */
	memset(in, 'x', CUT);
	n = CUT;
	n += (size_t)sprintf(in + n, ".\r\n.\r\n");
	ck_assert_int_eq(feed(&e, &b, in, n, &used), SMTP_BODY_END);
	ck_assert_uint_eq(b.len, CUT + 2);
	ck_assert(memcmp(b.buf + CUT, ".\n", 2) == 0);
	smtp_body_free(&b);
}
END_TEST

START_TEST(size_limit_stops_storing)
{
	struct smtp_ends e = crlf_session;
	struct smtp_body b = { 0 };
	const char *in = "0123456789\r\n0123456789\r\n.\r\n";
	struct smtp_piece p;
	size_t at = 0, n;
	enum smtp_body_result r = SMTP_BODY_MORE;

	smtp_body_begin(&b, 15);
	while (r == SMTP_BODY_MORE &&
	    (n = smtp_cut(in + at, strlen(in) - at, CUT, &p)) > 0) {
		at += n;
		r = smtp_body_piece(&b, &e, &p);
	}
	ck_assert_int_eq(r, SMTP_BODY_END);
	ck_assert(b.over);
	ck_assert_uint_le(b.len, 15);
	smtp_body_free(&b);
}
END_TEST

/* A body spilled in parts (smtp_body_swap after every few pieces) comes
 * out as the same bytes, in order, as one kept whole; the size and the
 * limit still count the whole message. */
START_TEST(body_swap_hands_over_in_order)
{
	const char *in = "one\r\n..two\r\nthree three three three three "
	    "three three three three three three three three three\r\n"
	    "four\r\n.\r\n";
	struct smtp_ends e1 = crlf_session, e2 = crlf_session;
	struct smtp_body whole = { 0 }, parts = { 0 };
	char got[512], *spare = NULL;
	size_t used, got_len = 0, cap = 0, len, at = 0, n;
	enum smtp_body_result r = SMTP_BODY_MORE;

	ck_assert_int_eq(feed(&e1, &whole, in, strlen(in), &used),
	    SMTP_BODY_END);
	smtp_body_begin(&parts, 1 << 20);
	for (unsigned k = 0; r == SMTP_BODY_MORE; k++) {
		struct smtp_piece p;

		ck_assert((n = smtp_cut(in + at, strlen(in) - at, 16, &p)) > 0);
		at += n;
		r = smtp_body_piece(&parts, &e2, &p);
		if (k % 3 != 1)
			continue;
		smtp_body_swap(&parts, &spare, &cap, &len);
		ck_assert_uint_eq(parts.len, 0);
		memcpy(got + got_len, spare, len);
		got_len += len;
	}
	ck_assert_int_eq(r, SMTP_BODY_END);
	memcpy(got + got_len, parts.buf, parts.len);
	got_len += parts.len;
	ck_assert_uint_eq(got_len, whole.len);
	ck_assert(memcmp(got, whole.buf, whole.len) == 0);
	ck_assert_uint_eq(parts.size, whole.size);
	ck_assert_uint_eq(parts.lines, whole.lines);
	free(spare);
	smtp_body_free(&parts);
	smtp_body_free(&whole);
}
END_TEST

START_TEST(paths_of_mail_and_rcpt)
{
	char a1[] = "FROM:<a@b> SIZE=10 BODY=8BITMIME", a2[] = "to: bob@x",
	    a3[] = "TO:<@relay.example:carol@x>", a4[] = "TO:<open",
	    a5[] = "FROM:<>";
	char *addr, *params;

	ck_assert_int_eq(smtp_path(a1, "FROM:", &addr, &params), 0);
	ck_assert_str_eq(addr, "a@b");
	ck_assert_str_eq(params, "SIZE=10 BODY=8BITMIME");
	ck_assert_int_eq(smtp_path(a2, "TO:", &addr, &params), 0);
	ck_assert_str_eq(addr, "bob@x");
	ck_assert_str_eq(params, "");
	ck_assert_int_eq(smtp_path(a3, "TO:", &addr, &params), 0);
	ck_assert_str_eq(addr, "carol@x");
	ck_assert_int_eq(smtp_path(a4, "TO:", &addr, &params), -1);
	ck_assert_int_eq(smtp_path(a5, "FROM:", &addr, &params), 0);
	ck_assert_str_eq(addr, "");
	ck_assert(smtp_addr_ok("j\xc3\xb6rg@x.test"));
	ck_assert(!smtp_addr_ok("\xc3(@x"));
	ck_assert(!smtp_addr_ok("a b@x"));
	ck_assert(!smtp_addr_ok("al\x01ice@x"));
}
END_TEST

START_TEST(maildir_flags_keep_the_old)
{
	char out[MAILDIR_NAME_MAX + 1];

	ck_assert(maildir_flag_name("123.M1P2.h,S=5", 'S', out, sizeof(out)));
	ck_assert_str_eq(out, "123.M1P2.h,S=5:2,S");
	ck_assert(maildir_flag_name("123.x:2,FR", 'S', out, sizeof(out)));
	ck_assert_str_eq(out, "123.x:2,FRS");
	ck_assert(maildir_flag_name("123.x:2,DT", 'S', out, sizeof(out)));
	ck_assert_str_eq(out, "123.x:2,DST");
	ck_assert(maildir_flag_name("123.x:2,RS", 'S', out, sizeof(out)));
	ck_assert_str_eq(out, "123.x:2,RS");
	ck_assert(!maildir_flag_name("123.x", 'S', out, 8));
}
END_TEST

START_TEST(maildir_uidl_is_stable)
{
	char a[MAILDIR_UIDL_MAX + 1], b[MAILDIR_UIDL_MAX + 1];
	char longname[200];

	maildir_uidl("123.M1P2.h,S=5,W=6", a);
	maildir_uidl("123.M1P2.h,S=5,W=6:2,S", b);
	ck_assert_str_eq(a, "123.M1P2.h,S=5,W=6");
	ck_assert_str_eq(a, b);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	maildir_uidl(longname, a);
	ck_assert_uint_eq(strlen(a), 16);
	maildir_uidl(longname, b);
	ck_assert_str_eq(a, b);
	maildir_uidl("with space", a);
	ck_assert_uint_eq(strlen(a), 16);
}
END_TEST

START_TEST(maildir_crlf_size_counts_bare_lf)
{
	bool cr = false;

	ck_assert_uint_eq(maildir_crlf_size("a\nb\n", 4, &cr), 6);
	cr = false;
	ck_assert_uint_eq(maildir_crlf_size("a\r\nb\n", 5, &cr), 6);
	cr = false;
	ck_assert_uint_eq(maildir_crlf_size("a\r", 2, &cr), 2);
	ck_assert(cr);
	ck_assert_uint_eq(maildir_crlf_size("\nb", 2, &cr), 2);
}
END_TEST

START_TEST(maildir_delivers_and_lists)
{
	char root[] = "/tmp/check_mail.XXXXXX", name[MAILDIR_NAME_MAX + 1];
	char name2[MAILDIR_NAME_MAX + 1];
	struct maildir_box mb;
	struct maildir_list l;
	int rootfd, fd;

	ck_assert_ptr_nonnull(mkdtemp(root));
	rootfd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(rootfd, 0);
	ck_assert_int_eq(maildir_open(rootfd, "alice", &mb), 0);
	maildir_unique_name(name, sizeof(name), "h/o:s,t", 4, 6);
	ck_assert_ptr_nonnull(strstr(name, ".h\\057o\\072s\\054t,S=4,W=6"));
	maildir_unique_name(name2, sizeof(name2), "h", 3, 3);
	ck_assert_str_ne(name, name2);
	fd = openat(mb.newfd, name, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, "a\nb\n", 4), 4);
	close(fd);
	/* A file without sizes in its name is measured. */
	fd = openat(mb.curfd, "99999999999.foreign:2,F", O_CREAT | O_WRONLY,
	    0600);
	ck_assert_int_eq(write(fd, "x\n", 2), 2);
	close(fd);
	fd = openat(mb.newfd, ".hidden", O_CREAT | O_WRONLY, 0600);
	close(fd);
	ck_assert_int_eq(maildir_scan(&mb, &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.msgs[0].name, name);
	ck_assert_uint_eq(l.msgs[0].vsize, 6);
	ck_assert_uint_eq(l.msgs[1].fsize, 2);
	ck_assert_uint_eq(l.msgs[1].vsize, 3);
	ck_assert_int_eq(maildir_mark_seen(&mb, &l.msgs[0]), 0);
	ck_assert_int_eq(l.msgs[0].sub, MAILDIR_CUR);
	ck_assert_int_eq(faccessat(mb.curfd, l.msgs[0].name, F_OK, 0), 0);
	ck_assert_int_eq(maildir_mark_seen(&mb, &l.msgs[1]), 0);
	ck_assert_str_eq(l.msgs[1].name, "99999999999.foreign:2,FS");
	maildir_list_free(&l);
	maildir_close(&mb);
	close(rootfd);
	{
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

START_TEST(maildir_lists_in_delivery_order)
{
	char root[] = "/tmp/check_mail.XXXXXX", cmd[64];
	static const char *const names[] = {
		"7.M10P1Q3.h", "7.M9P1Q2.h", "6.M999999P1Q1.h", "7.M10P1Q12.h",
		"10.M0P1Q13.h",
	};
	static const int order[] = { 2, 1, 0, 3, 4 };
	struct maildir_box mb;
	struct maildir_list l;
	int rootfd;

	ck_assert_ptr_nonnull(mkdtemp(root));
	rootfd = open(root, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(maildir_open(rootfd, "box", &mb), 0);
	for (size_t i = 0; i < 5; i++)
		close(openat(mb.newfd, names[i], O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(maildir_scan(&mb, &l), 0);
	ck_assert_uint_eq(l.n, 5);
	for (size_t i = 0; i < 5; i++)
		ck_assert_str_eq(l.msgs[i].name, names[order[i]]);
	maildir_list_free(&l);
	maildir_close(&mb);
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* What pop3 sends for a message of text: TOP with lines, or RETR. */
static void
wire(const char *text, long lines, size_t split, char *out)
{
	struct pop3_conv cv;
	size_t len = strlen(text), o = 0;

	pop3_conv_init(&cv, lines);
	for (size_t at = 0; at < len; at += split)
		o += pop3_convert(&cv, text + at,
		    len - at < split ? len - at : split, out + o);
	o += pop3_conv_end(&cv, out + o);
	out[o] = '\0';
}

START_TEST(pop3_wire_form)
{
	const char *msg = "Subject: s\n.dot\n\nbody1\n..two\nbody3\n";
	char out[256];

	for (size_t split = 1; split <= 40; split += 13) {
		wire(msg, -1, split, out);
		ck_assert_str_eq(out, "Subject: s\r\n..dot\r\n\r\nbody1\r\n"
		    "...two\r\nbody3\r\n.\r\n");
		wire(msg, 0, split, out);
		ck_assert_str_eq(out, "Subject: s\r\n..dot\r\n\r\n.\r\n");
		wire(msg, 2, split, out);
		ck_assert_str_eq(out, "Subject: s\r\n..dot\r\n\r\nbody1\r\n"
		    "...two\r\n.\r\n");
		wire(msg, 99, split, out);
		ck_assert_str_eq(out, "Subject: s\r\n..dot\r\n\r\nbody1\r\n"
		    "...two\r\nbody3\r\n.\r\n");
	}
	/* CR LF in the file stays; a last line without LF gets one. */
	wire("a\r\n\r\nb", -1, 64, out);
	ck_assert_str_eq(out, "a\r\n\r\nb\r\n.\r\n");
	wire("", -1, 64, out);
	ck_assert_str_eq(out, ".\r\n");
}
END_TEST

/* The wire form of text cut in two at every point, and in pieces of
 * every size, is the form of text converted whole: a CR LF, an LF and
 * the dot after it, the empty line after the header and TOP's last line
 * may each fall on a boundary. */
static void
wire_any_cut(const char *text, long lines)
{
	size_t len = strlen(text);
	char want[512], got[512];

	wire(text, lines, len + 1, want);
	for (size_t split = 1; split <= len; split++) {
		wire(text, lines, split, got);
		ck_assert_str_eq(got, want);
	}
	for (size_t at = 0; at <= len; at++) {
		struct pop3_conv cv;
		size_t o;

		pop3_conv_init(&cv, lines);
		o = pop3_convert(&cv, text, at, got);
		o += pop3_convert(&cv, text + at, len - at, got + o);
		o += pop3_conv_end(&cv, got + o);
		got[o] = '\0';
		ck_assert_str_eq(got, want);
	}
}

START_TEST(pop3_wire_form_across_chunks)
{
	static const char *const texts[] = {
		"Subject: s\n.dot\n\nbody1\n..two\nbody3\n",
		"Subject: s\r\n.dot\r\n\r\n.\r\n..\r\nx\r\n",
		"A: b\n\n.\n.\n.\n",
		"A: b\r\n\r\nbare\rcr\r\r\nend",
		".\n\n.",
		"\n\n\n",
		"no header line\n.dot after\nlast",
	};
	static const long tops[] = { -1, 0, 1, 2, 3, 50 };
	char out[512];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		for (size_t k = 0; k < sizeof(tops) / sizeof(tops[0]); k++)
			wire_any_cut(texts[i], tops[k]);
	/* The forms themselves, for two of them. */
	wire("A: b\n\n.\n.\n.\n", 2, 3, out);
	ck_assert_str_eq(out, "A: b\r\n\r\n..\r\n..\r\n.\r\n");
	wire("A: b\r\n\r\nbare\rcr\r\r\nend", -1, 1, out);
	ck_assert_str_eq(out, "A: b\r\n\r\nbare\rcr\r\r\nend\r\n.\r\n");
}
END_TEST

static Suite *
mail_suite(void)
{
	Suite *s = suite_create("mail");
	TCase *t = tcase_create("smtp_line");

	tcase_add_test(t, cut_keeps_each_ending);
	tcase_add_test(t, cut_never_splits_crlf);
	tcase_add_test(t, lf_session_ends_at_lf_dot_lf);
	tcase_add_test(t, lf_session_malformed_endings_do_not_end);
	tcase_add_test(t, crlf_session_malformed_endings);
	tcase_add_test(t, body_is_stored_unstuffed_with_lf);
	tcase_add_test(t, long_lines_keep_dots_in_place);
	tcase_add_test(t, size_limit_stops_storing);
	tcase_add_test(t, body_swap_hands_over_in_order);
	tcase_add_test(t, paths_of_mail_and_rcpt);
	suite_add_tcase(s, t);
	t = tcase_create("maildir");
	tcase_add_test(t, maildir_flags_keep_the_old);
	tcase_add_test(t, maildir_uidl_is_stable);
	tcase_add_test(t, maildir_crlf_size_counts_bare_lf);
	tcase_add_test(t, maildir_delivers_and_lists);
	tcase_add_test(t, maildir_lists_in_delivery_order);
	tcase_add_test(t, pop3_wire_form);
	tcase_add_test(t, pop3_wire_form_across_chunks);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	SRunner *r = srunner_create(mail_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
