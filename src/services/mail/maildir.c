/*
 * maildir.c - Maildir names, mailbox directories and listings, shared by
 * smtp (which delivers) and pop3 (which reads, marks and deletes).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../hash.h"
#include "maildir.h"

#define MAILDIR_READ_CHUNK 65536      /* bytes read at a time to size a file */

static unsigned long maildir_seq;     /* names made by this process */

/* Opens (creating when missing) directory name beneath dirfd. */
static int
maildir_subdir(int dirfd, const char *name)
{
	int fd;

	if (mkdirat(dirfd, name, 0700) != 0 && errno != EEXIST)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

int
maildir_open(int rootfd, const char *box, struct maildir_box *mb)
{
	int rc;

	mb->tmpfd = mb->newfd = mb->curfd = -1;
	if ((mb->boxfd = maildir_subdir(rootfd, box)) < 0)
		return mb->boxfd;
	if ((rc = mb->tmpfd = maildir_subdir(mb->boxfd, "tmp")) < 0 ||
	    (rc = mb->newfd = maildir_subdir(mb->boxfd, "new")) < 0 ||
	    (rc = mb->curfd = maildir_subdir(mb->boxfd, "cur")) < 0) {
		maildir_close(mb);
		return rc;
	}
	return 0;
}

void
maildir_close(struct maildir_box *mb)
{
	int *fds[] = { &mb->boxfd, &mb->tmpfd, &mb->newfd, &mb->curfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void
maildir_unique_name(char *out, size_t size, const char *host, size_t fsize,
    size_t vsize)
{
	struct timespec ts;
	char safe[128];
	size_t n = 0;

	for (const char *p = host; *p != '\0' && n + 5 < sizeof(safe); p++) {
		if (*p == '/' || *p == ':' || *p == ',') {
			n += (size_t)snprintf(safe + n, sizeof(safe) - n, "\\%03o",
			    (unsigned char)*p);
		} else {
			safe[n++] = *p;
		}
	}
	safe[n] = '\0';
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, size, "%lld.M%ldP%ldQ%lu.%s,S=%zu,W=%zu",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(),
	    ++maildir_seq, safe, fsize, vsize);
}

size_t
maildir_crlf_size(const char *data, size_t len, bool *prev_cr)
{
	size_t n = len;

	for (size_t i = 0; i < len; i++) {
		bool after_cr = i > 0 ? data[i - 1] == '\r' : *prev_cr;
		if (data[i] == '\n' && !after_cr)
			n++;
	}
	if (len > 0)
		*prev_cr = data[len - 1] == '\r';
	return n;
}

void
maildir_uidl(const char *name, char out[MAILDIR_UIDL_MAX + 1])
{
	size_t len = strcspn(name, ":");
	bool ok = len >= 1 && len <= MAILDIR_UIDL_MAX;

	for (size_t i = 0; ok && i < len; i++)
		ok = (unsigned char)name[i] > 0x20 && (unsigned char)name[i] < 0x7f;
	if (ok) {
		memcpy(out, name, len);
		out[len] = '\0';
		return;
	}
	/* Two FNV-1a hashes over the name and over it reversed: 64 bits. */
	uint32_t h2 = 2166136261u;
	for (size_t i = len; i > 0; i--)
		h2 = (h2 ^ (unsigned char)name[i - 1]) * 16777619u;
	snprintf(out, MAILDIR_UIDL_MAX + 1, "%08x%08x", hash_bytes(name, len),
	    h2);
}

/* Reads a number after tag (",S=") in the part of name before ':'. */
static bool
maildir_name_size(const char *name, const char *tag, size_t *out)
{
	size_t base = strcspn(name, ":");
	const char *p = strstr(name, tag);
	char *end;
	unsigned long long v;

	if (p == NULL || (size_t)(p - name) >= base)
		return false;
	p += strlen(tag);
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ',' && *end != ':' && *end != '\0'))
		return false;
	*out = (size_t)v;
	return true;
}

/* Sizes a message whose name does not tell: its bytes, and with CRLF. */
static int
maildir_size_file(int dirfd, struct maildir_msg *m)
{
	char buf[MAILDIR_READ_CHUNK];
	bool prev_cr = false;
	ssize_t n;
	int fd = openat(dirfd, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	m->fsize = m->vsize = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		m->fsize += (size_t)n;
		m->vsize += maildir_crlf_size(buf, (size_t)n, &prev_cr);
	}
	close(fd);
	return n < 0 ? -EIO : 0;
}

/* Adds one entry of a directory to the list; 0, 1 (skipped) or -errno. */
static int
maildir_add(struct maildir_list *l, size_t *cap, int dirfd,
    enum maildir_sub sub, const char *name)
{
	struct maildir_msg *m;

	if (name[0] == '.')
		return 1;
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct maildir_msg *g = realloc(l->msgs, ncap * sizeof(*g));
		if (g == NULL)
			return -ENOMEM;
		l->msgs = g;
		*cap = ncap;
	}
	m = &l->msgs[l->n];
	memset(m, 0, sizeof(*m));
	m->sub = sub;
	if ((m->name = strdup(name)) == NULL)
		return -ENOMEM;
	if (!maildir_name_size(name, ",S=", &m->fsize) ||
	    !maildir_name_size(name, ",W=", &m->vsize)) {
		int rc = maildir_size_file(dirfd, m);
		if (rc != 0) {
			free(m->name);
			return rc == -ENOENT ? 1 : rc;  /* gone meanwhile */
		}
	}
	maildir_uidl(name, m->uidl);
	l->n++;
	return 0;
}

/* Lists one of new/ and cur/ into l. */
static int
maildir_scan_dir(int dirfd, enum maildir_sub sub, struct maildir_list *l,
    size_t *cap)
{
	int fd = dup(dirfd), rc = 0;
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (rc >= 0 && (e = readdir(d)) != NULL)
		rc = maildir_add(l, cap, dirfd, sub, e->d_name);
	closedir(d);
	return rc < 0 ? rc : 0;
}

/* The number after tag in the name's first part ("M" for microseconds,
 * "Q" for the sequence), or 0. */
static unsigned long long
maildir_name_field(const char *name, char tag)
{
	const char *dot = strchr(name, '.');
	const char *p = dot != NULL ? strchr(dot, tag) : NULL;
	const char *end = dot != NULL ? strchr(dot + 1, '.') : NULL;

	if (p == NULL || (end != NULL && p > end) || p[1] < '0' || p[1] > '9')
		return 0;
	return strtoull(p + 1, NULL, 10);
}

/* Oldest first: a name begins with the delivery time in seconds, then
 * M and microseconds, Q and a sequence (ours and Dovecot's); the rest
 * breaks ties. */
static int
maildir_cmp(const void *a, const void *b)
{
	const struct maildir_msg *x = a, *y = b;
	unsigned long long vx = strtoull(x->name, NULL, 10);
	unsigned long long vy = strtoull(y->name, NULL, 10);
	static const char tags[] = { 'M', 'Q' };

	for (size_t i = 0; vx == vy && i < sizeof(tags); i++) {
		vx = maildir_name_field(x->name, tags[i]);
		vy = maildir_name_field(y->name, tags[i]);
	}
	if (vx != vy)
		return vx < vy ? -1 : 1;
	return strcmp(x->name, y->name);
}

int
maildir_scan(const struct maildir_box *mb, struct maildir_list *out)
{
	size_t cap = 0;
	int rc;

	out->msgs = NULL;
	out->n = 0;
	if ((rc = maildir_scan_dir(mb->curfd, MAILDIR_CUR, out, &cap)) != 0 ||
	    (rc = maildir_scan_dir(mb->newfd, MAILDIR_NEW, out, &cap)) != 0) {
		maildir_list_free(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->msgs, out->n, sizeof(out->msgs[0]), maildir_cmp);
	return 0;
}

void
maildir_list_free(struct maildir_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i].name);
	free(l->msgs);
	l->msgs = NULL;
	l->n = 0;
}

bool
maildir_flag_name(const char *name, char flag, char *out, size_t size)
{
	const char *info = strstr(name, ":2,");
	size_t base = info != NULL ? (size_t)(info - name) : strlen(name);
	const char *flags = info != NULL ? info + 3 : "";
	size_t n, i = 0;

	if (strchr(flags, flag) != NULL)
		return (size_t)snprintf(out, size, "%s", name) < size;
	while (flags[i] != '\0' && flags[i] < flag)
		i++;
	n = (size_t)snprintf(out, size, "%.*s:2,%.*s%c%s", (int)base, name,
	    (int)i, flags, flag, flags + i);
	return n < size;
}

int
maildir_mark_seen(const struct maildir_box *mb, struct maildir_msg *m)
{
	char name[MAILDIR_NAME_MAX + 1];
	int from = m->sub == MAILDIR_NEW ? mb->newfd : mb->curfd;
	char *copy;

	if (!maildir_flag_name(m->name, 'S', name, sizeof(name)))
		return -ENAMETOOLONG;
	if (m->sub == MAILDIR_CUR && strcmp(name, m->name) == 0)
		return 0;
	if ((copy = strdup(name)) == NULL)
		return -ENOMEM;
	if (renameat(from, m->name, mb->curfd, name) != 0) {
		int rc = -errno;
		free(copy);
		return rc;
	}
	free(m->name);
	m->name = copy;
	m->sub = MAILDIR_CUR;
	return 0;
}
