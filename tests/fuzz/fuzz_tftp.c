/*
 * fuzz_tftp.c - the tftp packet parser, the OACK builder and netascii,
 * on arbitrary datagrams.
 *
 * Invariants: a request that parses has a non-empty file name inside the
 * packet, octet or netascii as its mode, and every option it reports in
 * range; an OACK built from those options, put behind a request head,
 * parses back to the same options; a DATA or ERROR body lies inside the
 * packet; netascii encoding at any block size, then decoding in pieces
 * of the same size, gives the input back, and an encoded stream never
 * holds a CR that is not followed by LF or NUL.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "services/tftp/tftp_proto.h"

static void
check_options(const struct tftp_options *o)
{
	if (o->seen & TFTP_OPT_BLKSIZE)
		assert(o->blksize >= TFTP_BLKSIZE_MIN &&
		    o->blksize <= TFTP_BLKSIZE_MAX);
	if (o->seen & TFTP_OPT_TIMEOUT)
		assert(o->timeout >= TFTP_TIMEOUT_MIN &&
		    o->timeout <= TFTP_TIMEOUT_MAX);
	if (o->seen & TFTP_OPT_WINDOWSIZE)
		assert(o->windowsize >= 1 && o->windowsize <= TFTP_WINDOW_MAX);
	if (o->seen & TFTP_OPT_TSIZE)
		assert(o->tsize <= INT64_MAX);
}

/* The OACK of o, read back as the options of a request. */
static void
check_oack(const struct tftp_options *o)
{
	char oack[TFTP_OACK_MAX], req[10 + TFTP_OACK_MAX];
	struct tftp_request back;
	const char *why;
	size_t n = tftp_build_oack(oack, o);

	assert(n >= 2 && n <= TFTP_OACK_MAX);
	assert(oack[0] == 0 && oack[1] == TFTP_OACK);
	memcpy(req, "\0\1f\0octet\0", 10);
	memcpy(req + 10, oack + 2, n - 2);
	assert(tftp_parse_request(req, 10 + n - 2, &back, &why) == 0);
	assert(back.opts.seen == o->seen);
	if (o->seen & TFTP_OPT_BLKSIZE)
		assert(back.opts.blksize == o->blksize);
	if (o->seen & TFTP_OPT_TIMEOUT)
		assert(back.opts.timeout == o->timeout);
	if (o->seen & TFTP_OPT_TSIZE)
		assert(back.opts.tsize == o->tsize);
	if (o->seen & TFTP_OPT_WINDOWSIZE)
		assert(back.opts.windowsize == o->windowsize);
}

static void
check_request(const char *data, size_t len)
{
	struct tftp_request r;
	const char *why = NULL;
	int rc = tftp_parse_request(data, len, &r, &why);

	if (rc != 0) {
		assert(rc == TFTP_EBADOP || rc == TFTP_EOPTNEG);
		assert(why != NULL && why[0] != '\0');
		return;
	}
	assert(r.op == TFTP_RRQ || r.op == TFTP_WRQ);
	assert(r.file > data && r.file < data + len);
	assert(r.file[0] != '\0');
	assert(r.file + strlen(r.file) < data + len);
	assert(r.mode == TFTP_MODE_OCTET || r.mode == TFTP_MODE_NETASCII);
	check_options(&r.opts);
	check_oack(&r.opts);
}

static void
check_packet(const char *data, size_t len)
{
	struct tftp_packet p;

	if (tftp_parse(data, len, &p) != 0)
		return;
	assert(p.op >= TFTP_RRQ && p.op <= TFTP_OACK);
	if (p.op == TFTP_DATA || p.op == TFTP_ERROR || p.op == TFTP_ACK) {
		assert(len >= TFTP_HDR);
		assert(p.data == data + TFTP_HDR);
		assert(p.len <= len - TFTP_HDR);
	}
	if (p.op == TFTP_ERROR)
		assert(memchr(p.data, '\0', p.len) == NULL);
}

/* Encodes data in blocks of cap bytes and decodes it back. */
static void
check_netascii(const char *data, size_t len, size_t cap)
{
	struct tftp_ascii enc = { 0 }, dec = { 0 };
	char *wire = malloc(2 * len + 2), *back = malloc(2 * len + 2);
	size_t pos = 0, w = 0, b = 0, used, n;

	for (;;) {
		n = tftp_netascii_encode(&enc, data + pos, len - pos, &used,
		    wire + w, cap);
		assert(n <= cap && used <= len - pos);
		pos += used;
		w += n;
		if (n == 0 && used == 0)
			break;
	}
	assert(pos == len && w <= 2 * len);
	for (size_t i = 0; i < w; i++)
		if (wire[i] == '\r')
			assert(i + 1 < w && (wire[i + 1] == '\n' || wire[i + 1] == '\0'));
	for (size_t i = 0; i < w; i += cap)
		b += tftp_netascii_decode(&dec, wire + i, w - i < cap ? w - i : cap,
		    back + b);
	b += tftp_netascii_decode_end(&dec, back + b);
	assert(b == len && memcmp(back, data, len) == 0);
	free(wire);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy, so a read past the end is the sanitizer's. */
	char *buf = malloc(size > 0 ? size : 1);

	memcpy(buf, data, size);
	check_request(buf, size);
	check_packet(buf, size);
	check_netascii(buf, size, 1 + (size > 0 ? (size_t)data[0] % 64 : 0));
	free(buf);
	return 0;
}
