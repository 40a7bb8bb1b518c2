/*
 * discard.c - the discard service (RFC 863), TCP and UDP.
 *
 * No read hook: the core throws away input a type does not read.
 */
#include "../conn.h"

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
	.datagram = discard_datagram,
};
