/*
 * conn.h - TCP connections: input, output queues, backpressure, closing.
 *
 * Replies are appended to the connection's output queue and flushed before
 * the loop sleeps; EV_WRITABLE is armed only while data is left.  Above a
 * high-water mark the connection stops being read, above its hard cap the
 * client is dropped.  A connection is never freed inside its own callback:
 * conn_close() marks it, and it is reaped after the batch of events.
 */
#ifndef MULTID_CONN_H
#define MULTID_CONN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "line.h"
#include "service.h"
#include "transport.h"

enum conn_state {
	CONN_OPEN,                /* reading and writing */
	CONN_DRAINING,            /* sending what is queued, then closing */
	CONN_LINGERING,           /* all sent and FIN sent; discarding input */
	CONN_CLOSED,              /* waiting to be reaped */
};

struct conn {
	int                     fd;         /* the socket */
	enum conn_state         state;      /* see enum conn_state */
	struct transport        tp;         /* every system call on fd */
	struct svc             *svc;        /* the service, for stats and lists */
	struct svc_conf        *conf;       /* its config as at accept time */
	const struct service_type *type;    /* conf->type */
	const struct service_protocol *proto; /* what its socket speaks */
	struct listener        *listener;   /* that socket; NULL once closed */
	struct sockaddr_storage peer;       /* the client's address */
	socklen_t               peerlen;    /* its length */
	struct buf              in;         /* input not yet consumed */
	struct outq             out;        /* output not yet sent */
	struct line_reader      lr;         /* framing, unless FRAME_RAW */
	size_t                  high_water; /* stop reading above this output */
	size_t                  hard_cap;   /* drop the client above this */
	int64_t                 last_input; /* ms of the last input */
	int64_t                 deadline;   /* ms; the service's own limit
	                                       (e.g. a whole request), 0 none;
	                                       while set, idle_timeout is not
	                                       counted; passed, it is idle */
	int64_t                 last_progress; /* ms of the last output sent
	                                       or state change */
	bool                    paused;     /* the service stopped input */
	bool                    throttled;  /* output above high water */
	bool                    peer_eof;   /* the client half-closed */
	bool                    queued;     /* on the flush list */
	bool                    opening;    /* inside the type's open hook */
	bool                    replay;     /* buffered input waits for delivery */
	bool                    rejected;   /* refused by a limit: no hooks */
	bool                    over_cap;   /* output passed hard_cap: dropping */
	bool                    writable_off; /* the type's writable hook is
	                                       not wanted now */
	bool                    input_waits; /* the last read filled its buffer:
	                                       more may wait on the socket */
	bool                    handshaking; /* TLS handshake not done: the
	                                       service has not seen it yet */
	bool                    read_pending; /* the transport holds input
	                                       epoll cannot see (TLS) */
	bool                    started;    /* the service's open hook ran */
	bool                    starttls;   /* STARTTLS: switch to TLS once
	                                       the queued reply is out */
	uint64_t                received;   /* bytes read so far */
	enum close_reason       why;        /* reason given to conn_close */
	void                   *data;       /* the service's per-connection state */
	struct conn            *prev;       /* svc connection list */
	struct conn            *next;       /* svc connection list */
	struct conn            *flush_next; /* server flush list */
	struct conn            *reap_next;  /* server reap list; apart from
	                                       flush_next, as a queued
	                                       connection may close */
};

#define CONN_HIGH_WATER  (256 * 1024)       /* default: stop reading above */
#define CONN_HARD_CAP    (64 * 1024 * 1024) /* default: drop above */
#define CONN_INPUT_MAX   (64 * 1024)        /* unconsumed input kept at most */

/* Creates a connection for an accepted socket, admitted by admit_conn,
 * and calls the type's open. */
struct conn *conn_new(struct svc *svc, struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen);

/* Output.  These never write to the socket; the core flushes later. */
int conn_send(struct conn *c, const void *data, size_t len);
int conn_printf(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends text and CRLF. */
int conn_reply(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends text and the ending of the message being answered: CRLF for the
 * line and IRC protocols, what the message came with for the course's
 * (LF, CR LF or none), a NUL for NUL frames. */
int conn_answer(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int conn_send_shared(struct conn *c, struct rbuf *rb);
int conn_send_file(struct conn *c, int fd, off_t off, size_t len);

/* Turns the type's writable hook off or on again for this connection (on
 * by default).  A type that makes output as the socket drains turns it
 * off while its next output waits for a worker, or on a connection that
 * makes none, so that an empty queue does not wake the loop for nothing. */
void conn_want_writable(struct conn *c, bool want);

/* Stops or restarts reading input (a service waiting for a worker). */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* STARTTLS (smtp, pop3): once what is queued (the "go ahead" reply) is
 * sent, the connection speaks TLS with its service's certificate.  Input
 * not yet delivered, and whatever the client pipelined after the command,
 * is thrown away, never read as commands inside TLS; the service's message
 * hook should return LINE_STOP.  0, or -ENOTSUP without a certificate or
 * when the connection speaks TLS already. */
int conn_starttls(struct conn *c);
/* True when the connection speaks TLS (a tls:// socket, or after
 * STARTTLS). */
bool conn_is_tls(const struct conn *c);

/* Closes at once, dropping queued output. */
void conn_close(struct conn *c, enum close_reason why);
/* Stops reading, sends what is queued, then closes. */
void conn_close_after_flush(struct conn *c);

void conn_set_max_line(struct conn *c, size_t max);
/* The client address as "1.2.3.4:5" or "[::1]:5". */
const char *conn_peer_text(const struct conn *c);

/* Sends a limit's busy reply and closes, without bothering the service. */
void conn_reject(struct svc *svc, struct listener *l, int fd,
    const struct sockaddr *peer, socklen_t peerlen);
/* A listening socket closes: its connections forget it. */
void conn_forget_listener(const struct listener *l);

/* Sends queued output, first queued first, for one time slice (the
 * server's before-sleep hook). */
void conn_flush_all(void);
/* Empties the flush list without sending (the daemon is exiting). */
void conn_unqueue_all(void);
void conn_reap_all(void);
/* Closes the service's connections that are idle or stuck past their
 * deadline. */
void conn_sweep(struct svc *svc, int64_t now);
/* Closes every connection of a service (reload removal, shutdown). */
void conn_close_all(struct svc *svc, enum close_reason why);

#endif
