"""Abuse: one daemon with every service, and clients that misbehave on
purpose - slowloris on http and chat, thousands of connections reset at
once, megabytes of random bytes and datagrams, clients that never read,
connection floods from one address, datagrams from privileged ports,
amplification, a full disk under the log and the bank, a locked and a
read-only bank database, and secrets longer than any OPEN allows.

After each abuse the daemon must still answer every service correctly,
its file descriptors must come back to where they were, and (outside
ASan, where RSS says nothing) its memory must stay bounded.  Each test
is bounded to a few seconds."""
import contextlib
import os
import random
import re
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import pytest

from conftest import SANITIZER_REPORT
from multid import Daemon, LineClient, config, recv_exactly, service

SANITIZED = bool(os.environ.get("MULTID_SANITIZE"))
RSS_GROWTH_KB = 64 * 1024            # what abuse may add to the daemon's RSS
TCP = ["tcp://127.0.0.1:0"]
BOTH = ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]
TCP_SERVICES = ("echo", "discard", "chargen", "daytime", "time", "transform",
                "chat", "guess", "bank", "http", "metrics")
UDP_SERVICES = ("echo", "discard", "chargen", "daytime", "time", "transform",
                "log")
CHARGEN_LINE = re.compile(rb"^[ -~]{72}\r\n$")
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+:\d+ "
    r"(emerg|alert|crit|err|warning|notice|info|debug) ")


# --- the daemon with every service ------------------------------------------

class Site:
    """Where one full daemon keeps its files."""

    def __init__(self, tmp_path, db=None, log=None):
        self.dir = tmp_path
        self.www = tmp_path / "www"
        self.www.mkdir(exist_ok=True)
        (self.www / "small.txt").write_bytes(b"small\n")
        with open(self.www / "big.bin", "wb") as f:
            f.truncate(64 << 20)                  # sparse: 64 MB of zeros
        self.db = str(db or tmp_path / "bank.db")
        self.log = str(log or tmp_path / "log.txt")


def full_config(site, http_idle=2, chat_extra="max_queue = 65536;",
                echo_extra="per_source = 16;", daemon=""):
    """Every service type once; TCP and UDP where the type has both."""
    return config(
        service("echo", "echo", BOTH, echo_extra),
        service("discard", "discard", BOTH),
        service("chargen", "chargen", BOTH),
        service("daytime", "daytime", BOTH),
        service("time", "time", BOTH),
        service("transform", "transform", BOTH, 'op = "upper";'),
        service("chat", "chat", TCP, chat_extra),
        service("guess", "guess", TCP, "per_source = 8;"),
        service("bank", "bank", TCP, 'database = "%s";' % site.db),
        service("log", "log", ["udp://127.0.0.1:0"],
                'output = "%s";' % site.log),
        service("http", "http", TCP, 'root = "%s"; idle_timeout = %d;' % (
            site.www, http_idle)),
        service("metrics", "metrics", TCP),
        daemon=daemon)


_token = [0]


def token():
    _token[0] += 1
    return "t%d_%d" % (os.getpid(), _token[0])


def chat_pair(d, first, second, timeout=5):
    """Two chat users in the lobby: first logs in, then second, and first
    sees second join (logins on two connections sent at once may be read
    in either order).  Returns two LineClients (a, b)."""
    a = LineClient(d, "chat", timeout=timeout)
    b = LineClient(d, "chat", timeout=timeout)
    for c, name in ((a, first), (b, second)):
        c.send(name)
        c.read_until(lambda l: l.startswith("* hello"))
    a.read_until(lambda l: second + " joined" in l)
    return a, b


def http_get(d, path, name="http", timeout=5):
    """One HTTP/1.1 request on its own connection: (status, body)."""
    with LineClient(d, name, timeout=timeout) as c:
        c.raw(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
              % path.encode())
        data = c.expect_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def wait_log(site, text, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(site.log, "rb") as f:
            if text.encode() in f.read():
                return True
        time.sleep(0.02)
    return False


def check_tcp(d, name):
    """One correct exchange with a TCP service."""
    t = token()
    with LineClient(d, name, timeout=5) as c:
        if name == "echo":
            c.send(t)
            assert c.recv_bytes(len(t) + 1) == t.encode() + b"\n"
        elif name == "discard":
            c.raw(b"x" * 1000)
            c.shutdown()
            assert c.expect_closed() == b""
        elif name == "chargen":
            assert CHARGEN_LINE.match(c.line_bytes() + b"\r\n")
        elif name == "daytime":
            assert len(c.line_bytes()) > 8
            assert c.expect_closed() == b""
        elif name == "time":
            (secs,) = struct.unpack("!I", c.recv_bytes(4))
            assert abs(secs - 2208988800 - time.time()) < 5
        elif name == "transform":
            c.send(b"abc \xc3\xa4")
            assert c.line_bytes() == b"ABC \xc3\x84"
        elif name == "chat":
            assert c.line().startswith("* ")
            c.send(t)
            line = c.read_until(
                lambda l: not l.startswith("* ") or "hello" in l)[-1]
            assert line.startswith("* hello " + t), line
        elif name == "guess":
            line = c.line()
            assert line.startswith("* ") and "between 1 and" in line, line
            assert c.ask("stats").startswith("* rounds 0")
        elif name == "bank":
            c.raw(b"BALANCE\nHELP\n")
            assert c.line() == "ERR login required"
            assert c.line().startswith("OK ")
        elif name in ("http", "metrics"):
            path = "/small.txt" if name == "http" else "/metrics"
            c.raw(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close"
                  b"\r\n\r\n" % path.encode())
            data = c.expect_closed()
            assert data.startswith(b"HTTP/1.1 200 "), data[:100]
            if name == "http":
                assert data.endswith(b"\r\n\r\nsmall\n")
            else:
                assert b"multid_connections_total" in data


def check_udp(d, site, name):
    """One correct datagram exchange with a UDP service."""
    t = token().encode()
    with d.udp(name, timeout=3) as u:
        if name == "log":
            u.send(b"<13>abuse: " + t)
            assert wait_log(site, t.decode()), "log record %s missing" % t
            return
        u.send(t)
        if name == "discard":
            u.settimeout(0.1)
            with pytest.raises(socket.timeout):
                u.recv(100)
            return
        r = u.recv(70000)
        if name == "echo":
            assert r == t
        elif name == "chargen":
            assert 0 <= len(r) <= 512 and all(32 <= b <= 126 or b in b"\r\n"
                                              for b in r)
        elif name == "daytime":
            assert r.endswith(b"\r\n") and len(r) > 10
        elif name == "time":
            assert len(r) == 4
        elif name == "transform":
            assert r == t.upper()


def check_services(d, site):
    """Every service answers correctly."""
    assert d.alive(), d.stderr()[-2000:]
    for name in TCP_SERVICES:
        check_tcp(d, name)
    for name in UDP_SERVICES:
        check_udp(d, site, name)


class Baseline:
    """What the daemon had after a first round of every service."""

    def __init__(self, d, site):
        self.d, self.site = d, site
        check_services(d, site)
        time.sleep(0.2)
        self.fds = d.wait_fds(d.fd_count(), 1)
        self.rss = d.rss_kb()

    def check(self, rss_growth_kb=RSS_GROWTH_KB):
        """Still serving, no fd left behind, memory bounded (outside
        ASan: a memory_bound assertion).  The daemon first gets a moment
        to see the abusers' connections end, as a per_source limit still
        counts them until it has."""
        self.d.wait_fds(self.fds, 8)
        check_services(self.d, self.site)
        fds = self.d.wait_fds(self.fds, 8)
        assert fds <= self.fds, "fds: %d after, %d before\n%s" % (
            fds, self.fds, os.listdir("/proc/%d/fd" % self.d.pid))
        if not SANITIZED:
            grown = self.d.rss_kb() - self.rss
            assert grown < rss_growth_kb, "RSS grew by %d kB" % grown


@pytest.fixture
def full(start, tmp_path):
    """(daemon, site, baseline) with every service."""
    site = Site(tmp_path)
    d = start(full_config(site))
    return d, site, Baseline(d, site)


# --- slowloris -----------------------------------------------------------------

def http_poller(d, stop, results):
    """A normal client: a request every 0.2 s; latencies or errors."""
    while not stop.is_set():
        t0 = time.time()
        try:
            status, body = http_get(d, "/small.txt", timeout=3)
            results.append((time.time() - t0, status, body))
        except OSError as e:
            results.append((time.time() - t0, None, repr(e)))
        stop.wait(0.2)


def test_slowloris_http(full):
    """200 connections each send a header byte every 100 ms and never end
    the request: each gets 408 once idle_timeout (2 s) has passed since it
    began, and a normal client is served all along."""
    d, site, base = full
    host, port = d.addr("http")
    socks, got, closed = [], {}, set()
    for _ in range(200):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        s.setblocking(False)
        socks.append(s)
        got[s] = b""
    stop, normal = threading.Event(), []
    poller = threading.Thread(target=http_poller, args=(d, stop, normal))
    poller.start()
    t0 = time.time()
    try:
        while len(closed) < len(socks) and time.time() - t0 < 7:
            for s in socks:
                if s in closed:
                    continue
                try:
                    data = s.recv(4096)
                    if data:
                        got[s] += data
                    else:
                        closed.add(s)
                        continue
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    closed.add(s)
                    continue
                if not got[s]:
                    try:
                        s.send(b"a")
                    except (BlockingIOError, BrokenPipeError,
                            ConnectionResetError):
                        pass
            time.sleep(0.1)
        elapsed = time.time() - t0
    finally:
        stop.set()
        poller.join(10)
        for s in socks:
            s.close()
    timed_out = sum(1 for s in socks if got[s].startswith(b"HTTP/1.1 408 "))
    assert len(closed) == len(socks), "%d of %d still open after %.1f s" % (
        len(socks) - len(closed), len(socks), elapsed)
    assert timed_out >= 190, "%d got 408" % timed_out
    assert normal and all(st == 200 and body == b"small\n"
                          for _, st, body in normal), normal[:5]
    assert max(lat for lat, _, _ in normal) < 1.5
    base.check()


def test_slowloris_http_is_bounded_meanwhile(full):
    """The same trickle, checked for what must hold even while it lasts:
    the daemon keeps serving http and everything else, and once the
    clients give up, every descriptor is back."""
    d, site, base = full
    host, port = d.addr("http")
    socks = []
    for _ in range(200):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        s.setblocking(False)
        socks.append(s)
    stop, normal = threading.Event(), []
    poller = threading.Thread(target=http_poller, args=(d, stop, normal))
    poller.start()
    try:
        for _ in range(25):                 # 2.5 s of trickling
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(b"a")
            time.sleep(0.1)
        check_services(d, site)
    finally:
        stop.set()
        poller.join(10)
        for s in socks:
            s.close()
    assert len(normal) >= 5
    assert all(st == 200 for _, st, _ in normal), normal[:5]
    assert max(lat for lat, _, _ in normal) < 1.5
    base.check()


def test_slowloris_chat(full):
    """50 chat connections trickle a byte a second (a nickname, then a
    message that never ends); two users meanwhile chat without delay, and
    once the trickling clients go, nothing of them is left."""
    d, site, base = full
    slow = []
    for i in range(50):
        s = d.connect("chat")
        s.setblocking(False)
        slow.append(s)
    a, b = chat_pair(d, "alice", "bob")
    try:
        for tick in range(4):
            for i, s in enumerate(slow):
                data = (b"slow%d\n" % i + b"never ends ")
                with contextlib.suppress(OSError):
                    s.send(data[tick:tick + 1])
                    while s.recv(65536):    # keep the greeting drained
                        pass
            t0 = time.time()
            a.send("tick %d" % tick)
            assert b.line() == "<alice> tick %d" % tick
            assert time.time() - t0 < 1.0
            time.sleep(1)
    finally:
        for s in slow:
            s.close()
    for x in (a, b):
        x.close()
    base.check()


# --- resets, random bytes, random datagrams ------------------------------------

def test_5000_connections_reset(full):
    """5000 connections spread over every TCP service, half of them after
    sending part of a request, all dropped with RST (SO_LINGER 0)."""
    d, site, base = full
    linger = struct.pack("ii", 1, 0)
    partial = {"echo": b"abc", "transform": b"half a li", "chat": b"nick",
               "guess": b"5", "bank": b"OPEN x", "http": b"GET / HTTP/1.1\r\n",
               "metrics": b"GET /met", "discard": b"zzz"}
    addrs = [(name, d.addr(name)) for name in TCP_SERVICES]
    t0 = time.time()
    for i in range(5000):
        name, addr = addrs[i % len(addrs)]
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        try:
            s.connect(addr)
            if i % 2 and name in partial:
                s.sendall(partial[name])
        finally:
            s.close()
    assert time.time() - t0 < 60
    base.check()


def _pump(s, payload, result):
    """Sends payload while another thread reads whatever comes back."""
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        result["sent"] = True
    except OSError as e:
        result["error"] = e


def test_random_bytes_into_every_tcp_service(full):
    """1 MB of random bytes into each TCP service (read back as fast as it
    comes): nothing crashes; each either answers or closes."""
    d, site, base = full
    rnd = random.Random(1)
    payload = bytes(rnd.getrandbits(8) for _ in range(1 << 20))
    for name in TCP_SERVICES:
        s = d.connect(name, timeout=10)
        result = {}
        t = threading.Thread(target=_pump, args=(s, payload, result))
        t.start()
        got, deadline = 0, time.time() + 20
        try:
            while time.time() < deadline:
                try:
                    data = s.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not data:
                    break
                got += len(data)
                if name == "chargen" and got > 4 << 20:
                    break
        finally:
            s.close()
            t.join(20)
        assert not t.is_alive(), name
        assert time.time() < deadline, name + " never finished"
        if name == "echo":
            assert got == len(payload)
    base.check()


def test_random_datagrams_into_every_udp_service(full):
    """Random datagrams of 0..1500 bytes and a few of 60 KB into each UDP
    service: echo returns each unchanged, nobody answers with more than
    the SPEC allows, and the log file stays one valid line per record."""
    d, site, base = full
    rnd = random.Random(2)
    for name in UDP_SERVICES:
        with d.udp(name, timeout=2) as u:
            sent, replies = [], []
            u.setblocking(False)
            for i in range(300):
                n = 60000 if i % 100 == 7 else rnd.randint(0, 1500)
                data = bytes(rnd.getrandbits(8) for _ in range(n))
                sent.append(data)
                u.send(data)
                time.sleep(0.001)
                with contextlib.suppress(BlockingIOError):
                    while True:
                        replies.append(u.recv(70000))
            u.settimeout(0.5)
            with contextlib.suppress(socket.timeout):
                while True:
                    replies.append(u.recv(70000))
        if name == "echo":
            assert sorted(replies) == sorted(sent)
        elif name == "discard" or name == "log":
            assert replies == []
        else:
            assert len(replies) >= 250, "%s: %d answers" % (name, len(replies))
            for r in replies:
                if name == "chargen":
                    assert len(r) <= 512
                elif name == "daytime":
                    assert len(r) < 100
                elif name == "time":
                    assert len(r) == 4
                elif name == "transform":
                    assert len(r) <= max(1.5 * 60000, 22)
    t = token()
    with d.udp("log") as u:
        u.send(t.encode())
    assert wait_log(site, t)
    with open(site.log, "rb") as f:
        lines = f.read().split(b"\n")
    assert lines[-1] == b""
    for raw in lines[:-1]:
        line = raw.decode("utf-8")              # valid UTF-8 or it raises
        assert LOG_LINE.match(line), line[:100]
        assert not any(ord(c) < 0x20 or ord(c) == 0x7f for c in line)
    base.check()


# --- clients that never read ----------------------------------------------------

def test_clients_that_never_read(full):
    """An echo client that sends until it blocks and reads nothing, a chargen client
    that never reads, a chat user that never reads while another floods
    the room, and an http client that asks for a 64 MB file and never
    reads: memory stays bounded, others are served, the chat user is
    dropped as too slow and the room is told so."""
    d, site, base = full
    echo = d.connect("echo", timeout=1)
    sent = 0
    with contextlib.suppress(socket.timeout):
        while sent < 256 << 20:
            sent += echo.send(b"e" * 65536)
    assert sent < 256 << 20, "the echo client never blocked"
    chargen = d.connect("chargen")
    chargen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    http = d.connect("http")
    http.sendall(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
    mute = d.connect("chat")
    mute.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    mute.sendall(b"mute\n")
    talker = LineClient(d, "chat")
    talker.send("talker")
    talker.read_until(lambda l: l.startswith("* hello"))
    talk = talker.s
    # The mute user's queue (max_queue 64 KB) overflows: it is dropped.
    line = b"x" * 400 + b"\n"
    left = False
    t0 = time.time()
    talk.setblocking(False)
    buf = b""
    while not left and time.time() - t0 < 10:
        with contextlib.suppress(BlockingIOError):
            talk.send(line * 20)
        with contextlib.suppress(BlockingIOError):
            buf += talk.recv(65536)
        left = b"* mute left (too slow)" in buf
        time.sleep(0.01)
    assert left, buf[-300:]
    talk.setblocking(True)
    check_services(d, site)
    if not SANITIZED:
        grown = d.rss_kb() - base.rss
        assert grown < RSS_GROWTH_KB, "RSS grew by %d kB" % grown
    for s in (echo, chargen, http, mute, talk):
        s.close()
    base.check()


# --- limits ----------------------------------------------------------------------

def test_per_source_flood(full):
    """400 connections at once from 127.0.0.1 to echo (per_source 16) and
    guess (per_source 8): only the allowed number stay, guess says
    "! busy" to the others, and a client from 127.0.0.2 is served."""
    d, site, base = full
    flood = []
    for name, allowed in (("echo", 16), ("guess", 8)):
        kept = []
        for _ in range(200):
            s = d.connect(name)
            flood.append(s)
            kept.append(s)
        open_ = 0
        for s in kept:
            s.settimeout(2)
            try:
                if name == "echo":
                    s.sendall(b"?")
                    data = s.recv(10)
                else:
                    data = s.recv(200)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if name == "guess" and data.startswith(b"! busy"):
                continue
            if data:
                open_ += 1
        assert open_ == allowed, "%s: %d open" % (name, open_)
        # Another address is not limited by this one's connections.
        host, port = d.addr(name)
        other = socket.socket()
        other.settimeout(5)
        other.bind(("127.0.0.2", 0))
        other.connect((host, port))
        if name == "echo":
            other.sendall(b"mine")
            assert recv_exactly(other, 4) == b"mine"
        else:
            assert other.recv(200).startswith(b"* ")
        other.close()
    for s in flood:
        s.close()
    base.check()


# --- UDP: loop guard and amplification ---------------------------------------------

def low_port_socket(host):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for port in range(1000, 600, -1):
        try:
            u.bind((host, port))
            return u
        except OSError:
            continue
    pytest.skip("no free port below 1024")


def metric(d, name, service_):
    _, body = http_get(d, "/metrics", "metrics")
    m = re.search(r'^%s\{service="%s"\} (\d+)$' % (name, service_),
                  body.decode(), re.M)
    return int(m.group(1)) if m else 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to bind a port "
                    "below 1024")
def test_udp_from_privileged_ports_is_dropped_and_counted(full):
    d, site, base = full
    guarded = ("echo", "chargen", "daytime", "time", "transform")
    before = {n: metric(d, "multid_datagrams_dropped_total", n)
              for n in guarded}
    u = low_port_socket("127.0.0.1")
    u.settimeout(0.3)
    for name in guarded:
        for _ in range(3):
            u.sendto(b"loop?", d.addr(name, "udp"))
        with pytest.raises(socket.timeout):
            u.recvfrom(1000)
    u.close()
    for name in guarded:
        after = metric(d, "multid_datagrams_dropped_total", name)
        assert after - before[name] == 3, name
    base.check()


def test_udp_amplification(full):
    """No UDP answer is much larger than its request: echo exactly the
    request, chargen at most 512 bytes (RFC 864), daytime one short line,
    time 4 bytes, transform at most 1.5 times the request (the largest
    growth of a character under upper-casing, U+023F to U+2C7E) or one
    short error line."""
    d, site, base = full
    worst = "\u023f".encode() * 1000          # 2000 bytes -> 3000 bytes
    sizes = {}
    for name in ("echo", "chargen", "daytime", "time", "transform"):
        with d.udp(name) as u:
            for req in (b"", b"x", b"\xff", b"a" * 100, b"b" * 1400, worst):
                u.send(req)
                r = u.recv(70000)
                sizes[(name, len(req))] = len(r)
                if name == "echo":
                    assert r == req
                elif name == "chargen":
                    assert len(r) <= 512
                elif name == "daytime":
                    assert len(r) <= 64
                elif name == "time":
                    assert len(r) == 4
                else:
                    assert len(r) <= max(1.5 * len(req), 22), (req[:10], r)
    assert sizes[("transform", len(worst))] == 3000
    base.check()


# --- disks that fill up, files that cannot be written -----------------------------

@contextlib.contextmanager
def tiny_tmpfs(path, size="256k"):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size,
                        "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.decode())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


def fill(path):
    """Fills the file system at path; returns the filler's name."""
    filler = os.path.join(str(path), "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def test_log_on_a_full_disk_reports_and_recovers(start, tmp_path):
    """The log file's disk fills up: the log service says so, the other
    services go on, and once there is room again records are written."""
    with tiny_tmpfs(tmp_path / "small") as mnt:
        site = Site(tmp_path, log=os.path.join(str(mnt), "log.txt"))
        d = start(full_config(site))
        base = Baseline(d, site)
        filler = fill(mnt)
        with d.udp("log") as u:
            for i in range(50):
                u.send(b"<11>app: lost %d " % i + b"y" * 200)
        deadline = time.time() + 5
        while "No space left on device" not in d.stderr() and \
                time.time() < deadline:
            time.sleep(0.05)
        assert "No space left on device" in d.stderr()
        for name in TCP_SERVICES:
            check_tcp(d, name)
        os.unlink(filler)
        t = token()
        deadline = time.time() + 5
        with d.udp("log") as u:
            while time.time() < deadline and not wait_log(site, t, 0.2):
                u.send(t.encode())
        assert wait_log(site, t, 0.1), "no record written after space was freed"
        base.check()
        d.stop()


def test_log_to_dev_full(start, tmp_path):
    """An output that can never be written (/dev/full): reported, and the
    rest of the daemon is not held up by it."""
    site = Site(tmp_path, log="/dev/full")
    d = start(full_config(site))
    for i in range(200):
        with d.udp("log") as u:
            u.send(b"record %d" % i)
    for name in TCP_SERVICES:
        check_tcp(d, name)
    assert "No space left on device" in d.stderr()
    assert d.stop() == 0


# --- the bank's database under pressure ----------------------------------------

class Bank(LineClient):
    def __init__(self, d):
        super().__init__(d, "bank", timeout=15)

    def cmd(self, text):
        return self.ask(text)


def bank_state(db):
    con = sqlite3.connect(db, timeout=10)
    try:
        acc = dict(con.execute("SELECT name, balance FROM accounts"))
        hist = con.execute("SELECT a.name, h.kind, h.amount FROM history h "
                           "JOIN accounts a ON a.id = h.account").fetchall()
    finally:
        con.close()
    sums = {}
    for name, kind, amount in hist:
        sign = 1 if kind in ("deposit", "transfer-in") else -1
        sums[name] = sums.get(name, 0) + sign * amount
    for name, bal in acc.items():
        assert bal >= 0 and sums.get(name, 0) == bal, name
    return acc


def test_bank_database_locked_by_another_process(full):
    """Another process tries to lock the bank's database: it cannot (the
    bank holds it exclusively while it runs), it waits no longer than it
    asked to, and the bank and the other services answer all along."""
    d, site, base = full
    c = Bank(d)
    assert c.cmd("OPEN locky sesame") == "OK opened locky"
    assert c.cmd("DEPOSIT 10") == "OK 10.00"
    con = sqlite3.connect(site.db, isolation_level=None, timeout=1)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            con.execute("BEGIN EXCLUSIVE")
    finally:
        con.close()
    for name in ("echo", "transform", "http"):
        check_tcp(d, name)
    assert c.cmd("DEPOSIT 5") == "OK 15.00"
    assert c.cmd("BALANCE") == "OK 15.00"
    c.close()
    assert d.alive()
    base.check()


def test_bank_on_a_full_disk(start, tmp_path):
    """The database's disk fills up: commands get a clear ERR, no
    acknowledged change is lost, nothing half-done is stored, and after
    space is freed the bank goes on."""
    with tiny_tmpfs(tmp_path / "small", size="2m") as mnt:
        site = Site(tmp_path, db=os.path.join(str(mnt), "bank.db"))
        d = start(full_config(site))
        base = Baseline(d, site)
        c = Bank(d)
        assert c.cmd("OPEN fuller sesame") == "OK opened fuller"
        assert c.cmd("OPEN other sesame") == "OK opened other"
        assert c.cmd("LOGIN fuller sesame") == "OK balance 0.00"
        filler = fill(mnt)
        acked, errors = 0, {}
        for i in range(400):
            r = c.cmd("DEPOSIT 1" if i % 2 else "TRANSFER other 0.01")
            if r.startswith("OK "):
                acked += 1
            else:
                assert r.startswith("ERR "), r
                errors[r] = errors.get(r, 0) + 1
        print("full disk: %d acknowledged, errors %s" % (acked, errors))
        assert errors, "the disk never filled up"
        for name in ("echo", "http", "chat"):
            check_tcp(d, name)
        os.unlink(filler)
        r = c.cmd("DEPOSIT 1")
        deadline = time.time() + 5
        while not r.startswith("OK ") and time.time() < deadline:
            time.sleep(0.2)
            r = c.cmd("DEPOSIT 1")
        assert r.startswith("OK "), r
        balance = c.cmd("BALANCE")
        c.close()
        base.check()
        assert d.stop() == 0
        state = bank_state(site.db)
        assert "%d.%02d" % divmod(state["fuller"], 100) == balance[3:]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a read-only "
                    "bind mount")
def test_bank_database_on_a_read_only_file_system(start, tmp_path):
    """A bank database on a file system mounted read-only: the daemon
    either refuses to start (exit 3, one line naming the database) or
    serves reads and answers every change with a clear ERR; the file is
    never changed."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    d = start(config(service("bank", "bank", TCP,
                             'database = "%s";' % (rw / "bank.db"))))
    c = Bank(d)
    assert c.cmd("OPEN reader sesame") == "OK opened reader"
    assert c.cmd("DEPOSIT 3") == "OK 3.00"
    c.close()
    assert d.stop() == 0
    before = {p.name: p.read_bytes() for p in rw.iterdir()}
    if subprocess.run(["mount", "--bind", str(rw), str(ro)]).returncode:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        conf = config(service("bank", "bank", TCP,
                              'database = "%s";' % (ro / "bank.db")),
                      service("echo", "echo", TCP))
        try:
            d = start(conf)
        except RuntimeError as e:
            # Refused at start: exit 3 and a line that names the file.
            assert "exited with 3" in str(e), str(e)
            assert "bank.db" in str(e), str(e)
            assert "cannot start" not in str(e), str(e)
        else:
            c = Bank(d)
            assert c.cmd("LOGIN reader sesame") == "OK balance 3.00"
            for cmd in ("DEPOSIT 1", "WITHDRAW 1", "OPEN other sesame"):
                r = c.cmd(cmd)
                assert r.startswith("ERR "), (cmd, r)
            assert c.cmd("BALANCE") == "OK 3.00"
            c.close()
            check_tcp(d, "echo")
            assert d.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(ro)])
    assert {p.name: p.read_bytes() for p in rw.iterdir()} == before


def chattr(flag, paths):
    return subprocess.run(["chattr", flag] + [str(p) for p in paths],
                          capture_output=True, text=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for chattr +i")
def test_bank_database_made_read_only_while_running(tmp_path):
    """The database files become immutable under the running daemon, as
    they do when ext4 remounts itself read-only after a disk error (a
    plain remount is refused while the daemon has them open): every
    change gets a clear ERR and stores nothing, the rest of the daemon is
    unaffected, and once the files are writable again the bank goes on
    where it was.  The daemon is started here, not by the start fixture,
    so that a crash fails this test alone; sanitizer reports are checked
    at the end all the same."""
    site = Site(tmp_path)
    sub = tmp_path / "d"
    sub.mkdir()
    d = Daemon(sub, full_config(site))
    files = []
    try:
        base = Baseline(d, site)
        c = Bank(d)
        assert c.cmd("OPEN frozen sesame") == "OK opened frozen"
        assert c.cmd("OPEN thawed sesame") == "OK opened thawed"
        assert c.cmd("LOGIN frozen sesame") == "OK balance 0.00"
        assert c.cmd("DEPOSIT 20") == "OK 20.00"
        files = [f for f in (site.db, site.db + "-wal", site.db + "-shm")
                 if os.path.exists(f)]
        r = chattr("+i", files)
        if r.returncode != 0:
            files = []
            pytest.skip("chattr +i does not work here: " + r.stderr.strip())
        try:
            t0 = time.monotonic()
            for cmd in ("DEPOSIT 1", "WITHDRAW 1", "TRANSFER thawed 1",
                        "OPEN newbie sesame") + ("DEPOSIT 1",) * 60:
                reply = c.cmd(cmd)
                assert reply.startswith("ERR "), (cmd, reply)
            elapsed = time.monotonic() - t0
            for name in ("echo", "chat", "http", "metrics"):
                check_tcp(d, name)
        finally:
            chattr("-i", files)
        # Every failure is not a log line: at most one a second.
        errors = [l for l in d.stderr().splitlines()
                  if l.startswith("bank: ") and "bank.db: " in l]
        assert 1 <= len(errors) <= int(elapsed) + 2, errors
        assert c.cmd("BALANCE") == "OK 20.00"
        assert c.cmd("TRANSFER thawed 5") == "OK 15.00"
        c.close()
        base.check()
        assert d.stop() == 0
        state = bank_state(site.db)
        assert state == {"frozen": 1500, "thawed": 500}, state
        assert SANITIZER_REPORT.search(d.stderr()) is None, d.stderr()
    finally:
        if files:
            chattr("-i", files)
        d.kill()


def test_bank_login_with_an_overlong_secret_is_denied(full):
    d, site, base = full
    secret = "s" * 72                       # the longest OPEN allows
    c = Bank(d)
    assert c.cmd("OPEN longpw " + secret) == "OK opened longpw"
    assert c.cmd("LOGOUT") == "OK"
    assert c.cmd("LOGIN longpw " + secret + "WRONG") == "ERR denied"
    c.close()
