/*
 * hash.c - the intrusive chained hash table of hash.h.
 *
 * Buckets are a power of two, so a node's bucket is its cached hash masked;
 * the table doubles when its nodes outnumber its buckets, which keeps the
 * chains about one node long.  It never shrinks: the tables it serves grow
 * to their working size and stay there.
 */
#include <errno.h>
#include <stdlib.h>

#include "hash.h"

#define HASH_BUCKETS_MIN 16           /* buckets of the first add */

static size_t
hash_slot(const struct hash_table *t, uint32_t hash)
{
	return hash & (t->nbuckets - 1);
}

struct hash_node *
hash_find(const struct hash_table *t, uint32_t hash, const void *key,
    hash_match_fn *match)
{
	if (t->count == 0)
		return NULL;
	for (struct hash_node *n = t->buckets[hash_slot(t, hash)]; n != NULL;
	    n = n->next)
		if (n->hash == hash && match(n, key))
			return n;
	return NULL;
}

/* Doubles the buckets and relinks every node by its cached hash; on
 * failure the table stays as it is. */
static void
hash_grow(struct hash_table *t)
{
	size_t nbuckets = t->nbuckets ? t->nbuckets * 2 : HASH_BUCKETS_MIN;
	struct hash_node **buckets = calloc(nbuckets, sizeof(*buckets));

	if (buckets == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->buckets[i] != NULL) {
			struct hash_node *n = t->buckets[i];
			size_t slot = n->hash & (nbuckets - 1);

			t->buckets[i] = n->next;
			n->next = buckets[slot];
			buckets[slot] = n;
		}
	free(t->buckets);
	t->buckets = buckets;
	t->nbuckets = nbuckets;
}

int
hash_add(struct hash_table *t, struct hash_node *node, uint32_t hash)
{
	struct hash_node **head;

	if (t->count >= t->nbuckets)
		hash_grow(t);
	if (t->nbuckets == 0)
		return -ENOMEM;
	node->hash = hash;
	head = &t->buckets[hash_slot(t, hash)];
	node->next = *head;
	*head = node;
	t->count++;
	return 0;
}

void
hash_del(struct hash_table *t, struct hash_node *node)
{
	struct hash_node **pp = &t->buckets[hash_slot(t, node->hash)];

	while (*pp != NULL && *pp != node)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return;
	*pp = node->next;
	t->count--;
}

/* The first node of the buckets from slot on, or NULL. */
static struct hash_node *
hash_scan(const struct hash_table *t, size_t slot)
{
	for (; slot < t->nbuckets; slot++)
		if (t->buckets[slot] != NULL)
			return t->buckets[slot];
	return NULL;
}

struct hash_node *
hash_first(const struct hash_table *t)
{
	return t->count == 0 ? NULL : hash_scan(t, 0);
}

struct hash_node *
hash_next(const struct hash_table *t, const struct hash_node *node)
{
	if (node->next != NULL)
		return node->next;
	return hash_scan(t, hash_slot(t, node->hash) + 1);
}

void
hash_free(struct hash_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}
