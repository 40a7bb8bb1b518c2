"""Connection limits, allow lists and idle timeouts (SPEC section 2)."""
import socket
import time

import pytest

from multid import config, recv_exactly, service


def closed_at_once(s, timeout=3):
    """True when the server closes s without serving it."""
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def serves_echo(s):
    s.sendall(b"ping")
    return recv_exactly(s, 4) == b"ping"


def test_service_max_connections(start):
    d = start(config(service("e", "echo", ["tcp://127.0.0.1:0"],
                             "max_connections = 2;")))
    a, b = d.connect("e"), d.connect("e")
    assert serves_echo(a) and serves_echo(b)
    c = d.connect("e")               # accepted, then closed: never queued
    assert closed_at_once(c)
    a.close()
    time.sleep(0.2)
    e = d.connect("e")               # a place is free again
    assert serves_echo(e)
    for s in (b, c, e):
        s.close()


def test_daemon_max_connections_spans_services(start):
    d = start(config(service("e", "echo", ["tcp://127.0.0.1:0"]),
                     service("f", "echo", ["tcp://127.0.0.1:0"]),
                     daemon="max_connections = 2;"))
    a, b = d.connect("e"), d.connect("f")
    assert serves_echo(a) and serves_echo(b)
    assert closed_at_once(d.connect("f"))
    assert closed_at_once(d.connect("e"))
    b.close()
    time.sleep(0.2)
    assert serves_echo(d.connect("e"))
    a.close()


def test_per_source(start):
    d = start(config(service("e", "echo", ["tcp://127.0.0.1:0",
                                           "tcp://[::1]:0"],
                             "per_source = 2;")))
    a, b = d.connect("e"), d.connect("e")
    assert serves_echo(a) and serves_echo(b)
    assert closed_at_once(d.connect("e"))
    # Another address (::1) has its own count.
    c = d.connect("e", family=socket.AF_INET6)
    assert serves_echo(c)
    # From a different IPv4 source address, too.
    host, port = d.addr("e", "tcp", socket.AF_INET)
    other = socket.socket()
    other.bind(("127.0.0.2", 0))
    other.settimeout(5)
    other.connect((host, port))
    assert serves_echo(other)
    for s in (a, b, c, other):
        s.close()


def test_per_source_flood_leaves_others_served(start):
    d = start(config(service("e", "echo", ["tcp://127.0.0.1:0"],
                             "per_source = 5;")))
    host, port = d.addr("e")
    flood = []
    for _ in range(300):
        s = socket.socket()
        s.bind(("127.0.0.3", 0))
        s.settimeout(5)
        s.connect((host, port))
        flood.append(s)
    served = 0
    for s in flood:
        s.setblocking(False)
    time.sleep(0.3)
    for s in flood:
        try:
            s.send(b"x")
            s.settimeout(0.5)
            if s.recv(1) == b"x":
                served += 1
        except OSError:
            pass
    assert served == 5
    ok = socket.create_connection((host, port), timeout=5)
    assert serves_echo(ok)
    for s in flood + [ok]:
        s.close()


def test_allow_list(start):
    d = start(config(
        service("only6", "echo", ["tcp://127.0.0.1:0", "tcp://[::1]:0",
                                  "udp://127.0.0.1:0", "udp://[::1]:0"],
                'allow = ( "::1/128" );'),
        service("lo", "echo", ["tcp://127.0.0.1:0"],
                'allow = ( "10.0.0.0/8", "127.0.0.0/30" );')))
    assert closed_at_once(d.connect("only6", family=socket.AF_INET))
    assert serves_echo(d.connect("only6", family=socket.AF_INET6))
    with d.udp("only6", family=socket.AF_INET) as u:
        u.send(b"ignored")
        u.settimeout(0.5)
        with pytest.raises(socket.timeout):
            u.recv(100)
    with d.udp("only6", family=socket.AF_INET6) as u:
        u.send(b"answered")
        assert u.recv(100) == b"answered"
    assert serves_echo(d.connect("lo"))
    host, port = d.addr("lo")
    s = socket.socket()
    s.bind(("127.0.0.9", 0))          # outside 127.0.0.0/30
    s.connect((host, port))
    assert closed_at_once(s)


def test_idle_timeout(start):
    d = start(config(service("e", "echo", ["tcp://127.0.0.1:0"],
                             "idle_timeout = 1;"),
                     service("forever", "echo", ["tcp://127.0.0.1:0"],
                             "idle_timeout = 0;")))
    s = d.connect("e", timeout=10)
    f = d.connect("forever")
    assert serves_echo(s)
    assert s.recv(10) == b""          # closed by the server after ~1 s
    assert serves_echo(f)             # idle_timeout = 0: never
    f.close()
