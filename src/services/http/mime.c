/*
 * mime.c - media types by file name extension (see mime.h).
 *
 * The core's hash table (hash.h) of lower-case extensions, filled once
 * and kept for the life of the process.
 * The first mapping of an extension in the file wins, as in Apache and
 * nginx.  Text types are declared UTF-8: the sources and pages a
 * developer browses are, and without it a browser guesses Latin-1.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../hash.h"
#include "mime.h"

#define MIME_FILE      "/etc/mime.types"
#define MIME_ENTRIES   4096          /* extensions kept at most */
#define MIME_EXT_MAX   15            /* longest extension kept */
#define MIME_DEFAULT   "application/octet-stream"

/* One extension and its type. */
struct mime_entry {
	struct hash_node node;                  /* in mime_table */
	const char      *type;                  /* the Content-Type value,
	                                           shared by a line's
	                                           extensions */
	size_t           len;                   /* bytes in ext */
	char             ext[MIME_EXT_MAX + 1]; /* lower-case extension */
};

/* What a lookup carries. */
struct mime_key {
	const char *ext;              /* lower-case extension */
	size_t      len;              /* its bytes */
};

static struct hash_table mime_table = HASH_TABLE_INIT; /* by extension */
static unsigned mime_count;                     /* entries in it */
static bool mime_loaded;                        /* mime_init ran */

/* Used when /etc/mime.types cannot be read. */
static const char *const mime_builtin[][2] = {
	{ "text/html", "html htm" },
	{ "text/css", "css" },
	{ "text/javascript", "js mjs" },
	{ "text/plain", "txt text log conf" },
	{ "text/markdown", "md markdown" },
	{ "text/x-csrc", "c" },
	{ "text/x-chdr", "h" },
	{ "text/x-python", "py" },
	{ "application/json", "json" },
	{ "application/xml", "xml" },
	{ "application/pdf", "pdf" },
	{ "application/wasm", "wasm" },
	{ "application/zip", "zip" },
	{ "application/gzip", "gz" },
	{ "application/x-tar", "tar" },
	{ "image/png", "png" },
	{ "image/jpeg", "jpg jpeg" },
	{ "image/gif", "gif" },
	{ "image/webp", "webp" },
	{ "image/svg+xml", "svg" },
	{ "image/vnd.microsoft.icon", "ico" },
	{ "font/woff", "woff" },
	{ "font/woff2", "woff2" },
	{ "audio/mpeg", "mp3" },
	{ "audio/ogg", "ogg" },
	{ "video/mp4", "mp4" },
	{ "video/webm", "webm" },
};

/* Copies an extension in lower case; false when it is too long. */
static bool
mime_lower(const char *ext, size_t len, char *out)
{
	if (len == 0 || len > MIME_EXT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)ext[i]);
	out[len] = '\0';
	return true;
}

static bool
mime_match(const struct hash_node *node, const void *key)
{
	const struct mime_entry *e = HASH_ENTRY(node, struct mime_entry, node);
	const struct mime_key *k = key;

	return e->len == k->len && memcmp(e->ext, k->ext, k->len) == 0;
}

/* The entry of a lower-case extension, or NULL. */
static const struct mime_entry *
mime_find(const char *ext, size_t len)
{
	struct mime_key k = { ext, len };
	struct hash_node *n = hash_find(&mime_table, hash_bytes(ext, len), &k,
	    mime_match);

	return n != NULL ? HASH_ENTRY(n, struct mime_entry, node) : NULL;
}

/* Makes the Content-Type value once per type line. */
static const char *
mime_value(const char *type)
{
	char *v;

	if (strncmp(type, "text/", 5) != 0)
		return strdup(type);
	if (asprintf(&v, "%s; charset=utf-8", type) < 0)
		return NULL;
	return v;
}

/* Adds every extension of a whitespace-separated list. */
static void
mime_add(const char *type, char *exts)
{
	const char *value = NULL;
	char *save = NULL, lower[MIME_EXT_MAX + 1];

	for (char *e = strtok_r(exts, " \t\r\n", &save); e != NULL;
	    e = strtok_r(NULL, " \t\r\n", &save)) {
		struct mime_entry *m;
		size_t len = strlen(e);

		if (!mime_lower(e, len, lower) || mime_count >= MIME_ENTRIES ||
		    mime_find(lower, len) != NULL)
			continue;
		if (value == NULL && (value = mime_value(type)) == NULL)
			return;
		if ((m = malloc(sizeof(*m))) == NULL)
			return;
		memcpy(m->ext, lower, len + 1);
		m->len = len;
		m->type = value;
		if (hash_add(&mime_table, &m->node, hash_bytes(lower, len)) != 0) {
			free(m);
			return;
		}
		mime_count++;
	}
}

static bool
mime_load_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char line[1024];

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *type = line + strspn(line, " \t");
		char *end = type + strcspn(type, " \t\r\n");
		if (*type == '#' || *end == '\0' || *end == '\n' || *end == '\r')
			continue;
		*end = '\0';
		mime_add(type, end + 1);
	}
	fclose(f);
	return mime_count > 0;
}

void
mime_init(void)
{
	if (mime_loaded)
		return;
	mime_loaded = true;
	if (mime_load_file(MIME_FILE))
		return;
	for (size_t i = 0; i < sizeof(mime_builtin) / sizeof(mime_builtin[0]); i++) {
		char exts[64];
		snprintf(exts, sizeof(exts), "%s", mime_builtin[i][1]);
		mime_add(mime_builtin[i][0], exts);
	}
}

const char *
mime_type(const char *name, size_t len)
{
	const char *dot = memrchr(name, '.', len);
	char lower[MIME_EXT_MAX + 1];
	const struct mime_entry *m;
	size_t elen;

	mime_init();
	if (dot == NULL || dot == name)
		return MIME_DEFAULT;
	elen = len - (size_t)(dot + 1 - name);
	if (!mime_lower(dot + 1, elen, lower))
		return MIME_DEFAULT;
	m = mime_find(lower, elen);
	return m != NULL ? m->type : MIME_DEFAULT;
}
