/*
 * log.c - the daemon's own log lines on stderr, and the lines services
 * write under their name.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "service.h"

static int  log_level = LOG_LVL_INFO;   /* lines above it are skipped */
static bool log_journal;                 /* stderr is the journal */
static unsigned long svc_errors_logged;  /* svc_log lines at LOG_LVL_ERROR */

/* Syslog priority of each level (err, warning, notice, info, debug). */
static const int log_priority[] = { 3, 4, 5, 6, 7 };

/* Checks JOURNAL_STREAM ("DEV:INODE") against stderr, as sd-daemon(3)
 * suggests, so a stderr redirected elsewhere gets plain lines even when
 * the variable was inherited from a unit. */
void
log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	log_journal = false;
	if (js == NULL || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return;
	if (fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		log_journal = true;
}

void
log_set_level(int level)
{
	log_level = level;
}

/* Formats and writes one line with a single write, so lines from the
 * reactor and from worker threads never interleave. */
static void
log_write(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0;
	int r;

	if (level < LOG_LVL_ERROR)
		level = LOG_LVL_ERROR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	if (log_journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>",
		    log_priority[level]);
	if (prefix != NULL)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: ", prefix);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	/* One record is one line, whatever the message holds. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	log_write(level, prefix, fmt, ap);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_always(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, NULL, fmt, ap);
	va_end(ap);
}

void
svc_log(const struct svc *svc, int level, const char *fmt, ...)
{
	va_list ap;

	if (level == LOG_LVL_ERROR)
		svc_errors_logged++;
	va_start(ap, fmt);
	log_vmsg(level, svc->conf->name, fmt, ap);
	va_end(ap);
}

unsigned long
svc_log_errors(void)
{
	return svc_errors_logged;
}

bool
log_limit_pass(struct log_limit *l, int64_t now_ms, unsigned long *held)
{
	if (l->last_ms != 0 && now_ms - l->last_ms < 1000) {
		l->held++;
		return false;
	}
	*held = l->held;
	l->held = 0;
	l->last_ms = now_ms;
	return true;
}
