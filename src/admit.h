/*
 * admit.h - who may connect: allow lists, connection limits per daemon,
 * per service and per client address.
 */
#ifndef MULTID_ADMIT_H
#define MULTID_ADMIT_H

#include <stdbool.h>

#include "addr.h"
#include "service.h"

/* True when the service's allow list admits ip (no list admits all). */
bool admit_allowed(const struct svc_conf *sc, const struct ip_key *ip);
/* Counts a new TCP connection in; returns -1 when admitted, or the
 * enum reject_reason that refuses it (nothing counted then). */
int admit_conn(struct svc *svc, const struct ip_key *ip);
/* Counts a connection admitted by admit_conn out again, from every
 * limit it was counted in. */
void admit_release(struct svc *svc, const struct ip_key *ip);
/* Frees the service's count of connections per client address. */
void admit_free(struct svc *svc);

#endif
