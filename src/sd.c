/*
 * sd.c - systemd glue through libsystemd.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "sd.h"

struct passed {
	int                     fd;       /* the socket */
	char                   *name;     /* FileDescriptorName= */
	struct listen_addr      addr;     /* what it is bound to */
	bool                    claimed;  /* a service took it */
};

static struct passed *passed;             /* sockets from systemd */
static unsigned       npassed;            /* how many */

int
sd_take_sockets(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n <= 0)
		return n;
	passed = calloc((size_t)n, sizeof(*passed));
	for (int i = 0; passed != NULL && i < n; i++) {
		struct passed *p = &passed[i];
		socklen_t len = sizeof(p->addr.ss);
		int type = 0;
		socklen_t tlen = sizeof(type);

		p->fd = SD_LISTEN_FDS_START + i;
		p->name = names && names[i] ? strdup(names[i]) : strdup("unknown");
		getsockname(p->fd, (struct sockaddr *)&p->addr.ss, &len);
		p->addr.sslen = len;
		getsockopt(p->fd, SOL_SOCKET, SO_TYPE, &type, &tlen);
		p->addr.proto = type == SOCK_DGRAM ? PROTO_UDP : PROTO_TCP;
		npassed++;
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return (int)npassed;
}

/* True when a passed socket is what entry la asks for: same protocol and
 * address ('*' matches a dual-stack "::"). */
static bool
sd_addr_matches(const struct passed *p, const struct listen_addr *la)
{
	struct listen_addr want = *la;

	want.any = false;
	return p->addr.proto == la->proto && p->addr.sslen == la->sslen &&
	    memcmp(&p->addr.ss, &want.ss, la->sslen) == 0;
}

int
sd_claim_socket(const char *name, const struct listen_addr *la)
{
	/* First a socket named for the service and bound where the entry
	 * says, then one named for it of the same protocol, then one bound
	 * there under any name. */
	for (int pass = 0; pass < 3; pass++)
		for (unsigned i = 0; i < npassed; i++) {
			struct passed *p = &passed[i];
			bool named = strcmp(p->name, name) == 0;
			bool match = pass == 0 ? named && sd_addr_matches(p, la) :
			    pass == 1 ? named && p->addr.proto == la->proto :
			    sd_addr_matches(p, la);
			if (!p->claimed && match) {
				p->claimed = true;
				return p->fd;
			}
		}
	return -1;
}

const char *
sd_unclaimed_socket(void)
{
	static char text[ADDR_TEXT_MAX + 80];

	for (unsigned i = 0; i < npassed; i++)
		if (!passed[i].claimed) {
			char a[ADDR_TEXT_MAX + 8];
			addr_listen_text(&passed[i].addr, a, sizeof(a));
			snprintf(text, sizeof(text), "%s (%s)", a, passed[i].name);
			return text;
		}
	return NULL;
}

void
sd_release_unclaimed(void)
{
	for (unsigned i = 0; i < npassed; i++)
		if (!passed[i].claimed) {
			close(passed[i].fd);
			passed[i].claimed = true;
		}
}

void
sd_notifyf_safe(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sd_notify(0, msg);
}

long
sd_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (long)(usec / 1000);
}
