/*
 * cfg_include.h - the files of one configuration: @include and conf.d.
 *
 * `@include "FILE"` at the top level of a file reads FILE as a file of its
 * own, relative to the directory of the file that holds the @include; a
 * FILE with `*` or `?` includes every match in name order.  Each file is
 * parsed by libconfig on its own, and the lists several files may set
 * (services) are joined in the order read.  Every setting names the file
 * it was written in, so errors read FILE:LINE as for the main file.
 */
#ifndef MULTID_CFG_INCLUDE_H
#define MULTID_CFG_INCLUDE_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

#define CFG_INCLUDE_DEPTH 10          /* files open inside one another */
#define CFG_INCLUDE_FILES 1024        /* files in one configuration */
#define CFG_INCLUDE_SIZE  (8 << 20)   /* bytes in one file */

/* An @include directive found in a file's text. */
struct cfg_directive {
	char *name;                   /* FILE as written, or NULL: no closing quote */
	int   line;                   /* line of the @include */
	bool  top;                    /* outside every group, list and array */
};

/* The directives of one file, in the order written. */
struct cfg_scan {
	struct cfg_directive *v;      /* the directives */
	unsigned              n;      /* how many */
};

/* One file of the configuration, parsed on its own. */
struct cfg_file {
	char     *path;               /* as opened; every setting names it */
	config_t  cf;                 /* its settings (never moved: they point
	                                 back at it) */
};

/* Every file of one configuration, in the order read. */
struct cfg_files {
	struct cfg_file **v;          /* the files, the main one included */
	unsigned          n;          /* how many */
	struct cfg_file  *main;       /* the main file, or NULL */
};

/* Finds every @include line that libconfig's scanner would act on in the
 * NUL-ended text (one that starts a line outside strings and comments) and
 * overwrites it with spaces up to its closing quote, so that libconfig
 * never sees it and every other line keeps its number.  0 or -ENOMEM. */
int cfg_include_scan(char *text, struct cfg_scan *out);
void cfg_include_scan_free(struct cfg_scan *scan);

/* The path that @include "name" written in file `from` names: name
 * itself when absolute, else joined to from's directory.  With glob, the
 * directory's own *?[\ are escaped so that only name's are patterns.
 * NULL when out of memory. */
char *cfg_include_resolve(const char *from, const char *name, bool glob);

/* Reads path and every file it includes into files.  0, or -EINVAL when
 * a file could not be read, parsed or included (reported to errs as
 * "FILE:LINE: ..."), or -ENOMEM.  files holds what was read either way. */
int cfg_include_read(const char *path, struct cfg_files *files,
    struct cfg_errors *errs);
void cfg_include_free(struct cfg_files *files);

/* The file that sets `name` at the top level, or NULL: the main file if
 * it does, else the first in the order read; the same setting in any other
 * file is reported, as it may be set in one file only. */
struct cfg_file *cfg_include_once(const struct cfg_files *files,
    const char *name, struct cfg_errors *errs);

/* The elements of the top-level lists `name` of every file, in the order
 * read, as a new NULL-ended array (the caller frees it), with *n entries;
 * *nset is the number of files that set `name`.  A `name` that is not a
 * list is reported.  NULL when out of memory. */
config_setting_t **cfg_include_join(const struct cfg_files *files,
    const char *name, unsigned *n, unsigned *nset, struct cfg_errors *errs);

#endif
