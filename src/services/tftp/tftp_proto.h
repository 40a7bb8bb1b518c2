/*
 * tftp_proto.h - TFTP packets (RFC 1350) with option negotiation (RFC
 * 2347: blksize 2348, timeout and tsize 2349, windowsize 7440), and the
 * netascii conversion, as pure functions over byte buffers.
 *
 * Nothing here does I/O or keeps global state, so the unit test and the
 * fuzzer drive it directly; the service (service.c and transfer.c) only
 * moves the bytes.
 */
#ifndef MULTID_TFTP_PROTO_H
#define MULTID_TFTP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TFTP_BLKSIZE_DEFAULT 512      /* RFC 1350 */
#define TFTP_BLKSIZE_MIN     8        /* RFC 2348 */
#define TFTP_BLKSIZE_MAX     65464    /* RFC 2348 */
#define TFTP_TIMEOUT_MIN     1        /* RFC 2349, seconds */
#define TFTP_TIMEOUT_MAX     255
#define TFTP_WINDOW_MAX      65535    /* RFC 7440 */
#define TFTP_HDR             4        /* opcode and block number */
#define TFTP_OACK_MAX        128      /* every option we answer fits */
#define TFTP_ERROR_MAX       128      /* an ERROR packet we build */

enum tftp_op {
	TFTP_RRQ = 1,             /* read request */
	TFTP_WRQ = 2,             /* write request */
	TFTP_DATA = 3,            /* a block of the file */
	TFTP_ACK = 4,             /* a block arrived */
	TFTP_ERROR = 5,           /* the transfer ends */
	TFTP_OACK = 6,            /* the options the server took (RFC 2347) */
};

enum tftp_error {
	TFTP_EUNDEF = 0,          /* see the message */
	TFTP_ENOTFOUND = 1,       /* file not found */
	TFTP_EACCESS = 2,         /* access violation */
	TFTP_ENOSPACE = 3,        /* disk full or allocation exceeded */
	TFTP_EBADOP = 4,          /* illegal TFTP operation */
	TFTP_EBADID = 5,          /* unknown transfer ID */
	TFTP_EEXISTS = 6,         /* file already exists */
	TFTP_ENOUSER = 7,         /* no such user */
	TFTP_EOPTNEG = 8,         /* option negotiation refused (RFC 2347) */
};

enum tftp_mode {
	TFTP_MODE_OCTET,          /* bytes as they are */
	TFTP_MODE_NETASCII,       /* CR LF line ends on the wire */
};

/* Which options a request named (bits of tftp_options.seen). */
enum tftp_option_bit {
	TFTP_OPT_BLKSIZE = 1 << 0,
	TFTP_OPT_TIMEOUT = 1 << 1,
	TFTP_OPT_TSIZE = 1 << 2,
	TFTP_OPT_WINDOWSIZE = 1 << 3,
};

/* The options of a request, or of an OACK being built. */
struct tftp_options {
	unsigned  seen;           /* enum tftp_option_bit: which are set */
	long      blksize;        /* bytes per block, 8..65464 */
	long      timeout;        /* seconds, 1..255 */
	uint64_t  tsize;          /* the transfer size in bytes */
	long      windowsize;     /* blocks per window, 1..65535 */
};

/* A parsed RRQ or WRQ; file points into the packet. */
struct tftp_request {
	enum tftp_op        op;       /* TFTP_RRQ or TFTP_WRQ */
	const char         *file;     /* the name, NUL-terminated */
	enum tftp_mode      mode;     /* octet or netascii */
	struct tftp_options opts;     /* the options asked for */
};

/* A parsed DATA, ACK or ERROR (or OACK, whose body is not looked at). */
struct tftp_packet {
	enum tftp_op  op;         /* what it is */
	uint16_t      block;      /* DATA and ACK: the block number */
	uint16_t      code;       /* ERROR: the error code */
	const char   *data;       /* DATA: the payload; ERROR: the message */
	size_t        len;        /* its length (ERROR: up to the NUL) */
};

/* Reads an RRQ or WRQ.  Returns 0, or the error code to answer with:
 * TFTP_EBADOP for a malformed request or a mode other than octet and
 * netascii, TFTP_EOPTNEG for an option we know with a value out of its
 * range; *why is then a short message for the ERROR packet.  Unknown
 * options are ignored (RFC 2347), and so is a repeated one. */
int tftp_parse_request(const char *pkt, size_t len, struct tftp_request *req,
    const char **why);

/* Reads any other packet; 0, or -1 when it is too short or its opcode
 * unknown (an RRQ or WRQ here is reported as such, unparsed). */
int tftp_parse(const char *pkt, size_t len, struct tftp_packet *p);

/* Writes the 4-byte header of a DATA or ACK packet. */
void tftp_put_header(char *buf, enum tftp_op op, uint16_t block);

/* Builds an ERROR packet in buf (at least TFTP_ERROR_MAX bytes), the
 * message cut to fit; returns its length. */
size_t tftp_build_error(char *buf, uint16_t code, const char *msg);

/* Builds an OACK of the options set in o->seen, in buf (at least
 * TFTP_OACK_MAX bytes); returns its length. */
size_t tftp_build_oack(char *buf, const struct tftp_options *o);

/* The netascii state of one direction of one transfer. */
struct tftp_ascii {
	char pending;             /* encode: a byte owed from the last
	                             call (LF after CR, NUL after CR) */
	bool has_pending;         /* encode: pending is set */
	bool cr;                  /* decode: the last byte seen was a CR */
};

/* Encodes (file to wire): LF becomes CR LF, a CR becomes CR NUL.  Takes
 * from in (inlen bytes, *used of them taken) and writes at most outcap
 * bytes to out; returns how many.  A pair cut at the end of out is
 * finished by the next call, which may have inlen 0: at the end of the
 * file, call until it returns 0. */
size_t tftp_netascii_encode(struct tftp_ascii *st, const char *in,
    size_t inlen, size_t *used, char *out, size_t outcap);

/* Decodes (wire to file): CR LF becomes LF, CR NUL becomes CR, a CR
 * before anything else stays with it.  out holds at least len + 1 bytes;
 * returns how many were written.  A CR at the end waits for the next
 * call, or for tftp_netascii_decode_end. */
size_t tftp_netascii_decode(struct tftp_ascii *st, const char *in,
    size_t len, char *out);

/* The end of the upload: a CR still waiting is written to out; returns 0
 * or 1. */
size_t tftp_netascii_decode_end(struct tftp_ascii *st, char *out);

/* The block number on the wire of the absolute block n (it wraps to 0,
 * as tftp-hpa, atftp and curl expect). */
static inline uint16_t
tftp_wire_block(uint64_t n)
{
	return (uint16_t)n;
}

/* The absolute block that the wire number w names, counting from base
 * (the first block it may be): base .. base + 65535. */
static inline uint64_t
tftp_abs_block(uint64_t base, uint16_t w)
{
	return base + (uint16_t)(w - (uint16_t)base);
}

#endif
