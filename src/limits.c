/*
 * limits.c - allow lists and connection limits.
 *
 * Connections per client address are counted in a small chained hash
 * table per service, always (not only when per_source is set), so a reload
 * that turns per_source on counts the connections already open.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "limits.h"
#include "server.h"

#define SOURCE_BUCKETS 4096           /* hash buckets per service */

struct source {
	struct ip_key  ip;            /* the client address */
	unsigned       count;         /* its open connections */
	struct source *next;          /* next in the bucket */
};

struct source_table {
	struct source *bucket[SOURCE_BUCKETS]; /* chains */
};

bool
limits_allowed(const struct svc_conf *sc, const struct ip_key *ip)
{
	if (sc->allow == NULL)
		return true;
	for (unsigned i = 0; i < sc->nallow; i++)
		if (addr_cidr_match(&sc->allow[i], ip))
			return true;
	return false;
}

static unsigned
source_hash(const struct ip_key *ip)
{
	return hash_bytes(ip->bytes, ip->family == AF_INET ? 4 : 16) %
	    SOURCE_BUCKETS;
}

static struct source **
source_find(struct source_table *t, const struct ip_key *ip)
{
	struct source **p = &t->bucket[source_hash(ip)];

	while (*p != NULL && memcmp(&(*p)->ip, ip, sizeof(*ip)) != 0)
		p = &(*p)->next;
	return p;
}

int
limits_admit(struct svc *svc, const struct ip_key *ip)
{
	const struct svc_conf *sc = svc->conf;
	struct source **p, *s;

	if (server.nconns >= (unsigned long)server.max_connections ||
	    (sc->max_connections > 0 &&
	    svc->nconns >= (unsigned long)sc->max_connections))
		return REJECT_LIMIT;
	if (svc->sources == NULL &&
	    (svc->sources = calloc(1, sizeof(*svc->sources))) == NULL)
		return REJECT_LIMIT;
	p = source_find(svc->sources, ip);
	if ((s = *p) != NULL && sc->per_source > 0 &&
	    s->count >= (unsigned long)sc->per_source)
		return REJECT_PER_SOURCE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return REJECT_LIMIT;
		s->ip = *ip;
		*p = s;
	}
	s->count++;
	svc->nconns++;
	server.nconns++;
	return -1;
}

void
limits_release(struct svc *svc, const struct ip_key *ip)
{
	struct source **p, *s;

	svc->nconns--;
	server.nconns--;
	if (svc->sources == NULL || (s = *(p = source_find(svc->sources, ip)))
	    == NULL)
		return;
	if (--s->count == 0) {
		*p = s->next;
		free(s);
	}
}

void
limits_free(struct svc *svc)
{
	if (svc->sources == NULL)
		return;
	for (unsigned i = 0; i < SOURCE_BUCKETS; i++)
		while (svc->sources->bucket[i] != NULL) {
			struct source *s = svc->sources->bucket[i];
			svc->sources->bucket[i] = s->next;
			free(s);
		}
	free(svc->sources);
	svc->sources = NULL;
}
