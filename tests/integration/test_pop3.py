"""pop3 (SPEC §3): poplib and curl fetch what smtp delivered; UIDL stable
across sessions; deletions only at QUIT; one session per mailbox; mail that
arrives during a session is seen by the next; denied alike for an unknown
name and a wrong secret, 3 failures close, a growing per-address delay;
Maildir flags and moves as Dovecot makes them; concurrent delivery and
retrieval never lose or duplicate a message."""
import hashlib
import os
import poplib
import re
import smtplib
import subprocess
import threading
import time

import pytest

from multid import Daemon, LineClient
from mailclient import Smtp, check_maildir, mail_config, messages


@pytest.fixture
def maildir(tmp_path):
    return tmp_path / "mail"


@pytest.fixture
def mail(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir))
    yield d
    d.stop()


def deliver(d, box, *bodies):
    """Delivers each body (bytes) to box through smtp."""
    host, port = d.addr("smtp")
    with smtplib.SMTP(host, port, timeout=10) as c:
        for b in bodies:
            c.sendmail("s@x.test", ["%s@x.test" % box], b)


def pop(d, user="alice", secret="secret"):
    host, port = d.addr("pop3")
    p = poplib.POP3(host, port, timeout=10)
    p.user(user)
    p.pass_(secret)
    return p


class Pop(LineClient):
    def __init__(self, d):
        super().__init__(d, "pop3", end=b"\r\n", timeout=10)
        assert self.line() == "+OK multid POP3 ready"

    def login(self, user="alice", secret="secret"):
        assert self.ask("USER " + user) == "+OK"
        return self.ask("PASS " + secret)

    def multi(self, text):
        self.send(text)
        first = self.line()
        assert first.startswith("+OK"), first
        return first, self.read_until(lambda l: l == ".")[:-1]


def test_poplib_session(mail, maildir):
    deliver(mail, "alice", b"Subject: one\r\n\r\nfirst\r\n",
            b"Subject: two\r\n\r\n.dotted\r\nline 2\r\nline 3\r\n",
            b"Subject: three\r\n\r\nthird\r\n")
    p = pop(mail)
    count, size = p.stat()
    assert count == 3
    _, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    assert sum(sizes) == size
    _, lines, _ = p.retr(2)
    assert lines[-3:] == [b".dotted", b"line 2", b"line 3"]
    _, top, _ = p.top(2, 1)
    assert top[-2:] == [b"", b".dotted"]
    _, uidls, _ = p.uidl()
    assert len(uidls) == 3
    assert p.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="already deleted"):
        p.retr(1)
    assert p.stat() == (2, size - sizes[0])
    p.quit()
    box = messages(maildir, "alice")
    assert len(box) == 2
    # RETR moved message 2 to cur/ with the S flag; 3 was not retrieved.
    assert sum(n.startswith("cur/") and n.endswith(":2,S") for n in box) == 1
    assert sum(n.startswith("new/") for n in box) == 1
    check_maildir(maildir)


def test_wire_is_crlf_and_dot_stuffed(mail):
    deliver(mail, "alice", b"Subject: s\r\n\r\n.hidden\r\n..two\r\nend\r\n")
    c = Pop(mail)
    assert c.login().startswith("+OK 1 messages")
    c.send("RETR 1")
    first = c.line()
    assert re.match(r"^\+OK \d+ octets$", first)
    body = c.read_until(lambda l: l == ".")
    assert body[-4:] == ["..hidden", "...two", "end", "."]
    assert c.ask("LIST 1") == "+OK 1 %s" % first.split()[1]
    assert c.ask("QUIT").startswith("+OK")


def test_curl_pop3(mail):
    deliver(mail, "alice", b"Subject: for curl\r\n\r\ncurl body\r\n")
    host, port = mail.addr("pop3")
    r = subprocess.run(["curl", "-sS", "pop3://alice:secret@%s:%d/" %
                        (host, port)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert re.match(r"^1 \d+\r?\n$", r.stdout)
    r = subprocess.run(["curl", "-sS", "pop3://alice:secret@%s:%d/1" %
                        (host, port)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(b"Subject: for curl\r\n\r\ncurl body\r\n")
    r = subprocess.run(["curl", "-sS", "pop3://alice:wrong@%s:%d/" %
                        (host, port)], capture_output=True, timeout=30)
    assert r.returncode != 0


def test_uidl_stable_across_sessions(mail):
    deliver(mail, "alice", b"a\r\n", b"b\r\n")
    p = pop(mail)
    first = p.uidl()[1]
    p.retr(1)            # moves it to cur/
    p.quit()
    p = pop(mail)
    assert p.uidl()[1] == first
    assert p.uidl(2) == b"+OK " + first[1]
    p.quit()


def test_deletions_only_at_quit(mail, maildir):
    deliver(mail, "alice", b"a\r\n", b"b\r\n", b"c\r\n")
    c = Pop(mail)
    c.login()
    assert c.ask("DELE 1") == "+OK message 1 deleted"
    c.close()                          # no QUIT: nothing is deleted
    time.sleep(0.2)
    c = Pop(mail)
    assert c.login().startswith("+OK 3 messages")
    assert c.ask("DELE 2").startswith("+OK")
    assert c.ask("STAT").startswith("+OK 2 ")
    assert c.ask("RSET").startswith("+OK maildrop has 3 messages")
    assert c.ask("DELE 3").startswith("+OK")
    assert c.ask("DELE 1").startswith("+OK")
    assert len(messages(maildir, "alice")) == 3
    assert c.ask("QUIT") == "+OK multid POP3 server signing off (2 messages deleted)"
    c.expect_closed()
    left = messages(maildir, "alice")
    assert len(left) == 1 and next(iter(left.values())).endswith(b"\nb\n")


def test_one_session_per_mailbox(mail):
    a = Pop(mail)
    assert a.login().startswith("+OK")
    b = Pop(mail)
    assert b.login().startswith("-ERR [IN-USE] ")
    # Another account is free.
    assert Pop(mail).login("bob", "hunter2 with spaces").startswith("+OK")
    assert a.ask("QUIT").startswith("+OK")
    a.expect_closed()
    # The lock goes with the session, a moment after the close.
    deadline = time.monotonic() + 5
    while b.login().startswith("-ERR [IN-USE]"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert b.ask("STAT").startswith("+OK 0 ")


def test_new_mail_seen_by_next_session(mail):
    deliver(mail, "alice", b"one\r\n")
    c = Pop(mail)
    assert c.login().startswith("+OK 1 messages")
    deliver(mail, "alice", b"two\r\n")
    assert c.ask("STAT").startswith("+OK 1 ")
    assert c.multi("LIST")[1] == [c.ask("LIST 1")[4:]]
    assert c.ask("QUIT").startswith("+OK")
    c = Pop(mail)
    assert c.login().startswith("+OK 2 messages")


def test_denied_alike_and_three_failures_close(mail):
    c = Pop(mail)
    assert c.login("nobody", "secret") == "-ERR denied"
    assert c.login("alice", "wrong") == "-ERR denied"
    assert c.ask("PASS secret") == "-ERR USER first"
    assert c.login("alice", "wrong again") == "-ERR denied"
    c.expect_closed()


def test_brute_force_is_slowed_per_address(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir))
    try:
        delays = []
        for _ in range(2):
            c = Pop(d)
            for i in range(3):
                c.send("USER alice")
                assert c.line() == "+OK"
                t = time.monotonic()
                assert c.ask("PASS guess%d" % i, timeout=15) == "-ERR denied"
                delays.append(time.monotonic() - t)
            c.expect_closed()
        # The delay grows with every failure from the address.
        assert delays[5] >= 1.0, delays
        assert delays[5] > delays[0] + 0.7, delays
        # The right secret still works, after its own wait.
        c = Pop(d)
        assert c.login().startswith("+OK")
    finally:
        d.stop()


def test_capa_and_commands_out_of_order(mail):
    c = Pop(mail)
    first, caps = c.multi("CAPA")
    assert first == "+OK Capability list follows"
    for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"):
        assert cap in caps
    assert c.ask("STAT") == "-ERR not logged in"
    assert c.ask("RETR 1") == "-ERR not logged in"
    assert c.ask("FOO") == "-ERR unknown command"
    assert c.ask("USER") == "-ERR usage: USER NAME"
    assert c.login().startswith("+OK 0 messages")
    assert c.ask("USER alice") == "-ERR already logged in"
    assert c.ask("RETR 1") == "-ERR no such message"
    assert c.ask("RETR x") == "-ERR no such message"
    assert c.ask("DELE 0") == "-ERR no such message"
    assert c.ask("TOP 1") == "-ERR usage: TOP N LINES"
    assert c.ask("NOOP") == "+OK"
    c.raw(b"NOOP " + b"x" * (1 << 20) + b"\r\n")
    assert c.line() == "-ERR line too long"
    assert c.ask("NOOP") == "+OK"
    c.expect_silence(0.3)           # one error for one line
    assert c.ask(b"NOOP\0junk") == "+OK"


def test_pipelined_commands(mail):
    deliver(mail, "alice", b"one\r\n", b"two\r\n")
    c = Pop(mail)
    c.raw(b"USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n")
    assert c.line() == "+OK"
    assert c.line().startswith("+OK 2 messages")
    assert c.line().startswith("+OK 2 ")
    for body in ("one", "two"):
        lines = c.read_until(lambda l: l == ".")
        assert lines[0].endswith(" octets") and lines[-2] == body
    assert c.line().startswith("+OK multid POP3 server signing off")


def test_foreign_maildir_flags_kept(mail, maildir):
    """A message another program left in cur/ with flags (Dovecot's
    "F"lagged) keeps them when RETR adds S; its size is measured."""
    deliver(mail, "alice", b"ours\r\n")
    cur = os.path.join(str(maildir), "alice", "cur")
    with open(os.path.join(cur, "1000000000.foreign.host:2,F"), "wb") as f:
        f.write(b"Subject: old\n\nfrom elsewhere\n")
    c = Pop(mail)
    assert c.login().startswith("+OK 2 messages")
    assert c.ask("LIST 1") == "+OK 1 32"    # 29 bytes and 3 LFs
    assert c.ask("UIDL 1") == "+OK 1 1000000000.foreign.host"
    lines = c.multi("RETR 1")[1]
    assert lines == ["Subject: old", "", "from elsewhere"]
    assert c.ask("QUIT").startswith("+OK")
    assert sorted(os.listdir(cur))[0] == "1000000000.foreign.host:2,FS"


def test_concurrent_delivery_and_retrieval(tmp_path, maildir):
    """Four senders and a reader that fetches and deletes in a loop: every
    message is fetched exactly once."""
    d = Daemon(tmp_path, mail_config(maildir))
    sent, fetched, errors = [], [], []

    def sender(t):
        try:
            c = Smtp(d)
            for i in range(40):
                marker = "m-%d-%d" % (t, i)
                c.envelope(["alice@x"])
                c.raw(b"Subject: x\r\n\r\n" + marker.encode() + b"\r\n.\r\n")
                assert c.reply()[0].startswith("250 2.0.0 Ok")
                sent.append(marker)
        except Exception as e:           # noqa: BLE001 - reported below
            errors.append(e)

    def fetch_all():
        p = pop(d)
        n, _ = p.stat()
        for i in range(1, n + 1):
            body = p.retr(i)[1]
            fetched.append(body[-1].decode())
            p.dele(i)
        p.quit()

    try:
        threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            fetch_all()
        for t in threads:
            t.join(30)
        fetch_all()
        assert errors == []
        assert len(sent) == 160
        assert sorted(fetched) == sorted(sent)
        assert messages(maildir, "alice") == {}
    finally:
        d.stop()


def test_reload_changes_accounts_for_new_sessions(tmp_path, maildir):
    d = Daemon(tmp_path, mail_config(maildir))
    try:
        old = Pop(d)
        assert old.login().startswith("+OK")
        d.reload(mail_config(maildir, accounts={"alice": "new secret"}))
        assert Pop(d).login("bob", "hunter2 with spaces") == "-ERR denied"
        # The session logged in before the reload goes on.
        assert old.ask("STAT").startswith("+OK 0 ")
        assert old.ask("QUIT").startswith("+OK")
        old.expect_closed()
        c = Pop(d)
        deadline = time.monotonic() + 5
        while True:
            r = c.login("alice", "new secret")
            if not r.startswith("-ERR [IN-USE]"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.startswith("+OK")
        d.reload(mail_config(tmp_path / "other"))
        assert "takes effect after a restart" in d.stderr()
    finally:
        d.stop()


def test_config_errors(tmp_path, maildir):
    from multid import run_multid
    conf = tmp_path / "bad.conf"
    conf.write_text(mail_config(maildir).replace(
        'name = "alice"', 'name = "al ice"'))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "nickname rule" in r.stderr
    conf.write_text(mail_config(maildir).replace('secret = "$y$', 'secret = "$z$'))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "not a crypt(3) hash" in r.stderr
    conf.write_text(mail_config(maildir).replace(
        'secret = "', 'colour = "red"; secret = "'))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "colour: unknown key" in r.stderr


# --- large messages: sent a part at a time as the client takes them ----------

BIG_HEAD = b"Subject: big\n\n"
BIG_BLOCK = (b".dot line " + b"d" * 80 + b"\n" + b"plain " + b"p" * 900 +
             b"\n" + b"crlf line\r\n" + b".\n")
BIG_WIRE_BLOCK = (b"..dot line " + b"d" * 80 + b"\r\n" + b"plain " +
                  b"p" * 900 + b"\r\n" + b"crlf line\r\n" + b"..\r\n")


def vm_kb(pid, key):
    """A line of /proc/PID/status in kB (VmHWM: the peak resident size)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (key, pid))


def put_big(maildir, box, size):
    """Writes a message of about size bytes into box's new/ as an MDA
    would; returns the sha256 of its wire form (CR LF, dot-stuffed, the
    final ".") and of the text curl writes (CR LF, no stuffing), the
    size LIST tells and the bytes of the wire form."""
    n = size // len(BIG_BLOCK)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(str(maildir), box, sub), exist_ok=True)
    fsize = len(BIG_HEAD) + n * len(BIG_BLOCK)
    vsize = len(BIG_HEAD) + 2 + n * (len(BIG_BLOCK) + 3)
    name = "1700000000.M1P1Q1.mx.test,S=%d,W=%d" % (fsize, vsize)
    wire, text = hashlib.sha256(), hashlib.sha256()
    head = BIG_HEAD.replace(b"\n", b"\r\n")
    wire.update(head)
    text.update(head)
    plain = BIG_WIRE_BLOCK.replace(b"\n..", b"\n.")[1:]
    with open(os.path.join(str(maildir), box, "new", name), "wb") as f:
        f.write(BIG_HEAD)
        for _ in range(n):
            f.write(BIG_BLOCK)
            wire.update(BIG_WIRE_BLOCK)
            text.update(plain)
    wire.update(b".\r\n")
    wire_len = len(head) + n * len(BIG_WIRE_BLOCK) + 3
    return wire.hexdigest(), text.hexdigest(), vsize, wire_len


@pytest.mark.memory_bound
def test_retr_100mb_to_a_slow_client_holds_little_memory(mail, maildir):
    """A 100 MB message to a client that stops reading: the daemon makes
    the next part only as the socket drains, so its memory stays small;
    the client then gets every byte, stuffed and in CR LF."""
    wire, _, vsize, wire_len = put_big(maildir, "alice", 100 << 20)
    before = vm_kb(mail.pid, "VmHWM")
    c = Pop(mail)
    assert c.login() == "+OK 1 messages (%d octets)" % vsize
    c.send("RETR 1")
    assert c.line() == "+OK %d octets" % vsize
    time.sleep(1.0)                  # the client reads nothing meanwhile
    assert vm_kb(mail.pid, "VmRSS") - before < 32 * 1024
    got, h = 0, hashlib.sha256(c.buf)
    got += len(c.buf)
    c.buf = b""
    deadline = time.monotonic() + 120
    while got < wire_len and time.monotonic() < deadline:
        data = c.recv_some(timeout=30)
        assert data
        h.update(data)
        got += len(data)
    assert got == wire_len
    assert h.hexdigest() == wire
    assert vm_kb(mail.pid, "VmHWM") - before < 32 * 1024
    # Commands go on after it, and the message is now seen.
    assert c.ask("NOOP") == "+OK"
    assert c.ask("QUIT").startswith("+OK")
    assert [n[:4] for n in messages_names(maildir, "alice")] == ["cur/"]


def messages_names(maildir, box):
    return [os.path.join(sub, n) for sub in ("new", "cur")
            for n in os.listdir(os.path.join(str(maildir), box, sub))]


def test_curl_fetches_100mb(mail, maildir, tmp_path):
    _, text, _, _ = put_big(maildir, "alice", 100 << 20)
    host, port = mail.addr("pop3")
    out = tmp_path / "fetched"
    r = subprocess.run(["curl", "-sS", "-o", str(out),
                        "pop3://alice:secret@%s:%d/1" % (host, port)],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    h = hashlib.sha256()
    with open(str(out), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == text
    # TOP of the same message sends its header alone.
    p = pop(mail)
    _, lines, _ = p.top(1, 0)
    assert lines == [b"Subject: big", b""]
    _, lines, _ = p.top(1, 2)
    assert lines == [b"Subject: big", b"", b".dot line " + b"d" * 80,
                     b"plain " + b"p" * 900]
    p.quit()
