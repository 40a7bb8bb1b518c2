"""Resource bounds: many clients, clients that never read, and no fd
leaks after connection churn and resets (issue: core)."""
import hashlib
import signal
import socket
import struct
import threading
import time

import pytest

from multid import config, recv_exactly, service

CONF = config(service("echo", "echo", ["tcp://127.0.0.1:0"]),
              service("chargen", "chargen", ["tcp://127.0.0.1:0"]))


def test_200_concurrent_echo_clients(start):
    d = start(CONF)
    clients = [d.connect("echo") for _ in range(200)]
    for i, s in enumerate(clients):
        s.sendall(b"client %d\n" % i)
    for i, s in enumerate(clients):
        want = b"client %d\n" % i
        assert recv_exactly(s, len(want)) == want
    for s in clients:
        s.close()


def pattern_chunk(i, size=65536):
    return (struct.pack("!Q", i) * (size // 8))


@pytest.mark.memory_bound
def test_sender_that_never_reads_is_bounded(start):
    """300 MB sent without reading: the daemon stops reading (backpressure),
    its RSS stays within +64 MB, and the echo is intact once we read."""
    d = start(CONF)
    base = d.rss_kb()
    total_chunks = 300 * 1024 * 1024 // 65536
    s = d.connect("echo", timeout=60)
    sent_hash = hashlib.sha256()
    sent = [0]

    def sender():
        for i in range(total_chunks):
            chunk = pattern_chunk(i)
            s.sendall(chunk)
            sent_hash.update(chunk)
            sent[0] += len(chunk)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    # Wait until the sender is stuck (no progress for a while).
    last, stuck_since = -1, time.time()
    deadline = time.time() + 30
    while time.time() < deadline:
        time.sleep(0.2)
        if sent[0] != last:
            last, stuck_since = sent[0], time.time()
        elif time.time() - stuck_since > 1.0:
            break
    assert sent[0] < 300 * 1024 * 1024, "sender never blocked"
    grown = d.rss_kb() - base
    assert grown < 64 * 1024, "RSS grew by %d kB" % grown
    got_hash, got = hashlib.sha256(), 0
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        got_hash.update(data)
        got += len(data)
    t.join(60)
    assert got == 300 * 1024 * 1024
    assert got_hash.digest() == sent_hash.digest()
    assert d.rss_kb() - base < 64 * 1024
    s.close()


@pytest.mark.memory_bound
def test_chargen_reader_that_never_reads_is_bounded(start):
    d = start(CONF)
    base = d.rss_kb()
    idle = [d.connect("chargen") for _ in range(20)]
    time.sleep(1.0)
    assert d.rss_kb() - base < 16 * 1024
    # The service still answers others.
    with d.connect("chargen") as s:
        assert len(recv_exactly(s, 7400)) == 7400
    for s in idle:
        s.close()


def test_no_fd_leak_after_connect_close_cycles(start):
    d = start(CONF)
    base = d.fd_count()
    host, port = d.addr("echo")
    for i in range(1000):
        s = socket.create_connection((host, port), timeout=5)
        if i % 2:
            s.sendall(b"x")
            assert s.recv(1) == b"x"
        s.close()
    assert d.wait_fds(base) <= base


def test_no_fd_leak_after_resets(start):
    d = start(CONF)
    base = d.fd_count()
    host, port = d.addr("echo")
    linger = struct.pack("ii", 1, 0)
    for i in range(2000):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        s.connect((host, port))
        if i % 3 == 0:
            s.sendall(b"data before the reset")
        s.close()                     # RST
    assert d.wait_fds(base) <= base
    with d.connect("echo") as s:
        s.sendall(b"ok")
        assert recv_exactly(s, 2) == b"ok"


def test_pipelined_request_after_a_file_larger_than_the_cap(start, tmp_path):
    """File ranges are not held in memory, so a response queued behind a
    file bigger than the output hard cap (64 MiB) is not a reason to drop
    the client."""
    root = tmp_path / "www"
    root.mkdir()
    big = root / "big.bin"
    with open(big, "wb") as f:
        f.truncate(100 * 1024 * 1024)         # sparse
    (root / "small.txt").write_bytes(b"small\n")
    d = start(config(service("http", "http", ["tcp://127.0.0.1:0"],
                             'root = "%s";' % root)))
    with d.connect("http", timeout=30) as s:
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = 0
        tail = b""
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            got += len(data)
            tail = (tail + data)[-4096:]
    assert got > 100 * 1024 * 1024
    assert tail.endswith(b"\r\n\r\nsmall\n")


def test_bank_reply_in_flight_at_sigterm_is_sent(start, tmp_path):
    """SIGTERM while a command is being hashed and committed: the change is
    made durable and its client still gets the acknowledgement."""
    d = start(config(service("bank", "bank", ["tcp://127.0.0.1:0"],
                             'database = "%s";' % (tmp_path / "b.db"))))
    clients = [d.connect("bank", timeout=10) for _ in range(4)]
    for i, s in enumerate(clients):
        s.sendall(b"OPEN user%d secret%d\n" % (i, i))
    # Hashing takes tens of milliseconds: the commands are in flight.
    time.sleep(0.002)
    d.signal(signal.SIGTERM)
    replies = [s.makefile("rb").readline() for s in clients]
    assert d.proc.wait(15) == 0
    for i, r in enumerate(replies):
        assert r == b"OK opened user%d\r\n" % i, replies
