/*
 * name.c - the nickname rule.  It is ASCII only, so names compare without
 * regard to case with strcasecmp and fold with tolower.
 */
#include <ctype.h>
#include <string.h>

#include "name.h"

bool
name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAME_LEN_MAX || !isascii((unsigned char)name[0]) ||
	    !isalpha((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isascii(ch) || (!isalnum(ch) && ch != '_' && ch != '-'))
			return false;
	}
	return true;
}
