"""The metrics service: Prometheus text exposition of every running
service's counters, read over real sockets with curl and by hand."""
import re
import subprocess
import time

import pytest

from multid import config, recv_all, recv_exactly, service

SAMPLE_RE = re.compile(r'^([a-z_]+)\{([^}]*)\} (\d+)$')
LABEL_RE = re.compile(r'([a-z_]+)="([^"]*)"')
FAMILIES = {
    "multid_connections_total": "counter",
    "multid_connections_active": "gauge",
    "multid_connections_rejected_total": "counter",
    "multid_bytes_received_total": "counter",
    "multid_bytes_sent_total": "counter",
    "multid_datagrams_received_total": "counter",
    "multid_datagrams_dropped_total": "counter",
}


def scrape_raw(d, request=None):
    s = d.connect("m")
    s.sendall(request or b"GET /metrics HTTP/1.1\r\nHost: m\r\n"
              b"Connection: close\r\n\r\n")
    data = recv_all(s)
    s.close()
    head, body = data.split(b"\r\n\r\n", 1)
    return head.decode(), body.decode()


def parse(text):
    """Checks the exposition format and returns {(name, labels): value}
    and the families' types."""
    samples, types, helps, done, current = {}, {}, set(), set(), None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helps, "HELP twice for " + name
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name in helps and name not in types
            types[name] = kind
            if current is not None:
                done.add(current)
            current = name
            continue
        m = SAMPLE_RE.match(line)
        assert m, "bad line %r" % line
        name, labels, value = m.groups()
        assert name == current and name not in done, \
            "series of %s outside its family" % name
        key = (name, tuple(sorted(LABEL_RE.findall(labels))))
        assert key not in samples, "duplicate series %r" % (key,)
        samples[key] = int(value)
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


def scrape(d):
    head, body = scrape_raw(d)
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    return parse(body)[0]


def wait_for(d, pred, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = scrape(d)
        if pred(s):
            return s
        time.sleep(0.05)
    raise AssertionError("metrics never showed " + what)


@pytest.fixture
def daemon(start):
    return start(config(
        service("m", "metrics", ["tcp://127.0.0.1:0"]),
        service("e", "echo", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"]),
        service("closed", "echo", ["tcp://127.0.0.1:0"],
                'allow = ( "10.0.0.0/8" );'),
        service("one", "echo", ["tcp://127.0.0.1:0"], "max_connections = 1;")))


def test_exposition_format(daemon):
    head, body = scrape_raw(daemon)
    assert "Content-Type: text/plain; version=0.0.4" in head
    m = re.search(r"Content-Length: (\d+)", head)
    assert int(m.group(1)) == len(body.encode())
    samples, types = parse(body)
    for name, kind in FAMILIES.items():
        assert types[name] == kind
        for svc in ("m", "e", "closed", "one"):
            if name == "multid_connections_rejected_total":
                for reason in ("limit", "per_source", "allow"):
                    assert (name, (("reason", reason), ("service", svc))) \
                        in samples
            else:
                assert (name, (("service", svc),)) in samples
    # The scrape itself is an open connection of the metrics service.
    assert value(samples, "multid_connections_active", service="m") == 1
    assert value(samples, "multid_connections_total", service="m") >= 1


def test_counters_follow_traffic(daemon):
    before = scrape(daemon)
    s = daemon.connect("e")
    s.sendall(b"x" * 1000)
    assert recv_exactly(s, 1000) == b"x" * 1000
    after = scrape(daemon)
    assert value(after, "multid_connections_total", service="e") == \
        value(before, "multid_connections_total", service="e") + 1
    assert value(after, "multid_connections_active", service="e") == 1
    assert value(after, "multid_bytes_received_total", service="e") == \
        value(before, "multid_bytes_received_total", service="e") + 1000
    assert value(after, "multid_bytes_sent_total", service="e") == \
        value(before, "multid_bytes_sent_total", service="e") + 1000
    s.close()
    wait_for(daemon, lambda m: value(m, "multid_connections_active",
                                     service="e") == 0, "the close")

    u = daemon.udp("e")
    for i in range(3):
        u.send(b"dgram")
        assert u.recv(100) == b"dgram"
    m = scrape(daemon)
    assert value(m, "multid_datagrams_received_total", service="e") == 3


def test_rejections_are_counted_by_reason(daemon):
    for i in range(2):
        s = daemon.connect("closed")
        s.settimeout(5)
        try:
            assert s.recv(10) == b""
        except ConnectionResetError:
            pass
        s.close()
    m = wait_for(daemon, lambda m: value(
        m, "multid_connections_rejected_total", service="closed",
        reason="allow") == 2, "two allow rejections")
    assert value(m, "multid_connections_active", service="closed") == 0

    a = daemon.connect("one")
    a.sendall(b"hi")
    assert recv_exactly(a, 2) == b"hi"
    b = daemon.connect("one")
    b.settimeout(5)
    assert b.recv(10) == b""
    wait_for(daemon, lambda m: value(
        m, "multid_connections_rejected_total", service="one",
        reason="limit") == 1, "a limit rejection")
    a.close()
    b.close()


def test_http_details(daemon):
    head, body = scrape_raw(daemon, b"HEAD /metrics HTTP/1.1\r\nHost: m\r\n"
                            b"Connection: close\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK") and body == ""
    assert "Content-Length: " in head
    head, body = scrape_raw(daemon, b"GET /other HTTP/1.1\r\nHost: m\r\n"
                            b"Connection: close\r\n\r\n")
    assert head.startswith("HTTP/1.1 404 ")
    head, body = scrape_raw(daemon, b"POST /metrics HTTP/1.1\r\nHost: m\r\n"
                            b"Connection: close\r\n\r\n")
    assert head.startswith("HTTP/1.1 405 ") and "Allow: GET, HEAD" in head
    head, body = scrape_raw(daemon, b"GET /metrics\r\n")
    assert head.startswith("HTTP/1.1 400 ")
    head, body = scrape_raw(daemon, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 ") and "multid_bytes_sent_total" in body

    # Keep-alive: two scrapes on one connection, the second sees the first.
    s = daemon.connect("m")
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n" * 2)
    data = b""
    while data.count(b"HTTP/1.1 200 OK") < 2 or not data.endswith(b"\n"):
        data += s.recv(65536)
    s.close()
    assert data.count(b"# TYPE multid_connections_total counter") == 2


def test_with_curl(daemon):
    host, port = daemon.addr("m")
    r = subprocess.run(["curl", "-sf", "http://%s:%d/metrics" % (host, port)],
                       capture_output=True, timeout=20)
    assert r.returncode == 0
    samples, _ = parse(r.stdout.decode())
    assert value(samples, "multid_connections_active", service="m") == 1


def test_type_counters(start, tmp_path):
    d = start(config(
        service("m", "metrics", ["tcp://127.0.0.1:0"]),
        service("lg", "log", ["udp://127.0.0.1:0"],
                'output = "%s";' % (tmp_path / "log.txt")),
        service("lg2", "log", ["udp://127.0.0.1:0"],
                'output = "%s";' % (tmp_path / "log2.txt")),
        service("bk", "bank", ["tcp://127.0.0.1:0"],
                'database = "%s";' % (tmp_path / "bank.db"))))
    head, body = scrape_raw(d)
    _, types = parse(body)
    assert types["multid_log_records_total"] == "counter"
    assert types["multid_bank_commits_total"] == "counter"
    u = d.udp("lg")
    u.send(b"one\ntwo\n")
    u.send(b"three")
    wait_for(d, lambda m: value(m, "multid_log_records_total",
                                service="lg") == 3, "three log records")
    assert value(scrape(d), "multid_log_records_total", service="lg2") == 0

    s = d.connect("bk")
    s.settimeout(30)
    s.sendall(b"OPEN alice secret1\r\n")
    line = b""
    while not line.endswith(b"\n"):
        line += s.recv(100)
    assert line.startswith(b"OK")
    s.close()
    m = scrape(d)
    assert value(m, "multid_bank_commits_total", service="bk") >= 1
