/*
 * entry.c - the rules an archive entry must pass before anything of it is
 * written: pure string and number checks, no I/O, so the unit tests and a
 * fuzzer drive them directly.
 *
 * These are the first fence.  The second is the kernel's: extract.c
 * creates every entry relative to a directory descriptor, one component
 * at a time with O_NOFOLLOW, so even a path these rules let through
 * cannot step out of the new directory or through a symlink in it.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "files.h"

/* Cuts the next segment off *p: its start, with its length in *n. */
static const char *
entry_segment(const char **p, size_t *n)
{
	const char *seg = *p;

	*n = strcspn(seg, "/");
	*p = seg + *n + (seg[*n] == '/');
	return seg;
}

static bool
entry_is(const char *seg, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(seg, word, n) == 0;
}

int
files_path_norm(const char *path, char *out, size_t size)
{
	const char *p = path;
	size_t o = 0;
	int depth = 0;

	if (path == NULL || path[0] == '/' || path[0] == '\0' || size == 0 ||
	    strlen(path) >= PATH_MAX)
		return -1;
	while (*p != '\0') {
		size_t n;
		const char *seg = entry_segment(&p, &n);

		if (n == 0 || entry_is(seg, n, "."))
			continue;
		if (entry_is(seg, n, "..") || n > NAME_MAX ||
		    ++depth > FILES_DEPTH_MAX)
			return -1;
		if (o + (o > 0) + n + 1 > size)
			return -1;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, seg, n);
		o += n;
	}
	out[o] = '\0';
	return depth;
}

bool
files_link_inside(int depth, const char *target)
{
	const char *p = target;
	bool down = false;
	int up = 0;

	if (target == NULL || target[0] == '/' || target[0] == '\0' ||
	    strlen(target) >= PATH_MAX)
		return false;
	while (*p != '\0') {
		size_t n;
		const char *seg = entry_segment(&p, &n);

		if (n == 0 || entry_is(seg, n, "."))
			continue;
		if (n > NAME_MAX)
			return false;
		if (!entry_is(seg, n, "..")) {
			down = true;
			continue;
		}
		/* Climbing after a step down could pass through a symlink
		 * ("a/.." where a leads elsewhere), so only a leading climb
		 * is judged by its length. */
		if (down || ++up > depth - 1)
			return false;
	}
	return true;
}

enum files_verdict
files_entry_check(const struct files_entry *e, char *path, char *link)
{
	int depth = files_path_norm(e->path, path, PATH_MAX);

	link[0] = '\0';
	if (depth < 0 || (e->mode & (S_ISUID | S_ISGID)) != 0)
		return FILES_UNSAFE;
	if (depth == 0)
		return e->kind == FILES_ENTRY_DIR ? FILES_SKIP : FILES_UNSAFE;
	switch (e->kind) {
	case FILES_ENTRY_FILE:
	case FILES_ENTRY_DIR:
		return FILES_OK;
	case FILES_ENTRY_SYMLINK:
		if (!files_link_inside(depth, e->link))
			return FILES_UNSAFE;
		memcpy(link, e->link, strlen(e->link) + 1);
		return FILES_OK;
	case FILES_ENTRY_HARDLINK:
		return files_path_norm(e->link, link, PATH_MAX) > 0 ?
		    FILES_OK : FILES_UNSAFE;
	case FILES_ENTRY_OTHER:
		break;
	}
	return FILES_UNSAFE;
}

void
files_printable(const char *in, char *out, size_t max)
{
	size_t i;

	if (max == 0)
		return;
	for (i = 0; in != NULL && in[i] != '\0' && i + 1 < max; i++) {
		unsigned char ch = (unsigned char)in[i];
		out[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	out[i] = '\0';
}
