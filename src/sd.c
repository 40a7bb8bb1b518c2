/*
 * sd.c - systemd glue through libsystemd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "sd.h"

struct passed {
	int                     fd;       /* the socket */
	char                   *name;     /* FileDescriptorName= */
	struct listen_addr      addr;     /* what it is bound to */
	bool                    usable;   /* an inet listening socket */
	bool                    claimed;  /* a service uses it */
};

static struct passed *passed;             /* sockets from systemd */
static unsigned       npassed;            /* how many */

/* Learns what a passed fd is.  The listener code expects non-blocking
 * sockets (a blocking one would stall the reactor in accept), and
 * systemd does not promise O_NONBLOCK, so it is set here. */
static void
sd_inspect(struct passed *p)
{
	socklen_t len = sizeof(p->addr.ss);
	int type = 0, listening = 0;
	socklen_t tlen = sizeof(type), llen = sizeof(listening);
	int flags;

	if (getsockname(p->fd, (struct sockaddr *)&p->addr.ss, &len) != 0 ||
	    getsockopt(p->fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0)
		return;
	p->addr.sslen = len;
	p->addr.proto = type == SOCK_DGRAM ? PROTO_UDP : PROTO_TCP;
	if (p->addr.ss.ss_family != AF_INET && p->addr.ss.ss_family != AF_INET6)
		return;
	if (type == SOCK_STREAM &&
	    (getsockopt(p->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
	    &llen) != 0 || !listening))
		return;
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return;
	if ((flags = fcntl(p->fd, F_GETFL)) < 0 ||
	    fcntl(p->fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return;
	p->usable = true;
}

int
sd_take_sockets(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n <= 0)
		return n;
	passed = calloc((size_t)n, sizeof(*passed));
	if (passed == NULL) {
		for (int i = 0; names != NULL && i < n; i++)
			free(names[i]);
		free(names);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct passed *p = &passed[i];

		p->fd = SD_LISTEN_FDS_START + i;
		/* systemd names unnamed sockets "unknown"; keep its word. */
		p->name = names != NULL && names[i] != NULL ? names[i] : NULL;
		if (p->name == NULL)
			p->name = strdup("unknown");
		sd_inspect(p);
		npassed++;
	}
	free(names);
	return (int)npassed;
}

/* True when a passed socket is bound where entry la asks: same protocol
 * and address ('*' matches a dual-stack "::"). */
static bool
sd_addr_matches(const struct passed *p, const struct listen_addr *la)
{
	return p->addr.proto == la->proto && p->addr.sslen == la->sslen &&
	    memcmp(&p->addr.ss, &la->ss, la->sslen) == 0;
}

/* The rule of one matching pass: 0 name and address, 1 name and
 * protocol, 2 address alone. */
static bool
sd_pass_matches(int pass, const struct passed *p, const char *name,
    const struct listen_addr *la)
{
	bool named = p->name != NULL && strcmp(p->name, name) == 0;

	switch (pass) {
	case 0:
		return named && sd_addr_matches(p, la);
	case 1:
		return named && p->addr.proto == la->proto;
	default:
		return sd_addr_matches(p, la);
	}
}

void
sd_claim_sockets(const char *name, const struct listen_addr *la, unsigned n,
    int *fds)
{
	/* Every entry gets its exact match before any entry falls back to a
	 * looser rule, so a loose match never steals an exact one. */
	for (int pass = 0; pass < 3; pass++)
		for (unsigned e = 0; e < n; e++) {
			if (fds[e] != -1)
				continue;
			for (unsigned i = 0; i < npassed; i++) {
				struct passed *p = &passed[i];
				if (!p->usable || p->claimed ||
				    !sd_pass_matches(pass, p, name, &la[e]))
					continue;
				p->claimed = true;
				fds[e] = p->fd;
				break;
			}
		}
}

void
sd_return_socket(int fd)
{
	for (unsigned i = 0; i < npassed; i++) {
		struct passed *p = &passed[i];
		int copy;

		if (p->fd != fd || !p->claimed)
			continue;
		/* The listener closes its fd; the pool keeps a duplicate. */
		if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, SD_LISTEN_FDS_START)) < 0)
			return;
		p->fd = copy;
		p->claimed = false;
		return;
	}
}

const char *
sd_unclaimed_socket(void)
{
	static char text[ADDR_TEXT_MAX + 160];

	for (unsigned i = 0; i < npassed; i++) {
		struct passed *p = &passed[i];
		char a[ADDR_TEXT_MAX + 8];

		if (p->claimed)
			continue;
		if (p->usable)
			addr_listen_text(&p->addr, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "fd %d", p->fd);
		snprintf(text, sizeof(text), "%s (FileDescriptorName=%s)%s", a,
		    p->name, p->usable ? "" : ", not a listening inet socket");
		return text;
	}
	return NULL;
}

/* Fills sa with the address in NOTIFY_SOCKET ("/path" or "@abstract");
 * returns its length, or 0 when there is none. */
static socklen_t
sd_notify_addr(struct sockaddr_un *sa)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) >= sizeof(sa->sun_path))
		return 0;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len);
	if (path[0] == '@')
		sa->sun_path[0] = '\0';
	else
		len++;
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
}

/* Unlike sd_notify(3), which blocks while the receiver's queue is full,
 * this drops the message: a supervisor that does not read must never
 * stall the reactor. */
void
sd_notifyf_safe(const char *fmt, ...)
{
	static int fd = -1;
	struct sockaddr_un sa;
	socklen_t salen = sd_notify_addr(&sa);
	char msg[512];
	va_list ap;
	int n;

	if (salen == 0)
		return;
	if (fd < 0 && (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	(void)sendto(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sa, salen);
}

long
sd_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return (long)(usec / 1000);
}
