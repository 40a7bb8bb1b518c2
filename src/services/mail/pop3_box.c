/*
 * pop3_box.c - the mailbox side of a POP3 session, on pop3's worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "../../buf.h"
#include "pop3_box.h"

int
pop3_box_open(int rootfd, const char *box, struct maildir_box *mb,
    struct maildir_list *list)
{
	int rc = maildir_open(rootfd, box, mb);

	if (rc != 0)
		return rc;
	if (flock(mb->boxfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		maildir_close(mb);
		return rc;
	}
	if ((rc = maildir_scan(mb, list)) != 0)
		maildir_close(mb);
	return rc;
}

void
pop3_conv_init(struct pop3_conv *cv, long lines)
{
	*cv = (struct pop3_conv){ .at_start = true, .line_empty = true,
	    .left = lines };
}

size_t
pop3_convert(struct pop3_conv *cv, const char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n && !cv->done; i++) {
		char ch = in[i];

		if (cv->at_start && ch == '.')
			out[o++] = '.';
		if (ch == '\n' && !cv->prev_cr)
			out[o++] = '\r';
		out[o++] = ch;
		cv->prev_cr = ch == '\r';
		cv->at_start = ch == '\n';
		if (ch != '\n') {
			cv->line_empty = cv->line_empty && ch == '\r';
			continue;
		}
		if (!cv->in_body && cv->line_empty)
			cv->in_body = true;
		else if (cv->in_body && cv->left > 0)
			cv->left--;
		cv->done = cv->in_body && cv->left == 0;
		cv->line_empty = true;
	}
	return o;
}

size_t
pop3_conv_end(const struct pop3_conv *cv, char *out)
{
	size_t o = 0;

	if (!cv->at_start) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

int
pop3_stream_open(const struct maildir_box *mb, const struct maildir_msg *m,
    long lines, struct pop3_stream *st)
{
	int dirfd = m->sub == MAILDIR_NEW ? mb->newfd : mb->curfd;

	*st = (struct pop3_stream){ .fd = -1 };
	st->fd = openat(dirfd, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (st->fd < 0)
		return -errno;
	pop3_conv_init(&st->cv, lines);
	return 0;
}

void
pop3_stream_close(struct pop3_stream *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
}

/* Reads up to size bytes; *eof is set when the file has no more.  The
 * bytes read, or a negative errno. */
static ssize_t
pop3_stream_read(int fd, char *buf, size_t size, bool *eof)
{
	size_t got = 0;

	*eof = false;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {
			*eof = true;
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
pop3_stream_next(const struct maildir_box *mb, struct maildir_msg *m,
    struct pop3_stream *st, struct rbuf **out)
{
	char chunk[POP3_STREAM_CHUNK];       /* on the worker's 8 MiB stack */
	bool eof = false;
	ssize_t n = 0;
	size_t len = 0;
	struct rbuf *rb;

	if (!st->cv.done && (n = pop3_stream_read(st->fd, chunk,
	    sizeof(chunk), &eof)) < 0)
		return (int)n;
	/* The +OK line, the text (each byte at most two), the end. */
	if ((rb = rbuf_new(NULL, 64 + 2 * (size_t)n + 5)) == NULL)
		return -ENOMEM;
	if (!st->started)
		len = (size_t)snprintf(rb->data, 64, st->cv.left < 0 ?
		    "+OK %zu octets\r\n" : "+OK\r\n", m->vsize);
	st->started = true;
	len += pop3_convert(&st->cv, chunk, (size_t)n, rb->data + len);
	if (eof || st->cv.done) {
		len += pop3_conv_end(&st->cv, rb->data + len);
		st->finished = true;
		pop3_stream_close(st);
		/* RETR marks the message seen and moves it to cur/, as
		 * Dovecot does; the message goes out whether or not that
		 * worked. */
		if (st->cv.left < 0)
			maildir_mark_seen(mb, m);
	}
	rb->len = len;
	*out = rb;
	return 0;
}

int
pop3_box_expunge(const struct maildir_box *mb, const struct maildir_list *l,
    size_t *deleted)
{
	int rc = 0;

	*deleted = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct maildir_msg *m = &l->msgs[i];
		int dirfd = m->sub == MAILDIR_NEW ? mb->newfd : mb->curfd;

		if (!m->deleted)
			continue;
		if (unlinkat(dirfd, m->name, 0) == 0 || errno == ENOENT)
			(*deleted)++;
		else if (rc == 0)
			rc = -errno;
	}
	if (*deleted > 0 && (fsync(mb->curfd) != 0 || fsync(mb->newfd) != 0) &&
	    rc == 0)
		rc = -errno;
	return rc;
}
