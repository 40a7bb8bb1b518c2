"""smtp (SPEC §3): the course's client, swaks, curl and smtplib deliver;
Postfix's reply strings; the end of DATA in both kinds of session, with
every malformed ending; bad input; Maildir on disk; kill -9 after the
acknowledgements; a full disk."""
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from multid import Daemon, LineClient, assert_closed
from mailclient import (HOST, Smtp, check_maildir, mail_config, messages)

QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$")


@pytest.fixture
def maildir(tmp_path):
    return tmp_path / "mail"


@pytest.fixture
def mail(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir))
    yield d
    d.stop()


def only_message(maildir, box):
    msgs = messages(maildir, box)
    assert len(msgs) == 1, msgs.keys()
    return next(iter(msgs.values()))


# --- the clients people use --------------------------------------------------

def test_course_client_bare_lf(mail, maildir):
    """The seed's client: one send per line, bare LF, "\\n.\\n", a recv()
    after each command."""
    host, port = mail.addr("smtp")
    s = socket.create_connection((host, port), timeout=10)
    s.send("HELO sesamstrasse.de\n".encode())
    data = s.recv(1024).decode()
    s.send("MAIL FROM:<grafzahl@sesamstrasse.de>\n".encode())
    data += s.recv(1024).decode()
    s.send("RCPT TO:<msavoric@t-online.de>\n".encode())
    data += s.recv(1024).decode()
    s.send("DATA\n".encode())
    data += s.recv(1024).decode()
    s.send("Date: wird nicht verraten\n".encode())
    s.send("From: <grafzahl@sesamstrasse.de>\n".encode())
    s.send("Subject: Hallo\n".encode())
    s.send("To: <msavoric@t-online.de>\n\n".encode())
    s.send("Hallo,\nwie geht es Dir?\n\nGrüße vom Grafen\n".encode())
    s.send("\n.\n".encode())
    data += s.recv(1024).decode()
    s.send("QUIT\n".encode())
    while "221 " not in data:
        chunk = s.recv(1024).decode()
        assert chunk, data
        data += chunk
    s.close()
    lines = data.split("\r\n")
    assert lines[:5] == ["220 %s ESMTP multid" % HOST, "250 %s" % HOST,
                         "250 2.1.0 Ok", "250 2.1.5 Ok",
                         "354 End data with <CR><LF>.<CR><LF>"]
    assert QUEUED_RE.match(lines[5]), lines
    assert lines[6:] == ["221 2.0.0 Bye", ""]
    body = only_message(maildir, "msavoric")
    assert body.startswith(b"Received: from sesamstrasse.de (unknown "
                           b"[127.0.0.1])\n\tby mx.test (multid) with SMTP id ")
    assert b"\n\tfor <msavoric@t-online.de>; " in body
    assert body.endswith(b"Subject: Hallo\nTo: <msavoric@t-online.de>\n\n"
                         b"Hallo,\nwie geht es Dir?\n\n"
                         + "Grüße vom Grafen\n".encode() + b"\n")
    check_maildir(maildir)


def test_swaks_pipelining(mail, maildir):
    host, port = mail.addr("smtp")
    r = subprocess.run(
        ["swaks", "--server", "%s:%d" % (host, port), "--pipeline",
         "--to", "alice@x.test,bob@y.test", "--from", "sender@z.test",
         "--header", "Subject: from swaks", "--body", "Hi from swaks"],
        capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<-  250-PIPELINING" in r.stdout
    assert re.search(r"<-  250 2\.0\.0 Ok: queued as [0-9A-F]+", r.stdout)
    for box in ("alice", "bob"):
        body = only_message(maildir, box)
        assert b"Subject: from swaks" in body
        assert b"Hi from swaks" in body
        # Two mailboxes: no "for <...>" clause, as Postfix.
        assert b"\tfor <" not in body.split(b"\n\n")[0]
    check_maildir(maildir)


def test_curl_smtp(mail, maildir, tmp_path):
    host, port = mail.addr("smtp")
    msg = tmp_path / "msg.txt"
    msg.write_bytes(b"Subject: curl\r\n\r\nfrom curl\r\n.leading dot\r\n")
    r = subprocess.run(
        ["curl", "-sS", "smtp://%s:%d" % (host, port), "--mail-from",
         "c@x.test", "--mail-rcpt", "alice@x.test", "--upload-file",
         str(msg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body = only_message(maildir, "alice")
    assert body.endswith(b"Subject: curl\n\nfrom curl\n.leading dot\n")


def test_smtplib_ehlo_and_send(mail, maildir):
    host, port = mail.addr("smtp")
    with smtplib.SMTP(host, port, timeout=10) as c:
        code, text = c.ehlo("client.test")
        assert code == 250
        assert text.decode().split("\n") == [
            HOST, "PIPELINING", "SIZE 10485760", "ENHANCEDSTATUSCODES",
            "8BITMIME", "SMTPUTF8"]
        refused = c.sendmail("py@x.test", ["alice@x.test", "ALICE@other.test",
                                           "nobody!@x.test"],
                             b"Subject: py\r\n\r\n..two dots\r\nend\r\n")
        assert list(refused) == ["nobody!@x.test"]
        assert refused["nobody!@x.test"] == (
            550, b"5.1.1 <nobody!@x.test>: Recipient address rejected")
    body = only_message(maildir, "alice")
    assert body.endswith(b"Subject: py\n\n..two dots\nend\n")
    check_maildir(maildir)


# --- Postfix's replies, in and out of order -----------------------------------

def test_reply_strings(mail):
    c = Smtp(mail)
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert c.cmd("VRFY alice").startswith("252 2.0.0 ")
    assert c.cmd("HELP") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("RCPT TO:<alice@x>") == "503 5.5.1 Error: need MAIL command"
    assert c.cmd("DATA") == "503 5.5.1 Error: need RCPT command"
    assert c.cmd("HELO") == "501 Syntax: HELO hostname"
    assert c.cmd("EHLO") == "501 Syntax: EHLO hostname"
    assert c.cmd("HELO me") == "250 %s" % HOST
    assert c.cmd("MAIL TO:<x@y>") == "501 5.5.4 Syntax: MAIL FROM:<address>"
    assert c.cmd("MAIL FROM:<a@b> FOO=1") == "555 5.5.4 Unsupported option: FOO=1"
    assert c.cmd("mail from: <a@b> BODY=8BITMIME SMTPUTF8") == "250 2.1.0 Ok"
    assert c.cmd("MAIL FROM:<a@b>") == "503 5.5.1 Error: nested MAIL command"
    assert c.cmd("DATA") == "554 5.5.1 Error: no valid recipients"
    assert c.cmd("RCPT TO:alice@x") == "250 2.1.5 Ok"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert c.cmd("RCPT TO:<alice@x>") == "503 5.5.1 Error: need MAIL command"
    assert c.cmd("MAIL FROM:<>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<>") == "501 5.1.3 Bad recipient address syntax"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    c.expect_closed()


def test_mailboxes_and_max_size(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(
        maildir, 'mailboxes = ( "alice", "Carol" ); max_size = 1000;'))
    try:
        c = Smtp(d)
        c.send("EHLO x")
        assert "250-SIZE 1000" in c.reply()
        assert c.cmd("MAIL FROM:<a@b> SIZE=1001") == (
            "552 5.3.4 Message size exceeds fixed limit")
        assert c.cmd("MAIL FROM:<a@b> SIZE=900") == "250 2.1.0 Ok"
        assert c.cmd("RCPT TO:<bob@x>") == (
            "550 5.1.1 <bob@x>: Recipient address rejected")
        assert c.cmd("RCPT TO:<carol@x>") == "250 2.1.5 Ok"
        assert c.cmd("DATA").startswith("354 ")
        c.raw(b"x" * 600 + b"\r\n" + b"y" * 600 + b"\r\n.\r\n")
        assert c.reply() == ["552 5.3.4 Message size exceeds fixed limit"]
        c.envelope(["carol@x"])
        c.raw(b"small\r\n.\r\n")
        assert QUEUED_RE.match(c.reply()[0])
        assert only_message(maildir, "carol").endswith(b"\nsmall\n")
    finally:
        d.stop()


# --- the end of DATA: the smuggling matrix ------------------------------------

CRLF_NOT_ENDS = [b"\n.\n", b"\r.\n", b"\n.\r\n", b"\r\n.\r", b"\r\n.\n",
                 b"\r.\r\n", b"\n.\r"]


@pytest.mark.parametrize("ending", CRLF_NOT_ENDS)
def test_crlf_session_refuses_smuggled_endings(mail, maildir, ending):
    """Every malformed ending in a CRLF session is data: the "smuggled"
    commands after it are never run, and the message, once it ends
    properly, is refused because it holds a bare LF or CR."""
    c = Smtp(mail)
    assert c.cmd("EHLO client").startswith("250 ")
    c.envelope()
    c.raw(b"Subject: a\r\n\r\nbody" + ending +
          b"MAIL FROM:<evil@x>\r\nRCPT TO:<bob@x>\r\nDATA\r\nsmuggled\r\n"
          b".\r\n")
    assert c.reply() == ["550 5.5.2 Error: bare <LF> received"]
    c.expect_silence(0.3)
    assert messages(maildir, "alice") == {}
    assert messages(maildir, "bob") == {}
    # The session goes on.
    c.envelope()
    c.raw(b"clean\r\n.\r\n")
    assert QUEUED_RE.match(c.reply()[0])
    assert only_message(maildir, "alice").endswith(b"\nclean\n")
    assert messages(maildir, "bob") == {}


@pytest.mark.parametrize("ending", [b"\r.\n", b"\n.\r\n", b"\n.\r",
                                    b"\r\n.\n"])
def test_lf_session_malformed_endings(mail, maildir, ending):
    """In a bare-LF session only LF . LF ends DATA.  An ending with a CR
    is data; a CRLF line makes it a CRLF session, whose message with bare
    LFs is then refused."""
    c = Smtp(mail, end=b"\n")
    assert c.cmd("HELO course") == "250 %s" % HOST
    c.envelope()
    c.raw(b"Subject: a\n\nbody" + ending + b"MAIL FROM:<evil@x>\n")
    c.expect_silence(0.3)
    c.raw(b"more\r\n.\r\n")
    assert c.reply() == ["550 5.5.2 Error: bare <LF> received"]
    assert messages(maildir, "alice") == {}


def test_lf_session_lf_dot_lf_ends_and_crlf_later_is_strict(mail, maildir):
    c = Smtp(mail, end=b"\n")
    assert c.cmd("HELO course") == "250 %s" % HOST
    c.envelope()
    c.raw(b"one\nline\n.\n")
    assert QUEUED_RE.match(c.reply()[0])
    # The session sends CRLF once; from now on only CRLF . CRLF ends.
    assert c.cmd("NOOP\r") == "250 2.0.0 Ok"
    c.envelope()
    c.raw(b"two\n.\n")
    c.expect_silence(0.3)
    c.raw(b"\r\n.\r\n")
    assert c.reply() == ["550 5.5.2 Error: bare <LF> received"]
    assert len(messages(maildir, "alice")) == 1


def test_crlf_message_in_lf_session_and_dot_stuffing(mail, maildir):
    c = Smtp(mail)
    c.envelope()
    c.raw(b"..one\r\n...two\r\n.\r\n")
    assert QUEUED_RE.match(c.reply()[0])
    assert only_message(maildir, "alice").endswith(b"\n.one\n..two\n")


# --- bad input ---------------------------------------------------------------

def test_one_megabyte_lines(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir, "max_size = 4000000;"))
    try:
        c = Smtp(d)
        c.raw(b"NOOP " + b"x" * (1 << 20) + b"\r\n")
        assert c.reply() == ["500 5.5.0 Error: line too long"]
        assert c.cmd("NOOP") == "250 2.0.0 Ok"
        c.envelope()
        line = bytes(range(33, 127)) * ((1 << 20) // 94)
        c.raw(b"Subject: long\r\n\r\n" + line + b"\r\n.\r\n")
        assert QUEUED_RE.match(c.reply(timeout=20)[0])
        assert only_message(maildir, "alice").endswith(b"\n\n" + line + b"\n")
    finally:
        d.stop()


def test_data_that_never_ends(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir, "idle_timeout = 1;"))
    try:
        c = Smtp(d)
        c.envelope()
        c.raw(b"Subject: never ends\r\n\r\nstill going\r\n")
        rest = c.expect_closed(timeout=5)
        assert rest == b"421 4.4.2 mx.test Error: timeout exceeded\r\n"
        assert messages(maildir, "alice") == {}
    finally:
        d.stop()


def test_thousand_recipients(mail, maildir):
    c = Smtp(mail)
    assert c.cmd("MAIL FROM:<a@b>") == "250 2.1.0 Ok"
    c.raw(b"".join(b"RCPT TO:<u%d@x>\r\n" % i for i in range(1000)))
    replies = [c.reply()[0] for _ in range(1000)]
    assert replies[:100] == ["250 2.1.5 Ok"] * 100
    assert replies[100:] == ["452 4.5.3 Error: too many recipients"] * 900
    assert c.cmd("DATA").startswith("354 ")
    c.raw(b"to a hundred\r\n.\r\n")
    assert QUEUED_RE.match(c.reply(timeout=20)[0])
    for i in range(100):
        assert only_message(maildir, "u%d" % i).endswith(b"\nto a hundred\n")
    assert not os.path.exists(os.path.join(str(maildir), "u100"))
    check_maildir(maildir)


def test_nul_bytes_and_bad_utf8(mail, maildir):
    c = Smtp(mail)
    assert c.cmd(b"MAIL FROM:<a\0b@x>") == (
        "500 5.5.2 Error: command not recognized")
    assert c.cmd(b"MAIL FROM:<\xc3(@x>") == "501 5.1.7 Bad sender address syntax"
    assert c.cmd("MAIL FROM:<jörg@x.test> SMTPUTF8") == "250 2.1.0 Ok"
    assert c.cmd(b"RCPT TO:<\xff\xfe@x>") == (
        "501 5.1.3 Bad recipient address syntax")
    assert c.cmd(b"RCPT TO:<al\x01ice@x>") == (
        "501 5.1.3 Bad recipient address syntax")
    assert c.cmd("RCPT TO:<jörg@x>") == (
        "550 5.1.1 <jörg@x>: Recipient address rejected")
    assert c.cmd("RCPT TO:<alice@x>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354 ")
    c.raw(b"nul\0inside\r\n.\r\n")
    assert QUEUED_RE.match(c.reply()[0])
    assert only_message(maildir, "alice").endswith(b"\nnul\0inside\n")


def test_too_many_errors_close(mail):
    c = Smtp(mail)
    for _ in range(19):
        assert c.cmd("BOGUS") == "500 5.5.2 Error: command not recognized"
    c.send("BOGUS")
    rest = c.expect_closed()
    assert rest == (b"500 5.5.2 Error: command not recognized\r\n"
                    b"421 4.7.0 mx.test Error: too many errors\r\n")


def test_half_close_after_data_gets_the_reply(mail, maildir):
    c = Smtp(mail)
    c.raw(b"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@x>\r\nDATA\r\n"
          b"hi\r\n.\r\nQUIT\r\n")
    c.shutdown()
    rest = c.expect_closed()
    lines = rest.decode().split("\r\n")
    assert QUEUED_RE.match(lines[4]), lines
    assert lines[5] == "221 2.0.0 Bye"
    assert len(messages(maildir, "alice")) == 1


# --- durability ----------------------------------------------------------------

def send_many(d, n, tag, acked, errors):
    """Sends n messages on one connection, recording each acknowledged
    one's queue id and marker."""
    try:
        c = Smtp(d)
        for i in range(n):
            marker = "%s-%d" % (tag, i)
            c.envelope(["alice@x", "bob@x"])
            c.raw(b"Subject: " + marker.encode() + b"\r\n\r\n" +
                  b"x" * 3000 + b"\r\n" + marker.encode() + b" end\r\n.\r\n")
            m = QUEUED_RE.match(c.reply()[0])
            acked.append((m.group(1), marker))
    except (AssertionError, OSError) as e:
        errors.append(e)


def test_kill9_after_acknowledgements(tmp_path, maildir):
    conf = mail_config(maildir)
    d = Daemon(tmp_path, conf)
    acked, errors, threads = [], [], []
    try:
        for t in range(6):
            th = threading.Thread(target=send_many,
                                  args=(d, 30, "t%d" % t, acked, errors))
            th.start()
            threads.append(th)
        # Kill in the middle of the flow of acknowledgements.
        deadline = time.monotonic() + 20
        while len(acked) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(d.pid, signal.SIGKILL)
        seen = list(acked)
        for th in threads:
            th.join(30)
    finally:
        d.kill()
    assert len(seen) >= 60
    d2 = Daemon(tmp_path, conf)
    try:
        for box in ("alice", "bob"):
            stored = messages(maildir, box, sub=("new",))
            by_id = {}
            for data in stored.values():
                m = re.search(rb" id ([0-9A-F]+)[;\n]", data)
                by_id[m.group(1).decode()] = data
            for qid, marker in seen:
                assert qid in by_id, (box, qid)
                assert by_id[qid].endswith(marker.encode() + b" end\n")
        for box in ("alice", "bob"):
            for name, data in messages(maildir, box).items():
                assert data.endswith(b" end\n"), name  # nothing half there
        c = Smtp(d2)
        assert c.cmd("QUIT") == "221 2.0.0 Bye"
    finally:
        d2.stop()


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs",
                        str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs (needs root): %s"
                    % r.stderr.decode().strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def test_full_disk(tmp_path, small_disk):
    maildir = small_disk / "mail"
    d = Daemon(tmp_path, mail_config(maildir))
    try:
        c = Smtp(d)
        c.send("EHLO x")
        c.reply()
        # Make bob's mailbox first, then fill the disk through alice.
        c.envelope(["bob@x"])
        c.raw(b"first\r\n.\r\n")
        assert QUEUED_RE.match(c.reply()[0])
        reply = None
        for i in range(40):
            c.envelope(["alice@x", "bob@x"])
            c.raw(b"Subject: %d\r\n\r\n" % i + b"z" * 60000 + b"\r\n.\r\n")
            reply = c.reply()[0]
            if not QUEUED_RE.match(reply):
                break
        assert reply == "452 4.3.1 Insufficient system storage"
        # Nothing half there: whole files only, in both or in neither.
        check_maildir(maildir)
        bob = set(messages(maildir, "bob").values())
        for data in messages(maildir, "alice").values():
            assert data in bob
        # The session goes on once there is room again.
        for name in messages(maildir, "alice"):
            os.unlink(os.path.join(str(maildir), "alice", name))
        c.envelope(["alice@x"])
        c.raw(b"after\r\n.\r\n")
        assert QUEUED_RE.match(c.reply()[0])
    finally:
        d.stop()


# --- large messages: spilled to a file as they arrive -------------------------

def vm_kb(pid, key):
    """A line of /proc/PID/status in kB (VmHWM: the peak resident size)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def big_body(tag, size):
    """A message of about size bytes in 998-byte lines, some starting with
    a dot (stuffed on the wire), that ends with its tag."""
    line = b"." + b"m" * 996 + b"\r\n"
    head = b"Subject: " + tag + b"\r\n\r\n"
    return head + line * (size // len(line)) + tag + b" end\r\n"


def stored_form(body):
    """What the Maildir holds of a body (send_big stuffs its dots)."""
    return body.replace(b"\r\n", b"\n")


def send_big(d, tag, body, rcpts, results):
    try:
        c = Smtp(d, timeout=60)
        c.envelope(rcpts)
        c.raw(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        results[tag] = c.reply(timeout=60)[0]
        assert c.cmd("QUIT") == "221 2.0.0 Bye"
    except (AssertionError, OSError) as e:
        results[tag] = repr(e)


@pytest.mark.memory_bound
def test_twenty_sessions_of_8mb_hold_little_memory(mail, maildir):
    """20 sessions send 8 MB each at once: the bodies go to files as they
    arrive, so the daemon's peak resident size stays far below 20 x 8 MB,
    and every message is stored whole."""
    before = vm_kb(mail.pid, "VmHWM")
    bodies = {b"big%02d" % i: big_body(b"big%02d" % i, 8 << 20)
              for i in range(20)}
    results, threads = {}, []
    for tag, body in bodies.items():
        th = threading.Thread(target=send_big, args=(
            mail, tag, body, ["u%s@x.test" % tag.decode()], results))
        th.start()
        threads.append(th)
    for th in threads:
        th.join(120)
    assert all(not th.is_alive() for th in threads)
    for tag in bodies:
        assert QUEUED_RE.match(results[tag]), (tag, results[tag])
    peak = vm_kb(mail.pid, "VmHWM")
    assert peak - before < 32 * 1024, (before, peak)
    for tag, body in bodies.items():
        data = only_message(maildir, "u" + tag.decode())
        want = stored_form(body)
        assert data.startswith(b"Received: from ")
        assert data.endswith(want), tag
        assert len(data) - len(want) < 400, tag
    check_maildir(maildir)


def test_spilled_message_in_every_mailbox(mail, maildir):
    body = big_body(b"two-boxes", 1 << 20)
    results = {}
    send_big(mail, b"t", body, ["alice@x.test", "bob@x.test", "carol@x"],
             results)
    assert QUEUED_RE.match(results[b"t"]), results
    want = stored_form(body)
    stored = [only_message(maildir, box) for box in ("alice", "bob", "carol")]
    for data in stored:
        assert data.startswith(b"Received: from ")
        assert data.endswith(b"\n" + want)
    assert stored[0] == stored[1] == stored[2]
    check_maildir(maildir)


def test_spilled_message_over_max_size(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir, "max_size = 300000;"))
    try:
        results = {}
        send_big(d, b"t", big_body(b"over", 1 << 20), ["alice@x"], results)
        assert results[b"t"] == "552 5.3.4 Message size exceeds fixed limit"
        send_big(d, b"t", big_body(b"under", 200000), ["alice@x"], results)
        assert QUEUED_RE.match(results[b"t"]), results
        assert only_message(maildir, "alice").endswith(b"under end\n")
        check_maildir(maildir)
    finally:
        d.stop()


def test_full_disk_while_spilling(tmp_path, small_disk):
    """Bodies past the in-memory head fill the disk as they arrive: the
    message is refused with 452 once it ends, and nothing is half there,
    neither in new/ nor in tmp/."""
    maildir = small_disk / "mail"
    d = Daemon(tmp_path, mail_config(maildir))
    try:
        results, reply = {}, None
        for i in range(8):
            send_big(d, b"t", big_body(b"fill%d" % i, 150000),
                     ["alice@x", "bob@x"], results)
            reply = results[b"t"]
            if not QUEUED_RE.match(reply):
                break
        assert reply == "452 4.3.1 Insufficient system storage"
        check_maildir(maildir)
        bob = set(messages(maildir, "bob").values())
        for data in messages(maildir, "alice").values():
            assert data in bob
            assert b" end\n" in data[-20:]
        for name in list(messages(maildir, "alice")):
            os.unlink(os.path.join(str(maildir), "alice", name))
        for name in list(messages(maildir, "bob")):
            os.unlink(os.path.join(str(maildir), "bob", name))
        send_big(d, b"t", big_body(b"after", 150000), ["alice@x"], results)
        assert QUEUED_RE.match(results[b"t"]), results
    finally:
        d.stop()


def test_kill9_after_spilled_acknowledgements(tmp_path, maildir):
    conf = mail_config(maildir)
    d = Daemon(tmp_path, conf)
    seen = []
    try:
        for i in range(4):
            results = {}
            tag = b"k%d" % i
            send_big(d, tag, big_body(tag, 300000), ["alice@x", "bob@x"],
                     results)
            m = QUEUED_RE.match(results[tag])
            assert m, results
            seen.append((m.group(1), tag))
        # A fifth message is on its way when the daemon dies.
        c = Smtp(d)
        c.envelope(["alice@x"])
        c.raw(b"Subject: unfinished\r\n\r\n" + b"u" * 200000 + b"\r\n")
        time.sleep(0.2)
        os.kill(d.pid, signal.SIGKILL)
    finally:
        d.kill()
    for box in ("alice", "bob"):
        stored = messages(maildir, box, sub=("new",))
        assert len(stored) == 4, (box, list(stored))
        for qid, tag in seen:
            assert any((b" id " + qid.encode()) in data and
                       data.endswith(tag + b" end\n")
                       for data in stored.values()), (box, qid)
    check_maildir(maildir)


def test_spilled_message_to_a_mailbox_on_another_file_system(
        tmp_path, maildir, small_disk):
    """The spill file lies in the first recipient's tmp/; a mailbox on
    another file system cannot link it and gets a copy, synced and
    renamed like any other."""
    maildir.mkdir()
    bob = maildir / "bob"
    bob.mkdir()
    r = subprocess.run(["mount", "--bind", str(small_disk), str(bob)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot bind-mount: %s" % r.stderr.decode().strip())
    try:
        d = Daemon(tmp_path, mail_config(maildir))
        try:
            body = big_body(b"two-fs", 200000)
            results = {}
            send_big(d, b"t", body, ["alice@x", "bob@x"], results)
            assert QUEUED_RE.match(results[b"t"]), results
            a = only_message(maildir, "alice")
            assert a.endswith(stored_form(body))
            assert only_message(maildir, "bob") == a
            assert os.stat(str(bob)).st_dev != os.stat(
                str(maildir / "alice")).st_dev
            check_maildir(maildir)
        finally:
            d.stop()
    finally:
        subprocess.run(["umount", "-l", str(bob)])
