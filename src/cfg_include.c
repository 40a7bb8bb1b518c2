/*
 * cfg_include.c - the files of one configuration: @include and conf.d.
 *
 * Why not libconfig's own @include: the libconfig of Debian 12 (1.5) joins
 * a relative FILE to one include directory for the whole load (so not to
 * the directory of the including file), cannot take an absolute FILE once
 * that directory is set, has no globs, names an included setting by FILE
 * as written rather than by the path it opened, and splices the text in
 * place, so two files cannot each hold services = ( ... ).  The include
 * hook that would fix this (config_set_include_func) came in 1.7.
 *
 * So multid reads every file itself.  A file's text is scanned for the
 * @include lines libconfig would act on; each is overwritten with spaces
 * (its newline kept, so every other line keeps its number), and the text
 * is then parsed with its own config_t.  An @include at the top level
 * reads the files it names the same way, recursively; one inside a group
 * or list is an error, as a file is parsed as a whole and cannot be
 * spliced into another's group (an included file holds its own
 * services = ( ... ); instead, which is how conf.d directories are used).
 * Text parsed from memory has no file name in libconfig 1.5, so every
 * setting is stamped with the path of its file after parsing: errors,
 * relative paths and svc_conf.file then work as for the main file.
 *
 * The order read is the order of the text: a file's @include lines above
 * its services list come before its own services, the others after.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cfg_include.h"

#define CFG_INCLUDE_ERRORS_MAX 64     /* stop collecting after this many */

/* One load in progress. */
struct cfg_reader {
	struct cfg_files  *files;     /* where parsed files go */
	struct cfg_errors *errs;      /* where problems go */
	dev_t dev[CFG_INCLUDE_DEPTH + 1]; /* files being read, outermost first */
	ino_t ino[CFG_INCLUDE_DEPTH + 1]; /* their inode numbers */
	unsigned           depth;     /* entries in dev and ino */
	unsigned           nread;     /* files opened so far */
	int                err;       /* 0, -EINVAL or -ENOMEM */
};

/* Where an @include was written; NULL for the main file. */
struct cfg_site {
	const char *file;             /* the including file */
	int         line;             /* the line of the @include */
	const char *name;             /* FILE as written */
};

static void cfg_include_report(struct cfg_errors *errs, const char *file,
    int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void cfg_include_fail(struct cfg_reader *r, const struct cfg_site *site,
    const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cfg_include_file(struct cfg_reader *r, const char *path,
    const struct cfg_site *site);

/* Adds "FILE:LINE: message" (or "FILE: message" without a line). */
static void
cfg_include_vreport(struct cfg_errors *errs, const char *file, int line,
    const char *fmt, va_list ap)
{
	char msg[768], **grown;
	int n;

	if (errs->n >= CFG_INCLUDE_ERRORS_MAX)
		return;
	if (line > 0)
		n = snprintf(msg, sizeof(msg), "%s:%d: ", file, line);
	else
		n = snprintf(msg, sizeof(msg), "%s: ", file);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = (int)sizeof(msg) - 1;
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	if ((grown = realloc(errs->msg, (errs->n + 1) * sizeof(char *))) == NULL)
		return;
	errs->msg = grown;
	if ((grown[errs->n] = strdup(msg)) != NULL)
		errs->n++;
}

static void
cfg_include_report(struct cfg_errors *errs, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_include_vreport(errs, file, line, fmt, ap);
	va_end(ap);
}

/* Reports a problem with the file at path: "PATH: message" for the main
 * file, "FILE:LINE: @include "NAME": PATH: message" at the @include that
 * names an included one. */
static void
cfg_include_fail(struct cfg_reader *r, const struct cfg_site *site,
    const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (r->err == 0)
		r->err = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (site != NULL)
		cfg_include_report(r->errs, site->file, site->line,
		    "@include \"%s\": %s: %s", site->name, path, msg);
	else
		cfg_include_report(r->errs, path, 0, "%s", msg);
}

/* --- finding the directives ------------------------------------------ */

/* Matches libconfig's `^[ \t]*@include[ \t]+"` at p, the start of a
 * line; returns what follows the opening quote, or NULL. */
static char *
cfg_include_opening(char *p)
{
	p += strspn(p, " \t");
	if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return NULL;
	p += 8;
	p += strspn(p, " \t");
	return *p == '"' ? p + 1 : NULL;
}

/* Takes the name of the directive that starts at line and whose name
 * starts at p, undoing \\ and \" as libconfig does, into d; blanks the
 * directive up to its closing quote (to the end of the line when it has
 * none).  Returns where scanning goes on, or NULL when out of memory. */
static char *
cfg_include_take(char *line, char *p, struct cfg_directive *d)
{
	char *name = malloc(strcspn(p, "\n") + 1);
	size_t k = 0;

	if (name == NULL)
		return NULL;
	while (*p != '\0' && *p != '\n' && *p != '"') {
		if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
		name[k++] = *p++;
	}
	name[k] = '\0';
	if (*p == '"') {
		d->name = name;
		p++;
	} else {
		free(name);
	}
	memset(line, ' ', (size_t)(p - line));
	return p;
}

/* Appends an empty directive at line; NULL when out of memory. */
static struct cfg_directive *
cfg_include_add(struct cfg_scan *out, int line, bool top)
{
	struct cfg_directive *grown;

	if ((out->n & (out->n - 1)) == 0) {
		grown = realloc(out->v, (out->n ? 2 * out->n : 1) * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		out->v = grown;
	}
	grown = &out->v[out->n++];
	grown->name = NULL;
	grown->line = line;
	grown->top = top;
	return grown;
}

int
cfg_include_scan(char *text, struct cfg_scan *out)
{
	enum { CODE, STRING, COMMENT } state = CODE;
	int line = 1, depth = 0;
	char *p = text, *name;
	struct cfg_directive *d;

	out->v = NULL;
	out->n = 0;
	while (*p != '\0') {
		if (state == CODE && (p == text || p[-1] == '\n') &&
		    (name = cfg_include_opening(p)) != NULL) {
			if ((d = cfg_include_add(out, line, depth == 0)) == NULL ||
			    (p = cfg_include_take(p, name, d)) == NULL) {
				cfg_include_scan_free(out);
				return -ENOMEM;
			}
			continue;
		}
		if (state == CODE) {
			if (*p == '"')
				state = STRING;
			else if (*p == '#' || (*p == '/' && p[1] == '/')) {
				p = strchrnul(p, '\n');
				continue;
			} else if (*p == '/' && p[1] == '*') {
				state = COMMENT;
				p++;
			} else if (strchr("{([", *p) != NULL)
				depth++;
			else if (strchr("})]", *p) != NULL && depth > 0)
				depth--;
		} else if (state == STRING) {
			if (*p == '\\' && p[1] != '\0')
				line += *++p == '\n';
			else if (*p == '"')
				state = CODE;
		} else if (*p == '*' && p[1] == '/') {
			state = CODE;
			p++;
		}
		line += *p == '\n';
		p++;
	}
	return 0;
}

void
cfg_include_scan_free(struct cfg_scan *scan)
{
	for (unsigned i = 0; i < scan->n; i++)
		free(scan->v[i].name);
	free(scan->v);
	scan->v = NULL;
	scan->n = 0;
}

char *
cfg_include_resolve(const char *from, const char *name, bool glob)
{
	const char *slash = strrchr(from, '/');
	size_t dirlen;
	char *out, *o;

	if (name[0] == '/' || slash == NULL)
		return strdup(name);
	dirlen = (size_t)(slash - from) + 1;
	if ((out = malloc(2 * dirlen + strlen(name) + 1)) == NULL)
		return NULL;
	o = out;
	for (size_t i = 0; i < dirlen; i++) {
		if (glob && strchr("*?[\\", from[i]) != NULL)
			*o++ = '\\';
		*o++ = from[i];
	}
	strcpy(o, name);
	return out;
}

/* --- reading the files ------------------------------------------------ */

/* Reads all of fd (at most CFG_INCLUDE_SIZE bytes) into a new NUL-ended
 * string; *len is its length.  0 or -errno. */
static int
cfg_include_slurp(int fd, char **text, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *grown;
	ssize_t got;

	while (buf != NULL) {
		if (n + 1 == cap) {
			if (cap > CFG_INCLUDE_SIZE)
				break;
			if ((grown = realloc(buf, 2 * cap)) == NULL)
				break;
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = -errno;
			free(buf);
			return err;
		}
		if (got == 0) {
			buf[n] = '\0';
			*text = buf;
			*len = n;
			return 0;
		}
		n += (size_t)got;
	}
	free(buf);
	return buf == NULL || cap <= CFG_INCLUDE_SIZE ? -ENOMEM : -EFBIG;
}

/* Opens path for reading and checks it may be read here: not a
 * directory, a regular file when included, not already being read (an
 * include loop).  The descriptor, or -1 after a report. */
static int
cfg_include_open(struct cfg_reader *r, const char *path,
    const struct cfg_site *site, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *why = NULL;

	if (fd < 0 || fstat(fd, st) != 0) {
		cfg_include_fail(r, site, path, "cannot read: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st->st_mode))
		why = "cannot read: Is a directory";
	else if (site != NULL && !S_ISREG(st->st_mode))
		why = "not a regular file";
	for (unsigned i = 0; why == NULL && i < r->depth; i++)
		if (r->dev[i] == st->st_dev && r->ino[i] == st->st_ino)
			why = "an include loop: this file is already being read";
	if (why == NULL)
		return fd;
	close(fd);
	cfg_include_fail(r, site, path, "%s", why);
	return -1;
}

/* Names the file in s and every setting below it.  libconfig 1.5 names
 * no file for text parsed from memory; the field is public in
 * libconfig.h (config_setting_source_file reads it) and libconfig never
 * frees it, so it may point at the cfg_file's path, which outlives the
 * tree.  The nesting is bounded by libconfig's parser stack. */
static void
cfg_include_stamp(config_setting_t *s, const char *path)
{
	s->file = path;
	if (!config_setting_is_aggregate(s))
		return;
	for (int i = 0; i < config_setting_length(s); i++)
		cfg_include_stamp(config_setting_get_elem(s, (unsigned)i), path);
}

static void
cfg_include_file_free(struct cfg_file *f)
{
	if (f == NULL)
		return;
	config_destroy(&f->cf);
	free(f->path);
	free(f);
}

/* Parses text as the file path; NULL after a report. */
static struct cfg_file *
cfg_include_parse(struct cfg_reader *r, const char *path, const char *text)
{
	struct cfg_file *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		r->err = -ENOMEM;
		return NULL;
	}
	config_init(&f->cf);
	if (config_read_string(&f->cf, text) != CONFIG_TRUE) {
		if (r->err == 0)
			r->err = -EINVAL;
		cfg_include_report(r->errs, path, config_error_line(&f->cf), "%s",
		    config_error_text(&f->cf) ? config_error_text(&f->cf) :
		    "syntax error");
		cfg_include_file_free(f);
		return NULL;
	}
	cfg_include_stamp(config_root_setting(&f->cf), f->path);
	return f;
}

/* Appends f to the files read (or frees it when out of memory).  0 or
 * -ENOMEM. */
static int
cfg_include_append(struct cfg_reader *r, struct cfg_file *f)
{
	struct cfg_files *files = r->files;
	struct cfg_file **grown;

	grown = realloc(files->v, (files->n + 1) * sizeof(*grown));
	if (grown == NULL) {
		r->err = -ENOMEM;
		cfg_include_file_free(f);
		return -ENOMEM;
	}
	files->v = grown;
	files->v[files->n++] = f;
	return 0;
}

/* What stopped the last glob: glob(3) passes its error function no
 * context of ours, and configurations are loaded by one thread. */
static __thread int  cfg_glob_errno;             /* errno, or 0 */
static __thread char cfg_glob_epath[PATH_MAX];   /* the directory */

/* Stops a glob at a directory that exists but cannot be read, so that a
 * conf.d with the wrong mode is not taken for an empty one. */
static int
cfg_include_glob_error(const char *epath, int eerrno)
{
	if (eerrno == ENOENT || eerrno == ENOTDIR)
		return 0;
	cfg_glob_errno = eerrno;
	snprintf(cfg_glob_epath, sizeof(cfg_glob_epath), "%s", epath);
	return 1;
}

/* Reads every file one top-level @include names, in name order for a
 * pattern (no match is fine, as in nginx). */
static void
cfg_include_directive(struct cfg_reader *r, const char *from,
    const struct cfg_directive *d)
{
	struct cfg_site site = { from, d->line, d->name };
	bool pattern = strpbrk(d->name, "*?") != NULL;
	char *full = cfg_include_resolve(from, d->name, pattern);
	glob_t g;
	int rc;

	if (full == NULL) {
		r->err = -ENOMEM;
		return;
	}
	if (!pattern) {
		cfg_include_file(r, full, &site);
		free(full);
		return;
	}
	cfg_glob_errno = 0;
	rc = glob(full, 0, cfg_include_glob_error, &g);
	if (rc == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			cfg_include_file(r, g.gl_pathv[i], &site);
	else if (rc == GLOB_ABORTED && cfg_glob_errno != 0)
		cfg_include_fail(r, &site, cfg_glob_epath, "cannot read: %s",
		    strerror(cfg_glob_errno));
	else if (rc != GLOB_NOMATCH)
		cfg_include_fail(r, &site, full, "cannot expand: %s",
		    rc == GLOB_NOSPACE ? strerror(ENOMEM) : "glob failed");
	globfree(&g);
	free(full);
}

/* Reports the directives of path that are not read: those without a
 * closing quote and those inside a group or list. */
static void
cfg_include_misplaced(struct cfg_reader *r, const char *path,
    const struct cfg_scan *scan)
{
	for (unsigned i = 0; i < scan->n; i++) {
		const struct cfg_directive *d = &scan->v[i];

		if (d->name != NULL && d->top)
			continue;
		if (r->err == 0)
			r->err = -EINVAL;
		if (d->name == NULL)
			cfg_include_report(r->errs, path, d->line,
			    "@include: no closing quote on its line");
		else
			cfg_include_report(r->errs, path, d->line, "@include \"%s\": "
			    "allowed only at the top level, outside every group "
			    "and list (an included file may hold its own "
			    "services = ( ... );)", d->name);
	}
}

/* Reads the top-level includes of a file whose services list (if any)
 * starts at line split: those above it first, then the file itself, then
 * the others; f is NULL when the file did not parse. */
static void
cfg_include_children(struct cfg_reader *r, const char *path,
    const struct cfg_scan *scan, struct cfg_file *f)
{
	config_setting_t *services = f ? config_lookup(&f->cf, "services") : NULL;
	int split = services ? (int)config_setting_source_line(services) : INT_MAX;
	unsigned i = 0;

	for (; i < scan->n && scan->v[i].line <= split; i++)
		if (scan->v[i].name != NULL && scan->v[i].top)
			cfg_include_directive(r, path, &scan->v[i]);
	if (f != NULL && cfg_include_append(r, f) == 0 && r->depth == 1)
		r->files->main = f;
	for (; i < scan->n; i++)
		if (scan->v[i].name != NULL && scan->v[i].top)
			cfg_include_directive(r, path, &scan->v[i]);
}

/* The line of the first NUL byte of text (len bytes), or 0. */
static int
cfg_include_nul_line(const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	int line = 1;

	if (nul == NULL)
		return 0;
	for (const char *p = text; p < nul; p++)
		line += *p == '\n';
	return line;
}

/* Reads, parses and files path and, recursively, what it includes. */
static void
cfg_include_file(struct cfg_reader *r, const char *path,
    const struct cfg_site *site)
{
	struct cfg_scan scan;
	struct stat st;
	struct cfg_file *f;
	char *text = NULL;
	size_t len = 0;
	int fd, rc, nul;

	if (r->nread >= CFG_INCLUDE_FILES) {
		cfg_include_fail(r, site, path, "more than %d files in the "
		    "configuration", CFG_INCLUDE_FILES);
		return;
	}
	if (r->depth > CFG_INCLUDE_DEPTH) {
		cfg_include_fail(r, site, path, "included more than %d files deep",
		    CFG_INCLUDE_DEPTH);
		return;
	}
	if ((fd = cfg_include_open(r, path, site, &st)) < 0)
		return;
	r->nread++;
	rc = cfg_include_slurp(fd, &text, &len);
	close(fd);
	if (rc < 0) {
		cfg_include_fail(r, site, path, "cannot read: %s",
		    rc == -EFBIG ? "larger than 8 MiB" : strerror(-rc));
		return;
	}
	if ((nul = cfg_include_nul_line(text, len)) > 0) {
		r->err = r->err ? r->err : -EINVAL;
		cfg_include_report(r->errs, path, nul, "a NUL byte");
		free(text);
		return;
	}
	if (cfg_include_scan(text, &scan) != 0) {
		r->err = -ENOMEM;
		free(text);
		return;
	}
	f = cfg_include_parse(r, path, text);
	free(text);
	cfg_include_misplaced(r, path, &scan);
	r->dev[r->depth] = st.st_dev;
	r->ino[r->depth] = st.st_ino;
	r->depth++;
	cfg_include_children(r, path, &scan, f);
	r->depth--;
	cfg_include_scan_free(&scan);
}

int
cfg_include_read(const char *path, struct cfg_files *files,
    struct cfg_errors *errs)
{
	struct cfg_reader r = { .files = files, .errs = errs };

	files->v = NULL;
	files->n = 0;
	files->main = NULL;
	cfg_include_file(&r, path, NULL);
	return r.err;
}

void
cfg_include_free(struct cfg_files *files)
{
	for (unsigned i = 0; i < files->n; i++)
		cfg_include_file_free(files->v[i]);
	free(files->v);
	files->v = NULL;
	files->n = 0;
	files->main = NULL;
}

/* --- what the files hold ----------------------------------------------- */

struct cfg_file *
cfg_include_once(const struct cfg_files *files, const char *name,
    struct cfg_errors *errs)
{
	struct cfg_file *found = NULL, *f;
	config_setting_t *first = NULL, *s;

	/* The main file first: its setting is the one kept. */
	for (unsigned i = 0; i <= files->n; i++) {
		f = i == 0 ? files->main : files->v[i - 1];
		if (f == NULL || (i > 0 && f == files->main) ||
		    (s = config_lookup(&f->cf, name)) == NULL)
			continue;
		if (first == NULL) {
			first = s;
			found = f;
		} else
			cfg_include_report(errs, config_setting_source_file(s),
			    (int)config_setting_source_line(s), "%s: already set "
			    "in %s:%u; it may be set in one file only", name,
			    config_setting_source_file(first),
			    config_setting_source_line(first));
	}
	return found;
}

static bool
cfg_include_is_list(const config_setting_t *s)
{
	return config_setting_is_list(s) || config_setting_is_array(s);
}

config_setting_t **
cfg_include_join(const struct cfg_files *files, const char *name,
    unsigned *n, unsigned *nset, struct cfg_errors *errs)
{
	config_setting_t **v, *list;
	unsigned total = 0;

	*n = *nset = 0;
	for (unsigned i = 0; i < files->n; i++)
		if ((list = config_lookup(&files->v[i]->cf, name)) != NULL &&
		    cfg_include_is_list(list))
			total += (unsigned)config_setting_length(list);
	if ((v = calloc((size_t)total + 1, sizeof(*v))) == NULL)
		return NULL;
	for (unsigned i = 0; i < files->n; i++) {
		if ((list = config_lookup(&files->v[i]->cf, name)) == NULL)
			continue;
		(*nset)++;
		if (!cfg_include_is_list(list)) {
			cfg_include_report(errs, config_setting_source_file(list),
			    (int)config_setting_source_line(list),
			    "%s: expected a list ( { ... }, ... )", name);
			continue;
		}
		for (int j = 0; j < config_setting_length(list) && *n < total; j++)
			v[(*n)++] = config_setting_get_elem(list, (unsigned)j);
	}
	return v;
}
