/*
 * http.c - the http service (being written).
 */
#include "../conn.h"

const struct service_type http_service = {
	.name = "http",
	.protos = PROTO_TCP,
	.idle_timeout = 300,
	.busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
};
