"""The course protocols (SPEC 3, `protocol = "course"`) over real sockets,
spoken as the course's own client programs speak: one connection, one
send() of a message that often has no line end, one recv() of the answer.
Also the listen groups of SPEC 2 that select them, both protocols side by
side on one service, the last line at a half-close with real nc, and the
telnet negotiation of SPEC 3 with raw bytes and with real telnet.

Every service here listens with its default protocol on 127.0.0.1 and with
the course protocol on 127.0.0.2, so a test picks the protocol by address."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from multid import (LineClient, assert_closed, config, listen_group,
                    run_multid, service)

DEFAULT = "127.0.0.1"
COURSE = "127.0.0.2"


def both(kind="tcp"):
    """A default and a course listen entry of one kind."""
    return ["%s://%s:0" % (kind, DEFAULT),
            listen_group("%s://%s:0" % (kind, COURSE), "course")]


@pytest.fixture
def d(start):
    return start(config(
        service("echo", "echo", both("tcp") + both("udp")),
        service("upper", "transform", both("tcp") + both("udp"),
                'op = "upper";'),
        service("short", "transform", both("tcp"),
                'op = "upper"; max_line = 64;'),
        service("guess", "guess", both("tcp")),
        service("g2", "guess", both("tcp"), "max = 2;"),
        service("gshort", "guess", both("tcp"), "max_line = 16;")))


def addr(d, name, host, kind="tcp"):
    """(host, port) of the service's listener of that kind on host."""
    d._parse_listeners()
    for k, h, port in d.listeners.get(name, []):
        if k == kind and h == host:
            return h, port
    raise KeyError("%s has no %s listener on %s: %s" % (name, kind, host,
                                                        d.listeners))


def course(d, name, timeout=5):
    """A socket to the service's course listener, as the course's client
    programs open it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr(d, name, COURSE))
    return s


def exchange(s, message, timeout=5):
    """What the course's clients do: one send() of the message, one
    recv() of the answer.  Afterwards nothing more may come (no line end
    added, no second reply)."""
    assert s.send(message) == len(message)
    s.settimeout(timeout)
    answer = s.recv(65536)
    LineClient(sock=s).expect_silence(0.2)
    return answer


def line_client(d, name, **kw):
    """A client of the service's default (line) protocol."""
    return LineClient.at(*addr(d, name, DEFAULT), **kw)


# --- echo --------------------------------------------------------------------

def test_echo_one_send_one_recv(d):
    s = course(d, "echo")
    assert exchange(s, b"hello") == b"hello"
    assert exchange(s, "grüße".encode()) == "grüße".encode()
    assert exchange(s, b"CS305 is Awsome.") == b"CS305 is Awsome."


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_echo_keeps_the_line_end(d, ending):
    s = course(d, "echo")
    assert exchange(s, b"test" + ending) == b"test" + ending
    assert exchange(s, b"hello") == b"hello"


def test_echo_several_lines_in_one_send(d):
    # Each complete line is a message answered with its own ending; the
    # rest without LF is one more, answered without one.
    c = LineClient(sock=course(d, "echo"))
    c.raw(b"a\nb\r\nc")
    assert c.recv_bytes(len(b"a\nb\r\nc")) == b"a\nb\r\nc"
    c.expect_silence(0.2)


@pytest.mark.parametrize("exit_", [b"exit", b"exit\n", b"exit\r\n"])
def test_echo_exit_closes(d, exit_):
    s = course(d, "echo")
    assert exchange(s, b"first") == b"first"
    s.send(exit_)
    # "exit" is not echoed: the server closes at once.
    assert assert_closed(s, 3) == b""


def test_echo_exit_only_when_exact(d):
    s = course(d, "echo")
    for text in (b"exit now", b"EXIT", b" exit", b"exit2"):
        assert exchange(s, text) == text


def test_echo_default_protocol_has_no_exit(d):
    c = line_client(d, "echo")
    c.raw(b"exit\r\n")
    assert c.recv_bytes(6) == b"exit\r\n"
    c.raw(b"hello")
    assert c.recv_bytes(5) == b"hello"


def test_echo_half_close_answers_and_closes(d):
    s = course(d, "echo")
    s.sendall(b"last")
    s.shutdown(socket.SHUT_WR)
    assert assert_closed(s, 3) == b"last"


# --- transform over TCP ---------------------------------------------------------

def test_upper_one_send_one_recv(d):
    s = course(d, "upper")
    assert exchange(s, b"hello") == b"HELLO"
    assert exchange(s, b"input lowercase sentence") == \
        b"INPUT LOWERCASE SENTENCE"
    assert exchange(s, "grüße ä".encode()) == "GRÜßE Ä".encode()


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_upper_keeps_the_line_end(d, ending):
    s = course(d, "upper")
    assert exchange(s, b"hello" + ending) == b"HELLO" + ending


def test_upper_no_greeting(d):
    c = LineClient(sock=course(d, "upper"))
    c.expect_silence(0.3)


def test_upper_several_lines_in_one_send(d):
    c = LineClient(sock=course(d, "upper"))
    c.raw(b"one\ntwo\r\nthree")
    assert c.recv_bytes(len(b"ONE\nTWO\r\nTHREE")) == b"ONE\nTWO\r\nTHREE"
    c.expect_silence(0.2)


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_upper_invalid_utf8(d, ending):
    s = course(d, "upper")
    assert exchange(s, b"ab\xc3" + ending) == b"! invalid UTF-8" + ending
    assert exchange(s, b"\xc0\xaf" + ending) == b"! invalid UTF-8" + ending
    # The connection goes on.
    assert exchange(s, b"ok") == b"OK"


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_upper_line_too_long_once(d, ending):
    """A message over max_line (64 here) gets `! line too long` once, with
    the message's own ending; the rest of it is discarded, and the
    connection goes on."""
    s = course(d, "short")
    assert exchange(s, b"a" * 64 + ending) == b"A" * 64 + ending
    assert exchange(s, b"b" * 200 + ending) == b"! line too long" + ending
    assert exchange(s, b"ok" + ending) == b"OK" + ending


def test_upper_line_too_long_then_a_line_in_the_same_send(d):
    c = LineClient(sock=course(d, "short"))
    c.raw(b"x" * 500 + b"\nnext\n")
    want = b"! line too long\nNEXT\n"
    assert c.recv_bytes(len(want)) == want
    c.expect_silence(0.2)


def test_upper_one_megabyte_in_one_message(d):
    """1 MB without a line end in one send(): only `! line too long`
    comes back for it (the message may end more than once while it
    arrives, each end answered once; a last short piece may be answered
    by its upper-cased text), never the text as it was, and the
    connection and the daemon go on."""
    c = LineClient(sock=course(d, "upper", timeout=20), timeout=20)
    c.raw(b"m" * (1 << 20))
    got = b""
    while True:
        try:
            chunk = c.recv_some(1.0)
        except AssertionError:
            break                               # a second of silence
        assert chunk, "the server closed after %r" % got[-100:]
        got += chunk
        assert len(got) < 1 << 20, "the message came back"
    assert got.startswith(b"! line too long"), got[:100]
    assert b"m" not in got, got[:200]
    rest = got.replace(b"! line too long", b"")
    assert set(rest) <= set(b"M"), rest[:100]
    assert len(rest) < 1024 * max(1, got.count(b"! line too long"))
    assert exchange(c.s, b"still here\n") == b"STILL HERE\n"
    other = course(d, "upper")
    assert exchange(other, b"x") == b"X"
    assert d.alive()


def test_upper_udp_course_entry_is_the_default(d):
    """A udp:// entry with protocol course behaves as the default: one
    datagram, one answer without a line end."""
    for host in (DEFAULT, COURSE):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(3)
        u.connect(addr(d, "upper", host, "udp"))
        for text in (b"hello", b"hello\n", b"hello\r\n"):
            u.send(text)
            assert u.recv(2048) == b"HELLO", (host, text)
        u.close()


def test_echo_udp_course_entry_is_the_default(d):
    for host in (DEFAULT, COURSE):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(3)
        u.connect(addr(d, "echo", host, "udp"))
        for text in (b"exit", b"hello\r\n", b"x" * 1000):
            u.send(text)
            assert u.recv(2048) == text, (host, text)
        u.close()


# --- guess ----------------------------------------------------------------------

def test_guess_no_greeting(d):
    c = LineClient(sock=course(d, "guess"))
    c.expect_silence(0.3)


def solve(s, hi, ending=b""):
    """Plays a round with bare answers; returns the number of tries."""
    lo, tries = 1, 0
    while lo <= hi:
        g = (lo + hi) // 2
        r = exchange(s, str(g).encode() + ending)
        tries += 1
        if r == b"=" + ending:
            return tries
        if r == b"-" + ending:
            hi = g - 1
        else:
            assert r == b"+" + ending, r
            lo = g + 1
    raise AssertionError("no number left")


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_guess_bare_answers(d, ending):
    s = course(d, "guess")
    assert solve(s, 100, ending) <= 7
    # A new number is drawn at once, silently: the next round is played
    # the same way.
    assert solve(s, 100, ending) <= 7


def test_guess_points_the_right_way(d):
    # With max 2 the answers to 1 and 2 leave no choice.
    s = course(d, "g2")
    r = exchange(s, b"1")
    assert r in (b"+", b"="), r
    if r == b"+":
        assert exchange(s, b"2") == b"="
    r = exchange(s, b"2")
    assert r in (b"-", b"="), r
    if r == b"-":
        assert exchange(s, b"1") == b"="


@pytest.mark.parametrize("number,answer", [
    (b"0", b"+"), (b"-1", b"+"), (b"101", b"-"),
    (b"99999999999999999999", b"-"), (b"-99999999999999999999", b"+")])
def test_guess_any_integer_is_answered(d, number, answer):
    """A message holding an integer gets -, + or =, even outside 1..MAX
    (the course's server compares, nothing more)."""
    s = course(d, "guess")
    assert exchange(s, number) == answer
    assert exchange(s, number + b"\r\n") == answer + b"\r\n"


@pytest.mark.parametrize("bad", [b"abc", b"1.5", b"4 2", b"12a", b"0x1f",
                                 b"stats", b"help", b"new", b"giveup",
                                 b"quit"])
def test_guess_anything_else_is_bang(d, bad):
    s = course(d, "guess")
    assert exchange(s, bad) == b"!"
    assert exchange(s, bad + b"\n") == b"!\n"
    assert exchange(s, b"50") in (b"-", b"+", b"=")


def test_guess_blanks_around_the_number(d):
    s = course(d, "guess")
    assert exchange(s, b" 50 ") in (b"-", b"+", b"=")


def test_guess_line_too_long_is_bang(d):
    s = course(d, "gshort")
    assert exchange(s, b"1" * 100) == b"!"
    assert exchange(s, b"1" * 100 + b"\r\n") == b"!\r\n"
    assert exchange(s, b"50") in (b"-", b"+", b"=")


def test_guess_several_guesses_in_one_send(d):
    c = LineClient(sock=course(d, "g2"))
    c.raw(b"7\nx\r\n1")
    got = c.recv_bytes(len(b"-\n!\r\n+"))
    assert got[:5] == b"-\n!\r\n" and got[5:] in (b"+", b"="), got
    c.expect_silence(0.2)


# --- both protocols side by side -------------------------------------------------

def test_side_by_side_transform(d):
    line = line_client(d, "upper")
    s = course(d, "upper")
    line.send("hello")
    assert exchange(s, b"hello") == b"HELLO"
    assert line.line_bytes() == b"HELLO"        # the line protocol: CRLF
    assert exchange(s, b"hello\n") == b"HELLO\n"
    line.raw(b"abc")
    line.expect_silence(0.3)                    # a line waits for its LF
    line.raw(b"\n")
    assert line.line_bytes() == b"ABC"


def test_side_by_side_guess(d):
    line = line_client(d, "guess")
    greeting = line.line()
    assert greeting.startswith("* ") and "between 1 and 100" in greeting
    s = course(d, "guess")
    assert exchange(s, b"stats") == b"!"
    assert line.ask("stats").startswith("* rounds")


def test_side_by_side_echo(d):
    line = line_client(d, "echo")
    s = course(d, "echo")
    s.send(b"exit")
    assert assert_closed(s, 3) == b""
    line.raw(b"exit")
    assert line.recv_bytes(4) == b"exit"


# --- configuration (SPEC 2) -------------------------------------------------------

def check_conf(tmp_path, text):
    p = tmp_path / "c.conf"
    p.write_text(text)
    return run_multid(["-t", "-c", str(p)]), str(p)


def conf_with(entry, type_="echo", extra=""):
    """A configuration whose second listen entry, on line 4, is `entry`."""
    return ('services = (\n'
            '  { name = "x"; type = "%s"; %s\n'
            '    listen = ( "tcp://127.0.0.1:0",\n'
            '               %s ); }\n'
            ');\n' % (type_, extra, entry))


@pytest.mark.parametrize("type_,extra,protocol", [
    ("daytime", "", "course"),
    ("discard", "", "course"),
    ("bank", 'database = "b.db";', "course"),
    ("echo", "", "irc"),
    ("guess", "", "irc"),
])
def test_protocol_the_type_does_not_speak(tmp_path, type_, extra, protocol):
    r, path = check_conf(tmp_path, conf_with(
        '{ address = "tcp://127.0.0.1:0"; protocol = "%s"; }' % protocol,
        type_, extra))
    assert r.returncode == 1, r.stderr
    assert "c.conf:4:" in r.stderr, r.stderr
    assert protocol in r.stderr


def test_unknown_protocol_name(tmp_path):
    r, path = check_conf(tmp_path, conf_with(
        '{ address = "tcp://127.0.0.1:0"; protocol = "telnet"; }'))
    assert r.returncode == 1, r.stderr
    assert "c.conf:4:" in r.stderr and "telnet" in r.stderr, r.stderr


def test_group_without_address(tmp_path):
    r, path = check_conf(tmp_path, conf_with('{ protocol = "course"; }'))
    assert r.returncode == 1, r.stderr
    assert "c.conf:4:" in r.stderr and "address" in r.stderr, r.stderr


@pytest.mark.parametrize("entry,word", [
    ('{ address = "tcp://127.0.0.1:0"; protocol = "course"; port = 7; }',
     "port"),
    ('{ address = "tcp://127.0.0.1:0"; protocol = 5; }', "protocol"),
    ('{ address = 7; protocol = "course"; }', "address"),
    ('{ address = "tcp://127.0.0.1:70000"; protocol = "course"; }', "70000"),
])
def test_bad_groups(tmp_path, entry, word):
    r, path = check_conf(tmp_path, conf_with(entry))
    assert r.returncode == 1, r.stderr
    assert "c.conf:4:" in r.stderr and word in r.stderr, r.stderr


def test_protocol_error_also_stops_a_start(tmp_path):
    p = tmp_path / "c.conf"
    p.write_text(conf_with(
        '{ address = "tcp://127.0.0.1:0"; protocol = "course"; }',
        "daytime"))
    r = run_multid(["-c", str(p)])
    assert r.returncode == 1, r.stderr
    assert "c.conf:4:" in r.stderr


def test_good_groups_pass(tmp_path):
    r, _ = check_conf(tmp_path, config(
        service("e", "echo", both("tcp") + both("udp")),
        service("t", "transform", both("tcp") + both("udp"), 'op = "count";'),
        service("g", "guess", both("tcp"))))
    assert r.returncode == 0, r.stderr
    assert "is ok" in r.stderr


# --- the last line at a half-close, with real nc -----------------------------------

def nc(host, port, data, timeout=10):
    """printf DATA | nc -N HOST PORT: the output nc printed."""
    r = subprocess.run(["nc", "-N", host, str(port)], input=data,
                       capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_half_close_last_line_with_nc(d):
    assert shutil.which("nc"), "nc is not installed (make deps installs it)"
    assert nc(*addr(d, "upper", DEFAULT), b"abc") == b"ABC\r\n"
    assert nc(*addr(d, "upper", DEFAULT), b"one\ntwo") == b"ONE\r\nTWO\r\n"
    assert nc(*addr(d, "upper", COURSE), b"abc") == b"ABC"
    assert nc(*addr(d, "upper", COURSE), b"abc\n") == b"ABC\n"
    assert nc(*addr(d, "echo", COURSE), b"hello") == b"hello"


# --- telnet negotiation (SPEC 3), raw bytes ------------------------------------

IAC, DONT, DO, WONT, WILL = 255, 254, 253, 252, 251
IP, AO = 244, 245
TM, ECHO, SGA, TTYPE, NAWS = 6, 1, 3, 24, 31


def iac(*codes):
    return bytes([IAC, *codes])


@pytest.fixture(params=["upper", "guess"])
def telnet_user(request, d):
    """A line-protocol client of transform or guess, past the greeting."""
    c = line_client(d, request.param, end=b"\r\n")
    if request.param == "guess":
        assert c.line().startswith("* ")
    c.name = request.param
    yield c
    c.close()


def works(c):
    """The session still answers a line."""
    if c.name == "upper":
        return c.ask("hello") == "HELLO"
    return c.ask("stats").startswith("* rounds")


def test_do_timing_mark_gets_will_timing_mark(telnet_user):
    c = telnet_user
    c.raw(iac(DO, TM))
    assert c.recv_bytes(3) == iac(WILL, TM)
    assert works(c)


def test_ctrl_c_as_telnet_sends_it(telnet_user):
    """What telnet sends after Ctrl-C: IAC IP IAC DO TIMING-MARK.  The
    interrupt is ignored, the mark answered, and the session goes on."""
    c = telnet_user
    c.raw(iac(IP) + iac(DO, TM))
    assert c.recv_bytes(3) == iac(WILL, TM)
    c.expect_silence(0.2)
    assert works(c)
    c.raw(iac(AO))
    c.expect_silence(0.2)
    assert works(c)


@pytest.mark.parametrize("opt", [ECHO, SGA, TTYPE, NAWS, 200])
def test_do_x_gets_wont_x(telnet_user, opt):
    c = telnet_user
    c.raw(iac(DO, opt))
    assert c.recv_bytes(3) == iac(WONT, opt)
    assert works(c)


@pytest.mark.parametrize("opt", [ECHO, SGA, TTYPE, NAWS, TM])
def test_will_x_gets_dont_x(telnet_user, opt):
    c = telnet_user
    c.raw(iac(WILL, opt))
    assert c.recv_bytes(3) == iac(DONT, opt)
    assert works(c)


def test_wont_and_dont_are_not_answered(telnet_user):
    # Answering a refusal could make two peers loop (RFC 854).
    c = telnet_user
    c.raw(iac(WONT, ECHO) + iac(DONT, ECHO) + iac(WONT, TM) + iac(DONT, SGA))
    c.expect_silence(0.3)
    assert works(c)


def test_negotiation_inside_a_line(telnet_user):
    """A negotiation in the middle of a line is answered and removed; the
    line around it is one line."""
    c = telnet_user
    if c.name == "upper":
        c.raw(b"ab" + iac(DO, TM) + b"c" + iac(IP) + b"d\r\n")
        got = c.recv_bytes(3 + len(b"ABCD\r\n"))
        assert got == iac(WILL, TM) + b"ABCD\r\n", got
    else:
        c.raw(b"sta" + iac(DO, TM) + b"ts\r\n")
        assert c.recv_bytes(3) == iac(WILL, TM)
        assert c.line().startswith("* rounds")


def test_subnegotiation_is_removed(telnet_user):
    c = telnet_user
    c.raw(iac(250, TTYPE, 0) + b"xterm" + iac(240))
    c.expect_silence(0.3)
    assert works(c)


# --- real telnet under tmux ------------------------------------------------------

class Tmux:
    """One tmux server of our own (its own socket), one window."""

    def __init__(self, command, width=160, height=50):
        self.sock = "multid-course-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.run("new-session", "-d", "-s", "t", "-x", str(width),
                 "-y", str(height), command)
        self.path = self.run("display-message", "-p", "#{socket_path}").strip()

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock] + list(args),
                              capture_output=True, text=True, timeout=10,
                              check=True).stdout

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t", "-S", "-200")

    def wait_for(self, pred, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if pred(text):
                return text
            time.sleep(0.1)
        raise AssertionError("screen never matched:\n" + self.screen())

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"],
                       capture_output=True, timeout=10)
        if self.path.endswith(self.sock) and os.path.exists(self.path):
            os.unlink(self.path)


@pytest.mark.parametrize("name,ask,answer", [
    ("guess", "stats", "* rounds"),
    ("upper", "hello there", "HELLO THERE"),
])
def test_real_telnet_survives_ctrl_c(d, name, ask, answer):
    """telnet, after Ctrl-C, sends IAC IP IAC DO TIMING-MARK and throws
    away all output until the answer comes.  Pressed in guess or
    transform, the session must still answer what is typed next."""
    assert shutil.which("tmux") and shutil.which("telnet"), \
        "tmux and telnet are not installed (make deps installs them)"
    host, port = addr(d, name, DEFAULT)
    t = Tmux("telnet %s %d" % (host, port))
    try:
        t.wait_for(lambda s: "Escape character" in s)
        if name == "guess":
            t.wait_for(lambda s: "between 1 and 100" in s)
        # What is typed is shown in lower case; only answers hold `answer`.
        t.keys(ask, "Enter")
        t.wait_for(lambda s: s.count(answer) == 1)
        t.keys("C-c")
        time.sleep(0.5)
        t.keys(ask, "Enter")
        t.wait_for(lambda s: s.count(answer) == 2)
        assert "Connection closed" not in t.screen()
    finally:
        t.close()


# --- the shipped configuration ---------------------------------------------------

def test_course_conf_is_valid():
    """conf/course.conf (make run CONF=conf/course.conf) passes -t."""
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf",
                        "course.conf")
    r = run_multid(["-t", "-c", conf])
    assert r.returncode == 0, r.stderr
    assert "is ok" in r.stderr
