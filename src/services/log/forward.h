/*
 * forward.h - sending a log service's records on to a central collector
 * (rsyslog, syslog-ng, Vector) over TCP, as RFC 5424 messages with
 * octet-counting framing (RFC 6587: "LEN SP MSG").
 *
 * The URL parser and the framing are pure functions, driven directly by
 * the unit tests and the fuzzer; the rest runs on the reactor: a
 * non-blocking connect, a bounded queue of frames written as the socket
 * takes them, and reconnecting with backoff.
 */
#ifndef MULTID_LOG_FORWARD_H
#define MULTID_LOG_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syslog.h"

#define FORWARD_HOST_MAX     255      /* longest HOST of a forward URL */
#define FORWARD_PREFIX_MAX   11       /* "LEN " of a frame, at most */

/* RFC 5424 6.2 and 6.3: the longest header fields a collector takes. */
#define FORWARD_HOSTNAME_MAX 255
#define FORWARD_APP_MAX      48
#define FORWARD_PROCID_MAX   128
#define FORWARD_MSGID_MAX    32
#define FORWARD_TIME_MAX     32       /* 2026-11-22T10:15:30.123456+01:00 */

/* What a frame says besides the record itself. */
struct forward_origin {
	const char *received;     /* the receipt time, RFC 3339 (UTC) */
	const char *sender;       /* the sender's address, without port */
};

/* Reads "tcp://HOST:PORT" (HOST a name, an IPv4 address or [IPv6]) into
 * host (FORWARD_HOST_MAX + 1 bytes, brackets removed) and port (1..65535).
 * Returns NULL or a phrase saying what is wrong. */
const char *forward_parse_url(const char *url, char *host, unsigned *port);

/* The most bytes forward_frame() writes for m. */
size_t forward_frame_max(const struct syslog_msg *m);

/* Writes one record as an RFC 6587 octet-counted frame holding an RFC
 * 5424 message: "LEN <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD
 * MSG".  The record's facility and severity, timestamp (an RFC 3164 one
 * is replaced by the receipt time), host (else the sender's address),
 * app, process id, message id and structured data are kept, their bytes
 * limited to what RFC 5424 allows; cut appends the truncation marker to
 * MSG.  out has room for forward_frame_max(m) bytes; returns the bytes
 * written. */
size_t forward_frame(char *out, const struct syslog_msg *m, bool cut,
    const struct forward_origin *org);

/* The length of the frame at p (of len bytes), prefix included, or 0 if
 * it is not a whole frame. */
size_t forward_frame_len(const char *p, size_t len);

struct log_forward;
struct svc;

/* Starts forwarding to url (checked by configure) with a queue of at
 * most queue_max bytes; 0 or -errno. */
int forward_start(struct svc *svc, const char *url, long queue_max,
    struct log_forward **out);
/* A reload: a new URL is connected to, the queue kept. */
void forward_reconfigure(struct log_forward *fw, const char *url,
    long queue_max);
/* Queues a record; false (counted as dropped) when the queue is full. */
bool forward_record(struct log_forward *fw, const struct syslog_msg *m,
    bool cut, const struct forward_origin *org);
/* Before the loop sleeps: writes what the connection takes without
 * waiting. */
void forward_flush(struct log_forward *fw);
/* Stops forwarding, first writing the queue for up to wait_ms while
 * connected; what is left is reported. */
void forward_stop(struct log_forward *fw, int wait_ms);

#endif
