/*
 * mime.h - media types by file name extension, for the http service.
 *
 * The table is read from /etc/mime.types once, at the first use, with a
 * small built-in table as the fallback when that file is missing.
 */
#ifndef MULTID_MIME_H
#define MULTID_MIME_H

#include <stddef.h>

/* Loads the table unless it is loaded already. */
void mime_init(void);
/* The Content-Type for a file name: its media type, with "; charset=utf-8"
 * for text types, or application/octet-stream.  Never NULL. */
const char *mime_type(const char *name, size_t len);

#endif
