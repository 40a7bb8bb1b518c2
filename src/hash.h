/*
 * hash.h - FNV-1a, the hash of multid's small chained tables (client
 * addresses, chat names, MIME types, directory listings).
 */
#ifndef MULTID_HASH_H
#define MULTID_HASH_H

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

#endif
