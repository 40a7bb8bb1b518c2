/*
 * log.c - the daemon's own log lines on stderr.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static int  log_level = LOG_LVL_INFO;   /* lines above it are skipped */
static bool log_journal;                 /* stderr is the journal */

/* Syslog priority of each level. */
static const int log_priority[] = { 3, 4, 5, 6, 7 };

/* Checks JOURNAL_STREAM ("DEV:INODE") against stderr, as sd-daemon(3)
 * suggests, so a redirected stderr gets plain lines. */
void
log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	log_journal = false;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return;
	if (fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		log_journal = true;
}

void
log_set_level(int level)
{
	log_level = level;
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int n = 0;

	if (level > log_level)
		return;
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>", log_priority[level]);
	if (prefix != NULL)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", prefix);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	fprintf(stderr, "%s\n", line);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}
