/*
 * smtp_line.c - SMTP lines with their endings, the end of DATA, and the
 * paths of MAIL and RCPT.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../utf8.h"
#include "smtp_line.h"

size_t
smtp_cut(const char *data, size_t len, size_t max, struct smtp_piece *p)
{
	size_t scan = len < max ? len : max;
	const char *lf = memchr(data, '\n', scan);

	p->text = data;
	if (lf != NULL) {
		size_t n = (size_t)(lf - data);
		bool cr = n > 0 && data[n - 1] == '\r';

		p->len = cr ? n - 1 : n;
		p->eol = cr ? SMTP_EOL_CRLF : SMTP_EOL_LF;
		return n + 1;
	}
	if (len < max)
		return 0;
	/* A piece of a long line; a CR at its end waits for the next, as
	 * it may begin a CR LF. */
	p->len = data[max - 1] == '\r' ? max - 1 : max;
	p->eol = SMTP_EOL_NONE;
	return p->len;
}

void
smtp_ends_note(struct smtp_ends *e, enum smtp_eol eol)
{
	if (eol == SMTP_EOL_CRLF)
		e->crlf_seen = true;
	e->last = eol;
}

void
smtp_body_begin(struct smtp_body *b, size_t max)
{
	b->len = 0;
	b->max = max;
	b->size = 0;
	b->lines = 0;
	b->at_start = true;
	b->bare = false;
	b->over = false;
	b->nomem = false;
}

/* Whether a "." line ends the message: CR LF "." CR LF always, LF "." LF
 * only in a session that never sent CRLF. */
static bool
smtp_body_is_end(const struct smtp_ends *e, enum smtp_eol eol)
{
	if (eol == SMTP_EOL_CRLF)
		return e->last == SMTP_EOL_CRLF;
	return eol == SMTP_EOL_LF && e->last == SMTP_EOL_LF && !e->crlf_seen;
}

/* Appends bytes to the stored message while its size (counted before)
 * is within max. */
static void
smtp_body_store(struct smtp_body *b, const char *data, size_t len)
{
	if (b->size > b->max)
		b->over = true;
	if (b->over || b->nomem || len == 0)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *g;

		while (cap < b->len + len)
			cap *= 2;
		if ((g = realloc(b->buf, cap)) == NULL) {
			b->nomem = true;
			return;
		}
		b->buf = g;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
}

enum smtp_body_result
smtp_body_piece(struct smtp_body *b, struct smtp_ends *e,
    const struct smtp_piece *p)
{
	const char *text = p->text;
	size_t len = p->len;

	if (b->at_start && p->eol != SMTP_EOL_NONE && len == 1 &&
	    text[0] == '.' && smtp_body_is_end(e, p->eol)) {
		smtp_ends_note(e, p->eol);
		/* A bare LF is how a bare-LF session writes; only a session
		 * that uses CRLF can smuggle with one. */
		return b->bare && e->crlf_seen ? SMTP_BODY_BARE : SMTP_BODY_END;
	}
	if (b->at_start && len > 0 && text[0] == '.') {
		text++;               /* dot-stuffing undone */
		len--;
	}
	if (memchr(p->text, '\r', p->len) != NULL || p->eol == SMTP_EOL_LF)
		b->bare = true;
	b->size += len;
	smtp_body_store(b, text, len);
	if (p->eol != SMTP_EOL_NONE) {
		b->size += 2;
		b->lines++;
		smtp_body_store(b, "\n", 1);
		smtp_ends_note(e, p->eol);
	}
	b->at_start = p->eol != SMTP_EOL_NONE;
	return SMTP_BODY_MORE;
}

void
smtp_body_swap(struct smtp_body *b, char **buf, size_t *cap, size_t *len)
{
	char *spare = *buf;
	size_t spare_cap = spare != NULL ? *cap : 0;

	*buf = b->buf;
	*cap = b->cap;
	*len = b->len;
	b->buf = spare;
	b->cap = spare_cap;
	b->len = 0;
}

void
smtp_body_free(struct smtp_body *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

int
smtp_path(char *arg, const char *keyword, char **addr, char **params)
{
	size_t kl = strlen(keyword);
	char *p = arg, *end;

	if (arg == NULL || strncasecmp(p, keyword, kl) != 0)
		return -1;
	p += kl;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '<') {
		if ((end = strchr(++p, '>')) == NULL)
			return -1;
	} else {
		end = p + strcspn(p, " \t");
		if (end == p)
			return -1;
	}
	*params = *end != '\0' ? end + 1 : end;
	*end = '\0';
	while (**params == ' ' || **params == '\t')
		(*params)++;
	if (*p == '@' && (p = strchr(p, ':')) != NULL)  /* a source route */
		p++;
	*addr = p != NULL ? p : end;
	return p != NULL ? 0 : -1;
}

bool
smtp_addr_ok(const char *addr)
{
	size_t len = strlen(addr);

	if (len > SMTP_ADDR_MAX || !utf8_valid(addr, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}
