/*
 * listener.h - listening sockets: binding (or adopting systemd's), accepting
 * TCP connections through the limits, and reading UDP datagrams in batches.
 */
#ifndef MULTID_LISTENER_H
#define MULTID_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "service.h"

struct listener {
	int                fd;          /* the socket */
	struct listen_addr addr;        /* the configured entry */
	char               text[ADDR_TEXT_MAX + 8]; /* proto://addr:port, real port */
	struct svc        *svc;         /* the service it feeds */
	const struct service_protocol *proto; /* what its connections speak */
	bool               adopted;     /* passed by systemd */
	bool               taken;       /* a reload plan reuses it */
	struct listener   *next;        /* next socket of the service */
};

/* Binds la (or adopts fd when fd >= 0) for svc, without starting to
 * accept; returns NULL with err filled in on failure. */
struct listener *listener_open(struct svc *svc, const struct listen_addr *la,
    int fd, char *err, size_t errlen);
/* Starts delivering connections or datagrams to the service. */
int listener_start(struct listener *l);
void listener_close(struct listener *l);
/* Hands a UDP socket's queued datagrams to its service (bounded), so
 * that what the kernel took before a stop is not lost with the socket. */
void listener_drain(struct listener *l);

#endif
