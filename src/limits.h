/*
 * limits.h - who may connect: allow lists, connection limits per daemon,
 * per service and per client address.
 */
#ifndef MULTID_LIMITS_H
#define MULTID_LIMITS_H

#include <stdbool.h>

#include "addr.h"
#include "service.h"

/* True when the service's allow list admits ip (no list admits all). */
bool limits_allowed(const struct svc_conf *sc, const struct ip_key *ip);
/* Counts a new TCP connection in; returns -1 when admitted, or the
 * enum reject_reason that refuses it (nothing counted then). */
int limits_admit(struct svc *svc, const struct ip_key *ip);
/* Counts a connection admitted by limits_admit out again, from every
 * limit it was counted in. */
void limits_release(struct svc *svc, const struct ip_key *ip);
void limits_free(struct svc *svc);

#endif
