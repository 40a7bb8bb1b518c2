/*
 * pop3_box.h - the mailbox side of a POP3 session, what pop3's worker
 * threads run: opening and locking a mailbox and listing it, reading a
 * message a part at a time into the form it has on the wire, and the
 * deletions at QUIT.
 * Nothing here touches a connection.
 */
#ifndef MULTID_POP3_BOX_H
#define MULTID_POP3_BOX_H

#include <stdbool.h>
#include <stddef.h>

#include "maildir.h"

#define POP3_STREAM_CHUNK (128 * 1024) /* file bytes read per part */

struct rbuf;

/* Opens mailbox box beneath rootfd (made when missing), locks it (flock
 * on its directory, so one session of any process holds it) and lists
 * it.  0, -EBUSY when another session holds it, or a negative errno;
 * on failure nothing is open. */
int pop3_box_open(int rootfd, const char *box, struct maildir_box *mb,
    struct maildir_list *list);

/* How a message is being converted for the wire. */
struct pop3_conv {
	bool at_start;                /* the next byte begins a line */
	bool prev_cr;                 /* the last byte was a CR */
	bool in_body;                 /* past the empty line after the header */
	bool line_empty;              /* the line so far has no bytes but CR */
	long left;                    /* TOP: body lines still to send; -1 all */
	bool done;                    /* TOP has sent its lines */
};

/* A message on its way to the client, read and converted a chunk at a
 * time as the socket drains (RETR, TOP), so that a message of any size
 * costs a bounded amount of memory. */
struct pop3_stream {
	int              fd;          /* the message file, or -1 */
	struct pop3_conv cv;          /* the conversion so far */
	bool             started;     /* the +OK line is made */
	bool             finished;    /* the final "." is made */
};

/* Opens message m for RETR (lines < 0) or TOP (its header and lines
 * lines of its body).  0 or a negative errno (then nothing is open). */
int pop3_stream_open(const struct maildir_box *mb,
    const struct maildir_msg *m, long lines, struct pop3_stream *st);
/* Makes the next part of the reply in *out: the +OK line first, then
 * the text of the next POP3_STREAM_CHUNK bytes of the file with CR LF
 * line ends and dot-stuffing, then the final "." (finished is set, the
 * file closed, and RETR marks the message seen: maildir_mark_seen, to
 * cur/ with flag S).  0 or a negative errno. */
int pop3_stream_next(const struct maildir_box *mb, struct maildir_msg *m,
    struct pop3_stream *st, struct rbuf **out);
/* Closes what is open of st. */
void pop3_stream_close(struct pop3_stream *st);

/* Deletes every message of l marked deleted and syncs the directories;
 * *deleted counts them.  0, or the first error (the others are still
 * tried). */
int pop3_box_expunge(const struct maildir_box *mb,
    const struct maildir_list *l, size_t *deleted);

void pop3_conv_init(struct pop3_conv *cv, long lines);
/* Converts n bytes to CR LF line ends (an LF after a CR stays as it is)
 * with dot-stuffing into out, which has room for 2n bytes; stops after
 * TOP's last line.  Returns the bytes written. */
size_t pop3_convert(struct pop3_conv *cv, const char *in, size_t n,
    char *out);
/* Ends the converted text: CR LF when its last line had none, then
 * ".\r\n"; out has room for 5 bytes.  Returns the bytes written. */
size_t pop3_conv_end(const struct pop3_conv *cv, char *out);

#endif
