/*
 * listing.c - directory listings of the http service, in the style of
 * nginx's autoindex: HTML, or JSON with ?format=json (see http.h).
 *
 * Dotfiles are left out, and so are symlinks that lead out of the root,
 * as a request for them would fail.  Rendered listings are cached per
 * directory and format, for a second at most, and dropped as soon as the
 * directory's mtime moves; the oldest go first when the cache is full.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../buf.h"
#include "../../conn.h"
#include "../../fsroot.h"
#include "../../hash.h"
#include "../../server.h"
#include "../../utf8.h"
#include "http.h"

#define HTTP_CACHE_BYTES    (8 << 20)    /* listing cache size at most */
#define HTTP_CACHE_ENTRY    (1 << 20)    /* larger listings are not kept */
#define HTTP_CACHE_TTL_MS   1000         /* entry sizes may change without
                                            touching the directory */
#define HTTP_NAME_COLS      50           /* name column of a listing */

/* One cached, rendered listing. */
struct http_listing {
	struct hash_node     node;    /* in the cache's table, by key */
	struct http_listing *older;   /* LRU list, towards the oldest */
	struct http_listing *newer;   /* LRU list, towards the newest */
	char                *key;     /* path and format */
	size_t               keylen;  /* bytes in key */
	dev_t                dev;     /* the directory, as it was rendered */
	ino_t                ino;     /* its inode */
	struct timespec      mtime;   /* its mtime then */
	int64_t              made;    /* ms when it was rendered */
	struct rbuf         *body;    /* the listing */
};

/* The listing cache of a running service. */
struct http_cache {
	struct hash_table    table;   /* the listings, by key */
	struct http_listing *newest;  /* LRU head */
	struct http_listing *oldest;  /* LRU tail, evicted first */
	size_t               bytes;   /* body bytes held */
};

/* Scratch space; the reactor is single-threaded. */
static char http_link[HTTP_REQUEST_MAX + NAME_MAX + 8]; /* a symlink's path
                                                           below root */
static char http_key[HTTP_REQUEST_MAX + 8];             /* a cache key */

/* One directory entry to list. */
struct http_entry {
	char  *name;                  /* file name */
	size_t len;                   /* its length */
	bool   dir;                   /* a directory */
	time_t mtime;                 /* modification time */
	off_t  size;                  /* bytes */
};

static int
http_entry_cmp(const void *a, const void *b)
{
	const struct http_entry *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Stats one entry.  A symlink counts as what it leads to, and only when
 * it stays beneath the root, as a request for it would; false to leave
 * the entry out. */
static bool
http_entry_stat(const struct http_conf *conf, int dfd, const char *dirpath,
    const char *name, struct stat *st)
{
	int fd;
	bool ok;

	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	if (S_ISLNK(st->st_mode)) {
		snprintf(http_link, sizeof(http_link), "%s%s", dirpath + 1, name);
		fd = fsroot_open(conf->rootfd, http_link, O_PATH | O_CLOEXEC, 0);
		if (fd < 0)
			return false;
		ok = fstat(fd, st) == 0;
		close(fd);
		if (!ok)
			return false;
	}
	return S_ISDIR(st->st_mode) || S_ISREG(st->st_mode);
}

/* Reads the entries of the directory fd (taken) to list; NULL on error. */
static struct http_entry *
http_read_dir(const struct http_conf *conf, int fd, const char *dirpath,
    size_t *count)
{
	DIR *d = fdopendir(fd);
	struct http_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (d == NULL) {
		close(fd);
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.' ||
		    !http_entry_stat(conf, dirfd(d), dirpath, de->d_name, &st))
			continue;
		if (n == cap) {
			struct http_entry *nv;
			cap = cap ? cap * 2 : 64;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		if ((v[n].name = strdup(de->d_name)) == NULL)
			break;
		v[n].len = strlen(de->d_name);
		v[n].dir = S_ISDIR(st.st_mode);
		v[n].mtime = st.st_mtime;
		v[n].size = st.st_size;
		n++;
	}
	closedir(d);
	if (v == NULL)
		v = malloc(sizeof(*v));
	qsort(v, n, sizeof(*v), http_entry_cmp);
	*count = n;
	return v;
}

static void
http_free_entries(struct http_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Byte length of the first chars code points of s. */
static size_t
http_utf8_prefix(const char *s, size_t len, size_t chars)
{
	size_t i = 0;

	while (i < len && chars > 0) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		chars--;
	}
	return i;
}

/* One line of the HTML listing, laid out as nginx does: the link, the
 * name padded (or cut with "..>") to 50 columns, date and size. */
static void
http_html_entry(struct buf *b, const struct http_entry *e)
{
	char esc[NAME_MAX * 6 + 8], when[32];
	size_t cols = utf8_count(e->name, e->len) + e->dir, shown = e->len;
	struct tm tm;

	buf_append(b, "<a href=\"", 9);
	buf_append(b, esc, http_escape_url(e->name, e->len, esc));
	buf_append(b, e->dir ? "/\">" : "\">", e->dir ? 3 : 2);
	if (cols > HTTP_NAME_COLS)
		shown = http_utf8_prefix(e->name, e->len, HTTP_NAME_COLS - 3);
	buf_append(b, esc, http_escape_html(e->name, shown, esc));
	if (cols > HTTP_NAME_COLS) {
		buf_append(b, "..&gt;</a>", 10);
		cols = HTTP_NAME_COLS;
	} else {
		buf_append(b, e->dir ? "/</a>" : "</a>", e->dir ? 5 : 4);
	}
	gmtime_r(&e->mtime, &tm);
	strftime(when, sizeof(when), "%d-%b-%Y %H:%M", &tm);
	if (e->dir)
		buf_printf(b, "%*s %s %19s\r\n", (int)(HTTP_NAME_COLS - cols), "",
		    when, "-");
	else
		buf_printf(b, "%*s %s %19lld\r\n", (int)(HTTP_NAME_COLS - cols),
		    "", when, (long long)e->size);
}

static void
http_render_html(struct buf *b, const char *path, struct http_entry *v,
    size_t n)
{
	char *esc = malloc(strlen(path) * 6 + 1);
	size_t elen;

	if (esc == NULL)
		return;
	elen = http_escape_html(path, strlen(path), esc);
	buf_printf(b, "<html>\r\n<head><title>Index of ");
	buf_append(b, esc, elen);
	buf_printf(b, "</title></head>\r\n<body>\r\n<h1>Index of ");
	buf_append(b, esc, elen);
	buf_printf(b, "</h1><hr><pre>");
	if (strcmp(path, "/") != 0)
		buf_printf(b, "<a href=\"../\">../</a>\r\n");
	for (size_t i = 0; i < n; i++)
		http_html_entry(b, &v[i]);
	buf_printf(b, "</pre><hr></body>\r\n</html>\r\n");
	free(esc);
}

/* The listing as nginx's autoindex_format json writes it: directories
 * have no "size". */
static void
http_render_json(struct buf *b, struct http_entry *v, size_t n)
{
	char esc[NAME_MAX * 6 + 8], when[HTTP_DATE_LEN + 1];

	buf_append(b, "[\r\n", 3);
	for (size_t i = 0; i < n; i++) {
		http_date_format(v[i].mtime, when);
		buf_append(b, "{ \"name\":\"", 10);
		buf_append(b, esc, http_escape_json(v[i].name, v[i].len, esc));
		if (v[i].dir)
			buf_printf(b, "\", \"type\":\"directory\", "
			    "\"mtime\":\"%s\" }", when);
		else
			buf_printf(b, "\", \"type\":\"file\", \"mtime\":\"%s\", "
			    "\"size\":%lld }", when, (long long)v[i].size);
		buf_append(b, i + 1 < n ? ",\r\n" : "\r\n", i + 1 < n ? 3 : 2);
	}
	buf_append(b, "]\r\n", 3);
}

/* Renders the listing of directory fd (taken); NULL on error. */
static struct rbuf *
http_render(const struct http_conf *conf, int fd, const char *path, bool json)
{
	struct buf b = { 0 };
	struct http_entry *v;
	struct rbuf *rb = NULL;
	size_t n;

	if ((v = http_read_dir(conf, fd, path, &n)) == NULL)
		return NULL;
	if (json)
		http_render_json(&b, v, n);
	else
		http_render_html(&b, path, v, n);
	http_free_entries(v, n);
	if (b.len > 0)
		rb = rbuf_new(buf_head(&b), b.len);
	buf_free(&b);
	return rb;
}

/* ---- the listing cache ----------------------------------------------- */

/* What a lookup in the cache's table carries. */
struct http_cache_key {
	const char *p;                /* path and format */
	size_t      len;              /* bytes in p */
};

static bool
http_listing_match(const struct hash_node *node, const void *key)
{
	const struct http_listing *l = HASH_ENTRY(node, struct http_listing,
	    node);
	const struct http_cache_key *k = key;

	return l->keylen == k->len && memcmp(l->key, k->p, k->len) == 0;
}

static void
http_cache_unlink(struct http_cache *hs, struct http_listing *l)
{
	hash_del(&hs->table, &l->node);
	if (l->newer != NULL)
		l->newer->older = l->older;
	else
		hs->newest = l->older;
	if (l->older != NULL)
		l->older->newer = l->newer;
	else
		hs->oldest = l->newer;
	hs->bytes -= l->body->len;
	rbuf_unref(l->body);
	free(l->key);
	free(l);
}

struct http_cache *
http_cache_new(void)
{
	return calloc(1, sizeof(struct http_cache));
}

void
http_cache_flush(struct http_cache *hs)
{
	while (hs->oldest != NULL)
		http_cache_unlink(hs, hs->oldest);
}

void
http_cache_free(struct http_cache *hs)
{
	if (hs == NULL)
		return;
	http_cache_flush(hs);
	hash_free(&hs->table);
	free(hs);
}

/* A listing of the same directory, unchanged and young enough, or NULL.
 * A stale one is dropped. */
static struct http_listing *
http_cache_find(struct http_cache *hs, const char *key, size_t keylen,
    const struct stat *st)
{
	struct http_cache_key k = { key, keylen };
	struct hash_node *n = hash_find(&hs->table, hash_bytes(key, keylen), &k,
	    http_listing_match);
	struct http_listing *l;

	if (n == NULL)
		return NULL;
	l = HASH_ENTRY(n, struct http_listing, node);
	if (l->dev != st->st_dev || l->ino != st->st_ino ||
	    l->mtime.tv_sec != st->st_mtim.tv_sec ||
	    l->mtime.tv_nsec != st->st_mtim.tv_nsec ||
	    ev_now(server.loop) - l->made >= HTTP_CACHE_TTL_MS) {
		http_cache_unlink(hs, l);
		return NULL;
	}
	return l;
}

/* Keeps body for key; the oldest entries go when the cache is full. */
static void
http_cache_add(struct http_cache *hs, const char *key, size_t keylen,
    const struct stat *st, struct rbuf *body)
{
	struct http_listing *l;

	if (body->len > HTTP_CACHE_ENTRY || (l = calloc(1, sizeof(*l))) == NULL)
		return;
	if ((l->key = malloc(keylen)) == NULL ||
	    hash_add(&hs->table, &l->node, hash_bytes(key, keylen)) != 0) {
		free(l->key);
		free(l);
		return;
	}
	memcpy(l->key, key, keylen);
	l->keylen = keylen;
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	l->mtime = st->st_mtim;
	l->made = ev_now(server.loop);
	l->body = rbuf_ref(body);
	l->older = hs->newest;
	if (hs->newest != NULL)
		hs->newest->newer = l;
	else
		hs->oldest = l;
	hs->newest = l;
	hs->bytes += body->len;
	while (hs->bytes > HTTP_CACHE_BYTES && hs->oldest != l)
		http_cache_unlink(hs, hs->oldest);
}

/* Sends a rendered listing. */
static void
http_send_listing(struct http_reply *r, struct rbuf *body, bool json)
{
	struct http_head h = http_head_begin(200);

	http_head_add(&h, "Content-Type: %s\r\nContent-Length: %zu\r\n",
	    json ? "application/json" : "text/html; charset=utf-8", body->len);
	http_head_end(&h, r);
	http_done(r, conn_send(r->c, h.p, h.len) != 0 ||
	    (!r->head_only && conn_send_shared(r->c, body) != 0) ? -1 : 0);
}

/* Connections accepted before a reload use an older configuration and
 * skip the cache, which belongs to the current one. */
void
http_list(struct http_reply *r, int fd, const struct stat *st,
    const char *path, bool json)
{
	struct http_cache *hs = r->c->svc->conf == r->c->conf ?
	    r->c->svc->state : NULL;
	size_t plen = strlen(path), keylen = plen + 2;
	struct http_listing *l;
	struct rbuf *body;

	memcpy(http_key, path, plen);
	http_key[plen] = '\0';
	http_key[plen + 1] = json ? 'j' : 'h';
	if (hs != NULL && (l = http_cache_find(hs, http_key, keylen, st)) != NULL) {
		close(fd);
		http_send_listing(r, l->body, json);
		return;
	}
	if ((body = http_render(r->conf, fd, path, json)) == NULL) {
		http_error(r, 500, NULL);
		return;
	}
	/* Timestamps are coarse: a file made in the same tick as this render
	 * would leave the mtime as it is.  A directory changed within the
	 * last second is therefore rendered again each time (git's "racy"
	 * rule). */
	if (hs != NULL && time(NULL) > st->st_mtime + 1)
		http_cache_add(hs, http_key, keylen, st, body);
	http_send_listing(r, body, json);
	rbuf_unref(body);
}

