/*
 * admit.c - who may connect: allow lists and connection limits.
 *
 * Connections per client address are counted in a hash table per service
 * (hash.h), always (not only when per_source is set), so a reload that
 * turns per_source on counts the connections already open.
 */
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "hash.h"
#include "server.h"

/* The connections of one client address. */
struct source {
	struct hash_node node;        /* in the service's table */
	struct ip_key    ip;          /* the client address, the key */
	unsigned         count;       /* its open connections */
};

/* A service's client addresses. */
struct source_table {
	struct hash_table map;        /* of struct source, by ip */
};

bool
admit_allowed(const struct svc_conf *sc, const struct ip_key *ip)
{
	if (sc->allow == NULL)
		return true;
	for (unsigned i = 0; i < sc->nallow; i++)
		if (addr_cidr_match(&sc->allow[i], ip))
			return true;
	return false;
}

static uint32_t
source_hash(const struct ip_key *ip)
{
	return hash_bytes(ip->bytes, ip->family == AF_INET ? 4 : 16);
}

static bool
source_match(const struct hash_node *n, const void *key)
{
	return memcmp(&HASH_ENTRY(n, struct source, node)->ip, key,
	    sizeof(struct ip_key)) == 0;
}

/* The entry of ip, or NULL. */
static struct source *
source_find(struct source_table *t, const struct ip_key *ip)
{
	struct hash_node *n = hash_find(&t->map, source_hash(ip), ip,
	    source_match);

	return n != NULL ? HASH_ENTRY(n, struct source, node) : NULL;
}

int
admit_conn(struct svc *svc, const struct ip_key *ip)
{
	const struct svc_conf *sc = svc->conf;
	struct source *s;

	if (server.nconns >= (unsigned long)server.max_connections ||
	    (sc->max_connections > 0 &&
	    svc->nconns >= (unsigned long)sc->max_connections))
		return REJECT_LIMIT;
	if (svc->sources == NULL &&
	    (svc->sources = calloc(1, sizeof(*svc->sources))) == NULL)
		return REJECT_LIMIT;
	s = source_find(svc->sources, ip);
	if (s != NULL && sc->per_source > 0 &&
	    s->count >= (unsigned long)sc->per_source)
		return REJECT_PER_SOURCE;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return REJECT_LIMIT;
		s->ip = *ip;
		if (hash_add(&svc->sources->map, &s->node,
		    source_hash(ip)) < 0) {
			free(s);
			return REJECT_LIMIT;
		}
	}
	s->count++;
	svc->nconns++;
	server.nconns++;
	return -1;
}

void
admit_release(struct svc *svc, const struct ip_key *ip)
{
	struct source *s;

	svc->nconns--;
	server.nconns--;
	if (svc->sources == NULL || (s = source_find(svc->sources, ip)) == NULL)
		return;
	if (--s->count == 0) {
		hash_del(&svc->sources->map, &s->node);
		free(s);
	}
}

void
admit_free(struct svc *svc)
{
	struct hash_node *n, *next;

	if (svc->sources == NULL)
		return;
	for (n = hash_first(&svc->sources->map); n != NULL; n = next) {
		next = hash_next(&svc->sources->map, n);
		free(HASH_ENTRY(n, struct source, node));
	}
	hash_free(&svc->sources->map);
	free(svc->sources);
	svc->sources = NULL;
}
