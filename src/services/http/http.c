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
 * decoded and normalised (http_parse.c, which refuses dotfiles by the
 * core's fsroot_check), and then every file is opened beneath a
 * descriptor of the root with fsroot_open, so the kernel refuses ".." and
 * symlinks that lead out of root.
 *
 * Requests are answered in order as they arrive, pipelined ones too,
 * until the output queue passes the high-water mark; the core then stops
 * reading and offers the rest again once the queue drains.  A request
 * body (Content-Length) is read and thrown away, so the connection goes
 * on; a chunked body is not parsed, and a client that expects "100
 * Continue" may hold its body back, so then the request is answered and
 * the connection closed.  Files and error pages are answered by
 * reply.c, directory listings by listing.c.
 *
 * A listen entry with protocol = "course" speaks as the course's own web
 * servers do: every response carries "Connection: close" and the
 * connection closes after it, so a client that reads until the server
 * closes finishes at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../conn.h"
#include "../../fsroot.h"
#include "../../server.h"
#include "http.h"
#include "mime.h"

#define HTTP_KEEPALIVE_MAX  86400        /* largest keepalive_timeout */
#define HTTP_BUSY "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n" \
                  "Connection: close\r\n\r\n"

/* The rows of http_protocols, defined at the end of the file. */
enum http_proto {
	HTTP_PROTO_DEFAULT,           /* HTTP/1.x with persistent connections */
	HTTP_PROTO_COURSE,            /* one response per connection */
	HTTP_PROTO_END,               /* the row that ends the table */
};

static const struct service_protocol http_protocols[HTTP_PROTO_END + 1];

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

/* Scratch space; the reactor is single-threaded. */
static char http_path[HTTP_REQUEST_MAX + 8];           /* normalised path */
static char http_rel[HTTP_REQUEST_MAX + NAME_MAX + 8]; /* path below root */

/* ---- serving a path ------------------------------------------------- */

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
		ifd = fsroot_open(r->conf->rootfd, http_rel,
		    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
		if (ifd < 0) {
			if (ifd == -EACCES || ifd == -EPERM) {
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

	fd = fsroot_open(r->conf->rootfd, path + 1,
	    O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0) {
		http_error(r, http_errno_status(-fd), NULL);
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
		    conf->keepalive_timeout > 0 &&
		    c->proto != &http_protocols[HTTP_PROTO_COURSE],
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
 * nginx does.  While a deadline is set, the core does not count
 * idle_timeout, so either may be the longer. */
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
		if (!fsroot_name_ok(name)) {
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

static int
http_start(struct svc *svc)
{
	mime_init();
	if ((svc->state = http_cache_new()) == NULL)
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
	http_cache_free(svc->state);
	svc->state = NULL;
}

/* Both protocols read requests alike; http_handle tells them apart. */
static const struct service_protocol http_protocols[HTTP_PROTO_END + 1] = {
	[HTTP_PROTO_DEFAULT] = { .name = "", .frame = FRAME_RAW,
	  .busy = HTTP_BUSY, .open = http_open_conn, .read = http_read,
	  .close = http_close },
	[HTTP_PROTO_COURSE] = { .name = "course", .frame = FRAME_RAW,
	  .busy = HTTP_BUSY, .open = http_open_conn, .read = http_read,
	  .close = http_close },
	[HTTP_PROTO_END] = { .name = NULL },
};

const struct service_type http_service = {
	.name = "http",
	.alpn = "http/1.1",
	.protos = PROTO_TCP,
	.keys = http_keys,
	.conf_size = sizeof(struct http_conf),
	.conf_defaults = &http_defaults,
	.idle_timeout = 300,
	.configure = http_configure,
	.conf_free = http_conf_free,
	.start = http_start,
	.reconfigure = http_reconfigure,
	.stop = http_stop,
	.protocols = http_protocols,
	.timeout = http_timeout,
};

