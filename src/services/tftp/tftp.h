/*
 * tftp.h - the tftp service's state, shared by its files:
 *
 *   tftp_proto.c   packets and netascii, pure (unit test, fuzzer)
 *   service.c      keys, hooks, requests, limits, the sweep timer
 *   transfer.c     one transfer on its own socket: start, packets,
 *                  timeouts, end
 *   read.c         sending a file: windows of blocks
 *   write.c        receiving one: blocks to a worker, then durable.h
 */
#ifndef MULTID_TFTP_H
#define MULTID_TFTP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../../addr.h"
#include "../../durable.h"
#include "../../service.h"
#include "../../worker.h"
#include "tftp_proto.h"

#define TFTP_PKT_MAX     (TFTP_HDR + TFTP_BLKSIZE_MAX + 64) /* a datagram */
#define TFTP_WINDOW_CAP  64           /* blocks per window, at most */
#define TFTP_WINDOW_BYTES (512 * 1024) /* bytes a read window holds, at most */
#define TFTP_WCHUNK      (256 * 1024) /* bytes of an upload per disk write */
#define TFTP_MEM_MAX     ((size_t)256 << 20) /* buffers of all transfers of
                                        a service, at most */

struct tftp_conf {
	char *root;               /* the directory served */
	bool  write;              /* WRQ may create new files */
	long  max_size;           /* bytes a WRQ may write */
	long  timeout;            /* seconds before a retransmission */
	long  retries;            /* retransmissions before giving up */
	int   rootfd;             /* root, opened O_PATH by configure */
};

/* Indices of the service's counters. */
enum tftp_counter {
	TFTP_C_READS,             /* transfers_total{op="read"} */
	TFTP_C_WRITES,            /* transfers_total{op="write"} */
	TFTP_C_BYTES,             /* file bytes moved by finished transfers */
	TFTP_C_RETRANSMITS,       /* packets sent again after a timeout */
	TFTP_C_FAILED,            /* refused requests, failed transfers */
};

struct tftp_xfer;

/* A running tftp service. */
struct tftp_state {
	struct svc        *svc;       /* the service */
	struct tftp_xfer  *xfers;     /* its transfers */
	unsigned           nxfers;    /* how many */
	size_t             mem;       /* bytes of buffers they hold */
	long long          sweep;     /* the sweep timer, 0 when not armed */
	struct worker     *writer;    /* writes upload blocks; from the first WRQ */
	struct durable    *durable;   /* syncs and names finished uploads */
	char               pkt[TFTP_PKT_MAX]; /* one received datagram */
};

/* Where a transfer is. */
enum tftp_xfer_state {
	XFER_OACK,                /* read: OACK sent, waiting for ACK 0 */
	XFER_SEND,                /* read: sending windows of blocks */
	XFER_RECV,                /* write: receiving blocks */
	XFER_CLOSING,             /* write: the last block is in, being
	                             written, synced and named */
	XFER_DALLY,               /* write: done; a repeated last block gets
	                             the last ACK again, for a while */
};

/* A block write of an upload, at the worker. */
struct tftp_wjob {
	struct worker_job  job;       /* the worker's link */
	struct tftp_xfer  *x;         /* whose */
	int                fd;        /* the file */
	const char        *p;         /* the bytes */
	size_t             len;       /* how many */
	off_t              off;       /* where they go */
	int                result;    /* 0 or a negative errno */
};

/* The reading side of a transfer: a window of blocks kept until acked. */
struct tftp_rd {
	uint64_t           base;      /* the first block not acknowledged */
	uint64_t           sent;      /* the highest block sent */
	uint64_t           made;      /* the highest block read into its slot */
	uint64_t           last;      /* the final block once read, else 0 */
	off_t              off;       /* file offset of the next byte to read */
	char              *slots;     /* window packets of TFTP_HDR + blksize */
	size_t            *lens;      /* each slot's packet length */
	char              *raw;       /* netascii: file bytes not yet encoded */
	size_t             rawlen;    /* bytes in raw */
	size_t             rawpos;    /* of them encoded */
	bool               eof;       /* netascii: the file is read to its end */
};

/* The writing side: two buffers, one filled here, one at the worker. */
struct tftp_wr {
	uint64_t           got;       /* the highest block received in order */
	unsigned           inwin;     /* blocks since the last ACK */
	char              *fill;      /* the buffer being filled */
	size_t             filllen;   /* bytes in it */
	char              *spare;     /* the other buffer */
	off_t              off;       /* file offset of fill's first byte */
	uint64_t           size;      /* bytes of the file so far */
	bool               ack_owed;  /* an ACK waits for room in fill */
	int                dirfd;     /* the directory of the new file */
	char              *name;      /* its name there */
	struct tftp_wjob   wjob;      /* the block write */
	struct durable_req dreq;      /* the sync and the name */
};

/* One transfer, on its own socket (its TID). */
struct tftp_xfer {
	struct tftp_xfer  *next, *prev; /* in the service's list */
	struct tftp_state *ts;        /* the service */
	enum tftp_xfer_state state;   /* where it is */
	enum tftp_op       op;        /* TFTP_RRQ or TFTP_WRQ */
	enum tftp_mode     mode;      /* octet or netascii */
	int                fd;        /* its socket */
	struct sockaddr_storage peer; /* the client's TID */
	socklen_t          peerlen;   /* its length */
	struct ip_key      ip;        /* the client, for per_source */
	char              *path;      /* the file, for log lines */
	long               blksize;   /* bytes per block */
	unsigned           window;    /* blocks per window */
	long               timeout_ms; /* before a retransmission */
	unsigned           retries;   /* retransmissions allowed */
	unsigned           tries;     /* retransmissions since progress */
	int64_t            deadline;  /* when the sweep acts on it */
	uint64_t           max_size;  /* write: bytes allowed */
	size_t             mem;       /* bytes of buffers, in tftp_state.mem */
	int                file;      /* the file read, or the new one */
	bool               busy;      /* the worker or durable holds a job */
	bool               orphan;    /* ended while busy: the job frees it */
	struct tftp_ascii  asc;       /* netascii state */
	char               ctl[TFTP_OACK_MAX]; /* OACK or last ACK, resent */
	size_t             ctllen;    /* its length */
	struct tftp_rd     rd;        /* read side */
	struct tftp_wr     wr;        /* write side */
};

/* service.c: the sweep timer runs while transfers exist. */
void tftp_sweep_arm(struct tftp_state *ts);

/* transfer.c: starts a read or write of req for d's sender, after the
 * request was admitted; on failure the client got an ERROR and nothing
 * is left.  0 or -1. */
int tftp_xfer_start(struct tftp_state *ts, struct dgram *d,
    const struct tftp_request *req, const char *rel);
/* transfer.c: the sweep found x past its deadline. */
void tftp_xfer_timeout(struct tftp_xfer *x);
/* transfer.c: ends x, with an ERROR to the client when code >= 0. */
void tftp_xfer_end(struct tftp_xfer *x, bool ok, int code, const char *msg);
/* transfer.c: ends x with the error that err (a negative errno) means. */
void tftp_xfer_fail(struct tftp_xfer *x, int err);
/* transfer.c: frees an ended transfer (or one never started). */
void tftp_xfer_free(struct tftp_xfer *x);
/* transfer.c: sends one datagram to the client; one the socket will not
 * take now is lost, as UDP allows, and the timeout sends it again. */
void tftp_send(struct tftp_xfer *x, const void *p, size_t len);
/* transfer.c: counts len bytes of buffers for x in the service's budget
 * (TFTP_MEM_MAX); false, with *msg set, when it is spent. */
bool tftp_mem_take(struct tftp_xfer *x, size_t len, const char **msg);
/* transfer.c: the TFTP error code and message for a negative errno. */
int tftp_errno_code(int err, const char **msg);

/* read.c and write.c: the checks, the file and the options of a request;
 * -1, or the error code for the client with *msg. */
int tftp_rd_open(struct tftp_xfer *x, const struct tftp_conf *tc,
    const struct tftp_request *req, struct tftp_options *acc,
    const char **msg);
int tftp_wr_open(struct tftp_xfer *x, const struct tftp_conf *tc,
    const struct tftp_request *req, struct tftp_options *acc,
    const char **msg);
/* read.c: fills the window and sends what was not sent; false when the
 * transfer ended. */
bool tftp_rd_advance(struct tftp_xfer *x);
/* read.c: blocks from..to again, from their slots. */
void tftp_rd_send(struct tftp_xfer *x, uint64_t from, uint64_t to);
/* read.c and write.c: an ACK or a DATA of the client; -1 when the
 * transfer ended. */
int tftp_rd_ack(struct tftp_xfer *x, uint16_t wire);
int tftp_wr_data(struct tftp_xfer *x, const char *data, size_t len,
    uint16_t wire);
/* write.c: acknowledges the last block received in order. */
void tftp_wr_ack(struct tftp_xfer *x);

#endif
