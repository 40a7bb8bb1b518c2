/*
 * pop3_auth.c - POP3 login: USER, PASS (the secret checked on the
 * password pool), STLS, and the delay after a failed login, which grows
 * with the failures from the same address (a table of addresses, pruned
 * when full of quiet ones).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "../../conn.h"
#include "../../ev.h"
#include "../../line.h"
#include "../../server.h"
#include "pop3.h"

#define POP3_FAILURES_MAX   3         /* failed logins before the close */
#define POP3_DELAY_STEP_MS  200       /* a failed login's delay, per
                                         failure from the same address */
#define POP3_DELAY_MAX_MS   3000      /* the longest delay */
#define POP3_SOURCE_FORGET_MS 600000  /* an address's failures are
                                         forgotten after this quiet time */
#define POP3_SOURCES_MAX    16384     /* addresses remembered at most */

/* ---- per-address delays ------------------------------------------------ */

static bool
pop3_source_match(const struct hash_node *n, const void *key)
{
	const struct pop3_source *src = HASH_ENTRY(n, struct pop3_source, node);
	const struct pop3_source *k = key;

	return src->alen == k->alen && memcmp(src->addr, k->addr, k->alen) == 0;
}

/* The key of a connection's address. */
static void
pop3_source_key(const struct conn *c, struct pop3_source *k)
{
	memset(k, 0, sizeof(*k));
	if (c->peer.ss_family == AF_INET6) {
		memcpy(k->addr, &((const struct sockaddr_in6 *)&c->peer)->sin6_addr,
		    16);
		k->alen = 16;
	} else {
		memcpy(k->addr, &((const struct sockaddr_in *)&c->peer)->sin_addr,
		    4);
		k->alen = 4;
	}
}

/* Forgets addresses that have been quiet long enough. */
static void
pop3_sources_prune(struct pop3_service *p, int64_t now)
{
	struct hash_node *n, *next;

	for (n = hash_first(&p->sources); n != NULL; n = next) {
		struct pop3_source *src = HASH_ENTRY(n, struct pop3_source, node);
		next = hash_next(&p->sources, n);
		if (now - src->last_ms >= POP3_SOURCE_FORGET_MS) {
			hash_del(&p->sources, n);
			free(src);
		}
	}
}

/* Counts a failure from c's address; returns its delay in ms.  When the
 * table is full of recent addresses, a new one gets the longest delay. */
static long
pop3_source_fail(struct pop3_service *p, const struct conn *c)
{
	struct pop3_source k, *src;
	int64_t now = ev_now(server.loop);
	uint32_t h;
	struct hash_node *n;

	pop3_source_key(c, &k);
	h = hash_bytes(k.addr, k.alen);
	if ((n = hash_find(&p->sources, h, &k, pop3_source_match)) != NULL) {
		src = HASH_ENTRY(n, struct pop3_source, node);
		if (now - src->last_ms >= POP3_SOURCE_FORGET_MS)
			src->failures = 0;
	} else {
		if (p->sources.count >= POP3_SOURCES_MAX)
			pop3_sources_prune(p, now);
		if (p->sources.count >= POP3_SOURCES_MAX ||
		    (src = malloc(sizeof(*src))) == NULL)
			return POP3_DELAY_MAX_MS;
		*src = k;
		if (hash_add(&p->sources, &src->node, h) != 0) {
			free(src);
			return POP3_DELAY_MAX_MS;
		}
	}
	src->failures++;
	src->last_ms = now;
	return src->failures * POP3_DELAY_STEP_MS < POP3_DELAY_MAX_MS ?
	    (long)src->failures * POP3_DELAY_STEP_MS : POP3_DELAY_MAX_MS;
}
/* The delayed answer to a failed login. */
static long
pop3_denied(struct ev_loop *loop, long long id, void *data)
{
	struct pop3_session *s = data;

	(void)loop;
	(void)id;
	s->timer = 0;
	s->busy = false;
	conn_reply(s->conn, "-ERR denied");
	if (s->failures >= POP3_FAILURES_MAX)
		conn_close_after_flush(s->conn);
	pop3_resume(s);
	return -1;
}

/* The secret was checked (reactor thread). */
static void
pop3_pw_done(struct passwd_job *pj)
{
	struct pop3_session *s = (struct pop3_session *)((char *)pj -
	    offsetof(struct pop3_session, pw));
	struct svc *svc;

	if (!pop3_back(s))
		return;
	svc = s->service->svc;
	if (pj->result == 0 && s->have_user) {
		svc->stats.custom[POP3_COUNTER_LOGINS]++;
		if (pop3_job_submit(s, JOB_OPEN) != 0)
			pop3_resume(s);
		return;
	}
	svc->stats.custom[POP3_COUNTER_FAILURES]++;
	s->failures++;
	s->have_user = false;
	s->timer = ev_timer_add(server.loop,
	    pop3_source_fail(s->service, s->conn), pop3_denied, s);
	s->busy = s->timer > 0;
	if (s->timer <= 0)
		pop3_denied(server.loop, 0, s);
}

/* The stored hash of an account, or "" (the pool then hashes a dummy,
 * so an unknown name costs what a wrong secret costs). */
static const char *
pop3_account_hash(const struct pop3_conf *conf, const char *name)
{
	for (size_t i = 0; i + ACCOUNT_FIELDS <= conf->accounts.n;
	    i += ACCOUNT_FIELDS)
		if (strcasecmp(conf->accounts.v[i + ACCOUNT_NAME], name) == 0)
			return conf->accounts.v[i + ACCOUNT_SECRET];
	return "";
}

/* STLS is offered on a plain connection of a service that has a
 * certificate. */
bool
pop3_tls_offered(const struct pop3_session *s)
{
	return s->conn->conf->tls.ctx != NULL && !conn_is_tls(s->conn);
}

/* tls_required: no name or secret crosses the wire in plain text. */
static bool
pop3_tls_missing(const struct pop3_session *s)
{
	if (!s->conf->tls_required || conn_is_tls(s->conn))
		return false;
	conn_reply(s->conn, "-ERR TLS required");
	return true;
}

int
pop3_cmd_stls(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;

	(void)argc;
	(void)argv;
	if (!pop3_tls_offered(s)) {
		conn_reply(s->conn, "-ERR STLS not available");
		return LINE_MORE;
	}
	conn_reply(s->conn, "+OK Begin TLS negotiation");
	s->have_user = false;
	if (conn_starttls(s->conn) != 0)
		conn_close_after_flush(s->conn);
	return LINE_STOP;
}

int
pop3_cmd_user(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;
	size_t len = strlen(argv[1]);

	(void)argc;
	if (pop3_tls_missing(s))
		return LINE_MORE;
	/* A name too long for an account is kept as none: PASS fails. */
	if (len > NAME_LEN_MAX)
		len = 0;
	for (size_t i = 0; i < len; i++)
		s->user[i] = (char)(argv[1][i] >= 'A' && argv[1][i] <= 'Z' ?
		    argv[1][i] - 'A' + 'a' : argv[1][i]);
	s->user[len] = '\0';
	s->have_user = true;
	/* The same answer for every name: it tells nothing. */
	conn_reply(s->conn, "+OK");
	return LINE_MORE;
}

int
pop3_cmd_pass(void *session, int argc, char **argv)
{
	struct pop3_session *s = session;

	(void)argc;
	if (pop3_tls_missing(s)) {
		explicit_bzero(argv[1], strlen(argv[1]));
		return LINE_MORE;
	}
	if (!s->have_user) {
		explicit_bzero(argv[1], strlen(argv[1]));
		conn_reply(s->conn, "-ERR USER first");
		return LINE_MORE;
	}
	passwd_set_secret(&s->pw, argv[1]);
	snprintf(s->pw.hash, sizeof(s->pw.hash), "%s",
	    name_valid(s->user) ? pop3_account_hash(s->conf, s->user) : "");
	if (passwd_verify(s->service->hasher, &s->pw, pop3_pw_done) != 0) {
		conn_reply(s->conn, "-ERR service stopping");
		return LINE_MORE;
	}
	s->busy = true;
	conn_pause(s->conn);
	return LINE_STOP;
}
