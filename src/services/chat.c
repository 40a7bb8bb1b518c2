/*
 * chat.c - the chat service (being written).
 */
#include "../conn.h"

const struct service_type chat_service = {
	.name = "chat",
	.protos = PROTO_TCP,
	.idle_timeout = 0,
	.busy = "! busy\r\n",
	.too_long = "! line too long",
};
