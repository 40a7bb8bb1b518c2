/*
 * metrics.c - the metrics service: GET /metrics in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Every running service gets the counters the core keeps for it (struct
 * svc_stats), labelled service="NAME", and each type's own counters
 * (type->counters, values in stats.custom) follow.  A family's HELP and
 * TYPE lines come once, before all of its series, as the format wants.
 * Requests are read with the http service's parser; anything but GET or
 * HEAD of /metrics gets the matching error status.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../conn.h"
#include "../server.h"
#include "http/http_parse.h"

#define METRICS_REQUEST_MAX 8192      /* bytes of request line and headers */
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A counter or gauge of struct svc. */
struct metrics_core {
	const char *name;             /* the family name */
	const char *type;             /* counter or gauge */
	const char *help;             /* its HELP text */
	size_t      off;              /* offset of a uint64_t in struct svc_stats,
	                                 or METRICS_ACTIVE for svc->nconns */
};

#define METRICS_ACTIVE SIZE_MAX

static const struct metrics_core metrics_core[] = {
	{ "multid_connections_total", "counter", "TCP connections accepted.",
	  offsetof(struct svc_stats, connections_total) },
	{ "multid_connections_active", "gauge", "TCP connections open now.",
	  METRICS_ACTIVE },
	{ "multid_bytes_received_total", "counter",
	  "Payload bytes received over TCP and UDP.",
	  offsetof(struct svc_stats, bytes_received) },
	{ "multid_bytes_sent_total", "counter",
	  "Payload bytes sent over TCP and UDP.",
	  offsetof(struct svc_stats, bytes_sent) },
	{ "multid_datagrams_received_total", "counter", "UDP datagrams received.",
	  offsetof(struct svc_stats, datagrams_received) },
	{ "multid_datagrams_dropped_total", "counter",
	  "UDP datagrams ignored (loop guard, allow list, errors).",
	  offsetof(struct svc_stats, datagrams_dropped) },
};

static const char *const metrics_reasons[REJECT_MAX] = {
	[REJECT_LIMIT] = "limit",
	[REJECT_PER_SOURCE] = "per_source",
	[REJECT_ALLOW] = "allow",
};

static void
metrics_family(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* TLS handshakes and resumptions, for the services that speak TLS. */
static void
metrics_render_tls(struct buf *b)
{
	static const char *const result[] = { "ok", "failed" };

	metrics_family(b, "multid_tls_handshakes_total", "counter",
	    "TLS handshakes, by result.");
	for (struct svc *s = server.services; s != NULL; s = s->next)
		for (int r = 0; r < 2 && s->conf->tls.ctx != NULL; r++)
			buf_printf(b, "multid_tls_handshakes_total"
			    "{service=\"%s\",result=\"%s\"} %llu\n", s->conf->name,
			    result[r], (unsigned long long)s->stats.tls_handshakes[r]);
	metrics_family(b, "multid_tls_resumed_total", "counter",
	    "TLS handshakes that resumed a session.");
	for (struct svc *s = server.services; s != NULL; s = s->next)
		if (s->conf->tls.ctx != NULL)
			buf_printf(b, "multid_tls_resumed_total{service=\"%s\"} %llu\n",
			    s->conf->name, (unsigned long long)s->stats.tls_resumed);
}

static void
metrics_render_core(struct buf *b)
{
	for (size_t i = 0; i < sizeof(metrics_core) / sizeof(metrics_core[0]); i++) {
		const struct metrics_core *m = &metrics_core[i];

		metrics_family(b, m->name, m->type, m->help);
		for (struct svc *s = server.services; s != NULL; s = s->next) {
			unsigned long long v = m->off == METRICS_ACTIVE ? s->nconns :
			    *(const uint64_t *)((const char *)&s->stats + m->off);
			buf_printf(b, "%s{service=\"%s\"} %llu\n", m->name,
			    s->conf->name, v);
		}
	}
	metrics_family(b, "multid_connections_rejected_total", "counter",
	    "TCP connections turned away, by reason.");
	for (struct svc *s = server.services; s != NULL; s = s->next)
		for (int r = 0; r < REJECT_MAX; r++)
			buf_printf(b, "multid_connections_rejected_total"
			    "{service=\"%s\",reason=\"%s\"} %llu\n", s->conf->name,
			    metrics_reasons[r], (unsigned long long)s->stats.rejected[r]);
	metrics_render_tls(b);
}

/* The length of a counter's family name: its name without the labels
 * it may end in. */
static size_t
metrics_family_len(const char *name)
{
	return strcspn(name, "{");
}

/* Whether counter k belongs to the family of len bytes at family. */
static bool
metrics_in_family(const struct svc_counter *k, const char *family,
    size_t len)
{
	return metrics_family_len(k->name) == len &&
	    memcmp(k->name, family, len) == 0;
}

/* Whether the family came before: in a service before svc in the list,
 * or in svc's own table before entry i (another series of it). */
static bool
metrics_seen_before(const struct svc *svc, int i, const char *family,
    size_t len)
{
	for (const struct svc *s = server.services; s != svc; s = s->next)
		for (const struct svc_counter *k = s->conf->type->counters;
		    k != NULL && k->name != NULL; k++)
			if (metrics_in_family(k, family, len))
				return true;
	for (int j = 0; j < i; j++)
		if (metrics_in_family(&svc->conf->type->counters[j], family, len))
			return true;
	return false;
}

/* Every series of the family that service t has. */
static void
metrics_render_series(struct buf *b, const struct svc *t, const char *family,
    size_t len)
{
	const struct svc_counter *k = t->conf->type->counters;

	for (int j = 0; k != NULL && k[j].name != NULL && j < SVC_COUNTERS_MAX;
	    j++) {
		const char *labels = k[j].name + len;

		if (!metrics_in_family(&k[j], family, len) ||
		    (t->stats.custom_hidden & (1u << j)))
			continue;
		/* "{a=\"b\"}" becomes ",a=\"b\"" after the service label. */
		buf_printf(b, "%.*s{service=\"%s\"%s%.*s} %llu\n", (int)len,
		    family, t->conf->name, labels[0] == '{' ? "," : "",
		    labels[0] == '{' ? (int)strlen(labels) - 2 : 0,
		    labels[0] == '{' ? labels + 1 : "",
		    (unsigned long long)t->stats.custom[j]);
	}
}

/* Whether a service from s on shows a series of the family: one whose
 * every series is hidden is left out, HELP and TYPE too. */
static bool
metrics_family_shown(const struct svc *s, const char *family, size_t len)
{
	for (; s != NULL; s = s->next) {
		const struct svc_counter *k = s->conf->type->counters;

		for (int j = 0; k != NULL && k[j].name != NULL &&
		    j < SVC_COUNTERS_MAX; j++)
			if (metrics_in_family(&k[j], family, len) &&
			    !(s->stats.custom_hidden & (1u << j)))
				return true;
	}
	return false;
}

/* The types' own counters: each family once, with every service that
 * has it. */
static void
metrics_render_custom(struct buf *b)
{
	for (struct svc *s = server.services; s != NULL; s = s->next) {
		const struct svc_counter *k = s->conf->type->counters;

		for (int i = 0; k != NULL && k[i].name != NULL &&
		    i < SVC_COUNTERS_MAX; i++) {
			size_t len = metrics_family_len(k[i].name);
			char family[128];

			if (len >= sizeof(family) ||
			    metrics_seen_before(s, i, k[i].name, len) ||
			    !metrics_family_shown(s, k[i].name, len))
				continue;
			memcpy(family, k[i].name, len);
			family[len] = '\0';
			/* Prometheus names counters ..._total; any other
			 * family of a type is a gauge. */
			metrics_family(b, family, len > 6 &&
			    strcmp(family + len - 6, "_total") == 0 ?
			    "counter" : "gauge", k[i].help);
			for (struct svc *t = s; t != NULL; t = t->next)
				metrics_render_series(b, t, family, len);
		}
	}
}

/* Sends a head, and the body unless req is a HEAD request; req is NULL
 * for a request that could not be parsed. */
static void
metrics_send(struct conn *c, const struct http_request *req, int status,
    const char *type, const char *body, size_t len, bool keep,
    const char *extra)
{
	char date[HTTP_DATE_LEN + 1];
	const char *conn = !keep ? "Connection: close\r\n" :
	    req->version == 10 ? "Connection: keep-alive\r\n" : "";

	http_date_format(time(NULL), date);
	conn_printf(c, "HTTP/1.1 %d %s\r\nServer: multid\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
	    http_status_text(status), date, type, len, extra, conn);
	if (req == NULL || req->method != HTTP_HEAD)
		conn_send(c, body, len);
	if (!keep)
		conn_close_after_flush(c);
}

static void
metrics_error(struct conn *c, const struct http_request *req, int status,
    bool keep, const char *extra)
{
	char page[512];
	size_t n = http_error_page(status, page, sizeof(page));

	metrics_send(c, req, status, "text/html; charset=utf-8", page, n,
	    keep && req != NULL, extra);
}

static void
metrics_handle(struct conn *c, const struct http_request *req)
{
	/* Nothing here takes a body, so one ends the connection. */
	bool keep = req->keep_alive && req->content_length <= 0 && !req->chunked;
	struct http_str path, query;
	struct buf b = { 0 };

	if (req->method == HTTP_OTHER) {
		metrics_error(c, req, 405, keep, "Allow: GET, HEAD\r\n");
		return;
	}
	if (http_split_target(req->target, &path, &query) != 0) {
		metrics_error(c, req, 400, false, "");
		return;
	}
	if (path.len != 8 || memcmp(path.p, "/metrics", 8) != 0) {
		metrics_error(c, req, 404, keep, "");
		return;
	}
	metrics_render_core(&b);
	metrics_render_custom(&b);
	metrics_send(c, req, 200, METRICS_TYPE, buf_head(&b), b.len, keep, "");
	buf_free(&b);
}

static size_t
metrics_read(struct conn *c, const char *data, size_t len)
{
	size_t used = 0;

	while (used < len && c->state == CONN_OPEN &&
	    c->out.pending <= c->high_water) {
		struct http_request req;
		long n = http_parse_request(data + used, len - used,
		    METRICS_REQUEST_MAX, &req);

		if (n == 0)
			break;
		if (n < 0) {
			metrics_error(c, NULL, (int)-n, false, "");
			return len;
		}
		used += (size_t)n;
		metrics_handle(c, &req);
	}
	return used;
}

/* A request left incomplete gets 408; an idle connection just closes. */
static void
metrics_timeout(struct conn *c)
{
	if (c->out.pending > 0)
		conn_close_after_flush(c);
	else if (c->in.len > 0 || c->received == 0)
		metrics_error(c, NULL, 408, false, "");
}

const struct service_type metrics_service = {
	.name = "metrics",
	.alpn = "http/1.1",
	.protos = PROTO_TCP,
	.idle_timeout = 300,
	.busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	.read = metrics_read,
	.timeout = metrics_timeout,
};
