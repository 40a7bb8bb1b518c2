/*
 * discard.c - the discard service (RFC 863), TCP and UDP.
 */
#include "../conn.h"

static size_t
discard_read(struct conn *c, const char *data, size_t len)
{
	(void)c;
	(void)data;
	return len;
}

static void
discard_datagram(struct svc *svc, struct dgram *d)
{
	(void)svc;
	(void)d;
}

const struct service_type discard_service = {
	.name = "discard",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.udp_loop_guard = true,
	.read = discard_read,
	.datagram = discard_datagram,
};
