/*
 * metrics.c - the metrics service (being written).
 */
#include "../conn.h"

const struct service_type metrics_service = {
	.name = "metrics",
	.protos = PROTO_TCP,
	.idle_timeout = 300,
};
