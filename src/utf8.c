/*
 * utf8.c - UTF-8 validation, counting, case mapping, reversing and the
 * terminal-safe sanitiser.
 *
 * Case mapping uses glibc's towupper_l/towlower_l with a C.UTF-8 locale
 * object of our own: setlocale(3) would change the daemon's number and
 * message formatting everywhere, and the locale object changes nothing.
 */
#include <errno.h>
#include <locale.h>
#include <string.h>
#include <wctype.h>

#include "utf8.h"

#define ESC 0x1b                      /* starts an escape sequence */
#define BEL 0x07                      /* ends an OSC, as xterm allows */
#define CAN 0x18                      /* cancels a sequence */
#define SUB 0x1a                      /* cancels a sequence */
#define DEL 0x7f                      /* delete */

/* C1 controls that open a sequence (ECMA-48 section 5.3). */
#define C1_DCS 0x90                   /* device control string */
#define C1_SOS 0x98                   /* start of string */
#define C1_CSI 0x9b                   /* control sequence introducer */
#define C1_ST  0x9c                   /* string terminator */
#define C1_OSC 0x9d                   /* operating system command */
#define C1_PM  0x9e                   /* privacy message */
#define C1_APC 0x9f                   /* application program command */

static locale_t utf8_locale;          /* C.UTF-8, loaded by utf8_init */

/* True when byte b is a continuation byte (10xxxxxx). */
static bool
utf8_cont(unsigned char b)
{
	return (b & 0xc0) == 0x80;
}

size_t
utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;   /* range of the second byte */
	size_t n;
	uint32_t v;

	if (len == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;     /* a continuation byte, an overlong lead, or past U+10FFFF */
	if (p[0] < 0xe0) {
		n = 2, v = p[0] & 0x1f;
	} else if (p[0] < 0xf0) {
		n = 3, v = p[0] & 0x0f;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;      /* no overlong forms */
		hi = p[0] == 0xed ? 0x9f : 0xbf;      /* no surrogates */
	} else {
		n = 4, v = p[0] & 0x07;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;      /* no overlong forms */
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;      /* nothing past U+10FFFF */
	}
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (!utf8_cont(p[i]))
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	*cp = v;
	return n;
}

size_t
utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

bool
utf8_valid(const char *s, size_t len)
{
	uint32_t cp;
	size_t i = 0, n;

	while (i < len) {
		/* ASCII runs are the common case; skip them a byte at a time
		 * without decoding. */
		if ((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_decode(s + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

size_t
utf8_count(const char *s, size_t len)
{
	size_t n = 0;

	/* Every character has exactly one byte that is not a continuation. */
	for (size_t i = 0; i < len; i++)
		n += !utf8_cont((unsigned char)s[i]);
	return n;
}

int
utf8_init(void)
{
	if (utf8_locale != (locale_t)0)
		return 0;
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	return utf8_locale != (locale_t)0 ? 0 : -(errno ? errno : ENOENT);
}

/* Maps one code point; a mapping that would give something UTF-8 cannot
 * carry (never seen, but wint_t is wide) keeps the original. */
static uint32_t
utf8_map(uint32_t cp, enum utf8_case how)
{
	wint_t m = how == UTF8_UPPER ? towupper_l((wint_t)cp, utf8_locale) :
	    towlower_l((wint_t)cp, utf8_locale);

	if (m > 0x10ffff || (m >= 0xd800 && m <= 0xdfff))
		return cp;
	return (uint32_t)m;
}

ssize_t
utf8_case(char *out, size_t cap, const char *s, size_t len,
    enum utf8_case how)
{
	size_t i = 0, o = 0, n;
	uint32_t cp;
	int err;

	if ((err = utf8_init()) < 0)
		return err;
	while (i < len) {
		if ((n = utf8_decode(s + i, len - i, &cp)) == 0)
			return -EILSEQ;
		if (cap - o < UTF8_SEQ_MAX)
			return -ENOBUFS;
		o += utf8_encode(utf8_map(cp, how), out + o);
		i += n;
	}
	return (ssize_t)o;
}

void
utf8_reverse(char *out, const char *s, size_t len)
{
	size_t i = 0;

	/* Each character is copied whole to the mirrored place, so its
	 * bytes keep their order. */
	while (i < len) {
		size_t n = 1;

		while (i + n < len && utf8_cont((unsigned char)s[i + n]))
			n++;
		memcpy(out + len - i - n, s + i, n);
		i += n;
	}
}

/* Skips the rest of a control sequence (after ESC [ or CSI): parameter
 * bytes, intermediate bytes, then one final byte (ECMA-48 5.4).  Returns
 * the index after it; a malformed sequence ends at the first byte that
 * does not fit, which is then judged on its own. */
static size_t
skip_csi(const unsigned char *p, size_t len, size_t i)
{
	while (i < len && p[i] >= 0x30 && p[i] <= 0x3f)
		i++;
	while (i < len && p[i] >= 0x20 && p[i] <= 0x2f)
		i++;
	if (i < len && p[i] >= 0x40 && p[i] <= 0x7e)
		i++;
	return i;
}

/* Skips a control string (OSC, DCS, SOS, PM, APC) up to and including its
 * terminator: ST (ESC \ or the C1 code), or BEL as xterm takes it for OSC.
 * CAN and SUB abort it, and so does an ESC that starts something else.
 * An unterminated string runs to the end of the line, as a terminal would
 * swallow it too. */
static size_t
skip_string(const unsigned char *p, size_t len, size_t i)
{
	for (; i < len; i++) {
		if (p[i] == BEL || p[i] == CAN || p[i] == SUB)
			return i + 1;
		if (p[i] == ESC)
			return i + 1 < len && p[i + 1] == '\\' ? i + 2 : i;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] == C1_ST)
			return i + 2;
	}
	return len;
}

/* Skips what follows an ESC at index i - 1; returns the next index. */
static size_t
skip_escape(const unsigned char *p, size_t len, size_t i)
{
	if (i >= len)
		return len;
	switch (p[i]) {
	case '[':
		return skip_csi(p, len, i + 1);
	case ']': case 'P': case 'X': case '^': case '_':
		return skip_string(p, len, i + 1);
	}
	/* nF sequences (ESC ( B and kin): intermediates, then a final. */
	while (i < len && p[i] >= 0x20 && p[i] <= 0x2f)
		i++;
	if (i < len && p[i] >= 0x30 && p[i] <= 0x7e)
		i++;
	return i;
}

/* Skips a C1 control cp that ended at index i; returns the next index. */
static size_t
skip_c1(const unsigned char *p, size_t len, size_t i, uint32_t cp)
{
	switch (cp) {
	case C1_CSI:
		return skip_csi(p, len, i);
	case C1_OSC: case C1_DCS: case C1_SOS: case C1_PM: case C1_APC:
		return skip_string(p, len, i);
	}
	return i;
}

size_t
utf8_sanitize(char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n;
	uint32_t cp;

	while (i < len) {
		if ((n = utf8_decode(s + i, len - i, &cp)) == 0) {
			i++;      /* callers validate first; never pass it on */
			continue;
		}
		if (cp == ESC) {
			i = skip_escape(p, len, i + 1);
		} else if (cp >= 0x80 && cp <= 0x9f) {
			i = skip_c1(p, len, i + n, cp);
		} else if ((cp < 0x20 && cp != '\t') || cp == DEL) {
			i += n;
		} else {
			memmove(s + o, s + i, n);
			o += n;
			i += n;
		}
	}
	return o;
}
