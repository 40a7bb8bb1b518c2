/*
 * tftp_proto.c - TFTP packets and netascii (see tftp_proto.h).
 *
 * A request is opcode, file name, mode and option pairs, each a
 * NUL-terminated string.  Option names and modes are case-insensitive
 * (RFC 1350, RFC 2347); values are plain decimal numbers.  A client that
 * asks for a value out of range gets error 8: answering it with another
 * value would be a guess at what it can take.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tftp_proto.h"

#define TFTP_NUMBER_DIGITS 20         /* digits of a value, at most */

/* The NUL-terminated string at *pos, or NULL when there is no NUL before
 * the end; *pos moves past it. */
static const char *
tftp_string(const char *pkt, size_t len, size_t *pos)
{
	const char *s = pkt + *pos, *nul;

	if (*pos >= len || (nul = memchr(s, '\0', len - *pos)) == NULL)
		return NULL;
	*pos += (size_t)(nul - s) + 1;
	return s;
}

/* A decimal value: 0, or -1 for an empty, signed or too long one. */
static int
tftp_number(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > TFTP_NUMBER_DIGITS)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* One option we know the range of. */
struct tftp_known {
	const char *name;             /* as written, any case */
	unsigned    bit;              /* enum tftp_option_bit */
	uint64_t    min, max;         /* the valid values */
	const char *why;              /* the message of error 8 */
};

static const struct tftp_known tftp_known[] = {
	{ "blksize", TFTP_OPT_BLKSIZE, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX,
	  "blksize must be 8..65464" },
	{ "timeout", TFTP_OPT_TIMEOUT, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX,
	  "timeout must be 1..255" },
	{ "tsize", TFTP_OPT_TSIZE, 0, INT64_MAX, "tsize is not a size" },
	{ "windowsize", TFTP_OPT_WINDOWSIZE, 1, TFTP_WINDOW_MAX,
	  "windowsize must be 1..65535" },
};

/* Stores a checked value in its field. */
static void
tftp_set_option(struct tftp_options *o, unsigned bit, uint64_t v)
{
	o->seen |= bit;
	switch (bit) {
	case TFTP_OPT_BLKSIZE:    o->blksize = (long)v; break;
	case TFTP_OPT_TIMEOUT:    o->timeout = (long)v; break;
	case TFTP_OPT_TSIZE:      o->tsize = v; break;
	case TFTP_OPT_WINDOWSIZE: o->windowsize = (long)v; break;
	}
}

/* Takes one option pair; 0, or TFTP_EOPTNEG with *why set. */
static int
tftp_option(struct tftp_options *o, const char *name, const char *value,
    const char **why)
{
	for (size_t i = 0; i < sizeof(tftp_known) / sizeof(tftp_known[0]); i++) {
		const struct tftp_known *k = &tftp_known[i];
		uint64_t v;

		if (strcasecmp(name, k->name) != 0 || (o->seen & k->bit))
			continue;
		if (tftp_number(value, &v) != 0 || v < k->min || v > k->max) {
			*why = k->why;
			return TFTP_EOPTNEG;
		}
		tftp_set_option(o, k->bit, v);
	}
	return 0;
}

int
tftp_parse_request(const char *pkt, size_t len, struct tftp_request *req,
    const char **why)
{
	size_t pos = 2;
	const char *mode, *name, *value;

	memset(req, 0, sizeof(*req));
	*why = "malformed request";
	if (len < 2 || pkt[0] != 0 || (pkt[1] != TFTP_RRQ && pkt[1] != TFTP_WRQ))
		return TFTP_EBADOP;
	req->op = (enum tftp_op)pkt[1];
	if ((req->file = tftp_string(pkt, len, &pos)) == NULL ||
	    req->file[0] == '\0' || (mode = tftp_string(pkt, len, &pos)) == NULL)
		return TFTP_EBADOP;
	if (strcasecmp(mode, "octet") == 0)
		req->mode = TFTP_MODE_OCTET;
	else if (strcasecmp(mode, "netascii") == 0)
		req->mode = TFTP_MODE_NETASCII;
	else {
		*why = "mode not supported (octet or netascii)";
		return TFTP_EBADOP;
	}
	/* An incomplete pair at the end is ignored, as a padded request's. */
	while ((name = tftp_string(pkt, len, &pos)) != NULL &&
	    (value = tftp_string(pkt, len, &pos)) != NULL) {
		int rc = tftp_option(&req->opts, name, value, why);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
tftp_parse(const char *pkt, size_t len, struct tftp_packet *p)
{
	const unsigned char *u = (const unsigned char *)pkt;
	const char *nul;

	memset(p, 0, sizeof(*p));
	if (len < 2 || u[0] != 0 || u[1] < TFTP_RRQ || u[1] > TFTP_OACK)
		return -1;
	p->op = (enum tftp_op)u[1];
	if (p->op == TFTP_RRQ || p->op == TFTP_WRQ || p->op == TFTP_OACK)
		return 0;
	if (len < TFTP_HDR)
		return -1;
	if (p->op == TFTP_ERROR)
		p->code = (uint16_t)(u[2] << 8 | u[3]);
	else
		p->block = (uint16_t)(u[2] << 8 | u[3]);
	p->data = pkt + TFTP_HDR;
	p->len = len - TFTP_HDR;
	if (p->op == TFTP_ERROR && (nul = memchr(p->data, '\0', p->len)) != NULL)
		p->len = (size_t)(nul - p->data);
	return 0;
}

void
tftp_put_header(char *buf, enum tftp_op op, uint16_t block)
{
	buf[0] = 0;
	buf[1] = (char)op;
	buf[2] = (char)(block >> 8);
	buf[3] = (char)(block & 0xff);
}

size_t
tftp_build_error(char *buf, uint16_t code, const char *msg)
{
	size_t n = strlen(msg);

	if (n > TFTP_ERROR_MAX - TFTP_HDR - 1)
		n = TFTP_ERROR_MAX - TFTP_HDR - 1;
	tftp_put_header(buf, TFTP_ERROR, code);
	memcpy(buf + TFTP_HDR, msg, n);
	buf[TFTP_HDR + n] = '\0';
	return TFTP_HDR + n + 1;
}

/* Appends "name\0value\0"; returns the new length. */
static size_t
tftp_oack_pair(char *buf, size_t pos, const char *name, unsigned long long v)
{
	int n = snprintf(buf + pos, TFTP_OACK_MAX - pos, "%s%c%llu", name, 0, v);

	return pos + (size_t)n + 1;
}

size_t
tftp_build_oack(char *buf, const struct tftp_options *o)
{
	size_t pos = 2;

	buf[0] = 0;
	buf[1] = TFTP_OACK;
	if (o->seen & TFTP_OPT_BLKSIZE)
		pos = tftp_oack_pair(buf, pos, "blksize",
		    (unsigned long long)o->blksize);
	if (o->seen & TFTP_OPT_TIMEOUT)
		pos = tftp_oack_pair(buf, pos, "timeout",
		    (unsigned long long)o->timeout);
	if (o->seen & TFTP_OPT_TSIZE)
		pos = tftp_oack_pair(buf, pos, "tsize",
		    (unsigned long long)o->tsize);
	if (o->seen & TFTP_OPT_WINDOWSIZE)
		pos = tftp_oack_pair(buf, pos, "windowsize",
		    (unsigned long long)o->windowsize);
	return pos;
}

size_t
tftp_netascii_encode(struct tftp_ascii *st, const char *in, size_t inlen,
    size_t *used, char *out, size_t outcap)
{
	size_t i = 0, o = 0;

	if (st->has_pending && outcap > 0) {
		out[o++] = st->pending;
		st->has_pending = false;
	}
	while (i < inlen && o < outcap && !st->has_pending) {
		char c = in[i++];

		if (c != '\n' && c != '\r') {
			out[o++] = c;
			continue;
		}
		out[o++] = '\r';
		if (o < outcap)
			out[o++] = c == '\n' ? '\n' : '\0';
		else {
			st->pending = c == '\n' ? '\n' : '\0';
			st->has_pending = true;
		}
	}
	*used = i;
	return o;
}

size_t
tftp_netascii_decode(struct tftp_ascii *st, const char *in, size_t len,
    char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (st->cr) {
			st->cr = false;
			if (c == '\n') {
				out[o++] = '\n';
				continue;
			}
			out[o++] = '\r';
			if (c == '\0')
				continue;
		}
		if (c == '\r')
			st->cr = true;
		else
			out[o++] = c;
	}
	return o;
}

size_t
tftp_netascii_decode_end(struct tftp_ascii *st, char *out)
{
	if (!st->cr)
		return 0;
	st->cr = false;
	out[0] = '\r';
	return 1;
}
