/*
 * fuzz_cluster.c - the decoder of what chat instances tell each other
 * through Redis (services/chat/cluster_msg.c) on arbitrary bytes, as
 * anybody who can publish on the channel may send them.
 *
 * Invariants.  A message decodes or is refused, never read past its end.
 * Decoded: its type is one of the known letters; every name present keeps
 * the nickname rule; every text is valid UTF-8 with no NUL, no ESC, DEL
 * or C0 control but TAB (and, in the styled text, IRC's formatting codes
 * and ^A); encoding it again gives a terminated string, and decoding
 * that gives the same fields.  The same bytes as the cluster key's URL
 * (cluster_url_check) are taken or refused without a leak.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "services/chat/cluster.h"
#include "services/chat/irc.h"
#include "utf8.h"

static void
check_text(const char *s, bool styled)
{
	size_t len;

	if (s == NULL)
		return;
	len = strlen(s);
	assert(len <= CLUSTER_TEXT_MAX);
	assert(utf8_valid(s, len));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		assert(c != 0x1b && c != 0x7f);
		if (c < 0x20 && c != '\t')
			assert(styled && (irc_format_code(c) || c == IRC_CTCP));
	}
}

static void
check_name(const char *s)
{
	if (s != NULL)
		assert(name_valid(s));
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_msg m, again;
	char *store = malloc(size + 8), *wire, *store2;
	size_t len;

	if (store == NULL)
		return 0;
	memcpy(store, data, size);
	store[size] = '\0';
	(void)cluster_url_check(store);
	if (cluster_msg_decode((const char *)data, size, &m, store) != 0) {
		free(store);
		return 0;
	}
	assert(strchr("MAJPQNTDUSEH", (int)m.type) != NULL);
	check_name(m.nick);
	check_name(m.room);
	check_name(m.to);
	check_text(m.text, false);
	check_text(m.styled, true);
	wire = cluster_msg_encode(&m, &len);
	assert(wire != NULL && wire[len] == '\0');
	store2 = malloc(len + 8);
	assert(store2 != NULL);
	assert(cluster_msg_decode(wire, len, &again, store2) == 0);
	assert(again.type == m.type && again.from == m.from);
	assert(again.notice == m.notice && again.silent == m.silent);
	assert(same(again.nick, m.nick) && same(again.room, m.room));
	assert(same(again.text, m.text) && same(again.styled, m.styled));
	assert(same(again.to, m.to));
	free(store2);
	free(wire);
	free(store);
	return 0;
}
