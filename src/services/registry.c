/*
 * registry.c - every service type multid knows, in one table (like
 * inetd's biltin[]).  Adding a service is one file and one row here.
 */
#include <stddef.h>
#include <string.h>

#include "../service.h"

extern const struct service_type echo_service;
extern const struct service_type discard_service;
extern const struct service_type chargen_service;
extern const struct service_type daytime_service;
extern const struct service_type time_service;
extern const struct service_type transform_service;
extern const struct service_type chat_service;
extern const struct service_type guess_service;
extern const struct service_type bank_service;
extern const struct service_type log_service;
extern const struct service_type http_service;
extern const struct service_type metrics_service;
extern const struct service_type files_service;
extern const struct service_type smtp_service;
extern const struct service_type pop3_service;
extern const struct service_type tftp_service;

const struct service_type *const service_types[] = {
	&echo_service,          /* RFC 862 */
	&discard_service,       /* RFC 863 */
	&chargen_service,       /* RFC 864 */
	&daytime_service,       /* RFC 867 */
	&time_service,          /* RFC 868 */
	&transform_service,     /* upper, lower, count, digitsum, reverse */
	&chat_service,          /* multi-room chat */
	&guess_service,         /* number guessing */
	&bank_service,          /* durable accounts in SQLite */
	&log_service,           /* UDP log aggregation */
	&http_service,          /* static files and directory listings */
	&metrics_service,       /* Prometheus exposition */
	&files_service,         /* file transfer with nc and tar */
	&smtp_service,          /* a mail drop into Maildir */
	&pop3_service,          /* POP3 over the same Maildir */
	&tftp_service,          /* RFC 1350 file transfer */
	NULL
};

const struct service_type *
service_type_find(const char *name)
{
	for (int i = 0; service_types[i] != NULL; i++)
		if (strcmp(service_types[i]->name, name) == 0)
			return service_types[i];
	return NULL;
}
