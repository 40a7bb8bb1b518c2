"""chat: the multi-room chat over real sockets, as telnet and nc users see
it: nicknames, rooms, commands, history, sanitising, ordering, and the
drop of a client that does not read."""
import os
import socket
import time

import pytest

from multid import assert_closed, config, service


class Chatter:
    def __init__(self, d, nick=None, name="chat", rcvbuf=None):
        host, port = d.addr(name)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect((host, port))
        self.buf = b""
        self.greeting = []
        self.nick = nick
        if nick is not None:
            # The greeting is '* ' lines; the hello follows the nickname.
            self.send(nick)
            while True:
                line = self.line()
                if not line.startswith("* ") or line.startswith("* hello "):
                    break
                self.greeting.append(line)
            assert line.startswith("* hello %s" % nick), line

    def read_greeting(self):
        """Reads the greeting up to the nickname prompt.  A line that is
        no valid nickname gets a '! ' reply, which marks its end."""
        self.send("/who")
        lines = []
        while True:
            line = self.line()
            if line.startswith("! "):
                return lines
            lines.append(line)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed; had %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8")

    def raw(self, data):
        self.s.sendall(data)

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def ask(self, text):
        self.send(text)
        return self.line()

    def sync(self):
        """Sends /who and returns the lines that arrive before its reply
        (kept in self.who), so a test can check that nothing else came."""
        self.send("/who")
        lines = []
        while True:
            line = self.line()
            if line.startswith("* ") and ": " in line and \
                    not line.startswith("* rooms"):
                room = line[2:line.index(": ")]
                if " " not in room:
                    self.who = line
                    return lines
            lines.append(line)

    def expect_closed(self, timeout=5.0):
        """Fails unless the server closes the connection within timeout;
        returns the lines that were not read before the close."""
        rest, self.buf = self.buf, b""
        rest += assert_closed(self.s, timeout)
        return [l.decode("utf-8") for l in rest.split(b"\r\n") if l]

    def close(self):
        self.s.close()


def chat_conf(extra=""):
    return config(service("chat", "chat", ["tcp://127.0.0.1:0"], extra))


@pytest.fixture
def d(start):
    return start(chat_conf())


# --- joining ---------------------------------------------------------------


def test_greeting_and_nickname(d):
    a = Chatter(d)
    greeting = a.read_greeting()
    assert greeting and all(l.startswith("* ") for l in greeting), greeting
    a.send("alice")
    assert a.line().startswith("* hello alice")
    assert a.sync() == []


def test_nick_command_as_first_line(d):
    a = Chatter(d)
    a.read_greeting()
    assert a.ask("/nick Alice_1").startswith("* hello Alice_1")


@pytest.mark.parametrize("bad", [
    "1abc", "_x", "-x", "a" * 17, "a b", "a.b", "jürgen", "a!", "/nick 9z",
    "/nick"])
def test_invalid_nicknames(d, bad):
    a = Chatter(d)
    a.read_greeting()
    assert a.ask(bad).startswith("! ")
    # The client may try again.
    assert a.ask("b" * 16).startswith("* hello " + "b" * 16)


def test_nickname_unique_regardless_of_case(d):
    a = Chatter(d, "alice")
    b = Chatter(d)
    b.read_greeting()
    assert b.ask("ALICE").startswith("! ")
    assert b.ask("/nick Alice").startswith("! ")
    assert b.ask("bob").startswith("* hello bob")
    assert a.line() == "* bob joined"


def test_nickname_free_again_after_leaving(d):
    a = Chatter(d, "alice")
    a.close()
    b = Chatter(d, "watcher")
    deadline = time.time() + 10
    while True:
        c = Chatter(d)
        c.read_greeting()
        r = c.ask("alice")
        if r.startswith("* hello alice"):
            break
        assert time.time() < deadline, r
        c.close()
        time.sleep(0.05)
    b.close()


def test_joined_notice_to_the_room(d):
    a = Chatter(d, "alice")
    Chatter(d, "bob")
    assert a.line() == "* bob joined"


def test_commands_before_a_nickname(d):
    a = Chatter(d)
    a.read_greeting()
    assert a.ask("/who").startswith("! ")
    a.send("/help")
    assert a.line().startswith("* ")
    a.read_greeting()  # the rest of the help
    a.send("/quit")
    assert a.expect_closed() == ["* bye"]


# --- messages ----------------------------------------------------------------


def test_message_goes_to_the_others_not_back(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    assert a.line() == "* bob joined"
    assert a.line() == "* carol joined"
    assert b.line() == "* carol joined"
    a.send("hello, world")
    assert b.line() == "<alice> hello, world"
    assert c.line() == "<alice> hello, world"
    assert a.sync() == []


def test_unicode_message(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("grüße, 😀 and\ttab")
    assert b.line() == "<alice> grüße, 😀 and\ttab"


def test_slash_escape(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("//nick is a command")
    assert b.line() == "<alice> /nick is a command"
    a.send("//")
    assert b.line() == "<alice> /"


def test_nick_change(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("/nick Alicia")
    assert b.line() == "* alice is now Alicia"
    assert a.line().startswith("* ")
    a.send("hi")
    assert b.line() == "<Alicia> hi"
    # The old name is free, the new one taken.
    c = Chatter(d, "alice")
    assert b.line() == "* alice joined"
    assert c.ask("/nick ALICIA").startswith("! ")
    assert c.ask("/nick 9").startswith("! ")
    assert b.sync() == []


def test_msg(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    a.line(), a.line(), b.line()
    c.send("/join elsewhere")
    assert c.line().startswith("* you are in elsewhere")
    assert a.line() == "* carol left"
    assert b.line() == "* carol left"
    a.send("/msg CAROL psst, over here")
    assert c.line() == "*alice* psst, over here"
    assert b.sync() == []
    assert a.ask("/msg nobody hi").startswith("! ")
    assert a.ask("/msg carol").startswith("! ")


def test_me(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("/me waves")
    assert b.line() == "* alice waves"
    assert a.sync() == []


def test_who_sorted_case_insensitively(d):
    names = ["bob", "Alice", "carol", "Dave", "eve"]
    cs = [Chatter(d, n) for n in names]
    cs[2].sync()
    assert cs[2].who == "* lobby: Alice, bob, carol, Dave, eve"


def test_join_and_rooms(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    a.line(), a.line(), b.line()
    assert b.ask("/join 1room").startswith("! ")
    assert b.ask("/join").startswith("! ")
    b.send("/join Kitchen")
    assert b.line().startswith("* you are in Kitchen")
    assert a.line() == "* bob left"
    assert c.line() == "* bob left"
    c.send("/join kitchen")
    assert c.line().startswith("* you are in Kitchen")
    assert b.line() == "* carol joined"
    assert a.line() == "* carol left"
    b.send("only the kitchen hears this")
    assert c.line() == "<bob> only the kitchen hears this"
    rooms = a.ask("/rooms")
    assert rooms.startswith("* rooms: ")
    assert "lobby (1)" in rooms and "Kitchen (2)" in rooms
    assert c.ask("/who") == "* Kitchen: bob, carol"
    assert a.sync() == []


def test_rooms_lists_only_rooms_with_people(d):
    a = Chatter(d, "alice")
    a.send("/join tmp")
    a.line()
    a.send("/join lobby")
    a.line()
    assert a.ask("/rooms") == "* rooms: lobby (1)"


def test_quit_with_and_without_reason(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    a.line(), a.line()
    b.send("/quit")
    assert b.expect_closed() == ["* carol joined", "* bye"]
    assert a.line() == "* bob left"
    c.send("/QUIT gone fishing")
    assert c.expect_closed() == ["* bob left", "* bye"]
    assert a.line() == "* carol left (gone fishing)"


def test_disconnect_gives_plain_left(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    b.close()
    assert a.line() == "* bob left"


def test_half_close_gives_plain_left(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    b.send("bye all")
    b.s.shutdown(socket.SHUT_WR)
    assert a.line() == "<bob> bye all"
    assert a.line() == "* bob left"


def test_help_and_unknown_commands(d):
    a = Chatter(d, "alice")
    a.send("/help")
    lines = a.sync()
    assert len(lines) >= 3 and all(l.startswith("* ") for l in lines)
    assert a.ask("/frobnicate").startswith("! ")
    assert a.ask("/HELPME").startswith("! ")
    assert a.ask("/WHO") == "* lobby: alice"


def test_empty_lines_ignored(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.raw(b"\r\n\n\r\nreal\r\n")
    assert b.line() == "<alice> real"


# --- sanitising ----------------------------------------------------------------


def test_control_characters_and_escapes_removed(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.raw(b"\x1b[31mred\x1b[0m \x1b]0;pwned\x07title \x07bell\x08\x7f"
          b"\xc2\x9b2Jc1 \x1b[2J\x1b[Hend\tok\r\n")
    assert b.line() == "<alice> red title bellc1 end\tok"
    a.raw(b"/me \x1b[5mblinks\x1b[0m\r\n")
    assert b.line() == "* alice blinks"
    a.raw(b"/msg bob \x1b]52;c;aGk=\x07clip\r\n")
    assert b.line() == "*alice* clip"


def test_invalid_utf8_rejected_not_delivered(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    for bad in (b"caf\xe9", b"\xc3\x28", b"\xed\xa0\x80x", b"\xc0\xaf"):
        a.raw(bad + b"\r\n")
        assert a.line().startswith("! ")
    a.send("after")
    assert b.line() == "<alice> after"


def test_only_controls_is_nothing(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.raw(b"\x1b[31m\x07\r\n")
    a.send("next")
    assert b.line() == "<alice> next"


def test_telnet_client(d):
    # telnet sends CRLF and option negotiation; the IAC bytes vanish, and
    # DO SGA is refused with WONT SGA, WILL TTYPE with DONT TTYPE.
    a = Chatter(d)
    a.read_greeting()
    a.raw(b"\xff\xfd\x03\xff\xfb\x18al\xff\xf1ice\r\n")
    while len(a.buf) < 6:
        a.buf += a.s.recv(65536)
    assert a.buf[:6] == b"\xff\xfc\x03\xff\xfe\x18"
    a.buf = a.buf[6:]
    assert a.line().startswith("* hello alice")
    b = Chatter(d, "bob")
    a.line()
    a.raw(b"hi \xff\xfa\x18\x00xterm\xff\xf0there\r\n")
    assert b.line() == "<alice> hi there"


# --- history ----------------------------------------------------------------------


def test_history_on_login_and_join(start):
    d = start(chat_conf("history = 3;"))
    a = Chatter(d, "alice")
    for i in range(5):
        a.send("m%d" % i)
    a.send("/me is not history")
    a.sync()
    b = Chatter(d, "bob")
    assert [b.line() for _ in range(3)] == ["<alice> m2", "<alice> m3",
                                            "<alice> m4"]
    assert b.sync() == []
    assert a.sync() == ["* bob joined"]
    # A room keeps its history after everybody left.
    a.send("/join side")
    a.line()
    a.send("s1")
    a.send("/join lobby")
    assert a.line().startswith("* you are in lobby")
    assert [a.line() for _ in range(3)] == ["<alice> m2", "<alice> m3",
                                            "<alice> m4"]
    assert b.sync() == ["* alice left", "* alice joined"]
    b.send("/join side")
    assert b.line().startswith("* you are in side")
    assert b.line() == "<alice> s1"
    assert b.sync() == []


def test_no_history_by_default(d):
    a = Chatter(d, "alice")
    a.send("before")
    a.sync()
    b = Chatter(d, "bob")
    assert b.sync() == []


# --- limits --------------------------------------------------------------------------


def test_line_too_long(start):
    d = start(chat_conf("max_line = 100;"))
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("x" * 150)
    assert a.line() == "! line too long"
    a.send("y" * 100)
    assert b.line() == "<alice> " + "y" * 100


def test_default_max_line_is_512(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    a.send("x" * 513)
    assert a.line() == "! line too long"
    a.send("z" * 512)
    assert b.line() == "<alice> " + "z" * 512


def test_busy(start):
    d = start(chat_conf("max_connections = 1;"))
    a = Chatter(d, "alice")
    b = Chatter(d)
    assert b.line() == "! busy"
    assert a.ask("/who") == "* lobby: alice"


def test_idle_timeout_reason(start):
    d = start(chat_conf("idle_timeout = 1;"))
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    # alice keeps talking, bob says nothing and is timed out.
    deadline = time.time() + 15
    while True:
        a.send("/who")
        line = a.line()
        if line == "* bob left (idle timeout)":
            break
        assert line.startswith("* lobby: "), line
        assert time.time() < deadline
        time.sleep(0.2)
    assert b.expect_closed() == ["* idle for too long, bye"]


# --- ordering and slow clients ------------------------------------------------------


def test_thousand_messages_in_order(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    a.line(), a.line(), b.line()
    a.raw(b"".join(b"message %d\r\n" % i for i in range(1000)))
    for r in (b, c):
        for i in range(1000):
            assert r.line() == "<alice> message %d" % i
    assert a.sync() == []


def test_two_senders_each_in_order(d):
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    c = Chatter(d, "carol")
    a.line(), a.line(), b.line()
    a.raw(b"".join(b"a%d\r\n" % i for i in range(300)))
    b.raw(b"".join(b"b%d\r\n" % i for i in range(300)))
    got = {"alice": [], "bob": []}
    for _ in range(600):
        line = c.line()
        nick, text = line[1:].split("> ", 1)
        got[nick].append(text)
    assert got["alice"] == ["a%d" % i for i in range(300)]
    assert got["bob"] == ["b%d" % i for i in range(300)]


def test_slow_reader_dropped_others_unaffected(start):
    d = start(chat_conf("max_queue = 65536;"))
    slow = Chatter(d, "slow", rcvbuf=4096)
    a = Chatter(d, "alice")
    b = Chatter(d, "bob")
    a.line()
    rss0 = d.rss_kb()
    # About 8 MB of messages: far more than the kernel buffers and
    # max_queue hold for the client that never reads.  bob reads each
    # batch (less than max_queue) before the next is sent, so he is
    # never behind by more than max_queue himself.
    text = "x" * 300
    n, per_batch = 25000, 100
    received = 0
    left = False
    for k in range(0, n, per_batch):
        a.raw(b"".join(("%s %d\r\n" % (text, i)).encode()
                       for i in range(k, k + per_batch)))
        while received < k + per_batch:
            line = b.line()
            if line == "* slow left (too slow)":
                left = True
                continue
            assert line == "<alice> %s %d" % (text, received), line
            received += 1
    if not left:
        assert b.line() == "* slow left (too slow)"
    if not os.environ.get("MULTID_SANITIZE"):
        # ASan keeps freed memory in quarantine; the bound holds without.
        assert d.rss_kb() - rss0 < 64 * 1024
    # The slow one was disconnected; the others go on.
    data = b""
    try:
        while True:
            chunk = slow.s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    assert len(data) < n * len(text)
    assert a.sync() == ["* slow left (too slow)"]
    assert a.who == "* lobby: alice, bob"


def test_many_users(start):
    d = start(chat_conf())
    users = [Chatter(d, "u%03d" % i) for i in range(150)]
    who = users[0].sync()
    assert len(who) == 149  # the joined notices
    users[0].send("/who")
    line = users[0].line()
    assert line == "* lobby: " + ", ".join("u%03d" % i for i in range(150))
    users[10].send("to everybody")
    for i, u in enumerate(users):
        if i == 10:
            continue
        while True:
            line = u.line()
            if not line.endswith(" joined"):
                break
        assert line == "<u010> to everybody"
    for u in users:
        u.close()


def test_mass_departure_does_not_stall_the_others(d):
    # Many clients go away at once, some with unread input (a reset),
    # while their "left" notices are being queued to everybody; the ones
    # who stay must go on receiving.
    crowd = [Chatter(d, "c%03d" % i) for i in range(120)]
    # Those who stay came last, so they are queued behind the crowd.
    alice = Chatter(d, "alice")
    watch = Chatter(d, "watch")
    assert watch.sync() == []
    for c in crowd[::2]:
        c.send("bye from %s" % c.nick)
    for c in crowd:
        c.close()
    for round_ in range(3):
        alice.send("still there %d" % round_)
        while True:
            line = watch.line()
            if line.startswith("<alice> "):
                break
            assert line.startswith(("* c", "<c")), line
        assert line == "<alice> still there %d" % round_
    watch.sync()
    assert watch.who == "* lobby: alice, watch"
