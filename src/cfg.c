/*
 * cfg.c - reading and checking the configuration file with libconfig.
 *
 * Loading never stops at the first problem: every error found is collected
 * (as "FILE:LINE: PATH: what is wrong"), so `multid -t` shows them all.
 */
#include <errno.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cfg_include.h"
#include "service.h"

#define CFG_ERRORS_MAX 64             /* stop collecting after this many */

/* One load in progress. */
struct cfg_ctx {
	struct cfg_errors *errs;      /* where messages go */
	const char        *path;      /* the main file */
	char               where[96]; /* key path of the current setting */
};

static void cfg_error(struct cfg_ctx *ctx, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Appends one message to errs (a copy). */
static void
cfg_errs_add(struct cfg_errors *errs, const char *msg)
{
	char **grown = realloc(errs->msg, (errs->n + 1) * sizeof(char *));

	if (grown == NULL)
		return;
	errs->msg = grown;
	if ((grown[errs->n] = strdup(msg)) != NULL)
		errs->n++;
}

/* Adds "FILE:LINE: WHERE: message" for setting s. */
static void
cfg_error(struct cfg_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;
	int n;
	va_list ap;

	if (ctx->errs->n >= CFG_ERRORS_MAX)
		return;
	if (s == NULL)
		n = snprintf(msg, sizeof(msg), "%s: ", ctx->path);
	else
		n = snprintf(msg, sizeof(msg), "%s:%u: %s%s",
		    file ? file : ctx->path, line, ctx->where,
		    ctx->where[0] ? ": " : "");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	cfg_errs_add(ctx->errs, msg);
}

void
cfg_errors_free(struct cfg_errors *errs)
{
	for (unsigned i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

const char *
cfg_key_kind_text(enum cfg_kind kind)
{
	switch (kind) {
	case CFG_INT:     return "an integer";
	case CFG_BOOL:    return "true or false";
	case CFG_STRING:  return "a string";
	case CFG_PATH:    return "a path string";
	case CFG_STRLIST: return "a list of strings";
	case CFG_ENUM:    return "one of the listed words";
	case CFG_GROUPLIST: return "a list of groups";
	}
	return "?";
}

static bool
cfg_is_list(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
}

/* Resolves a relative path against the directory of the file it was
 * written in, so a configuration can be moved with its files. */
static char *
cfg_resolve_path(const config_setting_t *s, const char *value)
{
	const char *file = config_setting_source_file(s);
	const char *slash = file ? strrchr(file, '/') : NULL;
	char *out;

	if (value[0] == '/' || slash == NULL)
		return strdup(value);
	if (asprintf(&out, "%.*s/%s", (int)(slash - file), file, value) < 0)
		return NULL;
	return out;
}

/* Reads a list of strings; checks the count against min..max. */
static bool
cfg_read_strlist(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_key *k, struct strlist *out)
{
	int n;

	if (!cfg_is_list(s)) {
		cfg_error(ctx, s, "expected %s", cfg_key_kind_text(CFG_STRLIST));
		return false;
	}
	n = config_setting_length(s);
	if (n < k->min || (k->max > 0 && n > k->max)) {
		cfg_error(ctx, s, "needs %lld to %lld entries", k->min, k->max);
		return false;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cfg_error(ctx, e, "expected %s",
			    cfg_key_kind_text(CFG_STRLIST));
			return false;
		}
	}
	out->v = calloc((size_t)n + 1, sizeof(char *));
	if (out->v == NULL)
		return false;
	for (int i = 0; i < n; i++)
		out->v[i] = strdup(config_setting_get_string_elem(s, i));
	out->n = (size_t)n;
	return true;
}

/* Checks one group of a group list: every member one of k's words, a
 * string, and every word present. */
static bool
cfg_check_row(struct cfg_ctx *ctx, const config_setting_t *g,
    const struct cfg_key *k)
{
	size_t nwords = 0;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cfg_error(ctx, g, "expected a group { ... }");
		return false;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		size_t w = 0;

		while (k->words[w] != NULL &&
		    strcmp(k->words[w], config_setting_name(m)) != 0)
			w++;
		if (k->words[w] == NULL) {
			cfg_error(ctx, m, "%s: unknown key", config_setting_name(m));
			return false;
		}
		if (config_setting_type(m) != CONFIG_TYPE_STRING) {
			cfg_error(ctx, m, "%s: expected a string", k->words[w]);
			return false;
		}
	}
	for (; k->words[nwords] != NULL; nwords++)
		if (config_setting_get_member(g, k->words[nwords]) == NULL) {
			cfg_error(ctx, g, "%s: missing", k->words[nwords]);
			return false;
		}
	return true;
}

/* Reads a list of groups of string keys into a strlist, row by row. */
static bool
cfg_read_grouplist(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_key *k, struct strlist *out)
{
	size_t nwords = 0, at = 0;
	int n;

	while (k->words[nwords] != NULL)
		nwords++;
	if (!cfg_is_list(s)) {
		cfg_error(ctx, s, "expected %s", cfg_key_kind_text(CFG_GROUPLIST));
		return false;
	}
	n = config_setting_length(s);
	if (n < k->min || (k->max > 0 && n > k->max)) {
		cfg_error(ctx, s, "needs %lld to %lld entries", k->min, k->max);
		return false;
	}
	for (int i = 0; i < n; i++)
		if (!cfg_check_row(ctx, config_setting_get_elem(s, (unsigned)i), k))
			return false;
	out->v = calloc((size_t)n * nwords + 1, sizeof(char *));
	if (out->v == NULL)
		return false;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, (unsigned)i);
		for (size_t w = 0; w < nwords; w++)
			out->v[at++] = strdup(config_setting_get_string(
			    config_setting_get_member(g, k->words[w])));
	}
	out->n = at;
	return true;
}

static void
strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Reads an integer key into a long, checking the range. */
static void
cfg_set_int(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_key *k, void *field)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		cfg_error(ctx, s, "expected %s", cfg_key_kind_text(k->kind));
		return;
	}
	v = config_setting_get_int64(s);
	if (v < k->min || v > k->max) {
		cfg_error(ctx, s, "%lld out of range (%lld..%lld)", v, k->min,
		    k->max);
		return;
	}
	*(long *)field = (long)v;
}

/* Reads a string, path or enum key. */
static void
cfg_set_string(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_key *k, void *field)
{
	const char *v;
	size_t len;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(ctx, s, "expected %s", cfg_key_kind_text(k->kind));
		return;
	}
	v = config_setting_get_string(s);
	len = strlen(v);
	if (k->kind == CFG_ENUM) {
		for (int i = 0; k->words[i] != NULL; i++)
			if (strcmp(k->words[i], v) == 0) {
				*(int *)field = i;
				return;
			}
		cfg_error(ctx, s, "unknown value \"%s\"", v);
		return;
	}
	if ((long long)len < k->min || (k->max > 0 && (long long)len > k->max)) {
		cfg_error(ctx, s, "length must be %lld to %lld bytes", k->min,
		    k->max);
		return;
	}
	free(*(char **)field);
	*(char **)field = k->kind == CFG_PATH ? cfg_resolve_path(s, v) :
	    strdup(v);
}

/* The generic setter: stores setting s as key k says, into conf. */
static void
cfg_set_key(struct cfg_ctx *ctx, const config_setting_t *s,
    const struct cfg_key *k, void *conf)
{
	void *field = (char *)conf + k->offset;

	switch (k->kind) {
	case CFG_INT:
		cfg_set_int(ctx, s, k, field);
		break;
	case CFG_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			cfg_error(ctx, s, "expected %s", cfg_key_kind_text(k->kind));
		else
			*(bool *)field = config_setting_get_bool(s) != 0;
		break;
	case CFG_STRING:
	case CFG_PATH:
	case CFG_ENUM:
		cfg_set_string(ctx, s, k, field);
		break;
	case CFG_STRLIST:
	case CFG_GROUPLIST: {
		struct strlist l = { 0, NULL };
		if (k->kind == CFG_STRLIST ? cfg_read_strlist(ctx, s, k, &l) :
		    cfg_read_grouplist(ctx, s, k, &l)) {
			strlist_free(field);
			*(struct strlist *)field = l;
		}
		break;
	}
	}
}

/* Gives a copied type struct its own copies of the default strings. */
static void
cfg_dup_defaults(const struct cfg_key *keys, void *conf)
{
	for (const struct cfg_key *k = keys; k && k->name; k++) {
		void *field = (char *)conf + k->offset;
		if ((k->kind == CFG_STRING || k->kind == CFG_PATH) &&
		    *(char **)field != NULL) {
			*(char **)field = strdup(*(char **)field);
		} else if (k->kind == CFG_STRLIST || k->kind == CFG_GROUPLIST) {
			struct strlist *l = field;
			char **v = calloc(l->n + 1, sizeof(char *));
			for (size_t i = 0; v != NULL && i < l->n; i++)
				v[i] = strdup(l->v[i]);
			l->v = v;
			if (v == NULL)
				l->n = 0;
		}
	}
}

/* Frees the strings a type struct holds, as its key table describes. */
static void
cfg_free_keys(const struct cfg_key *keys, void *conf)
{
	for (const struct cfg_key *k = keys; k && k->name; k++) {
		void *field = (char *)conf + k->offset;
		if (k->kind == CFG_STRING || k->kind == CFG_PATH)
			free(*(char **)field);
		else if (k->kind == CFG_STRLIST || k->kind == CFG_GROUPLIST)
			strlist_free(field);
	}
}

/* Keys of the daemon block. */
struct daemon_keys {
	char *user;                   /* daemon.user */
	long  max_connections;        /* daemon.max_connections */
	int   log_level;              /* daemon.log_level */
	long  shutdown_timeout;       /* daemon.shutdown_timeout */
};

static const char *const log_level_words[] = {
	"error", "warning", "notice", "info", "debug", NULL
};

static const struct cfg_key daemon_key_table[] = {
	{ "user", CFG_STRING, offsetof(struct daemon_keys, user), 1, 64, NULL },
	{ "max_connections", CFG_INT,
	  offsetof(struct daemon_keys, max_connections), 1, 1000000, NULL },
	{ "log_level", CFG_ENUM, offsetof(struct daemon_keys, log_level), 0, 0,
	  log_level_words },
	{ "shutdown_timeout", CFG_INT,
	  offsetof(struct daemon_keys, shutdown_timeout), 0, 3600, NULL },
	CFG_KEY_END
};

static const struct cfg_key *
cfg_find_key(const struct cfg_key *keys, const char *name)
{
	for (const struct cfg_key *k = keys; k && k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* Reads every member of group g through table keys into conf, except the
 * ones skip lists.  With strict, a member not in the table is an error;
 * otherwise it is left for another table. */
static void
cfg_read_group(struct cfg_ctx *ctx, const config_setting_t *g,
    const struct cfg_key *keys, void *conf, const char *prefix,
    const char *const *skip, bool strict)
{
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct cfg_key *k = cfg_find_key(keys, name);
		bool skipped = false;

		for (int j = 0; skip && skip[j]; j++)
			skipped |= strcmp(skip[j], name) == 0;
		if (skipped)
			continue;
		snprintf(ctx->where, sizeof(ctx->where), "%s.%s", prefix, name);
		if (k == NULL && strict)
			cfg_error(ctx, s, "unknown key");
		else if (k != NULL)
			cfg_set_key(ctx, s, k, conf);
	}
	ctx->where[0] = '\0';
}

static void
cfg_read_daemon(struct cfg_ctx *ctx, config_t *cf, struct daemon_conf *dc,
    unsigned flags)
{
	config_setting_t *g = config_lookup(cf, "daemon");
	struct daemon_keys dk = { NULL, 10000, LOG_LVL_INFO, 5 };

	if (g != NULL) {
		if (!config_setting_is_group(g))
			cfg_error(ctx, g, "daemon: expected a group { ... }");
		else
			cfg_read_group(ctx, g, daemon_key_table, &dk, "daemon",
			    NULL, true);
	}
	if ((flags & CFG_CHECK_USER) && dk.user != NULL &&
	    getpwnam(dk.user) == NULL) {
		snprintf(ctx->where, sizeof(ctx->where), "daemon.user");
		cfg_error(ctx, config_setting_lookup(g, "user"),
		    "user \"%s\" does not exist", dk.user);
		ctx->where[0] = '\0';
	}
	dc->user = dk.user;
	dc->max_connections = dk.max_connections;
	dc->log_level = dk.log_level;
	dc->shutdown_timeout = dk.shutdown_timeout;
}

/* Keys every service has; read by the core, not by the type's table. */
static const char *const common_keys[] = {
	"name", "type", "listen", "enabled", "max_connections", "per_source",
	"idle_timeout", "allow", "tls_certificate", "tls_key", "tls_protocols",
	"tls_ciphers", NULL
};

/* The TLS keys every stream service takes (SPEC 6), into its tls_conf. */
static const struct cfg_key tls_key_table[] = {
	{ "tls_certificate", CFG_PATH, offsetof(struct tls_conf, certificate),
	  1, 4096, NULL },
	{ "tls_key", CFG_PATH, offsetof(struct tls_conf, key), 1, 4096, NULL },
	{ "tls_protocols", CFG_STRING, offsetof(struct tls_conf, protocols), 1,
	  100, NULL },
	{ "tls_ciphers", CFG_STRING, offsetof(struct tls_conf, ciphers), 1,
	  4096, NULL },
	CFG_KEY_END
};

struct common_keys {
	bool enabled;                 /* enabled */
	long max_connections;         /* max_connections */
	long per_source;              /* per_source */
	long idle_timeout;            /* idle_timeout */
};

static const struct cfg_key common_key_table[] = {
	{ "enabled", CFG_BOOL, offsetof(struct common_keys, enabled), 0, 0, NULL },
	{ "max_connections", CFG_INT,
	  offsetof(struct common_keys, max_connections), 0, 1000000, NULL },
	{ "per_source", CFG_INT, offsetof(struct common_keys, per_source), 0,
	  1000000, NULL },
	{ "idle_timeout", CFG_INT, offsetof(struct common_keys, idle_timeout), 0,
	  86400 * 365, NULL },
	CFG_KEY_END
};

static bool
cfg_valid_name(const char *name)
{
	size_t len = strlen(name);

	return len >= 1 && len <= CFG_NAME_MAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Reads a required string member; reports it when missing. */
static const char *
cfg_required_string(struct cfg_ctx *ctx, const config_setting_t *g,
    const char *name, const char *prefix)
{
	const config_setting_t *s = config_setting_get_member(g, name);

	snprintf(ctx->where, sizeof(ctx->where), "%s.%s", prefix, name);
	if (s == NULL)
		cfg_error(ctx, g, "missing");
	else if (config_setting_type(s) != CONFIG_TYPE_STRING)
		cfg_error(ctx, s, "expected a string");
	ctx->where[0] = '\0';
	if (s == NULL || config_setting_type(s) != CONFIG_TYPE_STRING)
		return NULL;
	return config_setting_get_string(s);
}

/* Takes the address and protocol of one listen entry: a string, or a
 * group { address = "..."; protocol = "..."; }.  Returns the address
 * setting (for errors) and sets *uri and *proto, or NULL after an error. */
static const config_setting_t *
cfg_listen_entry(struct cfg_ctx *ctx, const config_setting_t *e,
    const char **uri, const char **proto)
{
	const config_setting_t *a, *p;

	*proto = "";
	if (config_setting_type(e) == CONFIG_TYPE_STRING) {
		*uri = config_setting_get_string(e);
		return e;
	}
	if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
		cfg_error(ctx, e, "expected a string or a group "
		    "{ address = \"...\"; protocol = \"...\"; }");
		return NULL;
	}
	for (int i = 0; i < config_setting_length(e); i++) {
		const char *key = config_setting_name(
		    config_setting_get_elem(e, (unsigned)i));
		if (strcmp(key, "address") != 0 && strcmp(key, "protocol") != 0) {
			cfg_error(ctx, config_setting_get_elem(e, (unsigned)i),
			    "%s: unknown key", key);
			return NULL;
		}
	}
	a = config_setting_get_member(e, "address");
	p = config_setting_get_member(e, "protocol");
	if (a == NULL || config_setting_type(a) != CONFIG_TYPE_STRING) {
		cfg_error(ctx, a != NULL ? a : e, "address: %s",
		    a == NULL ? "missing" : "expected a string");
		return NULL;
	}
	if (p != NULL && config_setting_type(p) != CONFIG_TYPE_STRING) {
		cfg_error(ctx, p, "protocol: expected a string");
		return NULL;
	}
	*uri = config_setting_get_string(a);
	if (p != NULL)
		*proto = config_setting_get_string(p);
	return a;
}

/* Finds the protocol a listen entry names among the type's; a UDP entry
 * speaks the default whatever it names, as its datagrams are already in
 * the course's form.  -1 after an error. */
static int
cfg_listen_protocol(struct cfg_ctx *ctx, const config_setting_t *e,
    const struct service_type *type, const struct listen_addr *la,
    const char *proto)
{
	int i;

	if (type == NULL)
		return 0;
	if ((i = service_protocol_find(type, proto)) < 0) {
		cfg_error(ctx, e, "type %s does not speak protocol \"%s\"",
		    type->name, proto);
		return -1;
	}
	return la->proto == PROTO_UDP ? 0 : i;
}

/* Reads listen = ( "tcp://...", { address = ...; protocol = ...; }, ... )
 * and checks each entry against what the type supports. */
static void
cfg_read_listen(struct cfg_ctx *ctx, const config_setting_t *g,
    struct svc_conf *sc, const char *prefix)
{
	const config_setting_t *s = config_setting_get_member(g, "listen");
	int n;

	snprintf(ctx->where, sizeof(ctx->where), "%s.listen", prefix);
	if (s == NULL) {
		cfg_error(ctx, g, "missing");
		goto out;
	}
	if (!cfg_is_list(s) || (n = config_setting_length(s)) < 1 ||
	    n > CFG_LISTEN_MAX) {
		cfg_error(ctx, s, "expected a list of 1 to %d \"tcp://HOST:PORT\""
		    " or \"udp://HOST:PORT\" entries", CFG_LISTEN_MAX);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct listen_addr *la = &sc->listen[sc->nlisten];
		const char *err, *uri, *proto;
		int pi;

		if ((e = cfg_listen_entry(ctx, e, &uri, &proto)) == NULL)
			continue;
		if ((err = addr_parse_listen(uri, la))) {
			cfg_error(ctx, e, "%s: %s", uri, err);
			continue;
		}
		if (sc->type != NULL && (sc->type->protos & la->proto) == 0) {
			cfg_error(ctx, e, "type %s has no %s service", sc->type->name,
			    la->proto == PROTO_TCP ? "tcp" : "udp");
			continue;
		}
		if ((pi = cfg_listen_protocol(ctx, e, sc->type, la, proto)) < 0)
			continue;
		la->protocol = (uint8_t)pi;
		for (unsigned j = 0; j < sc->nlisten; j++)
			if (addr_listen_conflict(&sc->listen[j], la))
				cfg_error(ctx, e, "%s: listed twice", uri);
		sc->nlisten++;
	}
out:
	ctx->where[0] = '\0';
}

static void
cfg_read_allow(struct cfg_ctx *ctx, const config_setting_t *g,
    struct svc_conf *sc, const char *prefix)
{
	const config_setting_t *s = config_setting_get_member(g, "allow");
	int n;

	if (s == NULL)
		return;
	snprintf(ctx->where, sizeof(ctx->where), "%s.allow", prefix);
	if (!cfg_is_list(s) || (n = config_setting_length(s)) > 1024) {
		cfg_error(ctx, s, "expected a list of networks, e.g. "
		    "( \"127.0.0.0/8\", \"::1/128\" )");
		goto out;
	}
	sc->allow = calloc((size_t)n + 1, sizeof(*sc->allow));
	for (int i = 0; sc->allow != NULL && i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *err;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			cfg_error(ctx, e, "expected a string");
		else if ((err = addr_parse_cidr(config_setting_get_string(e),
		    &sc->allow[sc->nallow])) != NULL)
			cfg_error(ctx, e, "%s: %s", config_setting_get_string(e), err);
		else
			sc->nallow++;
	}
out:
	ctx->where[0] = '\0';
}

/* Creates the type's config struct with defaults and reads its keys. */
static void
cfg_read_type_keys(struct cfg_ctx *ctx, const config_setting_t *g,
    struct svc_conf *sc, const char *prefix)
{
	const struct service_type *t = sc->type;
	const char *err;

	sc->tconf = calloc(1, t->conf_size ? t->conf_size : 1);
	if (sc->tconf == NULL)
		return;
	if (t->conf_defaults != NULL)
		memcpy(sc->tconf, t->conf_defaults, t->conf_size);
	cfg_dup_defaults(t->keys, sc->tconf);
	cfg_read_group(ctx, g, t->keys, sc->tconf, prefix, common_keys, true);
	if (t->configure != NULL && (err = t->configure(sc)) != NULL) {
		snprintf(ctx->where, sizeof(ctx->where), "%s", prefix);
		cfg_error(ctx, g, "%s", err);
		ctx->where[0] = '\0';
	}
}

/* Reads the TLS keys and, for a service with a tls:// entry or a
 * certificate, loads them: -t checks the files, and they are read before
 * privileges are dropped (and again by every reload). */
static void
cfg_read_tls(struct cfg_ctx *ctx, const config_setting_t *g,
    struct svc_conf *sc, const char *prefix)
{
	bool tls = false;
	const char *err;
	char why[600];

	cfg_read_group(ctx, g, tls_key_table, &sc->tls, prefix, NULL, false);
	for (unsigned i = 0; i < sc->nlisten; i++)
		tls |= sc->listen[i].tls;
	snprintf(ctx->where, sizeof(ctx->where), "%s", prefix);
	if (sc->tls.protocols != NULL &&
	    (err = tls_protocols_check(sc->tls.protocols)) != NULL) {
		cfg_error(ctx, config_setting_get_member(g, "tls_protocols"),
		    "tls_protocols: %s", err);
	} else if (tls && (sc->tls.certificate == NULL || sc->tls.key == NULL)) {
		cfg_error(ctx, g, "%s: required with a tls:// entry",
		    sc->tls.certificate == NULL ? "tls_certificate" : "tls_key");
	} else if (sc->tls.certificate != NULL && sc->tls.key == NULL) {
		cfg_error(ctx, g, "tls_key: required with tls_certificate");
	} else if (sc->tls.certificate != NULL && ctx->errs->n == 0 &&
	    tls_conf_load(&sc->tls, sc->type ? sc->type->alpn : NULL, why,
	    sizeof(why)) != 0) {
		cfg_error(ctx, config_setting_get_member(g, "tls_certificate"),
		    "%s", why);
	}
	ctx->where[0] = '\0';
}

/* Reads one element of services = ( ... ). */
static struct svc_conf *
cfg_read_service(struct cfg_ctx *ctx, const config_setting_t *g, int index)
{
	struct svc_conf *sc = calloc(1, sizeof(*sc));
	struct common_keys ck = { true, 0, 0, -1 };
	char prefix[32];
	const char *name, *type;

	if (sc == NULL)
		return NULL;
	sc->refs = 1;
	sc->file = strdup(config_setting_source_file(g) ?
	    config_setting_source_file(g) : ctx->path);
	sc->line = (int)config_setting_source_line(g);
	snprintf(prefix, sizeof(prefix), "services.[%d]", index);
	if (!config_setting_is_group(g)) {
		cfg_error(ctx, g, "%s: expected a group { ... }", prefix);
		return sc;
	}
	name = cfg_required_string(ctx, g, "name", prefix);
	if (name != NULL && !cfg_valid_name(name)) {
		snprintf(ctx->where, sizeof(ctx->where), "%s.name", prefix);
		cfg_error(ctx, config_setting_get_member(g, "name"),
		    "\"%s\" is not [a-z0-9_-]{1,32}", name);
		ctx->where[0] = '\0';
	}
	sc->name = strdup(name ? name : "?");
	type = cfg_required_string(ctx, g, "type", prefix);
	if (type != NULL && (sc->type = service_type_find(type)) == NULL) {
		snprintf(ctx->where, sizeof(ctx->where), "%s.type", prefix);
		cfg_error(ctx, config_setting_get_member(g, "type"),
		    "unknown type \"%s\"", type);
		ctx->where[0] = '\0';
	}
	cfg_read_listen(ctx, g, sc, prefix);
	cfg_read_allow(ctx, g, sc, prefix);
	cfg_read_group(ctx, g, common_key_table, &ck, prefix, NULL, false);
	if (sc->type != NULL)
		cfg_read_type_keys(ctx, g, sc, prefix);
	cfg_read_tls(ctx, g, sc, prefix);
	sc->enabled = ck.enabled;
	sc->max_connections = ck.max_connections;
	sc->per_source = ck.per_source;
	sc->idle_timeout = ck.idle_timeout >= 0 ? ck.idle_timeout :
	    sc->type ? sc->type->idle_timeout : 300;
	return sc;
}

/* Reports two enabled services with the same name or overlapping listen
 * entries; elems[i] is the group of service i, in whichever file. */
static void
cfg_check_unique(struct cfg_ctx *ctx, config_setting_t **elems,
    struct daemon_conf *dc)
{
	for (unsigned i = 0; i < dc->nservices; i++) {
		struct svc_conf *a = dc->services[i];
		config_setting_t *g = elems[i];

		for (unsigned j = 0; j < i; j++) {
			struct svc_conf *b = dc->services[j];

			snprintf(ctx->where, sizeof(ctx->where), "services.[%d]",
			    config_setting_index(g));
			if (strcmp(a->name, b->name) == 0)
				cfg_error(ctx, g, "name \"%s\" is used twice (first "
				    "at %s:%d)", a->name, b->file, b->line);
			if (!a->enabled || !b->enabled)
				continue;
			for (unsigned x = 0; x < a->nlisten; x++)
				for (unsigned y = 0; y < b->nlisten; y++) {
					char text[ADDR_TEXT_MAX + 8];
					if (!addr_listen_conflict(&a->listen[x],
					    &b->listen[y]))
						continue;
					addr_listen_text(&a->listen[x], text,
					    sizeof(text));
					cfg_error(ctx, g, "%s is also used by service "
					    "\"%s\"", text, b->name);
				}
		}
	}
	ctx->where[0] = '\0';
}

/* Reads services = ( ... ) of every file, joined in the order read. */
static void
cfg_read_services(struct cfg_ctx *ctx, const struct cfg_files *files,
    struct daemon_conf *dc)
{
	unsigned n, nset;
	config_setting_t **elems = cfg_include_join(files, "services", &n,
	    &nset, ctx->errs);

	if (elems == NULL)
		return;
	if (nset == 0)
		cfg_error(ctx, config_root_setting(&files->main->cf),
		    "services: missing");
	dc->services = calloc((size_t)n + 1, sizeof(*dc->services));
	for (unsigned i = 0; dc->services != NULL && i < n; i++) {
		struct svc_conf *sc = cfg_read_service(ctx, elems[i],
		    config_setting_index(elems[i]));
		if (sc != NULL)
			dc->services[dc->nservices++] = sc;
	}
	cfg_check_unique(ctx, elems, dc);
	free(elems);
}

/* Reports top-level settings other than daemon and services. */
static void
cfg_check_top(struct cfg_ctx *ctx, config_t *cf)
{
	config_setting_t *root = config_root_setting(cf);
	int n = config_setting_length(root);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		if (strcmp(name, "daemon") != 0 && strcmp(name, "services") != 0)
			cfg_error(ctx, s, "%s: unknown key", name);
	}
}

/* The main file and the files it includes are read by cfg_include.c,
 * each with its own config_t; daemon may be set in one of them, and the
 * services of all are joined. */
struct daemon_conf *
cfg_load(const char *path, unsigned flags, struct cfg_errors *errs)
{
	struct cfg_ctx ctx = { errs, path, "" };
	struct daemon_conf *dc = calloc(1, sizeof(*dc));
	struct cfg_files files;
	struct cfg_file *daemon;

	errs->n = 0;
	errs->msg = NULL;
	if (dc == NULL)
		return NULL;
	dc->path = strdup(path);
	if (cfg_include_read(path, &files, errs) == 0 && files.main != NULL) {
		for (unsigned i = 0; i < files.n; i++)
			cfg_check_top(&ctx, &files.v[i]->cf);
		daemon = cfg_include_once(&files, "daemon", errs);
		cfg_read_daemon(&ctx, daemon ? &daemon->cf : &files.main->cf, dc,
		    flags);
		cfg_read_services(&ctx, &files, dc);
	}
	cfg_include_free(&files);
	if (errs->n > 0) {
		cfg_free(dc);
		return NULL;
	}
	return dc;
}

struct svc_conf *
svc_conf_ref(struct svc_conf *sc)
{
	sc->refs++;
	return sc;
}

void
svc_conf_unref(struct svc_conf *sc)
{
	if (sc == NULL || --sc->refs > 0)
		return;
	if (sc->tconf != NULL && sc->type != NULL) {
		if (sc->type->conf_free != NULL)
			sc->type->conf_free(sc->tconf);
		cfg_free_keys(sc->type->keys, sc->tconf);
	}
	free(sc->tconf);
	tls_conf_free(&sc->tls);
	free(sc->allow);
	free(sc->name);
	free(sc->file);
	free(sc);
}

void
cfg_free(struct daemon_conf *dc)
{
	if (dc == NULL)
		return;
	for (unsigned i = 0; i < dc->nservices; i++)
		svc_conf_unref(dc->services[i]);
	free(dc->services);
	free(dc->user);
	free(dc->path);
	free(dc);
}
