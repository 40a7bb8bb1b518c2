/*
 * reply.c - the http service's responses: heads, error pages and files
 * (see http.h).
 *
 * A head is formatted into one buffer, and a small file (up to
 * HTTP_INLINE_MAX) is copied right behind it, so head and body leave in
 * one write; a bigger one goes with sendfile(2) and is never read into
 * memory.  Conditional requests and single byte ranges are answered
 * here, as nginx's static module does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../conn.h"
#include "http.h"
#include "mime.h"

#define HTTP_INLINE_MAX     (16 * 1024)  /* files copied into the reply:
                                            a third less CPU than sendfile
                                            for 1 KiB */

/* A head and a small body; the reactor is single-threaded. */
static char http_out[HTTP_HEAD_MAX + HTTP_INLINE_MAX];

int
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

void
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

/* The head goes into http_out, where a small body may follow it. */
struct http_head
http_head_begin(int status)
{
	struct http_head h = { http_out, 0, HTTP_HEAD_MAX };

	http_head_add(&h, "HTTP/1.1 %d %s\r\nServer: multid\r\nDate: %s\r\n",
	    status, http_status_text(status), http_date_now());
	return h;
}

void
http_head_end(struct http_head *h, const struct http_reply *r)
{
	if (!r->keep)
		http_head_add(h, "Connection: close\r\n\r\n");
	else if (r->req != NULL && r->req->version == 10)
		http_head_add(h, "Connection: keep-alive\r\n\r\n");
	else
		http_head_add(h, "\r\n");
}

void
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

void
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

void
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

