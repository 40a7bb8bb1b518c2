"""chat's course protocol (SPEC 3, "The course protocols", chat) over real
sockets: NUL-terminated frames sent one send() per frame, as the course's
chat client sends them, /login /logout /users, and course clients in the
same rooms as telnet and nc users, both ways.

The chat listens with the line protocol on 127.0.0.1 and with the course
protocol on 127.0.0.2, so a test picks the protocol by address."""
import re
import socket
import time
import urllib.request

import pytest

from multid import LineClient, assert_closed, config, listen_group, service

LINE = "127.0.0.1"
COURSE = "127.0.0.2"


def chat_conf(extra=""):
    return config(service("chat", "chat", [
        "tcp://%s:0" % LINE,
        listen_group("tcp://%s:0" % COURSE, "course")], extra))


def addr(d, host):
    """(host, port) of the chat's listener on host."""
    d._parse_listeners()
    for kind, h, port in d.listeners.get("chat", []):
        if kind == "tcp" and h == host:
            return h, port
    raise KeyError("chat has no listener on %s: %s" % (host, d.listeners))


class Course(LineClient):
    """A client of the course protocol: every frame ends with NUL, sent
    with one send() as the course's client does."""

    def __init__(self, d, name=None, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect(addr(d, COURSE))
        super().__init__(sock=s, end=b"\0", sep=b"\0")
        if name is not None:
            ok = self.ask("/login " + name)
            assert ok.startswith("/ok ") and name in ok[4:].split("\n"), ok

    def send(self, text):
        if isinstance(text, str):
            text = text.encode()
        assert self.s.send(text + b"\0") == len(text) + 1


class Line(LineClient):
    """A telnet (CRLF) or nc (LF) user of the line protocol."""

    def __init__(self, d, name=None, end=b"\r\n"):
        s = socket.create_connection(addr(d, LINE), timeout=5)
        super().__init__(sock=s, end=end, sep=b"\r\n")
        if name is not None:
            self.send(name)
            self.read_until(lambda l: l.startswith("* hello " + name))

    def who(self):
        """The /who line; what came before it is returned too."""
        self.send("/who")
        return self.read_until(lambda l: l.startswith("* lobby: ") or
                               l.startswith("* side: "))


@pytest.fixture
def d(start):
    return start(chat_conf())


# --- login, logout, users ------------------------------------------------------


def test_course_client_as_the_course_wrote_it(d):
    # One send() of " /login NAME\0", one recv() of the answer.
    s = socket.create_connection(addr(d, COURSE), timeout=5)
    s.send(b" /login Aliasname\0")
    assert s.recv(1024) == b"/ok Aliasname\0"
    s.send(b"Hallo\0")
    assert s.recv(1024) == b"Aliasname:Hallo\0"
    s.send(b" /users\0")
    assert s.recv(1024) == b"/users Aliasname\0"
    s.send(b" /logout\0")
    assert s.recv(1024) == b"/ok\0"
    s.close()


def test_login_logout_users(d):
    a = Course(d)
    assert a.ask("/users") == "/error"
    assert a.ask("/logout") == "/error"
    assert a.ask("hello") == "/error"
    assert a.ask("/login alice") == "/ok alice"
    assert a.ask("/login alice") == "/error"       # already logged in
    assert a.ask("/login other") == "/error"
    assert a.ask("/USERS") == "/users alice"
    assert a.ask("/logout") == "/ok"
    assert a.ask("/users") == "/error"
    assert a.ask("x") == "/error"
    # Logged out, the client may log in again, under another name too.
    assert a.ask("\t /login Alice2 ") == "/ok Alice2"
    a.expect_silence()


def test_names_everyone_in_lobby_sorted(d):
    bob = Line(d, "bob")
    dave = Line(d, "Dave", end=b"\n")
    side = Line(d, "zed")
    side.send("/join side")
    side.read_until(lambda l: l.startswith("* you are in side"))
    a = Course(d)
    assert a.ask("/login alice") == "/ok alice\nbob\nDave"
    c = Course(d)
    assert c.ask("/login Carl") == "/ok alice\nbob\nCarl\nDave"
    assert a.ask("/users") == "/users alice\nbob\nCarl\nDave"
    # The line users see the course users come and go; /who lists them.
    assert bob.who() == ["* Dave joined", "* zed joined", "* zed left",
                         "* alice joined", "* Carl joined",
                         "* lobby: alice, bob, Carl, Dave"]
    assert c.ask("/logout") == "/ok"
    assert dave.who()[-2:] == ["* Carl left", "* lobby: alice, bob, Dave"]


@pytest.mark.parametrize("bad", [
    "/login", "/login ", "/login 1abc", "/login _x", "/login a b",
    "/login " + "a" * 17, "/login jürgen", "/login a!", "/login a:b"])
def test_invalid_names(d, bad):
    a = Course(d)
    assert a.ask(bad) == "/error"
    assert a.ask("/login " + "b" * 16) == "/ok " + "b" * 16


def test_taken_names_across_protocols(d):
    carol = Line(d, "carol")
    alice = Course(d, "alice")
    x = Course(d)
    assert x.ask("/login CAROL") == "/error"
    assert x.ask("/login Alice") == "/error"
    assert x.ask("/login carol2") == "/ok alice\ncarol\ncarol2"
    # A line user cannot take a course user's name either.
    y = Line(d)
    y.read_until(lambda l: l.startswith("* choose"))
    y.send("ALICE")
    assert y.line().startswith("! nickname ALICE is taken")
    assert carol.who()[-1] == "* lobby: alice, carol, carol2"
    alice.expect_silence()


# --- messages between protocols --------------------------------------------------


def test_messages_both_ways(d):
    carol = Line(d, "carol")                # telnet: CRLF
    nc = Line(d, "ned", end=b"\n")          # nc: LF
    a = Course(d, "alice")
    b = Course(d, "bob")
    carol.read_until(lambda l: l == "* bob joined")
    nc.read_until(lambda l: l == "* bob joined")
    a.send("hello all")
    # Every course client gets NAME:TEXT, the sender included.
    assert a.line() == "alice:hello all"
    assert b.line() == "alice:hello all"
    assert carol.line() == "<alice> hello all"
    assert nc.line() == "<alice> hello all"
    carol.send("hi from telnet")
    nc.send("hi from nc")
    for c in (a, b):
        assert c.line() == "carol:hi from telnet"
        assert c.line() == "ned:hi from nc"
    assert nc.line() == "<carol> hi from telnet"
    assert carol.line() == "<ned> hi from nc"
    # The line senders do not get their own lines back.
    assert carol.who()[-1].startswith("* lobby: ")
    a.expect_silence()
    b.expect_silence()


def test_private_message_to_a_course_user(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    b = Course(d, "bob")
    carol.send("/msg alice psst")
    assert a.line() == "carol:psst"
    b.expect_silence()
    carol.send("//slash")                    # "//" sends "/slash"
    assert a.line() == "carol:/slash"
    assert b.line() == "carol:/slash"


def test_events_without_a_course_frame_are_not_sent(d):
    a = Course(d, "alice")
    carol = Line(d, "carol")
    dave = Line(d, "dave")
    carol.read_until(lambda l: l == "* dave joined")
    carol.send("/me waves")
    assert dave.line() == "* carol waves"
    carol.send("/nick caroline")
    assert dave.line() == "* carol is now caroline"
    carol.send("/join side")
    assert dave.line() == "* caroline left"
    dave.send("/quit bye now")
    a.expect_silence()
    # What course clients do get still comes through.
    b = Course(d, "bob")
    assert a.ask("/users") == "/users alice\nbob"
    b.send("x")
    assert a.line() == "bob:x"


def test_course_user_leaving_is_seen_by_line_users(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    assert carol.line() == "* alice joined"
    assert a.ask("/logout") == "/ok"
    assert carol.line() == "* alice left"
    assert a.ask("/login alice") == "/ok alice\ncarol"
    assert carol.line() == "* alice joined"
    a.close()
    assert carol.line() == "* alice left"


def test_rooms_are_shared_only_by_their_members(d):
    a = Course(d, "alice")
    carol = Line(d, "carol")
    carol.send("/join side")
    carol.read_until(lambda l: l.startswith("* you are in side"))
    carol.send("not for the lobby")
    a.send("only the lobby")
    assert a.line() == "alice:only the lobby"
    a.expect_silence()
    carol.send("/join lobby")
    carol.read_until(lambda l: l.startswith("* you are in lobby"))
    carol.send("back")
    assert a.line() == "carol:back"


def test_history_reaches_course_clients_as_frames(start):
    d = start(chat_conf("history = 2;"))
    carol = Line(d, "carol")
    for i in range(3):
        carol.send("m%d" % i)
    carol.send("/me is no message")
    carol.who()
    a = Course(d)
    assert a.ask("/login alice") == "/ok alice\ncarol"
    assert [a.line(), a.line()] == ["carol:m1", "carol:m2"]
    a.send("m3")
    assert a.line() == "alice:m3"
    b = Line(d, "bob")
    assert [b.line(), b.line()] == ["<carol> m2", "<alice> m3"]


def test_sanitised_and_invalid_text(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    a.raw(b"\x1b[31mred\x1b[0m \x07bell\0")
    assert a.line() == "alice:red bell"
    assert carol.line() == "<alice> red bell"
    a.raw(b"bad \xff\xfe utf-8\0")
    assert a.line() == "/error"
    a.send("after")
    assert carol.line() == "<alice> after"
    carol.raw(b"\x1b]0;title\x07ok\r\n")
    a.line()
    assert a.line() == "carol:ok"


def test_order_of_many_frames_in_one_send(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    a.raw(b"".join(b"n%d\0" % i for i in range(500)))
    assert [carol.line() for _ in range(500)] == \
        ["<alice> n%d" % i for i in range(500)]
    assert [a.line() for _ in range(500)] == ["alice:n%d" % i
                                              for i in range(500)]


def test_half_close_after_a_frame_without_nul(d):
    carol = Line(d, "carol")
    a = Course(d)
    a.raw(b"/login zed")
    a.shutdown()
    assert a.expect_closed() == b"/ok carol\nzed\0"
    assert carol.line() == "* zed joined"
    assert carol.line() == "* zed left"


def chat_counter(d, name):
    """A counter of the chat service, from the metrics service."""
    host, port = d.addr("metrics")
    text = urllib.request.urlopen("http://%s:%d/metrics" % (host, port),
                                  timeout=5).read().decode()
    m = re.search(r'^multid_chat_%s_total\{service="chat"\} (\d+)$' % name,
                  text, re.M)
    assert m, text
    return int(m.group(1))


def test_one_render_per_protocol_per_message(start):
    d = start(config(
        service("chat", "chat", [
            "tcp://%s:0" % LINE,
            listen_group("tcp://%s:0" % COURSE, "course")]),
        service("metrics", "metrics", ["tcp://127.0.0.1:0"])))
    lines = [Line(d, "l%d" % i) for i in range(3)]
    lines[0].who()
    events, renders = chat_counter(d, "events"), chat_counter(d, "renders")
    # Line receivers only: one render per message.
    for i in range(10):
        lines[0].send("only line %d" % i)
    for l in lines[1:]:
        assert l.read_until(lambda x: x == "<l0> only line 9")
    assert chat_counter(d, "events") - events == 10
    assert chat_counter(d, "renders") - renders == 10
    courses = [Course(d, "c%d" % i) for i in range(3)]
    lines[0].who()
    events, renders = chat_counter(d, "events"), chat_counter(d, "renders")
    # Line and course receivers: two renders per message, however many
    # receivers each protocol has.
    for i in range(10):
        lines[1].send("mixed %d" % i)
    for c in courses:
        assert c.read_until(lambda x: x == "l1:mixed 9")[-10:] == \
            ["l1:mixed %d" % i for i in range(10)]
    assert lines[0].read_until(lambda x: x == "<l1> mixed 9")[-10:] == \
        ["<l1> mixed %d" % i for i in range(10)]
    assert chat_counter(d, "events") - events == 10
    assert chat_counter(d, "renders") - renders == 20


# --- bad input ---------------------------------------------------------------------


def test_over_long_frame(start):
    d = start(chat_conf("max_line = 64;"))
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    a.send("x" * 65)
    assert a.line() == "/error"
    a.send("y" * 64)
    assert a.line() == "alice:" + "y" * 64
    assert carol.line() == "<alice> " + "y" * 64


def test_one_megabyte_frame(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    a.raw(b"z" * (1 << 20) + b"\0")
    assert a.line(timeout=10) == "/error"
    assert a.ask("/users") == "/users alice\ncarol"
    a.expect_silence()
    carol.expect_silence()


def test_endless_frame_without_nul(d):
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    # 4 MB with no NUL: answered once, the rest discarded, and nobody
    # else waits for it.
    chunk = b"e" * 65536
    for i in range(64):
        a.raw(chunk)
        if i == 32:
            carol.send("still here")
    assert a.line(timeout=10) == "/error"
    assert a.line() == "carol:still here"
    a.raw(b"tail\0")
    a.expect_silence()          # the end of the discarded frame
    a.send("fine")
    assert carol.line() == "<alice> fine"


def test_login_flood(d):
    carol = Line(d, "carol")
    a = Course(d)
    a.raw(b"".join(b"/login f%d\0" % i for i in range(2000)))
    assert a.line() == "/ok carol\nf0"
    assert [a.line() for _ in range(1999)] == ["/error"] * 1999
    # Many clients after one name: exactly one gets it.
    many = [Course(d) for _ in range(50)]
    for c in many:
        c.send("/login same")
    answers = [c.line() for c in many]
    assert sum(x.startswith("/ok ") for x in answers) == 1
    assert answers.count("/error") == 49
    assert carol.who()[-1] == "* lobby: carol, f0, same"


def test_client_that_never_reads_is_dropped(start):
    d = start(chat_conf("max_queue = 65536;"))
    slow = Course(d, "slow", rcvbuf=4096)
    carol = Line(d, "carol")
    a = Course(d, "alice")
    carol.line()
    # About 8 MB of messages: far more than the kernel buffers and
    # max_queue hold for the client that never reads.  alice reads each
    # batch (less than max_queue) before the next is sent, so she is never
    # behind by more than max_queue herself.
    text = "x" * 300
    n, per_batch = 25000, 100
    for k in range(0, n, per_batch):
        carol.raw(b"".join(("%s %d\r\n" % (text, i)).encode()
                           for i in range(k, k + per_batch)))
        for i in range(k, k + per_batch):
            assert a.line() == "carol:%s %d" % (text, i)
    seen = carol.who()
    assert seen == ["* slow left (too slow)", "* lobby: alice, carol"]
    rest = assert_closed(slow.s, timeout=10)
    assert len(rest) < n * len(text)
    assert a.ask("/users") == "/users alice\ncarol"


def test_idle_course_client_times_out(start):
    d = start(chat_conf("idle_timeout = 1;"))
    carol = Line(d, "carol")
    a = Course(d, "alice")
    assert carol.line() == "* alice joined"
    deadline = time.time() + 10
    while True:
        carol.send("/who")
        line = carol.line()
        if line == "* alice left (idle timeout)":
            break
        assert line.startswith("* lobby: "), line
        assert time.time() < deadline
        time.sleep(0.2)
    # Nothing is said to a course client: it has no frame for it.
    assert a.expect_closed() == b""
