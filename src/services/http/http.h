/*
 * http.h - what the files of the http service share: its configuration,
 * a response being made, and what each file offers the others.
 *
 *   http.c      the service: keys, life cycle, connections and requests
 *   reply.c     response heads, error pages and files
 *   listing.c   directory listings (HTML and JSON) and their cache
 *   http_parse.c, http_text.c, mime.c   the pure parts, also used by
 *               the tests and the metrics service
 */
#ifndef MULTID_HTTP_H
#define MULTID_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "../../cfg.h"
#include "http_parse.h"

#define HTTP_HEAD_MAX       2048         /* room for one response head */
#define HTTP_REQUEST_MAX    65536        /* largest max_request */

struct conn;

struct http_conf {
	char          *root;          /* the directory served */
	bool           autoindex;     /* list directories without an index */
	struct strlist index;         /* index file names, tried in order */
	long           max_request;   /* bytes of request line and headers */
	long           keepalive_timeout; /* seconds an idle persistent
	                                 connection waits; 0: none persist */
	int            rootfd;        /* root, opened by configure */
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

/* ---- reply.c ---- */

/* Starts a head in the reply buffer: status line and the headers every
 * response has.  The caller adds its own and ends it with
 * http_head_end, then queues h.p (http_done tells how that went). */
struct http_head http_head_begin(int status);
void http_head_add(struct http_head *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Ends the head with the Connection header the reply needs. */
void http_head_end(struct http_head *h, const struct http_reply *r);
/* The reply is queued (rc 0) or could not be (the connection is
 * dropped); it closes afterwards unless kept. */
void http_done(const struct http_reply *r, int rc);
/* A status with its small HTML page; extra is more header lines. */
void http_error(struct http_reply *r, int status, const char *extra);
/* The status for a failed open. */
int http_errno_status(int err);
/* Answers with the regular file fd (name gives the type); takes fd. */
void http_serve_file(struct http_reply *r, int fd, const struct stat *st,
    const char *name);

/* ---- listing.c ---- */

/* Rendered listings, kept per service. */
struct http_cache;

struct http_cache *http_cache_new(void);
/* Drops every listing (a reload may have changed root or index). */
void http_cache_flush(struct http_cache *hc);
void http_cache_free(struct http_cache *hc);
/* Answers with the listing of directory fd (taken) at the normalised
 * path, from the cache while it is still right. */
void http_list(struct http_reply *r, int fd, const struct stat *st,
    const char *path, bool json);

#endif
