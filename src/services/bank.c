/*
 * bank.c - the bank service (being written).
 */
#include "../conn.h"

const struct service_type bank_service = {
	.name = "bank",
	.protos = PROTO_TCP,
	.idle_timeout = 300,
	.busy = "ERR busy\r\n",
	.too_long = "ERR line too long",
};
