/*
 * output.h - what the files of the log service share: the output a
 * service writes to, its queue of formatted records, and the sender of
 * the latest datagram.
 *
 *   service.c   the keys and hooks, and splitting datagrams into records
 *   record.c    one record as a line: the receipt time, the sender
 *   journal.c   one record as journal fields, and sending them
 *   output.c    opening, flushing and closing stdout, a file or the journal
 *   writer.c    the thread that writes files and the journal
 *   syslog.c    splitting datagrams into records, parsing their headers
 *   forward.c   sending records on to a collector over TCP (forward.h)
 *   forward_frame.c  the forward URL, and a record as an RFC 5424 frame
 */
#ifndef MULTID_LOG_OUTPUT_H
#define MULTID_LOG_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../../addr.h"
#include "../../service.h"
#include "syslog.h"

#define LOG_QUEUE_MAX   (4u << 20)     /* bytes waiting for the output */
#define LOG_MARKER      "...[truncated]"
#define LOG_TIME_LEN    24             /* YYYY-MM-DDTHH:MM:SS.mmmZ */

/* Indices of our counters. */
enum { LOG_RECORDS, LOG_DROPPED, LOG_FWD_DROPPED, LOG_FWD_SENT, LOG_FWD_UP };

enum log_sink {
	SINK_STDOUT,              /* "-" */
	SINK_FILE,                /* a path, appended to */
	SINK_JOURNAL,             /* "journal" */
};

struct log_writer;
struct log_forward;

/* Where one service's records go, and what waits to go there. */
struct log_out {
	enum log_sink      sink;      /* what kind of output */
	char              *target;    /* the output key it was opened for */
	int                fd;        /* written by the reactor, else -1 */
	bool               is_socket; /* written with send(MSG_DONTWAIT) */
	bool               watching;  /* EV_WRITABLE is armed */
	char              *buf;       /* formatted records, LOG_QUEUE_MAX */
	size_t             head;      /* first unwritten byte */
	size_t             len;       /* end of the queued bytes */
	struct log_writer *w;         /* the writer thread, or NULL */
	uint64_t           seen_sent; /* w->sent already accounted for */
	uint64_t           seen_failed; /* w->failed already accounted for */
};

/* Where a datagram came from and when, formatted once for its records
 * and kept for the next one: a burst usually comes from one sender. */
struct log_origin {
	char                    time[LOG_TIME_LEN + 1]; /* receipt time */
	struct sockaddr_storage from;         /* the sender formatted below */
	socklen_t               fromlen;      /* its length, 0 before the first */
	char                    addr[ADDR_TEXT_MAX]; /* ADDRESS:PORT */
	size_t                  addr_len;     /* bytes in addr */
	char                    host[ADDR_TEXT_MAX]; /* ADDRESS alone */
	unsigned                port;         /* the source port */
};

/* A running log service. */
struct log_state {
	struct svc       *svc;        /* the service */
	struct log_out   *out;        /* its output, NULL when it only forwards */
	struct log_forward *fwd;      /* its forwarding, or NULL */
	struct log_origin origin;     /* the latest datagram's sender and time */
	bool              failing;    /* a loss was reported, recovery not yet */
	uint64_t          lost;       /* records lost since it began failing */
	long long         timer;      /* journal retry timer, 0 when none */
	struct log_state *next;       /* next in log_running */
};

/* Copies n bytes to p; returns the end. */
static inline char *
log_append(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* output.c */
/* The name of the output in messages. */
const char *log_out_name(const struct log_out *o);
/* Records n lost records; the first loss after a good spell is reported. */
void log_lose(struct log_state *ls, uint64_t n, const char *why);
/* The output works again: says how much was lost meanwhile. */
void log_recovered(struct log_state *ls);
/* Opens path for appending; an fd or -errno. */
int log_open_file(const char *path);
/* Opens the output the key names; 0 or -errno, with the reason logged. */
int log_out_open(struct svc *svc, const char *target, struct log_out **out);
/* Writes or hands over what is queued (waiting up to wait_ms), then
 * frees the output. */
void log_out_close(struct log_state *ls, int wait_ms);
/* Sends the queue on its way, without waiting. */
void log_flush(struct log_state *ls);
/* Room for need more bytes in the queue, or NULL when it is full. */
char *log_reserve(struct log_out *o, size_t need);
/* Records in queued bytes of an output of that kind. */
uint64_t log_records_count(enum log_sink sink, const char *p,
    const char *end);

/* record.c */
/* Formats the receipt time into out (LOG_TIME_LEN + 1 bytes). */
void log_time_text(char *out);
/* Formats the sender's address, unless it is the one of last time. */
void log_origin_set(struct log_origin *org, const struct sockaddr *from,
    socklen_t fromlen);
/* Queues a record as one line; false if the queue is full. */
bool log_queue_line(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut);
/* Records in a run of output lines. */
uint64_t log_line_count(const char *p, const char *end);

/* journal.c */
/* Queues a record as journal fields; false if the queue is full. */
bool log_queue_journal(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut);
/* Records in a journal batch. */
uint64_t log_journal_count(const char *p, const char *end);
/* Sends every record of a journal batch; returns how many were refused,
 * adds the others to *sent, and leaves the last error in *err. */
uint64_t log_journal_send(const char *b, size_t len, uint64_t *sent,
    int *err);

/* writer.c */
/* Starts the writer thread of o, which owns fd (-1 for the journal) from
 * now on, also when it fails; 0 or -errno. */
int log_writer_start(struct log_out *o, int fd);
/* Hands the queue to the thread when it is idle; true while work is left. */
bool log_writer_handover(struct log_state *ls);
/* SIGHUP: the batches not yet begun go to fd, the reopened file. */
void log_writer_reopen(struct log_writer *w, int fd);
/* Hands over the rest and stops the thread, waiting at most wait_ms. */
void log_writer_stop(struct log_state *ls, int wait_ms);

#endif
