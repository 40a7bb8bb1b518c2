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

#define POP3_READ_CHUNK 65536         /* bytes read at a time */

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

/* Converts what fd holds into rb after len bytes; the new length, or a
 * negative errno. */
static ssize_t
pop3_box_read(int fd, struct pop3_conv *cv, struct rbuf *rb, size_t len,
    size_t cap)
{
	char chunk[POP3_READ_CHUNK];
	ssize_t n = 0;

	while (!cv->done && (n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (len + 2 * (size_t)n + 5 > cap)
			return -EFBIG;        /* it grew since it was listed */
		len += pop3_convert(cv, chunk, (size_t)n, rb->data + len);
	}
	return n < 0 ? -errno : (ssize_t)len;
}

int
pop3_box_fetch(const struct maildir_box *mb, struct maildir_msg *m,
    long lines, struct rbuf **out)
{
	int dirfd = m->sub == MAILDIR_NEW ? mb->newfd : mb->curfd;
	int fd = openat(dirfd, m->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct pop3_conv cv;
	struct rbuf *rb;
	size_t cap;
	ssize_t len;

	if (fd < 0)
		return -errno;
	cap = 64 + 2 * m->fsize + 2 * POP3_READ_CHUNK + 8;
	if ((rb = rbuf_new(NULL, cap)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	pop3_conv_init(&cv, lines);
	len = snprintf(rb->data, 64, lines < 0 ? "+OK %zu octets\r\n" :
	    "+OK\r\n", m->vsize);
	len = pop3_box_read(fd, &cv, rb, (size_t)len, cap);
	close(fd);
	if (len < 0) {
		rbuf_unref(rb);
		return (int)len;
	}
	rb->len = (size_t)len + pop3_conv_end(&cv, rb->data + len);
	*out = rb;
	/* RETR marks the message seen and moves it to cur/, as Dovecot
	 * does; the message goes out whether or not that worked. */
	if (lines < 0)
		maildir_mark_seen(mb, m);
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
