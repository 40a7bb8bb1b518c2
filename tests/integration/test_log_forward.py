"""The log service's forward key (SPEC section 7, log) against a real
rsyslogd: records sent by logger(1) and plain UDP arrive at the collector
as RFC 5424 over TCP exactly once, with their fields; while the collector
is away they wait and arrive when it is back; a small forward_queue
overflows and counts its drops; multid_backend_up follows the
connection; IPv6 and host names; bad URLs are configuration errors."""
import os
import re
import socket
import subprocess
import time
import uuid

import pytest

from multid import config, recv_all, run_multid, service
from rsyslogd import Rsyslogd

UP = ("multid_backend_up", 'backend="forward"')
DROPPED = ("multid_log_forward_dropped_total", None)
FORWARDED = ("multid_log_forwarded_total", None)


@pytest.fixture
def rsyslog(tmp_path):
    r = Rsyslogd(tmp_path)
    yield r
    r.cleanup()


def log_service(forward, extra="", name="log"):
    return service(name, "log", ["udp://127.0.0.1:0"],
                   'forward = "%s"; %s' % (forward, extra))


def metrics_service():
    return service("m", "metrics", ["tcp://127.0.0.1:0"])


def logger(d, *args):
    host, port = d.addr("log", "udp")
    subprocess.run(["logger", "--udp", "-n", host, "-P", str(port)] +
                   list(args), check=True, timeout=10)


def send(d, payloads, name="log"):
    """Sends each payload as one datagram."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(d.addr(name, "udp"))
        for p in payloads:
            s.send(p)


def scrape(d):
    """The metrics service's samples as {series text: value}."""
    out = {}
    for line in scrape_text(d).splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def scrape_text(d):
    s = d.connect("m")
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
    body = recv_all(s).split(b"\r\n\r\n", 1)[1].decode()
    s.close()
    return body


def metric(d, which, svc="log"):
    name, labels = which
    key = '%s{service="%s"%s}' % (name, svc, "," + labels if labels else "")
    samples = scrape(d)
    assert key in samples, "no %s in %s" % (key, sorted(samples))
    return samples[key]


def wait_metric(d, which, pred, timeout=20):
    deadline = time.time() + timeout
    while True:
        v = metric(d, which)
        if pred(v):
            return v
        assert time.time() < deadline, "%s stays %s" % (which[0], v)
        time.sleep(0.05)


def with_token(r, token):
    return [x for x in r.records() if token in x["msg"]]


def wait_count(r, token, n, timeout=20):
    """Waits until n records holding token arrived; returns them."""
    recs = r.wait_records(lambda rs: sum(token in x["msg"] for x in rs) >= n,
                          timeout)
    return [x for x in recs if token in x["msg"]]


def assert_once_each(recs, texts):
    msgs = [x["msg"] for x in recs]
    for t in texts:
        assert msgs.count(t) == 1, "%r arrived %d times: %r" % (
            t, msgs.count(t), msgs)
    assert len(msgs) == len(texts), msgs


# --- records and their fields ---------------------------------------------

def test_logger_records_arrive_once_with_their_fields(start, rsyslog):
    tok = uuid.uuid4().hex[:8]
    d = start(config(log_service(rsyslog.url, 'output = "local.log";')))
    logger(d, "--rfc5424", "-t", "backup", "-p", "local0.notice",
           "--msgid", "ID47", "--sd-id", "zoo@123", "--sd-param",
           'tiger="hungry"', "done in 3s " + tok)
    logger(d, "--rfc3164", "-t", "cron", "-i", "-p", "user.err", "oops " + tok)
    send(d, [b"plain text " + tok.encode(),
             b"<165>1 2026-11-22T10:15:30.123+01:00 web9 app1 77 M1 - one " +
             tok.encode() + b"\n<12>1 - web9 app1 - - - two " + tok.encode()])
    texts = ["done in 3s " + tok, "oops " + tok, "plain text " + tok,
             "one " + tok, "two " + tok]
    recs = wait_count(rsyslog, tok, len(texts))
    time.sleep(0.3)   # nothing more comes: each arrived exactly once
    recs = with_token(rsyslog, tok)
    assert_once_each(recs, texts)
    by = {x["msg"]: x for x in recs}
    short = socket.gethostname().split(".")[0]

    r = by["done in 3s " + tok]
    assert r["pri"] == 16 * 8 + 5 and r["app"] == "backup"
    assert r["host"].startswith(short) and r["msgid"] == "ID47"
    assert '[zoo@123 tiger="hungry"]' in r["sd"]
    r = by["oops " + tok]
    assert r["pri"] == 1 * 8 + 3 and r["app"] == "cron"
    assert r["host"].startswith(short) and r["procid"].isdigit()
    r = by["plain text " + tok]
    assert r["pri"] == 14 and r["app"] == "-" and r["host"] == "127.0.0.1"
    r = by["one " + tok]
    assert (r["pri"], r["host"], r["app"], r["procid"], r["msgid"]) == (
        165, "web9", "app1", "77", "M1")
    assert r["time"].startswith("2026-11-22T10:15:30.123")
    assert r["time"].endswith("+01:00")
    r = by["two " + tok]
    assert r["pri"] == 12 and r["procid"] == "-"
    # Octet counting: what rsyslogd read is the RFC 5424 message itself.
    raw = [x for x in rsyslog.raw() if ("one " + tok) in x]
    assert raw == ["<165>1 2026-11-22T10:15:30.123+01:00 web9 app1 77 M1 - "
                   "one " + tok]
    # The local output has them too.
    local = open(os.path.join(d.dir, "local.log")).read()
    for t in texts:
        assert local.count(t) == 1


def test_forward_alone_writes_no_local_output(start, rsyslog):
    tok = uuid.uuid4().hex[:8]
    d = start(config(log_service(rsyslog.url)))
    send(d, [b"<13>only forwarded " + tok.encode()])
    assert len(wait_count(rsyslog, tok, 1)) == 1
    assert tok not in d.stdout()


# --- the collector goes away ----------------------------------------------

def test_records_wait_while_the_collector_is_away(start, rsyslog):
    tok = uuid.uuid4().hex[:8]
    d = start(config(log_service(rsyslog.url), metrics_service()))
    wait_metric(d, UP, lambda v: v == 1)
    before = ["before %d %s" % (i, tok) for i in range(5)]
    send(d, [b"<13>" + t.encode() for t in before])
    wait_count(rsyslog, tok, 5)
    wait_metric(d, FORWARDED, lambda v: v >= 5)

    rsyslog.stop()
    wait_metric(d, UP, lambda v: v == 0)
    during = ["during %d %s" % (i, tok) for i in range(10)]
    for t in during:
        send(d, [b"<13>" + t.encode()])
    time.sleep(0.3)
    assert metric(d, UP) == 0
    rsyslog.start()

    recs = wait_count(rsyslog, tok, 15, timeout=30)
    wait_metric(d, UP, lambda v: v == 1)
    time.sleep(0.3)
    recs = with_token(rsyslog, tok)
    assert_once_each(recs, before + during)
    assert [x["msg"] for x in recs] == before + during     # in order
    assert metric(d, DROPPED) == 0
    wait_metric(d, FORWARDED, lambda v: v == 15)
    err = d.stderr()
    assert "closed by the collector" in err and "connected again" in err


def test_a_full_queue_drops_and_counts(start, tmp_path):
    tok = uuid.uuid4().hex[:8]
    r = Rsyslogd(tmp_path, start=False)
    try:
        d = start(config(log_service(r.url, "forward_queue = 4096;"),
                         metrics_service()))
        texts = ["rec %02d %s %s" % (i, tok, "x" * 100) for i in range(40)]
        for t in texts:
            send(d, [b"<13>" + t.encode()])
        dropped = wait_metric(d, DROPPED, lambda v: v > 0)
        time.sleep(0.3)
        dropped = metric(d, DROPPED)
        assert metric(d, UP) == 0
        assert 0 < dropped < len(texts)
        assert "the queue is full" in d.stderr()

        r.start()
        kept = len(texts) - int(dropped)
        recs = wait_count(r, tok, kept, timeout=30)
        time.sleep(0.3)
        recs = with_token(r, tok)
        # The first records waited; those after the queue filled were
        # dropped, each counted once.
        assert [x["msg"] for x in recs] == texts[:kept]
        assert metric(d, DROPPED) == dropped
        wait_metric(d, UP, lambda v: v == 1)
        # There is room again: new records go through.
        send(d, [b"<13>after " + tok.encode()])
        wait_count(r, "after " + tok, 1)
        assert "room again" in d.stderr()
    finally:
        r.cleanup()


def read_frames(conn, count, timeout=10):
    """Reads octet-counted frames from conn until count came whole."""
    conn.settimeout(timeout)
    data, frames = b"", []
    while len(frames) < count:
        chunk = conn.recv(1 << 16)
        assert chunk, "the connection ended after %d frames" % len(frames)
        data += chunk
        while b" " in data[:12]:
            n, rest = data.split(b" ", 1)
            if len(rest) < int(n):
                break
            frames.append(rest[:int(n)])
            data = rest[int(n):]
    assert data == b""
    return frames


def test_a_record_cut_by_a_broken_connection_is_sent_again_whole(start):
    """A collector with a small receive window takes part of a large
    record and resets the connection: the record is sent again from its
    start on the next connection, and the one before it, which the
    collector acknowledged, is not."""
    tok = uuid.uuid4().hex[:8]
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(10)
    try:
        d = start(config(log_service(
            "tcp://127.0.0.1:%d" % lsock.getsockname()[1],
            "max_message = 65536;")))
        c1, _ = lsock.accept()
        send(d, [b"<13>small " + tok.encode()])
        assert read_frames(c1, 1)[0].endswith(b" small " + tok.encode())
        big = ("big %s " % tok) + "y" * 60000
        send(d, [b"<13>" + big.encode()])
        time.sleep(0.5)           # part of it fills our window
        c1.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c1.close()                # a reset
        c2, _ = lsock.accept()
        frames = read_frames(c2, 1)
        assert len(frames) == 1 and frames[0].endswith(big.encode())
        c2.settimeout(0.3)
        with pytest.raises(socket.timeout):
            c2.recv(1)            # nothing more, the small one not again
        c2.close()
    finally:
        lsock.close()


# --- addresses -------------------------------------------------------------

def test_ipv6_and_host_names(start, tmp_path):
    tok = uuid.uuid4().hex[:8]
    r6 = Rsyslogd(tmp_path, address="::1", name="r6")
    r4 = Rsyslogd(tmp_path, name="r4")
    try:
        d = start(config(
            log_service(r6.url, name="log"),
            log_service("tcp://localhost:%d" % r4.port, name="byname")))
        assert r6.url.startswith("tcp://[::1]:")
        send(d, [b"<13>over ipv6 " + tok.encode()], name="log")
        send(d, [b"<13>by name " + tok.encode()], name="byname")
        assert [x["msg"] for x in wait_count(r6, tok, 1)] == [
            "over ipv6 " + tok]
        assert [x["msg"] for x in wait_count(r4, tok, 1)] == [
            "by name " + tok]
    finally:
        r6.cleanup()
        r4.cleanup()


def test_reload_moves_to_another_collector(start, tmp_path):
    tok = uuid.uuid4().hex[:8]
    a = Rsyslogd(tmp_path, name="a")
    b = Rsyslogd(tmp_path, name="b")
    try:
        d = start(config(log_service(a.url), metrics_service()))
        send(d, [b"<13>first " + tok.encode()])
        wait_count(a, tok, 1)
        d.reload(config(log_service(b.url), metrics_service()))
        send(d, [b"<13>second " + tok.encode()])
        assert [x["msg"] for x in wait_count(b, tok, 1)] == ["second " + tok]
        assert [x["msg"] for x in with_token(a, tok)] == ["first " + tok]
        wait_metric(d, UP, lambda v: v == 1)
    finally:
        a.cleanup()
        b.cleanup()


def test_reload_adds_and_removes_forward(start, rsyslog):
    tok = uuid.uuid4().hex[:8]
    plain = service("log", "log", ["udp://127.0.0.1:0"])
    d = start(config(plain, metrics_service()))
    # No collector: no backend_up series, not even its HELP line.
    assert "multid_backend_up" not in scrape_text(d)
    send(d, [b"<13>local one " + tok.encode()])
    d.reload(config(log_service(rsyslog.url), metrics_service()))
    wait_metric(d, UP, lambda v: v == 1)
    send(d, [b"<13>forwarded " + tok.encode()])
    assert [x["msg"] for x in wait_count(rsyslog, tok, 1)] == [
        "forwarded " + tok]
    d.reload()                    # SIGHUP: nothing to reopen
    d.reload(config(plain, metrics_service()))
    # Without forward the service has no collector to be up or down.
    for series in (UP, DROPPED, FORWARDED):
        assert not any(k.startswith(series[0] + '{service="log"')
                       for k in scrape(d)), series
    send(d, [b"<13>local two " + tok.encode()])
    deadline = time.time() + 10
    while d.stdout().count(tok) < 2 and time.time() < deadline:
        time.sleep(0.05)
    out = d.stdout()
    assert "local one " + tok in out and "local two " + tok in out
    assert "forwarded " + tok not in out
    assert [x["msg"] for x in with_token(rsyslog, tok)] == ["forwarded " + tok]


# --- configuration ---------------------------------------------------------

@pytest.mark.parametrize("value,phrase", [
    ('forward = "udp://127.0.0.1:514";', "forward: expected tcp://HOST:PORT"),
    ('forward = "tcp://127.0.0.1";', "forward: missing port"),
    ('forward = "tcp://127.0.0.1:70000";', "forward: port out of range"),
    ('forward = "tcp://::1:514";', "forward: an IPv6 address goes in brackets"),
    ('forward = "tcp://[::1]:514"; forward_queue = 10;', "forward_queue"),
])
def test_bad_forward_is_a_configuration_error(tmp_path, value, phrase):
    conf = tmp_path / "multid.conf"
    conf.write_text('services = (\n  { name = "log"; type = "log";\n'
                    '    listen = ( "udp://127.0.0.1:0" );\n'
                    '    %s }\n);\n' % value)
    res = run_multid(["-t", "-c", str(conf)])
    assert res.returncode != 0
    assert re.search(r"^%s:\d+: .*%s" % (re.escape(str(conf)),
                                         re.escape(phrase)),
                     res.stderr, re.M), res.stderr


def test_good_forward_passes_the_check(tmp_path):
    conf = tmp_path / "multid.conf"
    conf.write_text('services = ( { name = "log"; type = "log"; '
                    'listen = ( "udp://127.0.0.1:0" ); '
                    'forward = "tcp://[::1]:514"; forward_queue = 65536; } );\n')
    res = run_multid(["-t", "-c", str(conf)])
    assert res.returncode == 0, res.stderr
