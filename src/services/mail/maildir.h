/*
 * maildir.h - the Maildir layout smtp delivers into and pop3 reads
 * (https://cr.yp.to/proto/maildir.html, with Dovecot's name extensions).
 *
 * A mailbox is MAILDIR/BOX with tmp/, new/ and cur/.  A message is
 * written to tmp/, synced and renamed into new/ (durable.h does that);
 * a reader that has seen it moves it to cur/ and appends ":2,FLAGS".
 * Its unique name is "SECONDS.MusecPpidQseq.HOST,S=SIZE,W=LINESIZE":
 * S= is the size of the file and W= its size with CRLF line ends (what
 * POP3 reports), so a reader lists a mailbox without opening its files.
 * The part before ':' never changes and is the message's UIDL.
 */
#ifndef MULTID_MAILDIR_H
#define MULTID_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MAILDIR_NAME_MAX 255          /* a file name, NAME_MAX */
#define MAILDIR_UIDL_MAX 70           /* RFC 1939: a unique-id, at most */

/* The directories of one mailbox, opened O_DIRECTORY. */
struct maildir_box {
	int boxfd;                    /* MAILDIR/BOX */
	int tmpfd;                    /* its tmp/ */
	int newfd;                    /* its new/ */
	int curfd;                    /* its cur/ */
};

/* Opens MAILDIR/BOX beneath rootfd, creating it and its three
 * directories when missing; 0 or a negative errno (then nothing is
 * open).  box is one file name (the caller has checked it). */
int maildir_open(int rootfd, const char *box, struct maildir_box *mb);
void maildir_close(struct maildir_box *mb);

/* Writes a new unique name for a message of size bytes stored, vsize
 * bytes with CRLF line ends, delivered by host.  '/' and ':' in host are
 * written as "\057" and "\072", as the spec asks, and ',' as "\054" so
 * that it cannot pass for the start of S= or W=. */
void maildir_unique_name(char *out, size_t size, const char *host,
    size_t fsize, size_t vsize);

/* Where a message lies. */
enum maildir_sub {
	MAILDIR_NEW,                  /* new/: not yet seen by a reader */
	MAILDIR_CUR,                  /* cur/: seen; the name has ":2,FLAGS" */
};

/* One message of a listing. */
struct maildir_msg {
	enum maildir_sub sub;         /* new/ or cur/ */
	char   *name;                 /* its file name there */
	size_t  fsize;                /* bytes in the file */
	size_t  vsize;                /* bytes with CRLF line ends */
	char    uidl[MAILDIR_UIDL_MAX + 1]; /* stable unique id */
	bool    deleted;              /* marked by DELE */
};

/* A snapshot of a mailbox, oldest first. */
struct maildir_list {
	struct maildir_msg *msgs;     /* the messages */
	size_t              n;        /* how many */
};

/* Reads new/ and cur/ of mb (files whose names start with '.' are not
 * messages).  Sizes come from S= and W= in the name when they are
 * there, else from the file.  0 or a negative errno. */
int maildir_scan(const struct maildir_box *mb, struct maildir_list *out);
void maildir_list_free(struct maildir_list *l);

/* The unique id of a name: the part before ':' when it is 1..70
 * printable bytes without blanks, else 16 hex digits of its hash. */
void maildir_uidl(const char *name, char out[MAILDIR_UIDL_MAX + 1]);

/* The name a message gets when flag (a capital letter) is set: the old
 * flags are kept, the new one added in ASCII order, ":2," added when
 * missing.  False when it does not fit. */
bool maildir_flag_name(const char *name, char flag, char *out, size_t size);

/* Marks m seen: new/NAME moves to cur/NAME:2,S, a cur/ name gains S.
 * m->name is updated.  0 or a negative errno. */
int maildir_mark_seen(const struct maildir_box *mb, struct maildir_msg *m);

/* The size a file's bytes have with CRLF line ends: every LF not after
 * a CR counts one more.  prev_cr carries a CR at the end of a chunk to
 * the next. */
size_t maildir_crlf_size(const char *data, size_t len, bool *prev_cr);

#endif
