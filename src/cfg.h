/*
 * cfg.h - reading and checking the configuration file.
 *
 * The daemon block and the keys every service shares are read by the core.
 * Each service type declares its own keys as a table of struct cfg_key
 * (name, kind, range, where the value goes), like nginx's ngx_command_t,
 * and the generic setters here fill the type's config struct from it.
 * Every error names FILE:LINE, the key's path and what is wrong.
 */
#ifndef MULTID_CFG_H
#define MULTID_CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "tls.h"

#define CFG_LISTEN_MAX 16             /* listen entries per service */
#define CFG_NAME_MAX   32             /* longest service name */

enum cfg_kind {
	CFG_INT,                      /* long; range min..max */
	CFG_BOOL,                     /* bool */
	CFG_STRING,                   /* char *; length min..max (max 0: any) */
	CFG_PATH,                     /* char *; relative to the config file */
	CFG_STRLIST,                  /* struct strlist; entries min..max */
	CFG_ENUM,                     /* int: index into words */
	CFG_GROUPLIST,                /* struct strlist: a list of groups
	                                 { KEY = "..."; ... } whose string keys
	                                 are the words, all required, stored
	                                 row by row (n = rows * words);
	                                 rows min..max */
};

struct cfg_key {
	const char        *name;      /* the key as written in the file */
	enum cfg_kind      kind;      /* what value it takes */
	size_t             offset;    /* where it goes in the config struct */
	long long          min, max;  /* range, see enum cfg_kind */
	const char *const *words;     /* CFG_ENUM: the allowed words, NULL-ended */
};

#define CFG_KEY_END { NULL, 0, 0, 0, 0, NULL }

struct strlist {
	size_t  n;                    /* entries */
	char  **v;                    /* the strings */
};

struct service_type;

/* One service's configuration.  Connections hold a reference, so a reload
 * that changes a type key applies to new connections only. */
struct svc_conf {
	unsigned                   refs;          /* holders */
	char                      *name;          /* unique service name */
	const struct service_type *type;          /* the plug-in */
	struct listen_addr         listen[CFG_LISTEN_MAX]; /* where it listens */
	unsigned                   nlisten;       /* entries in listen */
	bool                       enabled;       /* false: configured, not run */
	long                       max_connections; /* own TCP limit, 0 = none */
	long                       per_source;    /* per client IP, 0 = none */
	long                       idle_timeout;  /* seconds, 0 = never */
	struct cidr               *allow;         /* allowed networks or NULL */
	unsigned                   nallow;        /* entries in allow */
	void                      *tconf;         /* the type's own struct */
	struct tls_conf            tls;           /* its TLS keys and context */
	char                      *file;          /* where it was defined */
	int                        line;          /* line of its group */
};

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_NOTICE,
	LOG_LVL_INFO, LOG_LVL_DEBUG };

struct daemon_conf {
	char             *path;              /* the file that was read */
	char             *user;              /* drop privileges to it, or NULL */
	long              max_connections;   /* daemon-wide TCP limit */
	int               log_level;         /* enum log_level */
	long              shutdown_timeout;  /* seconds */
	struct svc_conf **services;          /* every service, enabled or not */
	unsigned          nservices;         /* entries in services */
};

/* Error messages from a failed load, one per line. */
struct cfg_errors {
	char   **msg;                 /* the messages */
	unsigned n;                   /* how many */
};

/* What cfg_load checks beyond the file itself. */
#define CFG_CHECK_USER 1              /* daemon.user must exist */

/* Reads and checks path; returns the configuration, or NULL with errors.
 * Without CFG_CHECK_USER a missing user is left for the start to report
 * (SPEC: exit 3 at start, but 1 for -t). */
struct daemon_conf *cfg_load(const char *path, unsigned flags,
    struct cfg_errors *errs);
void cfg_free(struct daemon_conf *dc);
void cfg_errors_free(struct cfg_errors *errs);

struct svc_conf *svc_conf_ref(struct svc_conf *sc);
void svc_conf_unref(struct svc_conf *sc);

/* Says what a key of this kind takes, e.g. "an integer". */
const char *cfg_key_kind_text(enum cfg_kind kind);

#endif
