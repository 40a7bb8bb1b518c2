/*
 * cluster_msg.c - the wire form of what chat instances tell each other
 * through Redis (cluster.h): a short header, then five length-prefixed
 * fields, so that any text (blanks, IRC formatting codes) passes as it
 * is.  The decoder trusts nothing: names must keep the nickname rule and
 * text is valid UTF-8, sanitised again, as a local user's would be.
 *
 *     1 <16 hex digits: sender> <type><flag> <field>*5
 *     field: "-" (absent) or <decimal length>:<bytes>
 *     fields: nick, room, text, styled, to
 *     flag: '-', 'n' (notice), 's' (silent)
 *
 * e.g. "1 00000000000000ff M- 3:bob5:lobby2:hi--".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../name.h"
#include "../../utf8.h"
#include "cluster.h"
#include "irc.h"

#define CLUSTER_FIELDS 5
#define CLUSTER_HEAD   22             /* "1 " + 16 + " " + type, flag, " " */

/* Bytes field s takes on the wire. */
static size_t
cluster_field_len(const char *s)
{
	return s == NULL ? 1 : strlen(s) + 12;
}

static size_t
cluster_field_put(char *p, const char *s)
{
	if (s == NULL) {
		*p = '-';
		return 1;
	}
	return (size_t)sprintf(p, "%zu:%s", strlen(s), s);
}

char *
cluster_msg_encode(const struct cluster_msg *m, size_t *len)
{
	const char *f[CLUSTER_FIELDS] = { m->nick, m->room, m->text, m->styled,
	    m->to };
	size_t cap = CLUSTER_HEAD + 1, n;
	char *out;

	for (int i = 0; i < CLUSTER_FIELDS; i++)
		cap += cluster_field_len(f[i]);
	if ((out = malloc(cap)) == NULL)
		return NULL;
	n = (size_t)sprintf(out, "1 %016" PRIx64 " %c%c ", m->from,
	    (char)m->type, m->notice ? 'n' : m->silent ? 's' : '-');
	for (int i = 0; i < CLUSTER_FIELDS; i++)
		n += cluster_field_put(out + n, f[i]);
	out[n] = '\0';
	*len = n;
	return out;
}

/* Reads one field at *p (end: the data's end) into *store; advances
 * both.  *out is NULL for an absent field.  0 or -EINVAL. */
static int
cluster_field_get(const char **p, const char *end, char **store,
    const char **out)
{
	size_t n = 0;
	const char *s = *p;

	if (s < end && *s == '-') {
		*out = NULL;
		*p = s + 1;
		return 0;
	}
	if (s >= end || *s < '0' || *s > '9' || (*s == '0' && s + 1 < end &&
	    s[1] != ':'))
		return -EINVAL;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (size_t)(*s - '0');
		if (n > CLUSTER_TEXT_MAX)
			return -EINVAL;
	}
	if (s >= end || *s != ':' || (size_t)(end - s - 1) < n ||
	    memchr(s + 1, '\0', n) != NULL)
		return -EINVAL;
	memcpy(*store, s + 1, n);
	(*store)[n] = '\0';
	*out = *store;
	*store += n + 1;
	*p = s + 1 + n;
	return 0;
}

/* Whether s is blank-separated valid names (or empty). */
static bool
cluster_names_valid(const char *s)
{
	char name[NAME_LEN_MAX + 1];

	while (*s != '\0') {
		size_t n = strcspn(s, " ");

		if (n == 0 || n > NAME_LEN_MAX)
			return false;
		memcpy(name, s, n);
		name[n] = '\0';
		if (!name_valid(name))
			return false;
		s += n;
		if (*s == ' ' && *++s == '\0')
			return false;
	}
	return true;
}

/* Text as a local user's: valid UTF-8, sanitised in place (formatting
 * codes kept when styled). */
static bool
cluster_text_clean(const char *t, bool styled)
{
	char *s = (char *)t;      /* it lives in the caller's store */
	size_t len;

	if (s == NULL)
		return true;
	len = strlen(s);
	if (!utf8_valid(s, len))
		return false;
	len = styled ? irc_sanitize(s, len) : utf8_sanitize(s, len);
	s[len] = '\0';
	return true;
}

/* Whether the fields m's type needs are there and well-formed. */
static bool
cluster_msg_valid(const struct cluster_msg *m)
{
	bool named = m->type != CLUSTER_SYNC && m->type != CLUSTER_END &&
	    m->type != CLUSTER_ALIVE;
	bool in_room = m->type == CLUSTER_MESSAGE || m->type == CLUSTER_ACTION ||
	    m->type == CLUSTER_JOIN || m->type == CLUSTER_PART ||
	    m->type == CLUSTER_TOPIC;
	bool texted = m->type == CLUSTER_MESSAGE || m->type == CLUSTER_ACTION ||
	    m->type == CLUSTER_TOPIC || m->type == CLUSTER_PRIVATE ||
	    m->type == CLUSTER_NICK;

	if (named != (m->nick != NULL) || (m->nick != NULL &&
	    !name_valid(m->nick)))
		return false;
	if ((in_room && (m->room == NULL || !name_valid(m->room))) ||
	    (!in_room && m->room != NULL))
		return false;
	if ((texted && m->text == NULL) || (m->type == CLUSTER_PRIVATE) !=
	    (m->to != NULL) || (m->to != NULL && !name_valid(m->to)))
		return false;
	if (m->type == CLUSTER_NICK && !name_valid(m->text))
		return false;
	if (m->type == CLUSTER_USER && m->text != NULL &&
	    !cluster_names_valid(m->text))
		return false;
	return true;
}

static bool
cluster_type_known(char t)
{
	return t != '\0' && strchr("MAJPQNTDUSEH", t) != NULL;
}

int
cluster_msg_decode(const char *data, size_t len, struct cluster_msg *m,
    char *store)
{
	const char *end = data + len, *p = data + CLUSTER_HEAD;
	const char **f[CLUSTER_FIELDS] = { &m->nick, &m->room, &m->text,
	    &m->styled, &m->to };
	char hex[17];

	memset(m, 0, sizeof(*m));
	if (len < CLUSTER_HEAD || memcmp(data, "1 ", 2) != 0 || data[18] != ' ' ||
	    data[21] != ' ' || !cluster_type_known(data[19]) ||
	    strchr("-ns", data[20]) == NULL || data[20] == '\0')
		return -EINVAL;
	memcpy(hex, data + 2, 16);
	hex[16] = '\0';
	if (strspn(hex, "0123456789abcdef") != 16)
		return -EINVAL;
	m->from = strtoull(hex, NULL, 16);
	m->type = (enum cluster_msg_type)data[19];
	m->notice = data[20] == 'n';
	m->silent = data[20] == 's';
	for (int i = 0; i < CLUSTER_FIELDS; i++)
		if (cluster_field_get(&p, end, &store, f[i]) != 0)
			return -EINVAL;
	if (p != end || !cluster_text_clean(m->text, false) ||
	    !cluster_text_clean(m->styled, true) || !cluster_msg_valid(m))
		return -EINVAL;
	return 0;
}
