/*
 * buf.h - byte buffers and output queues.
 *
 * A struct buf holds bytes a connection has read but not yet consumed.
 * A struct outq holds what a connection still has to send, as a list of
 * segments: copied bytes, references to shared immutable blocks (one chat
 * message fanned out to many clients is stored once), and file ranges sent
 * with sendfile(2).
 */
#ifndef MULTID_BUF_H
#define MULTID_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct buf {
	char  *data;              /* storage, NULL until first use */
	size_t start;             /* offset of the first unconsumed byte */
	size_t len;               /* unconsumed bytes */
	size_t cap;               /* size of data */
};

int  buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);
/* Appends formatted text, cut at 511 bytes (one line of a page). */
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline char *buf_head(const struct buf *b) { return b->data + b->start; }

/* A shared, reference-counted, immutable block of bytes. */
struct rbuf {
	unsigned refs;            /* holders; freed when it drops to zero */
	size_t   len;             /* bytes in data */
	char     data[];          /* the bytes */
};

struct rbuf *rbuf_new(const void *p, size_t n);
struct rbuf *rbuf_ref(struct rbuf *rb);
void rbuf_unref(struct rbuf *rb);

struct seg;

struct outq {
	struct seg *head;         /* next segment to send */
	struct seg *tail;         /* where appends go */
	size_t      pending;      /* bytes queued in all segments */
	size_t      file_bytes;   /* part of pending still in files */
	size_t      overhead;     /* memory of segments that hold no copy */
};

int outq_append(struct outq *q, const void *p, size_t n);
int outq_printf(struct outq *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues len bytes of rb from off; takes a new reference. */
int outq_append_shared(struct outq *q, struct rbuf *rb, size_t off, size_t len);
/* Queues len bytes of file fd from off; the queue owns fd from now on. */
int outq_append_file(struct outq *q, int fd, off_t off, size_t len);
/* Sends what the transport takes; returns bytes sent, or a negative errno
 * (-EAGAIN when nothing could be sent now).  last: the connection closes
 * right after the queue is empty, so TCP may hold a short tail back and
 * send it with the FIN in one segment (MSG_MORE). */
struct transport;
ssize_t outq_write(struct outq *q, struct transport *t, bool last);
void outq_free(struct outq *q);

#endif
