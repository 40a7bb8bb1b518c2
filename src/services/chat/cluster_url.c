/*
 * cluster_url.c - the chat's cluster key: redis://[[USER]:PASSWORD@]HOST
 * [:PORT][/DB], as Redis's own clients write it (the IANA "redis" URI
 * scheme), with %XX escapes in USER and PASSWORD.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_impl.h"

void
cluster_url_free(struct cluster_url *u)
{
	free(u->host);
	free(u->user);
	if (u->password != NULL)
		explicit_bzero(u->password, strlen(u->password));
	free(u->password);
	memset(u, 0, sizeof(*u));
}

static int
cluster_hex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
	    c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The n bytes at s with %XX escapes undone, in a new string; NULL for a
 * broken escape, a NUL or a control character (errno EINVAL), or
 * without memory. */
static char *
cluster_unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || cluster_hex(s[i + 1]) < 0 ||
			    cluster_hex(s[i + 2]) < 0)
				goto bad;
			c = cluster_hex(s[i + 1]) * 16 + cluster_hex(s[i + 2]);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			goto bad;
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
bad:
	free(out);
	errno = EINVAL;
	return NULL;
}

int
cluster_url_parse(const char *url, struct cluster_url *u)
{
	const char *h, *at, *slash, *colon, *end;
	size_t n;
	long p = 6379;
	char *e;
	int err;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	h = url + 8;
	slash = strchr(h, '/');
	end = slash != NULL ? slash : h + strlen(h);
	/* Userinfo: up to the last '@' before the path. */
	at = NULL;
	for (const char *q = h; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		const char *sep = memchr(h, ':', (size_t)(at - h));

		if (sep == NULL || sep + 1 == at)
			return -EINVAL;       /* a password is needed */
		if (sep > h && (u->user = cluster_unescape(h,
		    (size_t)(sep - h))) == NULL)
			goto fail;
		if ((u->password = cluster_unescape(sep + 1,
		    (size_t)(at - sep - 1))) == NULL)
			goto fail;
		h = at + 1;
	}
	if (slash != NULL) {
		errno = 0;
		u->db = strtol(slash + 1, &e, 10);
		if (errno != 0 || *e != '\0' || e == slash + 1 ||
		    slash[1] < '0' || slash[1] > '9' || u->db > 65535) {
			cluster_url_free(u);
			return -EINVAL;
		}
	}
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (close == NULL || (close + 1 < end && close[1] != ':')) {
			cluster_url_free(u);
			return -EINVAL;
		}
		n = (size_t)(close - h - 1);
		colon = close + 1 < end ? close + 1 : NULL;
		h++;
	} else {
		colon = NULL;
		for (const char *q = h; q < end; q++)
			if (*q == ':')
				colon = q;
		n = colon != NULL ? (size_t)(colon - h) : (size_t)(end - h);
	}
	if (colon != NULL) {
		errno = 0;
		p = strtol(colon + 1, &e, 10);
		if (errno != 0 || e != end || e == colon + 1 ||
		    colon[1] < '0' || colon[1] > '9' || p < 1 || p > 65535) {
			cluster_url_free(u);
			return -EINVAL;
		}
	}
	if (n == 0 || n > 253 || memchr(h, '@', n) != NULL) {
		cluster_url_free(u);
		return -EINVAL;
	}
	if ((u->host = strndup(h, n)) == NULL)
		goto fail;
	u->port = (int)p;
	return 0;
fail:
	err = errno == EINVAL ? -EINVAL : -ENOMEM;
	cluster_url_free(u);
	return err;
}

const char *
cluster_url_check(const char *url)
{
	struct cluster_url u;
	int err = cluster_url_parse(url, &u);

	cluster_url_free(&u);
	if (err == -EINVAL)
		return "cluster: not redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";
	return NULL;
}
