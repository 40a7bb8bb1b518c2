/*
 * guess.c - the guess service (being written).
 */
#include "../conn.h"

const struct service_type guess_service = {
	.name = "guess",
	.protos = PROTO_TCP,
	.idle_timeout = 300,
	.busy = "! busy\r\n",
	.too_long = "! line too long",
};
