/*
 * record.c - a log record as one output line:
 * "TIME ADDRESS:PORT SEVERITY APP: MESSAGE", and the receipt time and
 * sender that every record of a datagram shares.
 */
#include <string.h>
#include <time.h>

#include "output.h"

/* Formats the receipt time, YYYY-MM-DDTHH:MM:SS.mmmZ; the part up to the
 * second is kept, as it changes once in many thousand records. */
void
log_time_text(char *out)
{
	static time_t cached_sec = -1;
	static char cached[32];
	struct timespec ts;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	ms = ts.tv_nsec / 1000000;
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

/* Queues "TIME ADDRESS:PORT SEVERITY APP: MESSAGE\n"; false if full. */
bool
log_queue_line(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut)
{
	const char *sev = syslog_severity_name(m->severity);
	size_t need = LOG_TIME_LEN + org->addr_len + 11 +
	    SYSLOG_ESCAPED_MAX(m->app_len) + 2 + SYSLOG_ESCAPED_MAX(m->text_len) +
	    sizeof(LOG_MARKER);
	char *start = log_reserve(o, need), *p = start;

	if (p == NULL)
		return false;
	p = log_append(p, org->time, LOG_TIME_LEN);
	*p++ = ' ';
	p = log_append(p, org->addr, org->addr_len);
	*p++ = ' ';
	p = log_append(p, sev, strlen(sev));
	*p++ = ' ';
	if (m->app != NULL) {
		p += syslog_escape(p, m->app, m->app_len);
		p = log_append(p, ": ", 2);
	}
	p += syslog_escape(p, m->text, m->text_len);
	if (cut)
		p = log_append(p, LOG_MARKER, sizeof(LOG_MARKER) - 1);
	*p++ = '\n';
	o->len += (size_t)(p - start);
	return true;
}

/* Records in a run of output lines. */
uint64_t
log_line_count(const char *p, const char *end)
{
	uint64_t n = 0;

	for (; p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		n++;
	return n;
}

/* Formats the sender's address, unless it is the one of last time. */
void
log_origin_set(struct log_origin *org, const struct sockaddr *from,
    socklen_t fromlen)
{
	if (fromlen == org->fromlen && memcmp(from, &org->from, fromlen) == 0)
		return;
	if (fromlen > sizeof(org->from))
		fromlen = sizeof(org->from);
	memcpy(&org->from, from, fromlen);
	org->fromlen = fromlen;
	addr_text(from, org->addr, sizeof(org->addr));
	org->addr_len = strlen(org->addr);
	addr_host_text(from, org->host, sizeof(org->host));
	org->port = addr_port(from);
}
