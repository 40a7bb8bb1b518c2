/*
 * fuzz_utf8_ref.h - a UTF-8 reference for the fuzz targets, written from
 * the Unicode standard's table of well-formed byte sequences (table 3-7)
 * and independent of src/utf8.c, so the two can check each other.
 */
#ifndef MULTID_FUZZ_UTF8_REF_H
#define MULTID_FUZZ_UTF8_REF_H

#include <stdbool.h>
#include <stddef.h>

#ifndef HARNESS
#define HARNESS               /* a target may keep these out of coverage */
#endif

/* Length of the well-formed sequence at s, or 0. */
HARNESS static inline size_t
ref_sequence(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* True when all of s is well-formed UTF-8. */
HARNESS static inline bool
ref_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		if ((n = ref_sequence((const unsigned char *)s + i, len - i)) == 0)
			return false;
		i += n;
	}
	return true;
}

#endif
