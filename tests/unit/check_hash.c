/*
 * check_hash.c - unit tests of the intrusive hash table: FNV-1a vectors,
 * add and find across doublings, equal hashes told apart by the compare,
 * deletion anywhere in a chain, and walks that visit every node once,
 * deleting as they go.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define N_ITEMS 5000                  /* entries of the larger tests */

struct item {
	int              pad;         /* so that the node is not first */
	struct hash_node node;        /* in the table */
	int              key;         /* the key */
	int              seen;        /* walks that met this item */
};

static bool
item_match(const struct hash_node *n, const void *key)
{
	return HASH_ENTRY(n, struct item, node)->key == *(const int *)key;
}

static uint32_t
item_hash(int key)
{
	return hash_bytes(&key, sizeof(key));
}

/* The item with key, or NULL. */
static struct item *
item_find(const struct hash_table *t, int key, uint32_t h)
{
	struct hash_node *n = hash_find(t, h, &key, item_match);

	return n != NULL ? HASH_ENTRY(n, struct item, node) : NULL;
}

static struct item *
items_new(int n)
{
	struct item *v = calloc((size_t)n, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	for (int i = 0; i < n; i++)
		v[i].key = i * 7 + 1;
	return v;
}

START_TEST(fnv1a_vectors)
{
	ck_assert_uint_eq(hash_bytes("", 0), 0x811c9dc5u);
	ck_assert_uint_eq(hash_bytes("a", 1), 0xe40c292cu);
	ck_assert_uint_eq(hash_bytes("foobar", 6), 0xbf9cf968u);
}
END_TEST

START_TEST(empty_table_finds_nothing)
{
	struct hash_table t = HASH_TABLE_INIT;
	int key = 1;

	ck_assert_ptr_null(hash_find(&t, item_hash(key), &key, item_match));
	ck_assert_ptr_null(hash_first(&t));
	hash_free(&t);
	ck_assert_uint_eq(t.count, 0);
}
END_TEST

START_TEST(add_and_find_across_doublings)
{
	struct hash_table t = HASH_TABLE_INIT;
	struct item *v = items_new(N_ITEMS);

	for (int i = 0; i < N_ITEMS; i++) {
		ck_assert_int_eq(hash_add(&t, &v[i].node, item_hash(v[i].key)), 0);
		ck_assert_uint_eq(t.count, (size_t)i + 1);
		ck_assert_uint_ge(t.nbuckets, t.count);
		ck_assert_uint_eq(t.nbuckets & (t.nbuckets - 1), 0);
	}
	for (int i = 0; i < N_ITEMS; i++)
		ck_assert_ptr_eq(item_find(&t, v[i].key, item_hash(v[i].key)),
		    &v[i]);
	/* Keys that were never added. */
	for (int i = 0; i < N_ITEMS; i++)
		ck_assert_ptr_null(item_find(&t, i * 7 + 2, item_hash(i * 7 + 2)));
	hash_free(&t);
	ck_assert_ptr_null(t.buckets);
	free(v);
}
END_TEST

/* Every node in one chain: the compare alone tells them apart, and a
 * deletion at the head, the middle and the tail keeps the rest found. */
START_TEST(equal_hashes_are_told_apart)
{
	struct hash_table t = HASH_TABLE_INIT;
	struct item *v = items_new(40);

	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(hash_add(&t, &v[i].node, 42), 0);
	for (int i = 0; i < 40; i++)
		ck_assert_ptr_eq(item_find(&t, v[i].key, 42), &v[i]);
	/* The right key under another hash is not found. */
	ck_assert_ptr_null(item_find(&t, v[0].key, 43));
	hash_del(&t, &v[39].node);    /* the head: added last */
	hash_del(&t, &v[20].node);
	hash_del(&t, &v[0].node);     /* the tail */
	ck_assert_uint_eq(t.count, 37);
	for (int i = 0; i < 40; i++)
		ck_assert_ptr_eq(item_find(&t, v[i].key, 42),
		    i == 39 || i == 20 || i == 0 ? NULL : &v[i]);
	hash_free(&t);
	free(v);
}
END_TEST

START_TEST(walk_visits_every_node_once)
{
	struct hash_table t = HASH_TABLE_INIT;
	struct item *v = items_new(N_ITEMS);
	size_t walked = 0;

	for (int i = 0; i < N_ITEMS; i++)
		hash_add(&t, &v[i].node, item_hash(v[i].key));
	for (struct hash_node *n = hash_first(&t); n != NULL;
	    n = hash_next(&t, n)) {
		HASH_ENTRY(n, struct item, node)->seen++;
		ck_assert_uint_le(++walked, N_ITEMS);
	}
	ck_assert_uint_eq(walked, N_ITEMS);
	for (int i = 0; i < N_ITEMS; i++)
		ck_assert_int_eq(v[i].seen, 1);
	hash_free(&t);
	free(v);
}
END_TEST

/* A walk that deletes every other node it meets, then one that empties
 * the table, as an owner frees its entries. */
START_TEST(walk_may_delete_the_current_node)
{
	struct hash_table t = HASH_TABLE_INIT;
	struct item *v = items_new(N_ITEMS);
	struct hash_node *n, *next;
	size_t walked = 0;

	for (int i = 0; i < N_ITEMS; i++)
		hash_add(&t, &v[i].node, item_hash(v[i].key));
	for (n = hash_first(&t); n != NULL; n = next) {
		struct item *it = HASH_ENTRY(n, struct item, node);

		next = hash_next(&t, n);
		it->seen++;
		if (it->key % 2 == 0)
			hash_del(&t, n);
		ck_assert_uint_le(++walked, N_ITEMS);
	}
	ck_assert_uint_eq(walked, N_ITEMS);
	for (int i = 0; i < N_ITEMS; i++) {
		ck_assert_int_eq(v[i].seen, 1);
		ck_assert_ptr_eq(item_find(&t, v[i].key, item_hash(v[i].key)),
		    v[i].key % 2 == 0 ? NULL : &v[i]);
	}
	for (n = hash_first(&t); n != NULL; n = next) {
		next = hash_next(&t, n);
		hash_del(&t, n);
	}
	ck_assert_uint_eq(t.count, 0);
	ck_assert_ptr_null(hash_first(&t));
	hash_free(&t);
	free(v);
}
END_TEST

START_TEST(table_is_usable_after_free)
{
	struct hash_table t = HASH_TABLE_INIT;
	struct item *v = items_new(3);

	hash_add(&t, &v[0].node, item_hash(v[0].key));
	hash_del(&t, &v[0].node);
	hash_free(&t);
	ck_assert_int_eq(hash_add(&t, &v[1].node, item_hash(v[1].key)), 0);
	ck_assert_ptr_eq(item_find(&t, v[1].key, item_hash(v[1].key)), &v[1]);
	ck_assert_ptr_null(item_find(&t, v[0].key, item_hash(v[0].key)));
	hash_free(&t);
	free(v);
}
END_TEST

static Suite *
hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("hash");

	tcase_add_test(tc, fnv1a_vectors);
	tcase_add_test(tc, empty_table_finds_nothing);
	tcase_add_test(tc, add_and_find_across_doublings);
	tcase_add_test(tc, equal_hashes_are_told_apart);
	tcase_add_test(tc, walk_visits_every_node_once);
	tcase_add_test(tc, walk_may_delete_the_current_node);
	tcase_add_test(tc, table_is_usable_after_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hash_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
