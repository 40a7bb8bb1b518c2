/*
 * daytime.c - the daytime service (RFC 867), TCP and UDP.
 *
 * Keys: format (a strftime(3) format, default like ctime) and utc.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "../conn.h"

struct daytime_conf {
	char *format;                 /* strftime format */
	bool  utc;                    /* UTC instead of local time */
};

static const struct daytime_conf daytime_defaults = {
	.format = "%a %b %e %H:%M:%S %Y",
	.utc = false,
};

static const struct cfg_key daytime_keys[] = {
	{ "format", CFG_STRING, offsetof(struct daytime_conf, format), 1, 200,
	  NULL },
	{ "utc", CFG_BOOL, offsetof(struct daytime_conf, utc), 0, 0, NULL },
	CFG_KEY_END
};

/* Formats the current time and CRLF into out; returns the length. */
static size_t
daytime_text(const struct daytime_conf *dc, char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	if (dc->utc)
		gmtime_r(&now, &tm);
	else
		localtime_r(&now, &tm);
	n = strftime(out, size - 2, dc->format, &tm);
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

static const char *
daytime_configure(struct svc_conf *sc)
{
	const struct daytime_conf *dc = sc->tconf;
	char out[258];
	struct tm tm = { .tm_year = 126, .tm_mon = 10, .tm_mday = 22,
	    .tm_wday = 0, .tm_yday = 325 };

	tzset();
	if (strftime(out, 256, dc->format, &tm) == 0)
		return "format: gives no text, or more than 255 bytes";
	return NULL;
}

static int
daytime_open(struct conn *c)
{
	char line[258];

	conn_send(c, line, daytime_text(c->conf->tconf, line, sizeof(line)));
	conn_close_after_flush(c);
	return 0;
}

static void
daytime_datagram(struct svc *svc, struct dgram *d)
{
	char line[258];

	dgram_reply(d, line, daytime_text(svc->conf->tconf, line, sizeof(line)));
}

const struct service_type daytime_service = {
	.name = "daytime",
	.protos = PROTO_TCP | PROTO_UDP,
	.keys = daytime_keys,
	.conf_size = sizeof(struct daytime_conf),
	.conf_defaults = &daytime_defaults,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.configure = daytime_configure,
	.open = daytime_open,
	.datagram = daytime_datagram,
};
