/*
 * fuzz_files.c - the files service's rule for archive entries
 * (src/services/files/entry.c).
 *
 * The first byte picks the entry's kind, the second its set-id and
 * permission bits; the rest, split at the first NUL, is its path and its
 * link target.  Invariants: an entry with a set-id bit or of another
 * kind (device, FIFO) is never accepted; an accepted path is relative,
 * has no empty, "." or ".." segment, is at most FILES_DEPTH_MAX deep and
 * normalises to itself; an accepted symlink's target, resolved from the
 * link's own directory, never climbs above the top; an accepted hard
 * link's target is a normalised path like the entry's.
 */
#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "services/files/files.h"

static char path[PATH_MAX], link_out[PATH_MAX], again[PATH_MAX];

/* A normalised path: relative, no empty, "." or ".." segment. */
static int
check_normal(const char *p)
{
	int depth = 0;

	assert(p[0] != '/' && p[0] != '\0');
	for (const char *s = p; *s != '\0'; ) {
		size_t n = strcspn(s, "/");

		assert(n > 0 && n <= NAME_MAX);
		assert(!(n == 1 && s[0] == '.'));
		assert(!(n == 2 && s[0] == '.' && s[1] == '.'));
		depth++;
		s += n;
		if (*s == '/') {
			s++;
			assert(*s != '\0');
		}
	}
	assert(depth <= FILES_DEPTH_MAX);
	assert(files_path_norm(p, again, sizeof(again)) == depth);
	assert(strcmp(p, again) == 0);
	return depth;
}

/* Resolves target lexically from the directory at depth; never above 0. */
static void
check_link(int depth, const char *target)
{
	int level = depth;
	int down = 0;

	assert(target[0] != '/');
	for (const char *s = target; *s != '\0'; ) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.') {
			assert(down == 0);      /* no climb after a descent */
			level--;
			assert(level >= 0);
		} else if (n > 0 && !(n == 1 && s[0] == '.')) {
			down++;
		}
		s += n + (s[n] == '/');
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned modes[] = { 0644, 0755, 04755, 02755, 06000,
	    01777, 0 };
	struct files_entry e;
	char *buf, *nul;
	enum files_verdict v;

	if (size < 2)
		return 0;
	if ((buf = malloc(size - 1)) == NULL)
		return 0;
	memcpy(buf, data + 2, size - 2);
	buf[size - 2] = '\0';
	nul = memchr(buf, '\0', size - 2);
	e.kind = (enum files_entry_kind)(data[0] % 5);
	e.mode = modes[data[1] % (sizeof(modes) / sizeof(modes[0]))];
	e.path = buf;
	e.link = nul != NULL && nul < buf + size - 2 ? nul + 1 : NULL;
	v = files_entry_check(&e, path, link_out);
	if (v != FILES_UNSAFE) {
		assert((e.mode & (S_ISUID | S_ISGID)) == 0);
		assert(e.kind != FILES_ENTRY_OTHER);
	}
	if (v == FILES_SKIP) {
		assert(e.kind == FILES_ENTRY_DIR && path[0] == '\0');
	} else if (v == FILES_OK) {
		int depth = check_normal(path);

		if (e.kind == FILES_ENTRY_SYMLINK)
			check_link(depth - 1, link_out);
		if (e.kind == FILES_ENTRY_HARDLINK)
			check_normal(link_out);
	}
	free(buf);
	return 0;
}
