/*
 * store_pg_conn.c - the PostgreSQL store's connection parameters: the
 * conninfo parsed once, and its host names looked up off the reactor.
 *
 * libpq resolves a host name inside PQconnectPoll with getaddrinfo(3),
 * which blocks; behind a slow or dead DNS server that would stall every
 * service.  So before each round of connections the store has a worker
 * thread look the names up (pg_conn_resolve), and hands libpq the
 * addresses in hostaddr, next to the names it still uses for TLS and
 * ~/.pgpass; libpq then looks nothing up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "store_pg.h"
#include "store_pg_conn.h"

/* A growing comma-separated list. */
struct pg_list {
	char  *s;                     /* the text, NUL-terminated */
	size_t len;                   /* its length */
	size_t cap;                   /* bytes allocated */
	size_t items;                 /* entries so far */
	bool   oom;                   /* an allocation failed */
};

static void
pg_list_add(struct pg_list *l, const char *item, size_t n)
{
	size_t need = l->len + n + 2;
	char *s;

	if (l->oom)
		return;
	if (need > l->cap) {
		if ((s = realloc(l->s, need * 2)) == NULL) {
			l->oom = true;
			return;
		}
		l->s = s;
		l->cap = need * 2;
	}
	if (l->items++ > 0)
		l->s[l->len++] = ',';
	memcpy(l->s + l->len, item, n);
	l->len += n;
	l->s[l->len] = '\0';
}

/* Entry i of a comma-separated list: its start, and its length in *n;
 * NULL past the end. */
static const char *
pg_list_item(const char *list, size_t i, size_t *n)
{
	const char *p = list;

	for (; p != NULL && i > 0; i--)
		if ((p = strchr(p, ',')) != NULL)
			p++;
	if (p != NULL)
		*n = strcspn(p, ",");
	return p;
}

static size_t
pg_list_count(const char *list)
{
	size_t n = 1;

	if (list == NULL)
		return 0;
	for (const char *p = list; (p = strchr(p, ',')) != NULL; p++)
		n++;
	return n;
}

/* Appends a keyword and its value; 0, -E2BIG or -ENOMEM. */
static int
pg_conn_add(struct pg_conn_target *t, const char *key, const char *val)
{
	int n = 0;

	while (t->keywords[n] != NULL)
		n++;
	if (n >= PG_CONN_KEYS)
		return -E2BIG;
	t->keywords[n] = strdup(key);
	t->values[n] = strdup(val);
	if (t->keywords[n] == NULL || t->values[n] == NULL) {
		free(t->keywords[n]);
		free(t->values[n]);
		t->keywords[n] = t->values[n] = NULL;
		return -ENOMEM;
	}
	return 0;
}

const char *
pg_conn_get(const struct pg_conn_target *t, const char *key)
{
	for (int i = 0; t->keywords[i] != NULL; i++)
		if (strcmp(t->keywords[i], key) == 0)
			return t->values[i];
	return NULL;
}

/* A host entry that needs no look-up: empty (the default), a socket
 * directory, or an address. */
static bool
pg_conn_literal(const char *host, size_t len)
{
	unsigned char a[sizeof(struct in6_addr)];
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || host[0] == '/' || host[0] == '@')
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, a) == 1 ||
	    inet_pton(AF_INET6, buf, a) == 1;
}

/* A server that vanishes without closing (a host that died, a cut
 * network) is noticed in about 20 s, not after the kernel's two hours of
 * keepalive; what the conninfo sets itself stays. */
static const char *const pg_conn_default[][2] = {
	{ "keepalives", "1" }, { "keepalives_idle", "10" },
	{ "keepalives_interval", "5" }, { "keepalives_count", "2" },
	{ "tcp_user_timeout", "20000" },
};

static int
pg_conn_defaults(struct pg_conn_target *t)
{
	size_t n = sizeof(pg_conn_default) / sizeof(pg_conn_default[0]);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		if (pg_conn_get(t, pg_conn_default[i][0]) == NULL)
			rc = pg_conn_add(t, pg_conn_default[i][0],
			    pg_conn_default[i][1]);
	return rc;
}

void
pg_conn_free(struct pg_conn_target *t)
{
	for (int i = 0; t->keywords[i] != NULL; i++) {
		free(t->keywords[i]);
		free(t->values[i]);
	}
	memset(t, 0, sizeof(*t));
}

int
pg_conn_parse(const char *conninfo, struct pg_conn_target *t, char *why,
    size_t len)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(conninfo, &err);
	const char *host, *addr, *h;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (o == NULL) {
		snprintf(why, len, "%.*s", err != NULL ?
		    (int)strcspn(err, "\n") : 13, err != NULL ? err :
		    "out of memory");
		PQfreemem(err);
		return err != NULL ? -EINVAL : -ENOMEM;
	}
	for (PQconninfoOption *p = o; rc == 0 && p->keyword != NULL; p++)
		if (p->val != NULL)
			rc = pg_conn_add(t, p->keyword, p->val);
	PQconninfoFree(o);
	if (rc != 0) {
		pg_conn_free(t);
		snprintf(why, len, "%s", strerror(-rc));
		return rc;
	}
	if ((rc = pg_conn_defaults(t)) != 0) {
		pg_conn_free(t);
		snprintf(why, len, "%s", strerror(-rc));
		return rc;
	}
	host = pg_conn_get(t, "host");
	addr = pg_conn_get(t, "hostaddr");
	if (host == NULL || (addr != NULL && *addr != '\0'))
		return 0;
	for (size_t i = 0, n; (h = pg_list_item(host, i, &n)) != NULL; i++)
		t->lookup = t->lookup || !pg_conn_literal(h, n);
	return 0;
}

bool
bank_pg_conninfo_check(const char *conninfo, char *why, size_t len)
{
	struct pg_conn_target t;

	if (pg_conn_parse(conninfo, &t, why, len) != 0)
		return false;
	pg_conn_free(&t);
	return true;
}

/* Adds each address of host (n bytes) to hosts and addrs, with its port
 * (or none); 0 or a getaddrinfo(3) error. */
static int
pg_conn_lookup(const char *host, size_t n, const char *port, size_t np,
    struct pg_list *hosts, struct pg_list *addrs, struct pg_list *ports)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char name[256], text[INET6_ADDRSTRLEN];
	int rc, kept = 0;

	snprintf(name, sizeof(name), "%.*s", (int)n, host);
	if ((rc = getaddrinfo(name, NULL, &hints, &res)) != 0)
		return rc;
	for (ai = res; ai != NULL && kept < PG_CONN_ADDRS; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    inet_ntop(ai->ai_family, a, text, sizeof(text)) == NULL)
			continue;
		pg_list_add(hosts, host, n);
		pg_list_add(addrs, text, strlen(text));
		if (port != NULL)
			pg_list_add(ports, port, np);
		kept++;
	}
	freeaddrinfo(res);
	return kept > 0 ? 0 : EAI_NONAME;
}

/* out: t's parameters but host, hostaddr and port, then those lists. */
static int
pg_conn_rebuild(const struct pg_conn_target *t, struct pg_conn_target *out,
    struct pg_list *hosts, struct pg_list *addrs, struct pg_list *ports,
    const char *port)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; rc == 0 && t->keywords[i] != NULL; i++)
		if (strcmp(t->keywords[i], "host") != 0 &&
		    strcmp(t->keywords[i], "hostaddr") != 0 &&
		    strcmp(t->keywords[i], "port") != 0)
			rc = pg_conn_add(out, t->keywords[i], t->values[i]);
	if (rc == 0)
		rc = pg_conn_add(out, "host", hosts->s);
	if (rc == 0)
		rc = pg_conn_add(out, "hostaddr", addrs->s);
	if (rc == 0 && (ports->items > 0 || port != NULL))
		rc = pg_conn_add(out, "port", ports->items > 0 ? ports->s : port);
	if (rc != 0)
		pg_conn_free(out);
	return rc;
}

int
pg_conn_resolve(const struct pg_conn_target *t, struct pg_conn_target *out,
    char *why, size_t len)
{
	const char *hostlist = pg_conn_get(t, "host");
	const char *portlist = pg_conn_get(t, "port");
	size_t nh = pg_list_count(hostlist), np = pg_list_count(portlist);
	struct pg_list hosts = { 0 }, addrs = { 0 }, ports = { 0 };
	int rc = 0;

	why[0] = '\0';
	for (size_t i = 0; i < nh; i++) {
		size_t n, pn = 0;
		const char *h = pg_list_item(hostlist, i, &n);
		const char *p = np == nh && nh > 1 ?
		    pg_list_item(portlist, i, &pn) : NULL;
		int gai;

		if (pg_conn_literal(h, n)) {
			pg_list_add(&hosts, h, n);
			pg_list_add(&addrs, "", 0);
			if (p != NULL)
				pg_list_add(&ports, p, pn);
		} else if ((gai = pg_conn_lookup(h, n, p, pn, &hosts, &addrs,
		    &ports)) != 0 && why[0] == '\0') {
			snprintf(why, len, "cannot resolve %.*s: %s", (int)n, h,
			    gai_strerror(gai));
		}
	}
	if (hosts.oom || addrs.oom || ports.oom)
		rc = -ENOMEM;
	else if (hosts.items == 0)
		rc = -EHOSTUNREACH;
	else
		rc = pg_conn_rebuild(t, out, &hosts, &addrs, &ports,
		    np == nh && nh > 1 ? NULL : portlist);
	if (rc == -ENOMEM)
		snprintf(why, len, "out of memory");
	free(hosts.s);
	free(addrs.s);
	free(ports.s);
	return rc;
}
