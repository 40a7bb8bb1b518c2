/*
 * utf8.h - UTF-8 text for the line services: validation, counting, case
 * mapping, reversing, and the sanitiser that keeps one chat user from
 * driving another user's terminal.
 *
 * Everything here is pure and works on byte ranges (a line may hold NUL).
 * Validation follows RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF.
 */
#ifndef MULTID_UTF8_H
#define MULTID_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UTF8_SEQ_MAX 4                /* bytes of the longest sequence */

/* Case mapping can change a character's length (U+0250 has two bytes,
 * its capital U+2C6F three); out needs this much room for len bytes. */
#define UTF8_CASE_MAX(len) ((len) * UTF8_SEQ_MAX)

enum utf8_case {
	UTF8_UPPER,               /* towupper */
	UTF8_LOWER,               /* towlower */
};

/* Decodes the sequence at s; returns its length (1..4) and the code point
 * in *cp, or 0 when the bytes there are not valid UTF-8. */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);
/* Encodes cp (at most U+10FFFF, no surrogate) into out; returns bytes. */
size_t utf8_encode(uint32_t cp, char *out);

bool utf8_valid(const char *s, size_t len);
/* Code points in valid UTF-8 text. */
size_t utf8_count(const char *s, size_t len);

/* Loads the C.UTF-8 character classes case mapping needs, once, without
 * touching the global locale.  0, or a negative errno. */
int utf8_init(void);
/* Writes s with every character mapped to upper or lower case into out
 * (room for UTF8_CASE_MAX(len)); returns the bytes written, -EILSEQ for
 * invalid UTF-8, -ENOBUFS when out is too small, or utf8_init's error. */
ssize_t utf8_case(char *out, size_t cap, const char *s, size_t len,
    enum utf8_case how);
/* Writes the characters of valid UTF-8 s in reverse order into out
 * (len bytes). */
void utf8_reverse(char *out, const char *s, size_t len);

/* Removes, in place, what could drive a terminal: C0 controls but TAB,
 * DEL, C1 controls, and whole escape sequences (CSI, OSC, DCS, SOS, PM,
 * APC and two-byte escapes), whether introduced by ESC or by a C1 code.
 * s must be valid UTF-8; returns the new length. */
size_t utf8_sanitize(char *s, size_t len);

#endif
