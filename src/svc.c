/*
 * svc.c - running services: starting and stopping services, and making
 * them match a (new) configuration.
 *
 * Applying a configuration happens whole or not at all, so a reload that
 * cannot be carried out leaves the daemon exactly as it was:
 *
 *   1. every socket the new plan needs is taken over from a running
 *      service with the same listen entry, claimed from the sockets
 *      systemd passed, or bound;
 *   2. the caller's after_bind hook runs (the privilege drop at start);
 *   3. new services are started (their start hooks may open databases);
 *   4. only then are services removed, reconfigured and linked in, and the
 *      sockets start delivering.
 *
 * A failure in steps 1 to 3 undoes what was done and changes nothing.
 * Step 4 cannot fail.  A new service's start hook therefore runs before
 * its sockets are attached (svc->listeners is still empty); socket
 * options belong in the bound hook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admit.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "sd.h"
#include "server.h"

struct svc *
server_find_service(const char *name)
{
	for (struct svc *s = server.services; s != NULL; s = s->next)
		if (strcmp(s->conf->name, name) == 0)
			return s;
	return NULL;
}

/* What applying a configuration does to one enabled service. */
struct plan {
	struct svc_conf *sc;                        /* its new configuration */
	struct svc      *old;                       /* running one of that name */
	struct svc      *svc;                       /* old, or a fresh one */
	bool             fresh;                     /* started by this plan */
	bool             same;                      /* configuration unchanged */
	struct listener *ls[CFG_LISTEN_MAX];        /* one per listen entry */
	bool             opened[CFG_LISTEN_MAX];    /* bound or adopted here */
};

/* Closes a listener; a socket systemd passed goes back to the pool, so a
 * later reload can use it again without binding. */
static void
svc_listener_close(struct listener *l)
{
	if (l->adopted)
		sd_return_socket(l->fd);
	listener_close(l);
}

/* True when two strings, either possibly NULL, are equal. */
static bool
str_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Compares one key of two type structs, as its kind says. */
static bool
key_equal(const struct cfg_key *k, const void *a, const void *b)
{
	const void *fa = (const char *)a + k->offset;
	const void *fb = (const char *)b + k->offset;

	switch (k->kind) {
	case CFG_INT:
		return *(const long *)fa == *(const long *)fb;
	case CFG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CFG_ENUM:
		return *(const int *)fa == *(const int *)fb;
	case CFG_STRING:
	case CFG_PATH:
		return str_equal(*(char *const *)fa, *(char *const *)fb);
	case CFG_STRLIST:
	case CFG_GROUPLIST: {
		const struct strlist *la = fa, *lb = fb;
		if (la->n != lb->n)
			return false;
		for (size_t i = 0; i < la->n; i++)
			if (!str_equal(la->v[i], lb->v[i]))
				return false;
		return true;
	}
	}
	return false;
}

/* True when a reload leaves a service's configuration as it was: the
 * same listen entries, common keys, allow list and type keys. */
static bool
svc_conf_equal(const struct svc_conf *a, const struct svc_conf *b)
{
	/* Certificate files are read again by every reload, so a service
	 * with TLS always takes its new configuration (and context). */
	if (a->tls.ctx != NULL || b->tls.ctx != NULL)
		return false;
	if (a->type != b->type || a->nlisten != b->nlisten ||
	    a->max_connections != b->max_connections ||
	    a->per_source != b->per_source ||
	    a->idle_timeout != b->idle_timeout || a->nallow != b->nallow)
		return false;
	for (unsigned i = 0; i < a->nlisten; i++)
		if (!addr_listen_equal(&a->listen[i], &b->listen[i]) ||
		    a->listen[i].protocol != b->listen[i].protocol)
			return false;
	for (unsigned i = 0; i < a->nallow; i++)
		if (a->allow[i].bits != b->allow[i].bits ||
		    a->allow[i].net.family != b->allow[i].net.family ||
		    memcmp(a->allow[i].net.bytes, b->allow[i].net.bytes,
		    sizeof(a->allow[i].net.bytes)) != 0)
			return false;
	for (const struct cfg_key *k = a->type->keys; k && k->name; k++)
		if (!key_equal(k, a->tconf, b->tconf))
			return false;
	return true;
}

/* Finds a running socket for entry la that no plan has taken yet: first
 * one of the service of the same name, then, unless the entry asks for
 * any free port (":0" is no particular address), one of another service,
 * so an address that moves between services is never closed. */
static struct listener *
services_find_listener(const struct svc *own, const struct listen_addr *la)
{
	for (struct listener *l = own ? own->listeners : NULL; l; l = l->next)
		if (!l->taken && addr_listen_equal(&l->addr, la))
			return l;
	if (addr_port((const struct sockaddr *)&la->ss) == 0)
		return NULL;
	for (struct svc *s = server.services; s != NULL; s = s->next)
		for (struct listener *l = s->listeners; l != NULL; l = l->next)
			if (!l->taken && addr_listen_equal(&l->addr, la))
				return l;
	return NULL;
}

/* Picks the running service a plan continues, or makes a fresh one. */
static int
plan_choose_svc(struct plan *p)
{
	p->old = server_find_service(p->sc->name);
	if (p->old != NULL && p->old->conf->type == p->sc->type) {
		p->svc = p->old;
		p->same = svc_conf_equal(p->old->conf, p->sc);
		return 0;
	}
	p->svc = calloc(1, sizeof(*p->svc));
	if (p->svc == NULL)
		return -1;
	p->svc->conf = svc_conf_ref(p->sc);
	p->fresh = true;
	return 0;
}

/* Phase one for one service: reuses, claims or binds every socket. */
static int
plan_prepare(struct plan *p, char *err, size_t errlen)
{
	int fds[CFG_LISTEN_MAX];
	unsigned n = p->sc->nlisten;

	if (plan_choose_svc(p) != 0) {
		snprintf(err, errlen, "%s: out of memory", p->sc->name);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		if ((p->ls[i] = services_find_listener(p->old,
		    &p->sc->listen[i])) != NULL)
			p->ls[i]->taken = true;
		fds[i] = p->ls[i] != NULL ? -2 : -1;
	}
	sd_claim_sockets(p->sc->name, p->sc->listen, n, fds);
	for (unsigned i = 0; i < n; i++) {
		char why[256], text[ADDR_TEXT_MAX + 8];

		if (p->ls[i] != NULL)
			continue;
		p->ls[i] = listener_open(p->svc, &p->sc->listen[i],
		    fds[i] >= 0 ? fds[i] : -1, why, sizeof(why));
		if (p->ls[i] == NULL) {
			addr_listen_text(&p->sc->listen[i], text, sizeof(text));
			snprintf(err, errlen, "%s: cannot bind %s: %s", p->sc->name,
			    text, why);
			/* Claimed sockets of later entries go back unused. */
			for (unsigned j = i + 1; j < n; j++)
				if (fds[j] >= 0) {
					sd_return_socket(fds[j]);
					close(fds[j]);
				}
			return -1;
		}
		p->opened[i] = true;
	}
	return 0;
}

/* Frees a service that has no connections left. */
static void
svc_free(struct svc *svc)
{
	admit_free(svc);
	svc_conf_unref(svc->conf);
	free(svc);
}

/* Closes the service's sockets, except those a plan has taken. */
static void
svc_drop_listeners(struct svc *svc)
{
	while (svc->listeners != NULL) {
		struct listener *l = svc->listeners;
		svc->listeners = l->next;
		if (!l->taken)
			svc_listener_close(l);
	}
}

/* Undoes phases one and three for one plan. */
static void
plan_abandon(struct plan *p)
{
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		if (p->opened[i])
			svc_listener_close(p->ls[i]);
		else if (p->ls[i] != NULL)
			p->ls[i]->taken = false;
	}
	if (p->fresh && p->svc != NULL) {
		if (p->svc->started && p->sc->type->stop != NULL)
			p->sc->type->stop(p->svc);
		svc_free(p->svc);
	}
}

static void
plans_abandon(struct plan *plans, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		plan_abandon(&plans[i]);
	free(plans);
}

/* Phase three for one plan: a fresh service starts. */
static int
plan_start(struct plan *p, char *err, size_t errlen)
{
	unsigned long before;
	int rc;

	/* A service kept running across a reload stays started. */
	if (!p->fresh)
		return 0;
	if (p->sc->type->start == NULL) {
		p->svc->started = true;
		return 0;
	}
	/* A start hook that said why it failed is not followed by a second,
	 * vaguer line. */
	before = svc_log_errors();
	if ((rc = p->sc->type->start(p->svc)) < 0) {
		if (svc_log_errors() != before)
			err[0] = '\0';      /* the service said why */
		else
			snprintf(err, errlen, "%s: cannot start: %s",
			    p->sc->name, strerror(-rc));
		return -1;
	}
	p->svc->started = true;
	return 0;
}

/* True when some plan keeps this service running. */
static bool
plans_keep(struct plan *plans, unsigned n, const struct svc *svc)
{
	for (unsigned i = 0; i < n; i++)
		if (plans[i].svc == svc)
			return true;
	return false;
}

/* Stops a service: its sockets close, its connections end, and it is freed
 * once they are all reaped.  Sockets a plan has taken are left alone. */
static void
svc_remove(struct svc *svc, enum close_reason why)
{
	struct svc **pp = &server.services;

	while (*pp != svc)
		pp = &(*pp)->next;
	*pp = svc->next;
	svc_drop_listeners(svc);
	svc->removed = true;
	conn_close_all(svc, why);
	if (svc->started && svc->conf->type->stop != NULL)
		svc->conf->type->stop(svc);
	svc->next = server.dying;
	server.dying = svc;
	svc_log(svc, LOG_LVL_NOTICE, "stopped");
}

void
services_reap(void)
{
	for (struct svc **pp = &server.dying; *pp != NULL;) {
		struct svc *svc = *pp;
		if (svc->conns != NULL) {
			pp = &svc->next;
			continue;
		}
		*pp = svc->next;
		svc_free(svc);
	}
}

/* Phase four for one service: hands it its sockets and configuration,
 * and lets the sockets deliver. */
static void
plan_commit(struct plan *p)
{
	struct svc *svc = p->svc;
	struct listener **tail = &svc->listeners;

	/* Sockets of the old list that the plan does not reuse are closed. */
	svc_drop_listeners(svc);
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		struct listener *l = p->ls[i];
		l->taken = false;
		l->svc = svc;
		l->addr.protocol = p->sc->listen[i].protocol;
		l->proto = service_protocol_get(p->sc->type, l->addr.protocol);
		l->next = NULL;
		*tail = l;
		tail = &l->next;
	}
	if (p->fresh) {
		svc->next = server.services;
		server.services = svc;
	} else if (!p->same) {
		/* Open connections keep the configuration they started with. */
		svc_conf_unref(svc->conf);
		svc->conf = svc_conf_ref(p->sc);
		if (svc->conf->type->reconfigure != NULL)
			svc->conf->type->reconfigure(svc);
	}
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		if (!p->opened[i])
			continue;
		listener_start(p->ls[i]);
		/* Printed whatever the log level: scripts and tests read it. */
		log_always(LOG_LVL_NOTICE, "%s listening on %s", p->sc->name,
		    p->ls[i]->text);
	}
}

/* Counts what a committed set of plans changed. */
static void
plans_count(struct plan *plans, unsigned n, struct apply_counts *ac)
{
	memset(ac, 0, sizeof(*ac));
	for (struct svc *s = server.services; s != NULL; s = s->next) {
		bool named = false;
		for (unsigned i = 0; i < n && !named; i++)
			named = plans[i].old == s;
		ac->removed += !named;
	}
	for (unsigned i = 0; i < n; i++) {
		if (plans[i].old == NULL)
			ac->added++;
		else if (plans[i].same)
			ac->unchanged++;
		else
			ac->changed++;
	}
}

int
services_apply(struct daemon_conf *dc, int (*after_bind)(char *, size_t),
    struct apply_counts *ac, char *err, size_t errlen)
{
	struct plan *plans = calloc(dc->nservices + 1, sizeof(*plans));
	unsigned n = 0;

	if (plans == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < dc->nservices; i++) {
		if (!dc->services[i]->enabled)
			continue;
		plans[n].sc = dc->services[i];
		if (plan_prepare(&plans[n++], err, errlen) != 0) {
			plans_abandon(plans, n);
			return -1;
		}
	}
	if (after_bind != NULL && after_bind(err, errlen) != 0) {
		plans_abandon(plans, n);
		return -1;
	}
	for (unsigned i = 0; i < n; i++)
		if (plan_start(&plans[i], err, errlen) != 0) {
			plans_abandon(plans, n);
			return -1;
		}
	if (ac != NULL)
		plans_count(plans, n, ac);
	for (struct svc *s = server.services, *next; s != NULL; s = next) {
		next = s->next;
		if (!plans_keep(plans, n, s))
			svc_remove(s, CLOSE_REMOVED);
	}
	for (unsigned i = 0; i < n; i++)
		plan_commit(&plans[i]);
	free(plans);
	return 0;
}

void
services_stop_all(void)
{
	while (server.services != NULL)
		svc_remove(server.services, CLOSE_SHUTDOWN);
}
