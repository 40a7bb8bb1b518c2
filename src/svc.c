/*
 * svc.c - running services: the registry lookup, starting and stopping
 * services, and making them match a (new) configuration.
 *
 * Applying a configuration is two-phase, so a reload either happens whole
 * or not at all: first every socket a new plan needs is bound (or taken
 * over from a running service with the same listen entry), and only when
 * all of that worked are services removed, reconfigured and started.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "limits.h"
#include "listener.h"
#include "log.h"
#include "sd.h"
#include "server.h"

const struct service_type *
service_type_find(const char *name)
{
	for (int i = 0; service_types[i] != NULL; i++)
		if (strcmp(service_types[i]->name, name) == 0)
			return service_types[i];
	return NULL;
}

void
svc_log(const struct svc *svc, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, svc->conf->name, fmt, ap);
	va_end(ap);
}

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
	struct svc      *svc;                       /* running or fresh */
	bool             fresh;                     /* started by this plan */
	struct listener *ls[CFG_LISTEN_MAX];        /* one per listen entry */
	bool             opened[CFG_LISTEN_MAX];    /* bound by this plan */
};

/* Finds a running socket for entry la that no plan has taken yet. */
static struct listener *
services_find_listener(const struct listen_addr *la)
{
	for (struct svc *s = server.services; s != NULL; s = s->next)
		for (struct listener *l = s->listeners; l != NULL; l = l->next)
			if (!l->taken && addr_listen_equal(&l->addr, la))
				return l;
	return NULL;
}

/* Phase one for one service: finds or binds every socket it needs. */
static int
plan_prepare(struct plan *p, char *err, size_t errlen)
{
	struct svc *old = server_find_service(p->sc->name);

	if (old != NULL && old->conf->type == p->sc->type) {
		p->svc = old;
	} else {
		p->svc = calloc(1, sizeof(*p->svc));
		if (p->svc == NULL) {
			snprintf(err, errlen, "%s: out of memory", p->sc->name);
			return -1;
		}
		p->svc->conf = svc_conf_ref(p->sc);
		p->fresh = true;
	}
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		const struct listen_addr *la = &p->sc->listen[i];
		char why[256], text[ADDR_TEXT_MAX + 8];
		int fd;

		if ((p->ls[i] = services_find_listener(la)) != NULL) {
			p->ls[i]->taken = true;
			continue;
		}
		fd = sd_claim_socket(p->sc->name, la);
		p->ls[i] = listener_open(p->svc, la, fd, why, sizeof(why));
		if (p->ls[i] == NULL) {
			addr_listen_text(la, text, sizeof(text));
			snprintf(err, errlen, "%s: cannot bind %s: %s", p->sc->name,
			    text, why);
			return -1;
		}
		p->opened[i] = true;
	}
	return 0;
}

/* Undoes phase one. */
static void
plan_abandon(struct plan *p)
{
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		if (p->opened[i])
			listener_close(p->ls[i]);
		else if (p->ls[i] != NULL)
			p->ls[i]->taken = false;
	}
	if (p->fresh && p->svc != NULL) {
		svc_conf_unref(p->svc->conf);
		free(p->svc);
	}
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
	while (svc->listeners != NULL) {
		struct listener *l = svc->listeners;
		svc->listeners = l->next;
		if (!l->taken)
			listener_close(l);
	}
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
		if (svc->nobjs > 0) {
			pp = &svc->next;
			continue;
		}
		*pp = svc->next;
		limits_free(svc);
		svc_conf_unref(svc->conf);
		free(svc);
	}
}

/* Phase two for one service: hands it its sockets and configuration. */
static int
plan_commit(struct plan *p, char *err, size_t errlen)
{
	struct svc *svc = p->svc;
	struct listener **tail = &svc->listeners;

	/* Sockets of the old list that the plan does not reuse are closed. */
	while (svc->listeners != NULL) {
		struct listener *l = svc->listeners;
		svc->listeners = l->next;
		if (!l->taken)
			listener_close(l);
	}
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		struct listener *l = p->ls[i];
		l->taken = false;
		l->svc = svc;
		l->next = NULL;
		*tail = l;
		tail = &l->next;
	}
	if (!p->fresh) {
		svc_conf_unref(svc->conf);
		svc->conf = svc_conf_ref(p->sc);
		if (svc->conf->type->reconfigure != NULL)
			svc->conf->type->reconfigure(svc);
	} else {
		int rc = svc->conf->type->start ? svc->conf->type->start(svc) : 0;
		if (rc < 0) {
			snprintf(err, errlen, "%s: cannot start: %s", p->sc->name,
			    strerror(-rc));
			return -1;
		}
		svc->started = true;
		svc->next = server.services;
		server.services = svc;
	}
	for (unsigned i = 0; i < p->sc->nlisten; i++) {
		listener_start(p->ls[i]);
		if (p->opened[i])
			log_notice("%s listening on %s", p->sc->name, p->ls[i]->text);
	}
	return 0;
}

/* A fresh service whose start failed is taken apart again. */
static void
plan_discard_fresh(struct plan *p)
{
	while (p->svc->listeners != NULL) {
		struct listener *l = p->svc->listeners;
		p->svc->listeners = l->next;
		listener_close(l);
	}
	svc_conf_unref(p->svc->conf);
	free(p->svc);
}

int
services_apply(struct daemon_conf *dc, int (*after_bind)(char *, size_t),
    char *err, size_t errlen)
{
	struct plan *plans = calloc(dc->nservices + 1, sizeof(*plans));
	unsigned n = 0;
	int rc = 0;

	if (plans == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < dc->nservices; i++) {
		if (!dc->services[i]->enabled)
			continue;
		plans[n].sc = dc->services[i];
		if (plan_prepare(&plans[n++], err, errlen) != 0) {
			for (unsigned j = 0; j < n; j++)
				plan_abandon(&plans[j]);
			free(plans);
			return -1;
		}
	}
	if (after_bind != NULL && after_bind(err, errlen) != 0) {
		for (unsigned j = 0; j < n; j++)
			plan_abandon(&plans[j]);
		free(plans);
		return -1;
	}
	for (struct svc *s = server.services, *next; s != NULL; s = next) {
		next = s->next;
		if (!plans_keep(plans, n, s))
			svc_remove(s, CLOSE_REMOVED);
	}
	for (unsigned i = 0; i < n; i++) {
		if (plan_commit(&plans[i], err, errlen) == 0)
			continue;
		/* At a reload the others still run; at start the caller exits. */
		plan_discard_fresh(&plans[i]);
		rc = -1;
	}
	free(plans);
	return rc;
}

void
services_stop_all(void)
{
	while (server.services != NULL)
		svc_remove(server.services, CLOSE_SHUTDOWN);
}
