/*
 * protocol.c - the protocols a service type speaks, one per listening
 * socket.
 *
 * A type with a table of its own lists its protocols there.  A type
 * without one speaks a single default protocol made of its own hooks; that
 * row is built here once per type, so that the core always dispatches
 * through a struct service_protocol and the existing types need no change.
 */
#include <string.h>

#include "service.h"

#define PROTOCOL_TYPES_MAX 64         /* types in the registry, at most */

/* The default rows of types without a table, by registry index. */
static struct service_protocol protocol_defaults[PROTOCOL_TYPES_MAX];

/* Builds (once) the one protocol of a type that has no table. */
static const struct service_protocol *
protocol_default(const struct service_type *type)
{
	for (unsigned i = 0; service_types[i] != NULL; i++) {
		struct service_protocol *p = &protocol_defaults[i];

		if (service_types[i] != type || i >= PROTOCOL_TYPES_MAX)
			continue;
		if (p->name == NULL) {
			p->frame = type->line != NULL ? FRAME_LINE : FRAME_RAW;
			p->busy = type->busy;
			p->too_long = type->too_long;
			p->open = type->open;
			p->read = type->read;
			p->message = type->line;
			p->eof = type->eof;
			p->close = type->close;
			p->name = "";
		}
		return p;
	}
	return NULL;
}

int
service_protocol_find(const struct service_type *type, const char *name)
{
	if (type->protocols == NULL)
		return name[0] == '\0' ? 0 : -1;
	for (int i = 0; type->protocols[i].name != NULL; i++)
		if (strcmp(type->protocols[i].name, name) == 0)
			return i;
	return -1;
}

const struct service_protocol *
service_protocol_get(const struct service_type *type, unsigned i)
{
	if (type->protocols == NULL)
		return protocol_default(type);
	return &type->protocols[i];
}
