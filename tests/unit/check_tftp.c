/*
 * check_tftp.c - unit tests of the tftp packet parser and builders and
 * the netascii conversion (services/tftp/tftp_proto.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "services/tftp/tftp_proto.h"

/* Builds a request from NUL-separated parts given as one string with
 * '|' for each NUL; returns its length. */
static size_t
request(char *buf, int op, const char *parts)
{
	size_t n = strlen(parts);

	buf[0] = 0;
	buf[1] = (char)op;
	memcpy(buf + 2, parts, n);
	for (size_t i = 2; i < n + 2; i++)
		if (buf[i] == '|')
			buf[i] = '\0';
	return n + 2;
}

START_TEST(plain_rrq_and_wrq)
{
	char pkt[512];
	struct tftp_request r;
	const char *why;
	size_t n = request(pkt, TFTP_RRQ, "boot/pxelinux.0|octet|");

	ck_assert_int_eq(tftp_parse_request(pkt, n, &r, &why), 0);
	ck_assert_int_eq(r.op, TFTP_RRQ);
	ck_assert_str_eq(r.file, "boot/pxelinux.0");
	ck_assert_int_eq(r.mode, TFTP_MODE_OCTET);
	ck_assert_uint_eq(r.opts.seen, 0);
	n = request(pkt, TFTP_WRQ, "x.txt|NetASCII|");
	ck_assert_int_eq(tftp_parse_request(pkt, n, &r, &why), 0);
	ck_assert_int_eq(r.op, TFTP_WRQ);
	ck_assert_int_eq(r.mode, TFTP_MODE_NETASCII);
}
END_TEST

START_TEST(options_any_case_unknown_ignored)
{
	char pkt[512];
	struct tftp_request r;
	const char *why;
	size_t n = request(pkt, TFTP_RRQ, "f|octet|BLKSIZE|1428|tsize|0|"
	    "multicast||windowsize|16|Timeout|3|blksize|512|");

	ck_assert_int_eq(tftp_parse_request(pkt, n, &r, &why), 0);
	ck_assert_uint_eq(r.opts.seen, TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE |
	    TFTP_OPT_WINDOWSIZE | TFTP_OPT_TIMEOUT);
	ck_assert_int_eq(r.opts.blksize, 1428);      /* the first one counts */
	ck_assert_uint_eq(r.opts.tsize, 0);
	ck_assert_int_eq(r.opts.windowsize, 16);
	ck_assert_int_eq(r.opts.timeout, 3);
}
END_TEST

START_TEST(option_ranges)
{
	static const struct { const char *parts; int rc; } cases[] = {
		{ "f|octet|blksize|0|", TFTP_EOPTNEG },
		{ "f|octet|blksize|7|", TFTP_EOPTNEG },
		{ "f|octet|blksize|8|", 0 },
		{ "f|octet|blksize|65464|", 0 },
		{ "f|octet|blksize|65465|", TFTP_EOPTNEG },
		{ "f|octet|blksize|65536|", TFTP_EOPTNEG },
		{ "f|octet|blksize|-1|", TFTP_EOPTNEG },
		{ "f|octet|blksize||", TFTP_EOPTNEG },
		{ "f|octet|blksize|12x|", TFTP_EOPTNEG },
		{ "f|octet|timeout|0|", TFTP_EOPTNEG },
		{ "f|octet|timeout|255|", 0 },
		{ "f|octet|timeout|256|", TFTP_EOPTNEG },
		{ "f|octet|windowsize|0|", TFTP_EOPTNEG },
		{ "f|octet|windowsize|65535|", 0 },
		{ "f|octet|tsize|10737418240|", 0 },
		{ "f|octet|tsize|99999999999999999999999|", TFTP_EOPTNEG },
	};
	char pkt[512];
	struct tftp_request r;
	const char *why;
	size_t n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = request(pkt, TFTP_RRQ, cases[i].parts);
		ck_assert_msg(tftp_parse_request(pkt, n, &r, &why) == cases[i].rc,
		    "%s", cases[i].parts);
	}
	n = request(pkt, TFTP_WRQ, "f|octet|tsize|10737418240|");
	ck_assert_int_eq(tftp_parse_request(pkt, n, &r, &why), 0);
	ck_assert_uint_eq(r.opts.tsize, 10737418240ULL);
}
END_TEST

START_TEST(malformed_requests)
{
	static const char *bad[] = {
		"|octet|",           /* empty file name */
		"f|octet",           /* mode without NUL */
		"f",                 /* no mode */
		"f|mail|",           /* a mode we do not take */
		"f|binary|",
	};
	char pkt[512];
	struct tftp_request r;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = request(pkt, TFTP_RRQ, bad[i]);
		ck_assert_msg(tftp_parse_request(pkt, n, &r, &why) == TFTP_EBADOP,
		    "%s", bad[i]);
	}
	ck_assert_int_eq(tftp_parse_request("\0", 1, &r, &why), TFTP_EBADOP);
	ck_assert_int_eq(tftp_parse_request("\0\3f\0octet\0", 10, &r, &why),
	    TFTP_EBADOP);
	/* An incomplete option pair at the end is ignored. */
	ck_assert_int_eq(tftp_parse_request("\0\1f\0octet\0blksize\0", 18, &r,
	    &why), 0);
	ck_assert_uint_eq(r.opts.seen, 0);
}
END_TEST

START_TEST(data_ack_error_packets)
{
	struct tftp_packet p;

	ck_assert_int_eq(tftp_parse("\0\3\1\2abc", 7, &p), 0);
	ck_assert_int_eq(p.op, TFTP_DATA);
	ck_assert_uint_eq(p.block, 0x0102);
	ck_assert_uint_eq(p.len, 3);
	ck_assert_int_eq(memcmp(p.data, "abc", 3), 0);
	ck_assert_int_eq(tftp_parse("\0\3\0\1", 4, &p), 0);
	ck_assert_uint_eq(p.len, 0);
	ck_assert_int_eq(tftp_parse("\0\4\xff\xff", 4, &p), 0);
	ck_assert_int_eq(p.op, TFTP_ACK);
	ck_assert_uint_eq(p.block, 65535);
	ck_assert_int_eq(tftp_parse("\0\5\0\1nope\0junk", 14, &p), 0);
	ck_assert_int_eq(p.op, TFTP_ERROR);
	ck_assert_uint_eq(p.code, 1);
	ck_assert_uint_eq(p.len, 4);
	ck_assert_int_eq(tftp_parse("\0\4\0", 3, &p), -1);
	ck_assert_int_eq(tftp_parse("\0\7\0\0", 4, &p), -1);
	ck_assert_int_eq(tftp_parse("\1\4\0\0", 4, &p), -1);
}
END_TEST

START_TEST(builders)
{
	char buf[TFTP_OACK_MAX];
	struct tftp_options o = { .seen = TFTP_OPT_BLKSIZE | TFTP_OPT_TSIZE |
	    TFTP_OPT_WINDOWSIZE | TFTP_OPT_TIMEOUT, .blksize = 1428,
	    .timeout = 2, .tsize = 1234567, .windowsize = 16 };
	static const char oack[] = "\0\6blksize\0" "1428\0timeout\0" "2\0tsize\0"
	    "1234567\0windowsize\0" "16";
	size_t n = tftp_build_oack(buf, &o);
	char err[TFTP_ERROR_MAX], longmsg[300];

	ck_assert_uint_eq(n, sizeof(oack));
	ck_assert_int_eq(memcmp(buf, oack, n), 0);
	n = tftp_build_error(err, TFTP_EBADID, "unknown transfer ID");
	ck_assert_uint_eq(n, 4 + 19 + 1);
	ck_assert_int_eq(memcmp(err, "\0\5\0\5unknown", 11), 0);
	memset(longmsg, 'x', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	ck_assert_uint_eq(tftp_build_error(err, 0, longmsg), TFTP_ERROR_MAX);
	ck_assert_int_eq(err[TFTP_ERROR_MAX - 1], '\0');
	tftp_put_header(buf, TFTP_DATA, 0xabcd);
	ck_assert_int_eq(memcmp(buf, "\0\3\xab\xcd", 4), 0);
}
END_TEST

START_TEST(block_numbers_wrap)
{
	ck_assert_uint_eq(tftp_wire_block(65535), 65535);
	ck_assert_uint_eq(tftp_wire_block(65536), 0);
	ck_assert_uint_eq(tftp_abs_block(65535, 0), 65536);
	ck_assert_uint_eq(tftp_abs_block(65535, 65535), 65535);
	ck_assert_uint_eq(tftp_abs_block(131070, 2), 131074);
}
END_TEST

/* Encodes in with blocks of cap bytes, the way a transfer does. */
static size_t
encode_all(const char *in, size_t len, size_t cap, char *out)
{
	struct tftp_ascii st = { 0 };
	size_t pos = 0, o = 0, used, w;

	for (;;) {
		w = tftp_netascii_encode(&st, in + pos, len - pos, &used, out + o,
		    cap);
		pos += used;
		o += w;
		if (w == 0 && used == 0)
			return o;
	}
}

START_TEST(netascii_encode)
{
	char out[64];

	ck_assert_uint_eq(encode_all("a\nb\rc", 5, 64, out), 7);
	ck_assert_int_eq(memcmp(out, "a\r\nb\r\0c", 7), 0);
	/* A pair cut by the end of a block is finished in the next. */
	for (size_t cap = 1; cap < 8; cap++) {
		ck_assert_uint_eq(encode_all("\n\n\r", 3, cap, out), 6);
		ck_assert_int_eq(memcmp(out, "\r\n\r\n\r\0", 6), 0);
	}
}
END_TEST

START_TEST(netascii_decode)
{
	struct tftp_ascii st = { 0 };
	char out[32];
	size_t n;

	n = tftp_netascii_decode(&st, "a\r\nb\r\0c\rd", 9, out);
	ck_assert_uint_eq(n, 7);
	ck_assert_int_eq(memcmp(out, "a\nb\rc\rd", 7), 0);
	/* A CR at the end of one block pairs with the next. */
	n = tftp_netascii_decode(&st, "x\r", 2, out);
	n += tftp_netascii_decode(&st, "\ny\r", 3, out + n);
	n += tftp_netascii_decode_end(&st, out + n);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(out, "x\ny\r", 4), 0);
	ck_assert_uint_eq(tftp_netascii_decode_end(&st, out), 0);
}
END_TEST

/* Every byte string survives encode then decode, at every block size. */
START_TEST(netascii_round_trip)
{
	char in[256], enc[1024], dec[1024];
	unsigned seed = 7;

	for (int round = 0; round < 200; round++) {
		struct tftp_ascii st = { 0 };
		size_t len = (size_t)(rand_r(&seed) % sizeof(in)), e, d = 0;
		size_t cap = 1 + (size_t)(rand_r(&seed) % 17);

		for (size_t i = 0; i < len; i++)
			in[i] = "\r\n\0ab"[rand_r(&seed) % 5];
		e = encode_all(in, len, cap, enc);
		for (size_t i = 0; i < e; i += cap)
			d += tftp_netascii_decode(&st, enc + i,
			    e - i < cap ? e - i : cap, dec + d);
		d += tftp_netascii_decode_end(&st, dec + d);
		ck_assert_uint_eq(d, len);
		ck_assert_int_eq(memcmp(dec, in, len), 0);
	}
}
END_TEST

static Suite *
tftp_suite(void)
{
	Suite *s = suite_create("tftp");
	TCase *tc = tcase_create("tftp");

	tcase_add_test(tc, plain_rrq_and_wrq);
	tcase_add_test(tc, options_any_case_unknown_ignored);
	tcase_add_test(tc, option_ranges);
	tcase_add_test(tc, malformed_requests);
	tcase_add_test(tc, data_ack_error_packets);
	tcase_add_test(tc, builders);
	tcase_add_test(tc, block_numbers_wrap);
	tcase_add_test(tc, netascii_encode);
	tcase_add_test(tc, netascii_decode);
	tcase_add_test(tc, netascii_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tftp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
