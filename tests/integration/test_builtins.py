"""The five inetd built-ins (SPEC section 3) over real TCP and UDP
sockets, IPv4 and IPv6."""
import calendar
import os
import re
import signal
import socket
import struct
import time

import pytest

from multid import config, recv_all, recv_exactly, service

ALL = config(
    service("echo", "echo", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0",
                             "tcp://[::1]:0", "udp://[::1]:0"]),
    service("discard", "discard", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]),
    service("chargen", "chargen", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]),
    service("daytime", "daytime", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]),
    service("time", "time", ["tcp://127.0.0.1:0", "udp://[::1]:0"]),
    service("dt-utc", "daytime", ["tcp://127.0.0.1:0"],
            'utc = true; format = "%Y-%m-%dT%H:%M:%SZ";'),
)

RFC868_OFFSET = 2208988800


@pytest.fixture
def d(start):
    return start(ALL)


def chargen_line(n):
    return bytes(32 + (n + k) % 95 for k in range(72)) + b"\r\n"


def test_listening_lines_show_real_ports(d):
    text = d.stderr()
    for name in ("echo", "discard", "chargen", "daytime", "time"):
        assert re.search(r"^%s listening on tcp://127\.0\.0\.1:[1-9]\d*$" % name,
                         text, re.M), text
    assert re.search(r"^echo listening on tcp://\[::1\]:[1-9]\d*$", text, re.M)
    assert re.search(r"^time listening on udp://\[::1\]:[1-9]\d*$", text, re.M)
    assert ":0\n" not in text


def test_echo_tcp(d):
    with d.connect("echo") as s:
        s.sendall(b"hello\r\n")
        assert recv_exactly(s, 7) == b"hello\r\n"
        payload = os.urandom(1 << 20)
        s.sendall(payload)
        assert recv_exactly(s, len(payload)) == payload


def test_echo_tcp_ipv6(d):
    with d.connect("echo", family=socket.AF_INET6) as s:
        s.sendall(b"over six\n")
        assert recv_exactly(s, 9) == b"over six\n"


def test_echo_half_close_sends_the_rest(d):
    payload = bytes(range(256)) * 2000
    with d.connect("echo") as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == payload      # and then EOF from the server


def test_echo_udp(d):
    for fam in (socket.AF_INET, socket.AF_INET6):
        with d.udp("echo", family=fam) as u:
            for size in (0, 1, 512, 8000):
                data = os.urandom(size)
                u.send(data)
                assert u.recv(65536) == data


def test_echo_udp_burst_while_busy_is_not_lost(d):
    """A burst that arrives while the reactor is not reading waits in the
    socket's receive buffer: 1,200 small datagrams (several times what
    the kernel's default buffer holds) all come back."""
    clients = [d.udp("echo") for _ in range(12)]
    try:
        d.signal(signal.SIGSTOP)
        try:
            for u in clients:
                for i in range(100):
                    u.send(b"%04d" % i + b"." * 60)
            time.sleep(0.2)
        finally:
            d.signal(signal.SIGCONT)
        for u in clients:
            got = sorted(u.recv(65536) for _ in range(100))
            assert got == [b"%04d" % i + b"." * 60 for i in range(100)]
    finally:
        for u in clients:
            u.close()


def test_discard(d):
    with d.connect("discard") as s:
        s.sendall(b"x" * 100000)
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(10)
    with d.udp("discard") as u:
        u.send(b"nothing comes back")
        u.settimeout(0.5)
        with pytest.raises(socket.timeout):
            u.recv(10)
    # Still alive and serving.
    with d.connect("discard") as s:
        s.sendall(b"y")


def test_chargen_tcp_pattern(d):
    with d.connect("chargen") as s:
        data = recv_exactly(s, 74 * 200)
    for i in range(200):
        assert data[i * 74:(i + 1) * 74] == chargen_line(i), i


def test_chargen_tcp_streams_on(d):
    """The generator goes on as the reader takes it, far beyond what one
    fill of the output queue holds."""
    cycle = b"".join(chargen_line(i) for i in range(95))
    size = 8 << 20
    with d.connect("chargen") as s:
        data = recv_exactly(s, size)
    want = cycle * (size // len(cycle) + 1)
    assert data == want[:size]


def test_chargen_udp(d):
    """512 bytes a datagram; each answer goes on where the last stopped
    (seven lines on: six whole ones and the part of one)."""
    with d.udp("chargen") as u:
        for j in range(30):
            u.send(b"x")
            reply = u.recv(65536)
            want = b"".join(chargen_line(7 * j + i) for i in range(7))[:512]
            assert reply == want, j


def test_daytime_tcp(d):
    with d.connect("daytime") as s:
        data = recv_all(s)
    assert data.endswith(b"\r\n")
    line = data[:-2].decode()
    # ctime-like: "Sun Nov 22 10:15:30 2026"
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4}",
                        line), line
    assert time.strftime("%Y") in line


def segments_received(s):
    """tcpi_segs_in of struct tcp_info (linux/tcp.h): segments this end
    has received, the SYN-ACK included."""
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, 140)[0]


@pytest.mark.parametrize("name", ["daytime", "time"])
def test_one_shot_reply_and_fin_share_a_segment(d, name):
    """The reply and the FIN come in one segment after the SYN-ACK: the
    client is woken once, and the connection costs a packet less."""
    with d.connect(name) as s:
        data = recv_all(s)
        assert data
        assert segments_received(s) == 2

@pytest.mark.parametrize("name", ["daytime", "time"])
def test_one_shot_reply_reaches_a_client_that_sent_first(d, name):
    """A client that sends before it reads still gets the reply: closing
    with its bytes unread would reset the connection, and the reset would
    throw the reply away before the client reads it."""
    lost = 0
    for _ in range(20):
        with d.connect(name) as s:
            s.sendall(b"x" * 100)
            time.sleep(0.05)             # the reply and the close are done
            try:
                if not s.recv(100):
                    lost += 1
            except ConnectionResetError:
                lost += 1
    assert lost == 0


def test_daytime_udp(d):
    with d.udp("daytime") as u:
        u.send(b"\n")
        reply = u.recv(1000)
    assert reply.endswith(b"\r\n")
    assert re.fullmatch(rb"[A-Z][a-z]{2} [A-Z][a-z]{2} .* \d{4}\r\n", reply)


def test_daytime_format_and_utc(d):
    before = time.time()
    with d.connect("dt-utc") as s:
        data = recv_all(s)
    after = time.time()
    t = time.strptime(data.decode().strip(), "%Y-%m-%dT%H:%M:%SZ")
    stamp = calendar.timegm(t)
    assert before - 2 <= stamp <= after + 2


def test_time_tcp_and_udp(d):
    before = int(time.time())
    with d.connect("time") as s:
        data = recv_all(s)
    assert len(data) == 4
    (value,) = struct.unpack("!I", data)
    assert before + RFC868_OFFSET - 2 <= value <= int(time.time()) + RFC868_OFFSET + 2
    with d.udp("time", family=socket.AF_INET6) as u:
        u.send(b"")
        reply = u.recv(100)
    assert len(reply) == 4
    (value,) = struct.unpack("!I", reply)
    assert abs(value - (int(time.time()) + RFC868_OFFSET)) <= 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to send from a port below 1024")
def test_udp_loop_guard(d):
    """A datagram from a port below 1024 gets no answer from any of the
    five services (a forged chargen-to-echo loop cannot start)."""
    for name in ("echo", "chargen", "daytime", "time"):
        host, port = d.addr(name, "udp")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        u = socket.socket(fam, socket.SOCK_DGRAM)
        for low in range(900, 1000):
            try:
                u.bind((host, low))
                break
            except OSError:
                continue
        u.settimeout(0.4)
        u.sendto(b"loop?", (host, port))
        with pytest.raises(socket.timeout):
            u.recvfrom(1000)
        u.close()
    # A normal client still gets its answer.
    with d.udp("echo") as u:
        u.send(b"fine")
        assert u.recv(100) == b"fine"


def test_wildcard_listens_on_v4_and_v6(start):
    d = start(config(service("e", "echo", ["tcp://*:0", "udp://*:0"])))
    port = d.port("e")
    assert "e listening on tcp://*:%d" % port in d.stderr()
    for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect((host, port))
            s.sendall(b"both")
            assert recv_exactly(s, 4) == b"both"
        with socket.socket(fam, socket.SOCK_DGRAM) as u:
            u.settimeout(2)
            u.sendto(b"dual", (host, d.port("e", "udp")))
            assert u.recv(100) == b"dual"


def test_sigterm_stops_cleanly(start):
    d = start(ALL)
    s = d.connect("echo")
    assert d.stop() == 0
    assert recv_all(s) == b""
    s.close()
