/*
 * log.h - the daemon's own log lines on stderr.
 *
 * When systemd's JOURNAL_STREAM says stderr is the journal, each line
 * starts with its syslog priority ("<6>"), so journald files it right.
 */
#ifndef MULTID_LOG_H
#define MULTID_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfg.h"

void log_init(void);
void log_set_level(int level);
void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap);
/* Like log_msg, but printed whatever the log level (start-up lines that
 * scripts read, such as "NAME listening on ..."). */
void log_always(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Error lines services have written with svc_log (declared in service.h,
 * where every service finds it) since the start: a caller that compares
 * the count before and after a hook knows whether the hook said why it
 * failed. */
unsigned long svc_log_errors(void);

/* At most one line a second for errors that repeat (a failing disk under
 * load would otherwise write one per request). */
struct log_limit {
	int64_t       last_ms;        /* when a line last passed */
	unsigned long held;           /* lines held back since */
};
/* True when a line may be written at now_ms; *held then tells how many
 * were held back before it. */
bool log_limit_pass(struct log_limit *l, int64_t now_ms, unsigned long *held);

#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
