/*
 * service.c - the chat service type: its keys, its counters, its
 * protocols, and the hooks that are not a protocol's.
 *
 * The rooms are room.c's; each protocol is a file of its own
 * (proto_line.c, proto_course.c, proto_irc.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "irc_numerics.h"
#include "room.h"

static const struct chat_conf chat_defaults = {
	.max_line = 512,
	.history = 0,
	.max_queue = 262144,
	.motd = NULL,
	.server_name = NULL,
	.irc_ping = 120,
	.irc_flood = 10,
	.cluster = NULL,
	.cluster_name = NULL,
};

static const struct cfg_key chat_keys[] = {
	{ "max_line", CFG_INT, offsetof(struct chat_conf, max_line), 1, 65536,
	  NULL },
	{ "history", CFG_INT, offsetof(struct chat_conf, history), 0, 10000,
	  NULL },
	{ "max_queue", CFG_INT, offsetof(struct chat_conf, max_queue), 512,
	  1L << 30, NULL },
	{ "motd", CFG_STRING, offsetof(struct chat_conf, motd), 0, 4096, NULL },
	{ "server_name", CFG_STRING, offsetof(struct chat_conf, server_name),
	  1, 63, NULL },
	{ "irc_ping", CFG_INT, offsetof(struct chat_conf, irc_ping), 0, 86400,
	  NULL },
	{ "irc_flood", CFG_INT, offsetof(struct chat_conf, irc_flood), 0,
	  1000000, NULL },
	{ "cluster", CFG_STRING, offsetof(struct chat_conf, cluster), 1, 300,
	  NULL },
	{ "cluster_name", CFG_STRING, offsetof(struct chat_conf, cluster_name),
	  1, 64, NULL },
	CFG_KEY_END
};

/* Indexed by CHAT_COUNTER_*. */
static const struct svc_counter chat_counters[] = {
	{ "multid_chat_events_total",
	  "Room events (messages, actions, joins, leaves, nick changes) sent" },
	{ "multid_chat_renders_total",
	  "Renders of those events, at most one per protocol and event" },
	{ "multid_backend_up{backend=\"redis\"}",
	  "1 while the shared backend is connected (chat: a cluster's Redis)" },
	{ "multid_backend_errors_total{backend=\"redis\"}",
	  "Errors of the shared backend: failed connections, error replies" },
	{ NULL, NULL }
};

/* Each protocol's connection hooks, chosen per listen entry; the table
 * row tells the core how to frame the input. */
static const struct service_protocol chat_protocols[] = {
	{ .name = "", .frame = FRAME_LINE, .busy = "! busy\r\n",
	  .too_long = "! line too long", .open = chat_line_open,
	  .message = chat_line_message, .eof = chat_line_eof,
	  .close = chat_user_close },
	{ .name = "course", .frame = FRAME_NUL, .busy = "! busy\r\n",
	  .too_long = "/error", .open = chat_course_open,
	  .message = chat_course_message, .eof = chat_course_eof,
	  .close = chat_user_close },
	{ .name = "irc", .frame = FRAME_IRC, .busy = IRC_BUSY,
	  .too_long = IRC_TOO_LONG, .open = chat_irc_open,
	  .message = chat_irc_message, .eof = chat_irc_eof,
	  .close = chat_irc_close },
	{ .name = NULL },
};

/* The server name goes into IRC prefixes: a host name, no blanks, no
 * ':' or '!' or '@'; by default the machine's. */
static const char *
chat_configure(struct svc_conf *sc)
{
	struct chat_conf *cc = sc->tconf;
	char host[64];

	if (cc->server_name == NULL) {
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "multid");
		host[sizeof(host) - 1] = '\0';
		if ((cc->server_name = strdup(host)) == NULL)
			return "server_name: out of memory";
	}
	if (cc->server_name[strspn(cc->server_name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")] != '\0')
		return "server_name: letters, digits, '.', '-' and '_' only";
	if (cc->cluster != NULL && cluster_url_check(cc->cluster) != NULL)
		return cluster_url_check(cc->cluster);
	if (cc->cluster_name != NULL && cc->cluster_name[strspn(
	    cc->cluster_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_")] != '\0')
		return "cluster_name: letters, digits, '.', '-' and '_' only";
	return NULL;
}

static void
chat_timeout(struct conn *c)
{
	struct chat_user *u = c->data;

	if (chat_protos[u->proto]->ping != NULL && chat_protos[u->proto]->ping(u))
		return;

	if (chat_protos[u->proto]->timeout != NULL)
		chat_protos[u->proto]->timeout(u);
	chat_user_depart(c->svc->state, u, close_reason_text(CLOSE_IDLE));
	conn_close_after_flush(c);
}

static int
chat_start(struct svc *svc)
{
	const struct chat_conf *cc = SVC_CONF(svc, struct chat_conf);
	struct chat *ch = calloc(1, sizeof(*ch));

	if (ch == NULL)
		return -ENOMEM;
	ch->svc = svc;
	svc->state = ch;
	/* The backend's series are for a chat with a cluster only. */
	svc->stats.custom_hidden &= ~(1u << CHAT_COUNTER_REDIS_UP |
	    1u << CHAT_COUNTER_REDIS_ERRORS);
	if (cc->cluster == NULL)
		svc->stats.custom_hidden |= 1u << CHAT_COUNTER_REDIS_UP |
		    1u << CHAT_COUNTER_REDIS_ERRORS;
	if (cc->cluster != NULL) {
		int err = cluster_start(ch, cc->cluster, cc->cluster_name != NULL ?
		    cc->cluster_name : svc->conf->name);

		if (err != 0) {
			svc->state = NULL;
			free(ch);
			return err;
		}
	}
	return 0;
}

/* Every connection is closed by now, so only empty rooms kept for their
 * history are left (room.c frees them when they are dropped). */
static void
chat_stop(struct svc *svc)
{
	struct chat *ch = svc->state;

	cluster_stop(ch);
	chat_rooms_free(ch);
	hash_free(&ch->users);
	hash_free(&ch->rooms);
	free(ch);
	svc->state = NULL;
}

const struct service_type chat_service = {
	.name = "chat",
	.protos = PROTO_TCP,
	.keys = chat_keys,
	.conf_size = sizeof(struct chat_conf),
	.conf_defaults = &chat_defaults,
	.idle_timeout = 0,
	.counters = chat_counters,
	.protocols = chat_protocols,
	.configure = chat_configure,
	.start = chat_start,
	.stop = chat_stop,
	.timeout = chat_timeout,
};
