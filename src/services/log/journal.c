/*
 * journal.c - a log record as systemd journal fields.
 *
 * The reactor queues each record as a run of (u32 length, "FIELD=value")
 * ended by a zero length; the writer thread sends the runs with
 * sd_journal_sendv(3), which may block.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
/* The records come from elsewhere: multid's source location is noise. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "output.h"

#define LOG_FIELDS_MAX  6              /* journal fields of one record */
#define JOURNAL_SOCKET  "/run/systemd/journal/socket" /* journald's, fixed */

/* Begins a journal field: reserves its length word, returns the text. */
static char *
field_begin(char *p, char **lenp, const char *name)
{
	*lenp = p;
	return log_append(p + sizeof(uint32_t), name, strlen(name));
}

/* Ends a journal field: writes its length into the word reserved. */
static char *
field_end(char *p, char *lenp)
{
	uint32_t n = (uint32_t)(p - lenp - sizeof(uint32_t));

	memcpy(lenp, &n, sizeof(n));
	return p;
}

/* Queues one record for the journal thread, as its length-prefixed
 * fields; false if the queue is full. */
bool
log_queue_journal(struct log_out *o, const struct log_origin *org,
    const struct syslog_msg *m, bool cut)
{
	size_t need = 160 + 2 * ADDR_TEXT_MAX + SYSLOG_ESCAPED_MAX(m->app_len) +
	    SYSLOG_ESCAPED_MAX(m->text_len) + sizeof(LOG_MARKER);
	char *start = log_reserve(o, need), *p = start, *lenp;
	uint32_t zero = 0;

	if (p == NULL)
		return false;
	p = field_begin(p, &lenp, "MESSAGE=");
	p += syslog_escape(p, m->text, m->text_len);
	if (cut)
		p = log_append(p, LOG_MARKER, sizeof(LOG_MARKER) - 1);
	p = field_end(p, lenp);
	p = field_begin(p, &lenp, "PRIORITY=");
	p = field_end(p + sprintf(p, "%d", m->severity), lenp);
	if (m->facility >= 0) {
		p = field_begin(p, &lenp, "SYSLOG_FACILITY=");
		p = field_end(p + sprintf(p, "%d", m->facility), lenp);
	}
	/* Unknown, the field is sent empty: sd_journal_sendv(3) would
	 * otherwise add SYSLOG_IDENTIFIER=multid, as if we had said it. */
	p = field_begin(p, &lenp, "SYSLOG_IDENTIFIER=");
	if (m->app != NULL)
		p += syslog_escape(p, m->app, m->app_len);
	p = field_end(p, lenp);
	p = field_begin(p, &lenp, "REMOTE_ADDR=");
	p = field_end(log_append(p, org->host, strlen(org->host)), lenp);
	p = field_begin(p, &lenp, "REMOTE_PORT=");
	p = field_end(p + sprintf(p, "%u", org->port), lenp);
	p = log_append(p, &zero, sizeof(zero));
	o->len += (size_t)(p - start);
	return true;
}

/* Records in a journal batch: each is a run of (u32 length, "FIELD=value")
 * ended by a zero length. */
uint64_t
log_journal_count(const char *p, const char *end)
{
	uint64_t n = 0;
	uint32_t flen;

	for (; p < end; p += sizeof(flen) + flen) {
		memcpy(&flen, p, sizeof(flen));
		n += flen == 0;
	}
	return n;
}

/* Sends every record of a batch.  Returns how many were refused; *err
 * the why. */
uint64_t
log_journal_send(const char *b, size_t len, uint64_t *sent, int *err)
{
	uint64_t failed = 0;
	size_t p = 0;

	/* Without journald, sd_journal_sendv(3) reports success and drops the
	 * record; ask first, so that the loss is counted and told. */
	if (access(JOURNAL_SOCKET, F_OK) != 0) {
		*err = -errno;
		return log_journal_count(b, b + len);
	}
	while (p < len) {
		struct iovec iov[LOG_FIELDS_MAX];
		int n = 0, rc;
		uint32_t flen;

		for (;;) {
			memcpy(&flen, b + p, sizeof(flen));
			p += sizeof(flen);
			if (flen == 0)
				break;
			if (n < LOG_FIELDS_MAX) {
				iov[n].iov_base = (void *)(b + p);
				iov[n++].iov_len = flen;
			}
			p += flen;
		}
		if ((rc = sd_journal_sendv(iov, n)) < 0) {
			failed++;
			*err = rc;
		} else {
			(*sent)++;
		}
	}
	return failed;
}
