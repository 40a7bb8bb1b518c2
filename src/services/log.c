/*
 * log.c - the log service (being written).
 */
#include "../conn.h"

const struct service_type log_service = {
	.name = "log",
	.protos = PROTO_UDP,
	.idle_timeout = 300,
};
