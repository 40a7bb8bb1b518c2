/*
 * transform.c - the transform service (being written).
 */
#include "../conn.h"

const struct service_type transform_service = {
	.name = "transform",
	.protos = PROTO_TCP | PROTO_UDP,
	.idle_timeout = 300,
	.busy = "! busy\r\n",
	.too_long = "! line too long",
	.udp_loop_guard = true,
};
