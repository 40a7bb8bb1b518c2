/*
 * pop3_box.h - the mailbox side of a POP3 session, what pop3's worker
 * threads run: opening and locking a mailbox and listing it, reading a
 * message into the form it has on the wire, and the deletions at QUIT.
 * Nothing here touches a connection.
 */
#ifndef MULTID_POP3_BOX_H
#define MULTID_POP3_BOX_H

#include <stdbool.h>
#include <stddef.h>

#include "maildir.h"

struct rbuf;

/* Opens mailbox box beneath rootfd (made when missing), locks it (flock
 * on its directory, so one session of any process holds it) and lists
 * it.  0, -EBUSY when another session holds it, or a negative errno;
 * on failure nothing is open. */
int pop3_box_open(int rootfd, const char *box, struct maildir_box *mb,
    struct maildir_list *list);

/* Reads message m into one buffer as RETR (lines < 0) or TOP (its header
 * and lines lines of its body) send it: the +OK line, the text with CR LF
 * line ends and dot-stuffing, the final ".".  RETR then marks it seen
 * (maildir_mark_seen: to cur/, flag S).  0 or a negative errno. */
int pop3_box_fetch(const struct maildir_box *mb, struct maildir_msg *m,
    long lines, struct rbuf **out);

/* Deletes every message of l marked deleted and syncs the directories;
 * *deleted counts them.  0, or the first error (the others are still
 * tried). */
int pop3_box_expunge(const struct maildir_box *mb,
    const struct maildir_list *l, size_t *deleted);

/* How a message is being converted for the wire. */
struct pop3_conv {
	bool at_start;                /* the next byte begins a line */
	bool prev_cr;                 /* the last byte was a CR */
	bool in_body;                 /* past the empty line after the header */
	bool line_empty;              /* the line so far has no bytes but CR */
	long left;                    /* TOP: body lines still to send; -1 all */
	bool done;                    /* TOP has sent its lines */
};

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
