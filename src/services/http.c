/*
 * http.c - the http service: static files and directory listings in the
 * style of nginx's static and autoindex modules.
 *
 * Keys: root (required), autoindex (default true), index (default
 * ( "index.html" )), max_request (bytes of request line and headers,
 * default 8192), keepalive_timeout (seconds an idle persistent connection
 * waits for its next request, default 15; 0 closes after every response).
 *
 * Path safety does not rest on string checks alone.  The request path is
 * decoded and normalised (http_parse.c), and then every file is opened
 * relative to a descriptor of the root with openat2(RESOLVE_BENEATH), so
 * the kernel refuses ".." and symlinks that lead out of root.  Where
 * openat2 is missing the path is walked one component at a time with
 * O_NOFOLLOW, and no symlink is followed at all.
 *
 * Requests are answered in order as they arrive, pipelined ones too,
 * until the output queue passes the high-water mark; the core then stops
 * reading and offers the rest again once the queue drains.  A request
 * body (Content-Length) is read and thrown away, so the connection goes
 * on; a chunked body is not parsed, and a client that expects "100
 * Continue" may hold its body back, so then the request is answered and
 * the connection closed.  Small files are copied into the reply, so head and
 * body leave in one write; bigger ones go with sendfile(2) and are never
 * read into memory.  Rendered listings are cached per directory for a
 * second at most, and dropped as soon as the directory's mtime moves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "../conn.h"
#include "../hash.h"
#include "../utf8.h"
#include "../server.h"
#include "http_parse.h"
#include "mime.h"

#define HTTP_INLINE_MAX     (16 * 1024)  /* files copied into the reply:
                                            a third less CPU than sendfile
                                            for 1 KiB */
#define HTTP_HEAD_MAX       2048         /* room for one response head */
#define HTTP_REQUEST_MAX    65536        /* largest max_request */
#define HTTP_KEEPALIVE_MAX  86400        /* largest keepalive_timeout */
#define HTTP_CACHE_BUCKETS  256          /* listing cache hash size */
#define HTTP_CACHE_BYTES    (8 << 20)    /* listing cache size at most */
#define HTTP_CACHE_ENTRY    (1 << 20)    /* larger listings are not kept */
#define HTTP_CACHE_TTL_MS   1000         /* entry sizes may change without
                                            touching the directory */
#define HTTP_NAME_COLS      50           /* name column of a listing */

struct http_conf {
	char          *root;          /* the directory served */
	bool           autoindex;     /* list directories without an index */
	struct strlist index;         /* index file names, tried in order */
	long           max_request;   /* bytes of request line and headers */
	long           keepalive_timeout; /* seconds an idle persistent
	                                 connection waits; 0: none persist */
	int            rootfd;        /* root, opened by configure */
};

static char *http_index_default[] = { "index.html", NULL };

static const struct http_conf http_defaults = {
	.root = NULL,
	.autoindex = true,
	.index = { 1, http_index_default },
	.max_request = 8192,
	.keepalive_timeout = 15,
	.rootfd = -1,
};

static const struct cfg_key http_keys[] = {
	{ "root", CFG_PATH, offsetof(struct http_conf, root), 1, 4096, NULL },
	{ "autoindex", CFG_BOOL, offsetof(struct http_conf, autoindex), 0, 0,
	  NULL },
	{ "index", CFG_STRLIST, offsetof(struct http_conf, index), 0, 16, NULL },
	{ "max_request", CFG_INT, offsetof(struct http_conf, max_request), 256,
	  HTTP_REQUEST_MAX, NULL },
	{ "keepalive_timeout", CFG_INT,
	  offsetof(struct http_conf, keepalive_timeout), 0, HTTP_KEEPALIVE_MAX,
	  NULL },
	CFG_KEY_END
};

/* One cached, rendered listing. */
struct http_listing {
	struct http_listing *next;    /* hash chain */
	struct http_listing *older;   /* LRU list, towards the oldest */
	struct http_listing *newer;   /* LRU list, towards the newest */
	char                *key;     /* path and format */
	size_t               keylen;  /* bytes in key */
	unsigned             hash;    /* of key */
	dev_t                dev;     /* the directory, as it was rendered */
	ino_t                ino;     /* its inode */
	struct timespec      mtime;   /* its mtime then */
	int64_t              made;    /* ms when it was rendered */
	struct rbuf         *body;    /* the listing */
};

/* The running service: the listing cache. */
struct http_state {
	struct http_listing *buckets[HTTP_CACHE_BUCKETS]; /* by key hash */
	struct http_listing *newest;  /* LRU head */
	struct http_listing *oldest;  /* LRU tail, evicted first */
	size_t               bytes;   /* body bytes held */
};

/* What a connection waits for, which picks the clock that bounds the
 * wait. */
enum http_wait {
	HTTP_WAIT_FIRST,              /* the first request: idle_timeout */
	HTTP_WAIT_REQUEST,            /* the rest of a request begun:
	                                 idle_timeout from its first byte */
	HTTP_WAIT_KEEPALIVE,          /* the next request on a persistent
	                                 connection: keepalive_timeout */
	HTTP_WAIT_OTHER,              /* a body to skip, or the output to
	                                 drain: idle_timeout since input */
};

/* Per connection. */
struct http_conn {
	uint64_t       discard;       /* body bytes still to be skipped */
	unsigned       served;        /* requests answered so far */
	enum http_wait wait;          /* what it waits for now */
};

/* One response being made. */
struct http_reply {
	struct conn               *c;       /* where it goes */
	const struct http_request *req;     /* what it answers, or NULL */
	const struct http_conf    *conf;    /* the connection's config */
	bool                       keep;    /* the connection goes on */
	bool                       head_only; /* HEAD: no body */
};

/* A response head being formatted. */
struct http_head {
	char  *p;                     /* the buffer */
	size_t len;                   /* bytes written */
	size_t cap;                   /* its size */
};

/* Scratch space; the reactor is single-threaded. */
static char http_out[HTTP_HEAD_MAX + HTTP_INLINE_MAX]; /* head and small body */
static char http_path[HTTP_REQUEST_MAX + 8];           /* normalised path */
static char http_rel[HTTP_REQUEST_MAX + NAME_MAX + 8]; /* path below root */
static char http_key[HTTP_REQUEST_MAX + 8];            /* listing cache key */
static bool http_no_openat2;                           /* ENOSYS seen */

/* ---- opening files beneath the root ---------------------------------- */

/* Walks rel one component at a time, refusing every symlink. */
static int
http_open_walk(int rootfd, const char *rel, int flags)
{
	int dfd = rootfd, fd, saved;

	for (;;) {
		const char *slash = strchr(rel, '/');
		char comp[NAME_MAX + 1];
		size_t n = slash != NULL ? (size_t)(slash - rel) : strlen(rel);

		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			fd = -1;
			break;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		if (slash == NULL || slash[1] == '\0') {
			fd = openat(dfd, comp, flags | O_NOFOLLOW |
			    (slash != NULL ? O_DIRECTORY : 0));
			break;
		}
		fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd != rootfd)
			close(dfd);
		if (fd < 0)
			return -1;
		dfd = fd;
		rel = slash + 1;
	}
	saved = errno;
	if (dfd != rootfd)
		close(dfd);
	errno = saved;
	return fd;
}

/* Opens rel ("" is the root itself) beneath rootfd; the kernel keeps the
 * lookup inside, symlinks included.  An fd, or -1 with errno. */
static int
http_open(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	if (*rel == '\0')
		rel = ".";
	/* http_start has probed for openat2 (http_probe_openat2). */
	if (!http_no_openat2)
		return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	return http_open_walk(rootfd, rel, flags);
}

/* The status for a failed open. */
static int
http_errno_status(int err)
{
	switch (err) {
	case EACCES:
	case EPERM:
		return 403;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return 503;
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case EXDEV:
	case ENAMETOOLONG:
	case ENXIO:
	case ENODEV:
		return 404;
	default:
		return 500;
	}
}

/* ---- response heads -------------------------------------------------- */

static void __attribute__((format(printf, 2, 3)))
http_head_add(struct http_head *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(h->p + h->len, h->cap - h->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		h->len += (size_t)n < h->cap - h->len ? (size_t)n : h->cap - h->len - 1;
}

/* The Date value, formatted once a second. */
static const char *
http_date_now(void)
{
	static char text[HTTP_DATE_LEN + 1];
	static time_t when = -1;
	time_t now = time(NULL);

	if (now != when) {
		http_date_format(now, text);
		when = now;
	}
	return text;
}

/* Starts a head in http_out: status line and the headers every response
 * has.  The caller adds its own and ends it with http_head_end. */
static struct http_head
http_head_begin(int status)
{
	struct http_head h = { http_out, 0, HTTP_HEAD_MAX };

	http_head_add(&h, "HTTP/1.1 %d %s\r\nServer: multid\r\nDate: %s\r\n",
	    status, http_status_text(status), http_date_now());
	return h;
}

static void
http_head_end(struct http_head *h, const struct http_reply *r)
{
	if (!r->keep)
		http_head_add(h, "Connection: close\r\n\r\n");
	else if (r->req != NULL && r->req->version == 10)
		http_head_add(h, "Connection: keep-alive\r\n\r\n");
	else
		http_head_add(h, "\r\n");
}

/* The reply is queued (rc 0) or could not be (the connection is
 * dropped); it closes afterwards unless kept. */
static void
http_done(const struct http_reply *r, int rc)
{
	if (rc != 0)
		conn_close(r->c, CLOSE_ERROR);
	else if (!r->keep)
		conn_close_after_flush(r->c);
}

/* Queues what http_out holds, and closes afterwards unless kept. */
static void
http_send(const struct http_reply *r, size_t len)
{
	http_done(r, conn_send(r->c, http_out, len));
}

/* A status with its small HTML page; extra is more header lines. */
static void
http_error(struct http_reply *r, int status, const char *extra)
{
	char page[512];
	size_t plen = http_error_page(status, page, sizeof(page));
	struct http_head h;

	/* After these the request stream cannot be trusted any more. */
	if (status == 400 || status == 408 || status == 414 || status == 431 ||
	    status >= 500)
		r->keep = false;
	h = http_head_begin(status);
	http_head_add(&h, "Content-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n%s", plen, extra != NULL ? extra : "");
	http_head_end(&h, r);
	if (!r->head_only) {
		memcpy(http_out + h.len, page, plen);
		h.len += plen;
	}
	http_send(r, h.len);
}

/* ---- files ----------------------------------------------------------- */

/* Whether the validators say the client's copy is current (RFC 9110,
 * 13.2.2: If-None-Match wins over If-Modified-Since). */
static bool
http_not_modified(const struct http_request *req, const char *etag,
    time_t mtime)
{
	time_t since;

	if (req->if_none_match.p != NULL)
		return http_etag_match(req->if_none_match, etag);
	if (req->if_modified_since.p == NULL)
		return false;
	since = http_date_parse(req->if_modified_since);
	return since != -1 && mtime <= since;
}

/* If-Range: the range applies only while the entity is unchanged, by a
 * strong comparison. */
static bool
http_if_range_holds(const struct http_request *req, const char *etag,
    time_t mtime)
{
	struct http_str v = req->if_range;

	if (v.p == NULL)
		return true;
	if (v.len > 0 && (v.p[0] == '"' || v.p[0] == 'W'))
		return v.len == strlen(etag) && memcmp(v.p, etag, v.len) == 0;
	return http_date_parse(v) == mtime;
}

/* Sends the body: small files copied right behind the head, others with
 * sendfile.  Takes fd. */
static void
http_send_body(struct http_reply *r, size_t hlen, int fd, off_t off,
    uint64_t len)
{
	if (r->head_only || len == 0) {
		close(fd);
		http_send(r, hlen);
		return;
	}
	if (len <= HTTP_INLINE_MAX) {
		ssize_t n = pread(fd, http_out + hlen, (size_t)len, off);
		close(fd);
		if (n != (ssize_t)len) {
			conn_close(r->c, CLOSE_ERROR);   /* it shrank under us */
			return;
		}
		http_send(r, hlen + (size_t)len);
		return;
	}
	if (conn_send(r->c, http_out, hlen) != 0) {
		close(fd);
		conn_close(r->c, CLOSE_ERROR);
		return;
	}
	/* The queue owns fd now, also when this fails. */
	http_done(r, conn_send_file(r->c, fd, off, (size_t)len));
}

/* Answers with the file fd (name gives the type); takes fd. */
static void
http_serve_file(struct http_reply *r, int fd, const struct stat *st,
    const char *name)
{
	char etag[48], modified[HTTP_DATE_LEN + 1], extra[96] = "";
	/* The whole file unless a range says otherwise; last wraps for an
	 * empty file, and the length is 0 then. */
	uint64_t size = (uint64_t)st->st_size, first = 0, last = size - 1;
	int status = 200;
	struct http_head h;

	snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
	    (unsigned long long)st->st_mtime, (unsigned long long)size);
	http_date_format(st->st_mtime, modified);
	if (http_not_modified(r->req, etag, st->st_mtime)) {
		close(fd);
		h = http_head_begin(304);
		http_head_add(&h, "Last-Modified: %s\r\nETag: %s\r\n", modified, etag);
		http_head_end(&h, r);
		http_send(r, h.len);
		return;
	}
	if (r->req->range.p != NULL &&
	    http_if_range_holds(r->req, etag, st->st_mtime)) {
		switch (http_parse_range(r->req->range, size, &first, &last)) {
		case HTTP_RANGE_OK:
			status = 206;
			snprintf(extra, sizeof(extra),
			    "Content-Range: bytes %llu-%llu/%llu\r\n",
			    (unsigned long long)first, (unsigned long long)last,
			    (unsigned long long)size);
			break;
		case HTTP_RANGE_UNSATISFIABLE:
			close(fd);
			snprintf(extra, sizeof(extra),
			    "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
			http_error(r, 416, extra);
			return;
		case HTTP_RANGE_NONE:
			break;
		}
	}
	h = http_head_begin(status);
	http_head_add(&h, "Content-Type: %s\r\nContent-Length: %llu\r\n"
	    "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes\r\n%s",
	    mime_type(name, strlen(name)), (unsigned long long)(last - first + 1),
	    modified, etag, extra);
	http_head_end(&h, r);
	http_send_body(r, h.len, fd, (off_t)first, last - first + 1);
}

/* ---- listings -------------------------------------------------------- */

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
		snprintf(http_rel, sizeof(http_rel), "%s%s", dirpath + 1, name);
		if ((fd = http_open(conf->rootfd, http_rel, O_PATH | O_CLOEXEC)) < 0)
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

static void
http_cache_unlink(struct http_state *hs, struct http_listing *l)
{
	struct http_listing **pp = &hs->buckets[l->hash % HTTP_CACHE_BUCKETS];

	while (*pp != l)
		pp = &(*pp)->next;
	*pp = l->next;
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

static void
http_cache_flush(struct http_state *hs)
{
	while (hs->oldest != NULL)
		http_cache_unlink(hs, hs->oldest);
}

/* A listing of the same directory, unchanged and young enough, or NULL.
 * A stale one is dropped. */
static struct http_listing *
http_cache_find(struct http_state *hs, const char *key, size_t keylen,
    const struct stat *st)
{
	unsigned h = hash_bytes(key, keylen);
	struct http_listing *l = hs->buckets[h % HTTP_CACHE_BUCKETS];

	while (l != NULL && (l->hash != h || l->keylen != keylen ||
	    memcmp(l->key, key, keylen) != 0))
		l = l->next;
	if (l == NULL)
		return NULL;
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
http_cache_add(struct http_state *hs, const char *key, size_t keylen,
    const struct stat *st, struct rbuf *body)
{
	struct http_listing *l;

	if (body->len > HTTP_CACHE_ENTRY || (l = calloc(1, sizeof(*l))) == NULL)
		return;
	if ((l->key = malloc(keylen)) == NULL) {
		free(l);
		return;
	}
	memcpy(l->key, key, keylen);
	l->keylen = keylen;
	l->hash = hash_bytes(key, keylen);
	l->dev = st->st_dev;
	l->ino = st->st_ino;
	l->mtime = st->st_mtim;
	l->made = ev_now(server.loop);
	l->body = rbuf_ref(body);
	l->next = hs->buckets[l->hash % HTTP_CACHE_BUCKETS];
	hs->buckets[l->hash % HTTP_CACHE_BUCKETS] = l;
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
	http_done(r, conn_send(r->c, http_out, h.len) != 0 ||
	    (!r->head_only && conn_send_shared(r->c, body) != 0) ? -1 : 0);
}

/* Lists directory fd (taken), from the cache when it is still right.
 * Connections accepted before a reload use an older configuration and
 * skip the cache, which belongs to the current one. */
static void
http_list(struct http_reply *r, int fd, const struct stat *st,
    const char *path, bool json)
{
	struct http_state *hs = r->c->svc->conf == r->c->conf ?
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

/* A directory with a trailing slash: its index file, or a listing. */
static void
http_serve_dir(struct http_reply *r, int fd, const struct stat *st,
    const char *path, struct http_str query)
{
	for (size_t i = 0; i < r->conf->index.n; i++) {
		const char *name = r->conf->index.v[i];
		struct stat ist;
		int ifd;

		snprintf(http_rel, sizeof(http_rel), "%s%s", path + 1, name);
		ifd = http_open(r->conf->rootfd, http_rel,
		    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (ifd < 0) {
			if (errno == EACCES || errno == EPERM) {
				close(fd);
				http_error(r, 403, NULL);
				return;
			}
			continue;
		}
		if (fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
			close(fd);
			http_serve_file(r, ifd, &ist, name);
			return;
		}
		close(ifd);
	}
	if (!r->conf->autoindex) {
		close(fd);
		http_error(r, 403, NULL);
		return;
	}
	http_list(r, fd, st, path, http_query_has(query, "format", "json"));
}

/* A directory named without its trailing slash: 301 to the slashed URL,
 * built from the normalised path so it can never point elsewhere. */
static void
http_redirect(struct http_reply *r, const char *path, struct http_str query)
{
	size_t plen = strlen(path);
	char *loc = malloc(plen * 3 + query.len + 4);
	size_t n;

	if (loc == NULL) {
		conn_close(r->c, CLOSE_ERROR);
		return;
	}
	n = http_escape_url(path, plen, loc);
	loc[n++] = '/';
	if (query.p != NULL) {
		loc[n++] = '?';
		memcpy(loc + n, query.p, query.len);
		n += query.len;
	}
	loc[n] = '\0';
	if (n + 16 < HTTP_HEAD_MAX / 2) {
		char extra[HTTP_HEAD_MAX / 2];
		snprintf(extra, sizeof(extra), "Location: %s\r\n", loc);
		http_error(r, 301, extra);
	} else {
		http_error(r, 414, NULL);
	}
	free(loc);
}

/* Serves the normalised path. */
static void
http_serve_path(struct http_reply *r, const char *path, struct http_str query)
{
	size_t plen = strlen(path);
	bool slash = path[plen - 1] == '/';
	struct stat st;
	int fd;

	fd = http_open(r->conf->rootfd, path + 1,
	    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		http_error(r, http_errno_status(errno), NULL);
		return;
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		http_error(r, 500, NULL);
	} else if (S_ISDIR(st.st_mode) && !slash) {
		close(fd);
		http_redirect(r, path, query);
	} else if (S_ISDIR(st.st_mode)) {
		http_serve_dir(r, fd, &st, path, query);
	} else if (S_ISREG(st.st_mode) && !slash) {
		http_serve_file(r, fd, &st, strrchr(path, '/') + 1);
	} else {
		close(fd);
		http_error(r, 404, NULL);
	}
}

/* ---- requests -------------------------------------------------------- */

/* Answers one complete, well-formed request head. */
static void
http_handle(struct conn *c, const struct http_request *req)
{
	const struct http_conf *conf = c->conf->tconf;
	struct http_reply r = {
		.c = c,
		.req = req,
		.conf = conf,
		/* A chunked body is not parsed, so nothing may follow it; and a
		 * client that waits for "100 Continue" before its body may
		 * never send it, so the body cannot be skipped either. */
		.keep = req->keep_alive && !req->chunked &&
		    !(req->expect_continue && req->content_length > 0) &&
		    conf->keepalive_timeout > 0,
		.head_only = req->method == HTTP_HEAD,
	};
	struct http_str path, query;
	long n;

	if (req->method == HTTP_OTHER) {
		http_error(&r, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	n = http_split_target(req->target, &path, &query);
	if (n == 0)
		n = http_normalize_path(path.p, path.len, http_path,
		    sizeof(http_path));
	if (n < 0) {
		http_error(&r, (int)-n, NULL);
		return;
	}
	http_serve_path(&r, http_path, query);
}

/* Answers a request that could not be parsed, and closes. */
static void
http_reject(struct conn *c, int status)
{
	struct http_reply r = { .c = c, .conf = c->conf->tconf };

	http_error(&r, status, NULL);
}

/* Sets the clock for what the connection waits for next.  A request must
 * be complete within idle_timeout of its first byte, not of the last one,
 * or a client trickling a byte at a time would hold the connection for
 * ever (slowloris).  Between requests a persistent connection waits
 * keepalive_timeout from the moment the last request was answered, as
 * nginx does.  The core's idle_timeout, counted from the last input,
 * applies as well, so the shorter of the two closes an idle connection. */
static void
http_set_deadline(struct conn *c, enum http_wait wait)
{
	const struct http_conf *conf = c->conf->tconf;
	struct http_conn *hc = c->data;
	int64_t now = ev_now(server.loop);

	if (wait == hc->wait && wait != HTTP_WAIT_KEEPALIVE)
		return;
	hc->wait = wait;
	if (wait == HTTP_WAIT_REQUEST && c->conf->idle_timeout > 0)
		c->deadline = now + c->conf->idle_timeout * 1000;
	else if (wait == HTTP_WAIT_KEEPALIVE)
		c->deadline = now + conf->keepalive_timeout * 1000;
	else
		c->deadline = 0;
}

static size_t
http_read(struct conn *c, const char *data, size_t len)
{
	const struct http_conf *conf = c->conf->tconf;
	struct http_conn *hc = c->data;
	size_t used = 0;
	enum http_wait wait = HTTP_WAIT_KEEPALIVE;

	/* Past the high-water mark the rest waits: the core offers it again
	 * once the output has drained. */
	while (used < len && c->state == CONN_OPEN &&
	    c->out.pending <= c->high_water) {
		struct http_request req;
		long n;

		if (hc->discard > 0) {
			size_t skip = len - used < hc->discard ? len - used :
			    (size_t)hc->discard;
			hc->discard -= skip;
			used += skip;
			continue;
		}
		n = http_parse_request(data + used, len - used,
		    (size_t)conf->max_request, &req);
		if (n == 0) {
			wait = HTTP_WAIT_REQUEST;
			break;
		}
		if (n < 0) {
			http_reject(c, (int)-n);
			return len;
		}
		used += (size_t)n;
		hc->discard = req.content_length > 0 ?
		    (uint64_t)req.content_length : 0;
		hc->served++;
		http_handle(c, &req);
	}
	/* Input left over waits for the output to drain; a body is skipped
	 * under idle_timeout. */
	if (wait == HTTP_WAIT_KEEPALIVE && (used < len || hc->discard > 0))
		wait = HTTP_WAIT_OTHER;
	if (c->state == CONN_OPEN)
		http_set_deadline(c, wait);
	return used;
}

/* idle_timeout or keepalive_timeout passed.  A reply still being sent is
 * finished first; a request left incomplete gets 408; an idle persistent
 * connection is simply closed, as nginx does. */
static void
http_timeout(struct conn *c)
{
	struct http_conn *hc = c->data;

	if (c->out.pending > 0) {
		conn_close_after_flush(c);
		return;
	}
	if (hc->discard > 0 || hc->wait == HTTP_WAIT_KEEPALIVE)
		return;
	http_reject(c, 408);
}

static int
http_open_conn(struct conn *c)
{
	if ((c->data = calloc(1, sizeof(struct http_conn))) == NULL)
		return -1;
	return 0;
}

static void
http_close(struct conn *c, enum close_reason why)
{
	(void)why;
	free(c->data);
	c->data = NULL;
}

/* ---- configuration and life cycle ------------------------------------ */

static const char *
http_configure(struct svc_conf *sc)
{
	struct http_conf *hc = sc->tconf;
	static char why[PATH_MAX + 64];

	if (hc->root == NULL)
		return "root: required (the directory to serve)";
	for (size_t i = 0; i < hc->index.n; i++) {
		const char *name = hc->index.v[i];
		if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL ||
		    strlen(name) > NAME_MAX) {
			snprintf(why, sizeof(why), "index: \"%.64s\" is not a file name",
			    name);
			return why;
		}
	}
	hc->rootfd = open(hc->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (hc->rootfd < 0) {
		snprintf(why, sizeof(why), "root: cannot open %s: %s", hc->root,
		    strerror(errno));
		return why;
	}
	return NULL;
}

static void
http_conf_free(void *tconf)
{
	struct http_conf *hc = tconf;

	if (hc->rootfd >= 0)
		close(hc->rootfd);
	hc->rootfd = -1;
}

/* A seccomp filter may answer openat2 with EPERM rather than ENOSYS;
 * either way the component walk takes over.  Tried once, on the root. */
static void
http_probe_openat2(int rootfd)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH,
	};
	long fd = syscall(SYS_openat2, rootfd, ".", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	else if (errno == ENOSYS || errno == EPERM)
		http_no_openat2 = true;
}

static int
http_start(struct svc *svc)
{
	const struct http_conf *hc = svc->conf->tconf;

	mime_init();
	http_probe_openat2(hc->rootfd);
	if ((svc->state = calloc(1, sizeof(struct http_state))) == NULL)
		return -ENOMEM;
	return 0;
}

/* New keys (another root, index or autoindex) make every cached listing
 * wrong. */
static void
http_reconfigure(struct svc *svc)
{
	http_cache_flush(svc->state);
}

static void
http_stop(struct svc *svc)
{
	http_cache_flush(svc->state);
	free(svc->state);
	svc->state = NULL;
}

const struct service_type http_service = {
	.name = "http",
	.protos = PROTO_TCP,
	.keys = http_keys,
	.conf_size = sizeof(struct http_conf),
	.conf_defaults = &http_defaults,
	.idle_timeout = 300,
	.busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	.configure = http_configure,
	.conf_free = http_conf_free,
	.start = http_start,
	.reconfigure = http_reconfigure,
	.stop = http_stop,
	.open = http_open_conn,
	.read = http_read,
	.timeout = http_timeout,
	.close = http_close,
};
