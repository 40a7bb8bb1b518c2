"""transform: upper, lower, count, digitsum and reverse over TCP (one
reply line per line) and UDP (one reply datagram per datagram)."""
import os
import socket
import threading

import pytest

from multid import LineClient, config, recv_all, run_multid, service

OPS = ("upper", "lower", "count", "digitsum", "reverse")


def transform_config(extra=""):
    return config(*[
        service(op, "transform", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"],
                'op = "%s"; %s' % (op, extra))
        for op in OPS])


@pytest.fixture
def d(start):
    return start(transform_config())


def client(d, name):
    """A line client that ends its lines with CRLF, as telnet does."""
    return LineClient(d, name, end=b"\r\n")


def ask(c, line):
    """Sends one line (bytes) and returns the reply line without CRLF."""
    c.send(line)
    return c.line_bytes()


def ask_udp(d, op, data):
    u = d.udp(op)
    try:
        u.send(data)
        return u.recv(70000)
    finally:
        u.close()


CASES = [
    ("upper", "hello, World 42", "HELLO, WORLD 42"),
    ("upper", "grüße aus köln", "GRÜßE AUS KÖLN"),
    ("upper", "ä", "Ä"),
    ("upper", "αβγ жж", "ΑΒΓ ЖЖ"),
    ("lower", "ÄÖÜ HeLLo", "äöü hello"),
    ("lower", "ΑΒΓ", "αβγ"),
    ("count", "grüße", "5"),
    ("count", "hello", "5"),
    ("count", "€ 😀", "3"),
    ("count", "a b\tc", "5"),
    ("digitsum", "12345", "15"),
    ("digitsum", "0", "0"),
    ("digitsum", "9999999999999999999999", "198"),
    ("digitsum", "007", "7"),
    ("reverse", "hello", "olleh"),
    ("reverse", "grüße", "eßürg"),
    ("reverse", "a€😀b", "b😀€a"),
]


@pytest.mark.parametrize("op,text,want", CASES)
def test_tcp_ops(d, op, text, want):
    s = client(d, op)
    assert ask(s, text.encode()) == want.encode()
    s.close()


@pytest.mark.parametrize("op,text,want", CASES)
def test_udp_ops(d, op, text, want):
    # One datagram is one line, answered without a line end.
    assert ask_udp(d, op, text.encode()) == want.encode()
    assert ask_udp(d, op, text.encode() + b"\n") == want.encode()
    assert ask_udp(d, op, text.encode() + b"\r\n") == want.encode()


def test_digitsum_of_a_1000_digit_number(d):
    number = ("1234567890" * 100).encode()
    s = client(d, "digitsum")
    assert ask(s, number) == b"4500"
    assert ask_udp(d, "digitsum", number) == b"4500"
    assert ask(s, b"9" * 1000) == b"9000"


@pytest.mark.parametrize("text", [
    b"abc", b"-42", b"-0", b"4 2", b"1.5", b"12a", b"0x1f", b"++1",
    b"+", b"1_000", "١٢٣".encode(), b" ", b"\t"])
def test_digitsum_not_a_number(d, text):
    s = client(d, "digitsum")
    assert ask(s, text) == b"! not a number"
    # The connection goes on.
    assert ask(s, b"11") == b"2"
    assert ask_udp(d, "digitsum", text) == b"! not a number"


@pytest.mark.parametrize("text,want", [
    (b"  42", b"6"), (b"42  ", b"6"), (b"+42", b"6"), (b"\t 42\t", b"6")])
def test_digitsum_blanks_and_plus(d, text, want):
    # Blanks around the number and one leading "+" still write a
    # non-negative integer, as a careful user would type it.
    s = client(d, "digitsum")
    assert ask(s, text) == want


def test_udp_empty_datagram(d):
    assert ask_udp(d, "count", b"") == b"0"
    assert ask_udp(d, "count", b"\r\n") == b"0"
    assert ask_udp(d, "digitsum", b"\n") == b"! not a number"


@pytest.mark.parametrize("op", OPS)
def test_invalid_utf8(d, op):
    s = client(d, op)
    for bad in (b"abc\xc3", b"\xc3\x28", b"\xed\xa0\x80",
                b"\xc0\xaf", b"ab\x80cd"):
        assert ask(s, bad) == b"! invalid UTF-8"
    assert ask_udp(d, op, b"x\xc3\x28") == b"! invalid UTF-8"
    assert ask_udp(d, op, b"\xf8\x88\x80\x80\x80") == b"! invalid UTF-8"
    # After the error the connection still works.
    assert ask(s, b"7") == {"upper": b"7", "lower": b"7", "count": b"1",
                            "digitsum": b"7", "reverse": b"7"}[op]


def test_tcp_pipelined_lines_in_order(d):
    s = client(d, "count")
    lines = [("x" * i).encode() for i in range(1, 201)]
    s.raw(b"".join(l + b"\n" for l in lines))
    assert [s.line_bytes() for _ in lines] == [str(i).encode()
                                               for i in range(1, 201)]


def test_tcp_half_close_answers_every_line(d):
    """Far more lines than the output queue holds, then a half-close
    (nc -N): every line is answered, in order, before the server closes."""
    lines = [b"line %06d " % i + b"a" * 60 for i in range(30000)]
    s = d.connect("upper", timeout=10)       # a stream, not lines

    def send_all():
        s.sendall(b"".join(l + b"\n" for l in lines))
        s.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send_all)
    sender.start()
    data = recv_all(s)
    sender.join()
    assert data.split(b"\r\n") == [l.upper() for l in lines] + [b""]


def test_tcp_line_rules(d):
    s = client(d, "upper")
    # LF alone ends a line too; one CR before it is removed; empty lines
    # get no reply; telnet IAC sequences are removed, and WILL ECHO is
    # answered by DONT ECHO (SPEC 3), before or between the replies.
    s.raw(b"abc\n\r\n\n\xff\xfb\x01de\xff\xf1f\r\n")
    data = s.recv_bytes(len(b"ABC\r\nDEF\r\n\xff\xfe\x01"))
    assert data.count(b"\xff\xfe\x01") == 1, data
    assert data.replace(b"\xff\xfe\x01", b"") == b"ABC\r\nDEF\r\n"
    s.expect_silence(0.2)
    s.close()


def test_tcp_keeps_nul_and_tabs(d):
    s = client(d, "reverse")
    assert ask(s, b"a\x00b\tc") == b"c\tb\x00a"
    s = client(d, "count")
    assert ask(s, b"a\x00b") == b"3"


def test_line_too_long(start):
    d = start(config(service("up", "transform", ["tcp://127.0.0.1:0"],
                             'op = "upper"; max_line = 64;')))
    s = client(d, "up")
    assert ask(s, b"a" * 64) == b"A" * 64
    s.raw(b"b" * 200 + b"\n")
    assert s.line_bytes() == b"! line too long"
    assert ask(s, b"ok") == b"OK"


def test_default_max_line_is_1024(d):
    s = client(d, "count")
    assert ask(s, b"a" * 1024) == b"1024"
    s.raw(b"a" * 1025 + b"\n")
    assert s.line_bytes() == b"! line too long"
    assert ask(s, b"ab") == b"2"


def test_udp_large_datagram(d):
    text = "ä" * 30000
    assert ask_udp(d, "count", text.encode()) == b"30000"
    assert ask_udp(d, "upper", text.encode()) == ("Ä" * 30000).encode()


def test_busy(start):
    d = start(config(service("up", "transform", ["tcp://127.0.0.1:0"],
                             'op = "upper"; max_connections = 1;')))
    a = client(d, "up")
    assert ask(a, b"x") == b"X"
    b = client(d, "up")
    assert b.line_bytes() == b"! busy"
    assert b.expect_closed() == b""
    assert ask(a, b"y") == b"Y"


def test_missing_op_is_a_config_error(tmp_path):
    p = tmp_path / "m.conf"
    p.write_text(config(service("t", "transform", ["tcp://127.0.0.1:0"])))
    r = run_multid(["-t", "-c", str(p)])
    assert r.returncode == 1
    assert "op" in r.stderr and "m.conf:" in r.stderr


def test_unknown_op_is_a_config_error(tmp_path):
    p = tmp_path / "m.conf"
    p.write_text(config(service("t", "transform", ["tcp://127.0.0.1:0"],
                                'op = "shout";')))
    r = run_multid(["-t", "-c", str(p)])
    assert r.returncode == 1
    assert "op" in r.stderr and "shout" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a source port < 1024")
def test_udp_loop_guard(d):
    host, port = d.addr("upper", "udp")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for low in range(1023, 900, -1):
        try:
            u.bind(("127.0.0.1", low))
            break
        except OSError:
            continue
    u.settimeout(0.5)
    try:
        u.sendto(b"loop", (host, port))
        with pytest.raises(socket.timeout):
            u.recv(100)
    finally:
        u.close()
    assert ask_udp(d, "upper", b"ok") == b"OK"
