/*
 * server.h - the daemon's global state, in one place as in redis's server.h.
 */
#ifndef MULTID_SERVER_H
#define MULTID_SERVER_H

#include <stdbool.h>

#include "cfg.h"
#include "ev.h"
#include "service.h"

struct conn;

struct server {
	struct ev_loop     *loop;           /* the reactor */
	struct daemon_conf *conf;           /* the configuration in force */
	struct svc         *services;       /* running services */
	struct svc         *dying;          /* removed, waiting for their conns */
	unsigned            nconns;         /* TCP connections in the limits */
	long                max_connections;/* daemon limit after the fd limit */
	struct conn        *flush_list;     /* connections with output queued, */
	struct conn        *flush_tail;     /*   first come first flushed */
	struct conn        *reap_list;      /* closed, waiting to be freed */
	int                 reserve_fd;     /* spare fd for EMFILE (libuv trick) */
	bool                stopping;       /* shutdown in progress */
};

extern struct server server;

/* Finds a running service by name. */
struct svc *server_find_service(const char *name);

/* What services_apply() changed, for the reload summary. */
struct apply_counts {
	unsigned added;               /* services that were not running */
	unsigned removed;             /* running ones no longer configured */
	unsigned changed;             /* running ones with a new configuration */
	unsigned unchanged;           /* running ones left as they were */
};

/* Makes the running services match dc: starts new ones, stops removed
 * ones, and lets unchanged listen entries keep their sockets.  after_bind,
 * if given, runs once every socket is bound and before any service starts
 * (the privilege drop).  All or nothing: when a socket cannot be bound,
 * after_bind fails or a new service cannot start, nothing changes and err
 * says why (empty when the service has logged its own error line).  ac, if given, receives the counts.  0 or -1. */
int services_apply(struct daemon_conf *dc, int (*after_bind)(char *, size_t),
    struct apply_counts *ac, char *err, size_t errlen);
/* Closes every listener and connection and stops every service. */
void services_stop_all(void);
/* Frees removed services whose connections are all gone. */
void services_reap(void);

#endif
