/*
 * syslog.h - splitting datagrams into syslog records, parsing their
 * headers (RFC 5424 and RFC 3164, as logger(1) and most devices send
 * them) and escaping the text for one-line output.
 *
 * Pure functions, no I/O and no allocation: the log service and the unit
 * tests drive them directly.  Every pointer handed out points into the
 * caller's record.
 */
#ifndef MULTID_SYSLOG_H
#define MULTID_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>

#define SYSLOG_SEV_INFO  6            /* the severity of a record without <PRI> */
#define SYSLOG_PRI_MAX   191          /* facility 23, severity 7 */

/* The worst case of syslog_escape(): every byte becomes "\xNN". */
#define SYSLOG_ESCAPED_MAX(n) ((n) * 4)

/* Which header a record had. */
enum syslog_format {
	SYSLOG_PLAIN,             /* no valid <PRI>: the whole record is text */
	SYSLOG_PRI_ONLY,          /* <PRI>, then no header that could be read */
	SYSLOG_RFC3164,           /* <PRI>, BSD timestamp or tag */
	SYSLOG_RFC5424,           /* <PRI>1 and the six header fields */
};

/* What a record says; the strings point into the record, and those
 * that may be unknown are NULL then (RFC 5424's "-" is unknown). */
struct syslog_msg {
	enum syslog_format format;    /* which header was found */
	int                facility;  /* 0..23, or -1 without <PRI> */
	int                severity;  /* 0..7 */
	const char        *time;      /* TIMESTAMP as sent (RFC 3339 or BSD) */
	size_t             time_len;  /* its bytes */
	const char        *host;      /* HOSTNAME */
	size_t             host_len;  /* its bytes */
	const char        *app;       /* APP-NAME or TAG, NULL when unknown */
	size_t             app_len;   /* its bytes */
	const char        *procid;    /* PROCID, or the PID of TAG[PID] */
	size_t             procid_len; /* its bytes */
	const char        *msgid;     /* MSGID (RFC 5424 only) */
	size_t             msgid_len; /* its bytes */
	const char        *sd;        /* STRUCTURED-DATA (RFC 5424 only) */
	size_t             sd_len;    /* its bytes */
	const char        *text;      /* the message itself */
	size_t             text_len;  /* its bytes */
};

/* Finds the next non-empty record of data[*pos..len): records end at LF,
 * one CR before the LF is not part of the record, and the end of data
 * ends the last one.  Returns false when none is left. */
bool syslog_next_record(const char *data, size_t len, size_t *pos,
    const char **rec, size_t *reclen);

/* Reads the header of one record into out.  Never fails: what cannot be
 * read as a header stays part of the text, so nothing is swallowed. */
void syslog_parse(const char *rec, size_t len, struct syslog_msg *out);

/* Copies in to out, writing invalid UTF-8 bytes, bytes below 0x20 and
 * 0x7f as "\xNN" (lower-case hex).  out has room for
 * SYSLOG_ESCAPED_MAX(len) bytes; returns the bytes written. */
size_t syslog_escape(char *out, const char *in, size_t len);

/* "emerg" .. "debug" for 0..7. */
const char *syslog_severity_name(int severity);

#endif
