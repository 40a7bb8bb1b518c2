/*
 * hash.h - FNV-1a, and the one chained hash table of multid (client
 * addresses, chat names, MIME types, directory listings).
 *
 * The table is intrusive: the user's struct embeds a struct hash_node, and
 * the table only links nodes, so adding never allocates an entry and an
 * entry is found again from its node with HASH_ENTRY().  A node caches the
 * hash of its key; a lookup compares that first and calls the caller's
 * compare only on equal hashes, and growing never hashes a key again.
 *
 *	struct source {
 *		struct hash_node node;   // in the table of addresses
 *		struct ip_key    ip;     // the key
 *	};
 *	n = hash_find(&t, h, &ip, source_match);
 *	s = n != NULL ? HASH_ENTRY(n, struct source, node) : NULL;
 *
 * A zeroed struct hash_table (or HASH_TABLE_INIT) is an empty table; the
 * buckets are allocated by the first add and doubled when the entries
 * outnumber them.  The table never frees a node: hash_free() frees the
 * buckets alone, after the owner has taken its entries out.
 */
#ifndef MULTID_HASH_H
#define MULTID_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint32_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

/* The link embedded in an entry. */
struct hash_node {
	struct hash_node *next;       /* same bucket */
	uint32_t          hash;       /* of the entry's key, cached */
};

/* A chained table of nodes. */
struct hash_table {
	struct hash_node **buckets;   /* chains; NULL until the first add */
	size_t             nbuckets;  /* a power of two, or 0 */
	size_t             count;     /* nodes in the table */
};

#define HASH_TABLE_INIT { NULL, 0, 0 }

/* The entry of type type whose member member is node. */
#define HASH_ENTRY(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

/* True when node's entry has key (the hashes are equal already). */
typedef bool hash_match_fn(const struct hash_node *node, const void *key);

/* The node with hash and key, or NULL. */
struct hash_node *hash_find(const struct hash_table *t, uint32_t hash,
    const void *key, hash_match_fn *match);
/* Links node under hash; the caller has checked that its key is not in
 * the table yet, if it cares.  0, or -ENOMEM when the table has no buckets
 * and none can be had (a failed doubling only makes the table slower). */
int hash_add(struct hash_table *t, struct hash_node *node, uint32_t hash);
/* Unlinks node, which is in t. */
void hash_del(struct hash_table *t, struct hash_node *node);

/* The first node in bucket order, or NULL when t is empty. */
struct hash_node *hash_first(const struct hash_table *t);
/* The node after node, or NULL.  To delete while walking, take the next
 * node before deleting this one:
 *	for (n = hash_first(t); n != NULL; n = next) {
 *		next = hash_next(t, n);
 *		...
 *	} */
struct hash_node *hash_next(const struct hash_table *t,
    const struct hash_node *node);

/* Frees the buckets, not the nodes, and leaves an empty table. */
void hash_free(struct hash_table *t);

#endif
