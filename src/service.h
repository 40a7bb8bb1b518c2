/*
 * service.h - the plug-in interface of a service type, and a running
 * service.
 *
 * A service type is data: one const struct service_type per file under
 * src/services/, built with designated initialisers, listed once in the
 * registry (services/registry.c), like inetd's biltin[] table.  The core
 * calls its hooks and never names a particular service.
 */
#ifndef MULTID_SERVICE_H
#define MULTID_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "cfg.h"
#include "line.h"

struct conn;
struct listener;
struct svc;

/* Why a connection ends; services may show it (chat's "left (reason)"). */
enum close_reason {
	CLOSE_PEER,               /* the client closed or reset */
	CLOSE_DONE,               /* the service closed it (quit, one-shot reply) */
	CLOSE_IDLE,               /* idle_timeout passed */
	CLOSE_SLOW,               /* output queue over its hard cap */
	CLOSE_ERROR,              /* a socket or memory error */
	CLOSE_SHUTDOWN,           /* the daemon is stopping */
	CLOSE_REMOVED,            /* the service was removed by a reload */
};

const char *close_reason_text(enum close_reason why);

/* Why a new connection or datagram was turned away. */
enum reject_reason {
	REJECT_LIMIT,             /* max_connections, the service's or daemon's */
	REJECT_PER_SOURCE,        /* per_source */
	REJECT_ALLOW,             /* not matched by allow */
	REJECT_MAX
};

/* One received datagram, handed to a type's datagram hook. */
struct dgram {
	struct listener          *listener;  /* the socket it came in on */
	const struct sockaddr    *from;      /* the sender */
	socklen_t                 fromlen;   /* its length */
	const struct sockaddr    *local;     /* the address it was sent to
	                                        (port 0; in the listener's
	                                        family), or NULL if unknown */
	socklen_t                 locallen;  /* its length */
	char                     *data;      /* the payload (writable) */
	size_t                    len;       /* bytes in data */
	bool                      truncated; /* longer than the receive buffer */
};

/* One protocol a type speaks on a socket, chosen per listen entry
 * (`protocol = "course"`), like memcached picks its parser per listener.
 * Entry 0 of a type's table is its default. */
struct service_protocol {
	const char *name;         /* "" (the default), "course", "irc"; NULL
	                             ends a table */
	enum frame  frame;        /* how input is cut into messages */
	const char *busy;         /* sent as is to a connection refused by a
	                             limit, or NULL */
	const char *too_long;     /* reply to an over-long message, without
	                             its ending (the core adds it), or NULL */
	/* A new TCP connection; 0, or -1 to close it at once. */
	int    (*open)(struct conn *c);
	/* FRAME_RAW input; returns how many bytes it consumed. */
	size_t (*read)(struct conn *c, const char *data, size_t len);
	/* One framed message, NUL-terminated, without its ending. */
	enum line_result (*message)(struct conn *c, char *msg, size_t len);
	/* The client half-closed, after its last message; NULL: close once
	 * the output is sent. */
	void   (*eof)(struct conn *c);
	/* The connection ends; free c->data here. */
	void   (*close)(struct conn *c, enum close_reason why);
};

#define SVC_COUNTERS_MAX 8            /* a type's own metrics counters */

/* A type's own counter, shown by the metrics service.  A name may end
 * in labels, e.g. multid_tftp_transfers_total{op="read"}: entries with
 * the same name before the brace are series of one family. */
struct svc_counter {
	const char *name;         /* e.g. multid_bank_commits_total */
	const char *help;         /* the HELP text */
};

struct service_type {
	const char  *name;                /* the config "type" */
	unsigned     protos;              /* PROTO_TCP | PROTO_UDP supported */
	const struct cfg_key *keys;       /* its own config keys */
	size_t       conf_size;           /* bytes of its config struct */
	const void  *conf_defaults;       /* initial values of that struct */
	long         idle_timeout;        /* default idle_timeout, seconds */
	const char  *busy;                /* sent as is (with its line end) to a
	                                     connection refused by a limit */
	const char  *too_long;            /* reply to an over-long line; the
	                                     core adds CRLF */
	bool         udp_loop_guard;      /* drop datagrams from ports < 1024 */
	const struct svc_counter *counters; /* its own counters, NULL-ended */
	const char  *alpn;                /* offered over TLS (ALPN), or NULL */
	const struct service_protocol *protocols; /* the protocols it speaks:
	                                     NULL for one default made of the
	                                     hooks below (open, read or line,
	                                     eof, close, busy, too_long); else
	                                     entry 0 is the default */

	/* Checks keys together after they are read; NULL or a phrase. */
	const char *(*configure)(struct svc_conf *sc);
	/* Frees what configure added to the type's struct. */
	void (*conf_free)(void *tconf);
	/* The service starts (svc->state is the type's); 0 or -errno. */
	int  (*start)(struct svc *svc);
	/* A reload gave the running service a new configuration. */
	void (*reconfigure)(struct svc *svc);
	/* SIGHUP: reopen output files (logrotate). */
	void (*reopen)(struct svc *svc);
	/* The service stops; its connections are already closed. */
	void (*stop)(struct svc *svc);

	/* A new TCP connection; 0, or -1 to close it at once. */
	int  (*open)(struct conn *c);
	/* Raw input; returns how many bytes it consumed (the rest stays
	 * buffered and is offered again with the next input).  Without it
	 * (and without line) input is thrown away. */
	size_t (*read)(struct conn *c, const char *data, size_t len);
	/* One line of input, for line-based types (instead of read). */
	enum line_result (*line)(struct conn *c, char *line, size_t len);
	/* The output queue drained below the low-water mark. */
	void (*writable)(struct conn *c);
	/* idle_timeout passed; it may send a last reply and
	 * conn_close_after_flush(), or keep the connection by setting a
	 * later c->deadline, else the core closes it at once. */
	void (*timeout)(struct conn *c);
	/* The client half-closed; default: close after the output is sent. */
	void (*eof)(struct conn *c);
	/* The connection ends; free c->data here. */
	void (*close)(struct conn *c, enum close_reason why);

	/* A socket of the service was bound or adopted (set its options). */
	void (*bound)(struct svc *svc, int fd, enum proto proto);
	/* One datagram arrived on a UDP listener. */
	void (*datagram)(struct svc *svc, struct dgram *d);
};

/* Counters the core keeps for every service (the metrics service shows them). */
struct svc_stats {
	uint64_t connections_total;           /* TCP connections accepted */
	uint64_t rejected[REJECT_MAX];        /* turned away, by reason */
	uint64_t bytes_received;              /* TCP and UDP payload in */
	uint64_t bytes_sent;                  /* TCP and UDP payload out */
	uint64_t datagrams_received;          /* UDP datagrams in */
	uint64_t datagrams_dropped;           /* ignored: loop guard, allow, errors */
	uint64_t tls_handshakes[2];           /* TLS handshakes: ok, failed */
	uint64_t tls_resumed;                 /* of them, sessions resumed */
	uint64_t custom[SVC_COUNTERS_MAX];    /* the type's own, by index */
	uint32_t custom_hidden;               /* bit i: custom[i] does not apply
	                                         to this service (a backend it
	                                         is not configured for), and the
	                                         metrics service leaves it out */
};

struct source_table;

/* A running service. */
struct svc {
	struct svc_conf     *conf;        /* current configuration */
	struct listener     *listeners;   /* its sockets */
	struct conn         *conns;       /* its connections, rejected ones too */
	unsigned             nconns;      /* open TCP connections in the limits */
	struct source_table *sources;     /* connections per client IP */
	struct svc_stats     stats;       /* counters */
	void                *state;       /* the type's runtime state */
	bool                 started;     /* start() succeeded */
	bool                 removed;     /* stopping: freed when nconns is 0 */
	struct svc          *next;        /* next in server.services */
};

/* The registry of every service type. */
extern const struct service_type *const service_types[];
const struct service_type *service_type_find(const char *name);

/* The protocol a listen entry names: its index in the type's table, or
 * -1 when the type does not speak it ("" is the default). */
int service_protocol_find(const struct service_type *type, const char *name);
/* Protocol number i of a type (0: the default). */
const struct service_protocol *service_protocol_get(
    const struct service_type *type, unsigned i);

#define SVC_CONF(svc, type) ((const type *)(svc)->conf->tconf)

/* Writes one log line prefixed with the service name. */
void svc_log(const struct svc *svc, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends a datagram back to d's sender (queued, sent in a batch). */
void dgram_reply(struct dgram *d, const void *data, size_t len);

#endif
