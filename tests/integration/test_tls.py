"""TLS (SPEC 6): tls:// listeners under every stream service, with the
clients people use (openssl s_client, curl) and Python's ssl module; the
certificate checks of -t, a reload with a new certificate, half-done and
failed handshakes that leave everyone else served, and the metrics."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from multid import (LineClient, assert_closed, config, listen_group,
                    run_multid, service)

KEYS = 'tls_certificate = "cert.pem"; tls_key = "key.pem";'  # relative


def make_cert(directory, name="cert.pem", key="key.pem", cn="localhost"):
    """A self-signed ECDSA P-256 certificate for localhost and 127.0.0.1."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         os.path.join(directory, key), "-out", os.path.join(directory, name),
         "-days", "400", "-subj", "/CN=" + cn, "-addext",
         "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True)
    return os.path.join(directory, name)


def keys(directory):
    """The TLS keys of a service, naming directory's cert.pem and key.pem."""
    return 'tls_certificate = "%s/cert.pem"; tls_key = "%s/key.pem";' % (
        directory, directory)


def start_in(start, tmp_path, services_):
    """Makes a certificate and a www/ in tmp_path, then starts a daemon
    whose services (a function of the TLS keys) use them."""
    make_cert(str(tmp_path))
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "hello.txt").write_text("hello over TLS\n")
    made = services_(keys(tmp_path))
    d = start(config(*([made] if isinstance(made, str) else made)))
    d.certdir = str(tmp_path)
    return d


def tls_addr(d, name, index=0):
    """(host, port) of the service's index-th tls:// listener."""
    d._parse_listeners()
    found = [(h, p) for proto, h, p in d.listeners.get(name, [])
             if proto == "tls"]
    return found[index]


def client_ctx(d, alpn=None):
    ctx = ssl.create_default_context(cafile=os.path.join(d.certdir, "cert.pem"))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_socket(d, name, index=0, alpn=None, timeout=5):
    host, port = tls_addr(d, name, index)
    raw = socket.create_connection((host, port), timeout=timeout)
    return client_ctx(d, alpn).wrap_socket(raw, server_hostname="localhost")


def curl_https(d, port, path, timeout=20):
    """curl, trusting d's certificate, for https://localhost:port/path."""
    return subprocess.run(["curl", "-sS", "--cacert",
                           os.path.join(d.certdir, "cert.pem"),
                           "https://localhost:%d%s" % (port, path),
                           "--resolve", "localhost:%d:127.0.0.1" % port],
                          capture_output=True, timeout=timeout)


def s_client(d, name, data, expect=None, index=0, extra=(), timeout=10):
    """Runs openssl s_client, types data, and reads its output until
    `expect` (default: nothing in particular) has come or the server
    closed; returns what it printed."""
    host, port = tls_addr(d, name, index)
    p = subprocess.Popen(
        ["openssl", "s_client", "-quiet", "-verify_return_error",
         "-CAfile", os.path.join(d.certdir, "cert.pem"), "-servername",
         "localhost", "-connect", "%s:%d" % (host, port)] + list(extra),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL)
    p.stdin.write(data)
    p.stdin.flush()
    out = b""
    os.set_blocking(p.stdout.fileno(), False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (expect is None or
                                           expect not in out):
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk == b"" and p.poll() is not None:
            break
        if chunk:
            out += chunk
        else:
            time.sleep(0.02)
        if expect is None and p.poll() is not None:
            break
    p.kill()
    p.wait()
    return out


def test_line_services_over_tls_with_s_client(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tcp://127.0.0.1:0",
                                       "tls://127.0.0.1:0"],
                'op = "upper"; ' + K),
        service("echo", "echo", ["tls://127.0.0.1:0"], K)))
    assert "upper listening on tls://127.0.0.1:" in d.stderr()
    want = b"HELLO TLS\r\nSECOND\r\n"
    assert s_client(d, "upper", b"hello tls\nsecond\n", want) == want
    want = b"bytes \x00\xff back\n"
    assert s_client(d, "echo", want, want) == want
    # The plain listener of the same service is plain.
    c = LineClient(d, "upper")
    assert c.ask("plain") == "PLAIN"


def test_every_protocol_over_tls(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform",
                [listen_group("tls://127.0.0.1:0", "course")],
                'op = "upper"; ' + K),
        service("chat", "chat", ["tls://127.0.0.1:0",
                                 listen_group("tls://127.0.0.1:0", "course")],
                K),
        service("guess", "guess", [listen_group("tls://127.0.0.1:0",
                                                "course")], K)))
    s = tls_socket(d, "upper")
    s.sendall(b"course over tls")
    assert s.recv(100) == b"COURSE OVER TLS"
    s.close()
    g = tls_socket(d, "guess")
    g.sendall(b"x")
    assert g.recv(10) == b"!"
    g.close()
    a = LineClient(sock=tls_socket(d, "chat"))
    assert a.line().startswith("* ")
    a.read_until(lambda l: "nickname" in l.lower() or l.startswith("* "),
                 most=20)
    a.send("alice")
    a.read_until(lambda l: l.startswith("* hello alice"))
    b = tls_socket(d, "chat", index=1)
    b.sendall(b"/login bob\0")
    assert b.recv(100).startswith(b"/ok ")
    a.read_until(lambda l: l == "* bob joined")
    b.sendall(b"hi from course\0")
    a.read_until(lambda l: l == "<bob> hi from course")
    b.close()


def test_https_with_curl_and_alpn(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("http", "http", ["tls://127.0.0.1:0"], 'root = "%s/www"; ' % tmp_path + K),
        service("metrics", "metrics", ["tls://127.0.0.1:0"], K)))
    host, port = tls_addr(d, "http")
    r = curl_https(d, port, "/hello.txt", timeout=20)
    assert r.returncode == 0, r
    assert r.stdout == b"hello over TLS\n"
    s = tls_socket(d, "http", alpn=["h2", "http/1.1"])
    assert s.selected_alpn_protocol() == "http/1.1"
    s.close()
    # A client that offers no protocol the service speaks goes on without.
    s = tls_socket(d, "http", alpn=["h2"])
    assert s.selected_alpn_protocol() is None
    s.close()
    host, port = tls_addr(d, "metrics")
    r = curl_https(d, port, "/metrics", timeout=20)
    assert r.returncode == 0, r
    text = r.stdout.decode()
    assert 'multid_tls_handshakes_total{service="http",result="ok"} 3' in text
    assert 'multid_tls_handshakes_total{service="metrics",result="ok"} 1' \
        in text
    assert 'multid_tls_resumed_total{service="http"} 0' in text


def test_plain_text_to_tls_port_is_closed(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tls://127.0.0.1:0"],
                'op = "upper"; ' + K),
        service("metrics", "metrics", ["tcp://127.0.0.1:0"])))
    host, port = tls_addr(d, "upper")
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"hello in plain text\r\n")
    data = assert_closed(s, timeout=5)
    assert b"HELLO" not in data
    assert "TLS handshake failed" in d.stderr()
    # The service goes on serving TLS clients.
    assert s_client(d, "upper", b"after\n", b"AFTER\r\n") == b"AFTER\r\n"
    m = LineClient(d, "metrics", sep=b"\n")
    m.raw(b"GET /metrics HTTP/1.0\r\n\r\n")
    lines = m.read_until(lambda l: "failed" in l and "tls_handshakes" in l)
    assert lines[-1].endswith('result="failed"} 1')


def test_half_done_handshakes_leave_others_served(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tls://127.0.0.1:0"],
                'op = "upper"; ' + K)))
    host, port = tls_addr(d, "upper")
    # A flood of connections that start a handshake and stop, half a
    # ClientHello each, and some that send nothing at all.
    hello = None
    idle = []
    for i in range(200):
        s = socket.create_connection((host, port), timeout=5)
        if i % 2 == 0:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        idle.append(s)
    t0 = time.monotonic()
    for _ in range(5):
        assert s_client(d, "upper", b"served\n", b"SERVED\r\n") == \
            b"SERVED\r\n"
    assert time.monotonic() - t0 < 15
    # Unfinished handshakes end after 10 s (SPEC 6).
    assert_closed(idle[0], timeout=20)
    assert_closed(idle[1], timeout=5)
    for s in idle:
        s.close()
    assert "not done within 10 s" in d.stderr()


def test_session_resumption(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tls://127.0.0.1:0"],
                'op = "upper"; ' + K),
        service("metrics", "metrics", ["tcp://127.0.0.1:0"])))
    sess = os.path.join(d.dir, "sess.pem")
    assert s_client(d, "upper", b"one\n", b"ONE\r\n",
                    extra=["-sess_out", sess, "-tls1_2"]) == b"ONE\r\n"
    assert s_client(d, "upper", b"two\n", b"TWO\r\n",
                    extra=["-sess_in", sess, "-tls1_2"]) == b"TWO\r\n"
    m = LineClient(d, "metrics", sep=b"\n")
    m.raw(b"GET /metrics HTTP/1.0\r\n\r\n")
    lines = m.read_until(lambda l: l.startswith("multid_tls_resumed_total"))
    assert lines[-1] == 'multid_tls_resumed_total{service="upper"} 1'


def test_certificate_errors_at_t(tmp_path):
    make_cert(str(tmp_path))
    make_cert(str(tmp_path), "other.pem", "otherkey.pem", cn="other")
    conf = tmp_path / "multid.conf"

    def check(extra, listen="tls://127.0.0.1:0"):
        conf.write_text(config(service("e", "echo", [listen], extra)))
        return run_multid(["-t", "-c", str(conf)])

    r = check(KEYS)
    assert r.returncode == 0, r.stderr
    r = check("")
    assert r.returncode == 1
    assert "multid.conf:3: services.[0]: tls_certificate: required with a " \
        "tls:// entry" in r.stderr
    r = check('tls_certificate = "cert.pem"; tls_key = "otherkey.pem";')
    assert r.returncode == 1
    assert "tls_key: %s: " % (tmp_path / "otherkey.pem") in r.stderr
    assert "mismatch" in r.stderr
    r = check('tls_certificate = "missing.pem"; tls_key = "key.pem";')
    assert r.returncode == 1
    assert "tls_certificate: %s: " % (tmp_path / "missing.pem") in r.stderr
    r = check(KEYS + ' tls_protocols = "TLSv1.1 TLSv1.2";')
    assert r.returncode == 1
    assert 'tls_protocols: "TLSv1.1" is not TLSv1.2 or TLSv1.3' in r.stderr


def test_tls13_only_refuses_tls12(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tls://127.0.0.1:0"],
                'op = "upper"; tls_protocols = "TLSv1.3"; ' + K)))
    assert s_client(d, "upper", b"x\n", b"X\r\n", extra=["-tls1_3"]) == \
        b"X\r\n"
    assert s_client(d, "upper", b"x\n", extra=["-tls1_2"]) == b""
    assert "TLS handshake failed" in d.stderr()


def test_reload_reads_the_certificate_again(start, tmp_path):
    d = start_in(start, tmp_path, lambda K: (
        service("upper", "transform", ["tls://127.0.0.1:0"],
                'op = "upper"; ' + K)))
    old = tls_socket(d, "upper")
    old_cert = old.getpeercert(binary_form=True)
    old.sendall(b"before\n")
    assert old.recv(100) == b"BEFORE\r\n"
    # A certificate that does not load makes the reload invalid: nothing
    # changes, the error names the file.
    with open(os.path.join(d.certdir, "cert.pem"), "w") as f:
        f.write("not a certificate\n")
    d.signal(1)
    deadline = time.monotonic() + 10
    while "cert.pem" not in d.stderr().split("reload")[-1] and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert "tls_certificate: %s" % os.path.join(d.certdir, "cert.pem") \
        in d.stderr()
    # A new certificate is taken by new connections; the open one goes on.
    make_cert(d.certdir, cn="renewed")
    d.reload()
    new = ssl.create_default_context(
        cafile=os.path.join(d.certdir, "cert.pem")).wrap_socket(
        socket.create_connection(tls_addr(d, "upper"), timeout=5),
        server_hostname="localhost")
    assert new.getpeercert(binary_form=True) != old_cert
    new.sendall(b"new\n")
    assert new.recv(100) == b"NEW\r\n"
    old.sendall(b"still\n")
    assert old.recv(100) == b"STILL\r\n"
    new.close()
    old.close()


# Findings that are about the self-signed test certificate, not about
# multid: nobody vouches for it, and it names no CRL or OCSP responder.
TEST_CERT_FINDINGS = {"cert_chain_of_trust", "cert_revocation"}


@pytest.mark.tls_audit
def test_testssl_finds_nothing_high_or_critical(start, tmp_path):
    """testssl.sh (Debian's) on https: protocols, cipher categories,
    forward secrecy, server defaults, preferences and the known
    vulnerabilities (Heartbleed, CCS, ROBOT, CRIME, BREACH, POODLE, SWEET32,
    FREAK, DROWN, LOGJAM, BEAST, LUCKY13, RC4, renegotiation, ...)."""
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    assert testssl, "testssl.sh is not installed (make deps-test)"
    d = start_in(start, tmp_path, lambda K: service(
        "http", "http", ["tls://127.0.0.1:0"], 'root = "%s/www"; ' % tmp_path
        + K))
    host, port = tls_addr(d, "http")
    out = str(tmp_path / "testssl.json")
    r = subprocess.run(
        [testssl, "--quiet", "--color", "0", "--warnings", "off",
         "--severity", "HIGH", "--jsonfile", out, "-p", "-s", "-f", "-S",
         "-P", "-U", "%s:%d" % (host, port)],
        capture_output=True, timeout=900)
    findings = json.load(open(out))
    assert findings or r.returncode == 0, r.stdout[-3000:]
    bad = [f for f in findings if f["severity"] in ("HIGH", "CRITICAL")
           and f["id"] not in TEST_CERT_FINDINGS]
    assert not bad, bad
    # It did look: the protocols it found are the ones offered.
    assert "TLS 1.3" in r.stdout.decode() or "TLSv1.3" in r.stdout.decode()


def close_notify_upload(d, host, port, data):
    """Sends data over TLS, then close_notify (the write side of TLS
    ends, the TCP connection stays open), one step at a time with
    Python's SSLObject on memory BIOs; returns the raw socket, still
    open."""
    ctx = client_ctx(d)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    raw = socket.create_connection((host, port), timeout=10)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            if out.pending:
                raw.sendall(out.read())
            inc.write(raw.recv(65536))
    obj.write(data)
    try:
        obj.unwrap()                     # queues close_notify
    except ssl.SSLWantReadError:
        pass
    raw.sendall(out.read())
    return raw

def test_files_upload_ends_at_close_notify_or_tcp_end(start, tmp_path):
    """SPEC 6: over TLS a files upload ends at the client's close_notify
    or at the end of the TCP stream, whichever comes first."""
    import hashlib
    up = tmp_path / "up"
    up.mkdir()
    d = start_in(start, tmp_path, lambda K: service(
        "files", "files", ["tls://127.0.0.1:0"],
        'mode = "receive"; directory = "%s"; %s' % (up, K)))
    host, port = tls_addr(d, "files")
    one = os.urandom(300000)
    raw = close_notify_upload(d, host, port, one)

    def stored():
        return [n for n in os.listdir(str(up)) if not n.startswith(".")]
    deadline = time.monotonic() + 10
    while not stored() and time.monotonic() < deadline:
        time.sleep(0.05)
    raw.close()
    assert [open(str(up / n), "rb").read() for n in stored()] == [one]
    # A client that ends the TCP stream without close_notify, and reads
    # the answer.
    two = os.urandom(200000)
    s = tls_socket(d, "files")
    s.sendall(two)
    socket.socket.shutdown(s, socket.SHUT_WR)   # a FIN under the TLS layer
    answer = b""
    try:
        while not answer.endswith(b"\r\n"):
            chunk = s.recv(1000)
            if not chunk:
                break
            answer += chunk
    except (ssl.SSLError, OSError):
        pass
    s.close()
    assert answer.startswith(b"OK "), answer
    assert answer.split()[2:] == [b"200000",
                                  hashlib.sha256(two).hexdigest().encode()]
    stored = sorted(open(str(up / n), "rb").read() for n in os.listdir(
        str(up)) if not n.startswith("."))
    assert sorted([one, two]) == stored


def test_certificate_reload_during_traffic(start, tmp_path):
    """Renewed certificates are taken by SIGHUP while clients keep
    talking and connecting: nobody gets an error or a wrong answer."""
    import threading
    d = start_in(start, tmp_path, lambda K: service(
        "upper", "transform", ["tls://127.0.0.1:0"], 'op = "upper"; ' + K))
    stop = threading.Event()
    errors, answers, certs = [], [0], set()
    lock = threading.Lock()
    # The clients trust every certificate made so far: one is written a
    # moment before the daemon reads it.
    bundle = os.path.join(str(tmp_path), "bundle.pem")
    shutil.copy(os.path.join(d.certdir, "cert.pem"), bundle)

    def connect():
        ctx = ssl.create_default_context(cafile=bundle)
        raw = socket.create_connection(tls_addr(d, "upper"), timeout=5)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def talker(n):
        try:
            s = connect()
            c = LineClient(sock=s)
            i = 0
            while not stop.is_set():
                assert c.ask("msg %d %d" % (n, i)) == "MSG %d %d" % (n, i)
                i += 1
                with lock:
                    answers[0] += 1
            s.close()
        except Exception as e:           # reported below, with its kind
            errors.append(repr(e))

    def connector():
        try:
            while not stop.is_set():
                s = connect()
                certs.add(s.getpeercert(binary_form=True))
                s.sendall(b"x\n")
                assert s.recv(10) == b"X\r\n"
                s.close()
        except Exception as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=talker, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=connector))
    for t in threads:
        t.start()
    try:
        for round_ in range(2):
            time.sleep(0.7)
            # A new key and certificate, each file replaced whole.
            new = tmp_path / ("new%d" % round_)
            new.mkdir()
            make_cert(str(new), cn="renewed%d" % round_)
            with open(bundle, "a") as b:
                b.write((new / "cert.pem").read_text())
            # A client that read the bundle just before the append would
            # not know the new certificate: let those finish first.
            time.sleep(0.3)
            for f in ("key.pem", "cert.pem"):     # the key first
                os.replace(str(new / f), os.path.join(d.certdir, f))
            d.reload()
        time.sleep(0.7)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    assert errors == []
    assert answers[0] > 100
    assert len(certs) >= 2          # new connections saw a renewed one
    assert "TLS handshake failed" not in d.stderr()


def test_big_files_arrive_whole_to_fast_and_slow_readers(start, tmp_path):
    """A file of many records, sent while the socket fills and empties:
    curl reads at full speed; a slow reader (small reads, pauses, a tiny
    receive buffer) makes every write stop part-way; both get every byte
    in order, and so do pipelined requests on one connection."""
    import hashlib
    d = start_in(start, tmp_path, lambda K: service(
        "http", "http", ["tls://127.0.0.1:0"],
        'root = "%s/www"; ' % tmp_path + K))
    body = os.urandom(3 * 1024 * 1024 + 12345)
    (tmp_path / "www" / "big.bin").write_bytes(body)
    want = hashlib.sha256(body).hexdigest()
    host, port = tls_addr(d, "http")
    r = curl_https(d, port, "/big.bin", timeout=30)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == want

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(10)
    raw.connect((host, port))
    s = client_ctx(d).wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
              b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    got = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = s.recv(8192)
        if not chunk:
            break
        got += chunk
        if len(got) % (256 * 1024) < 8192:
            time.sleep(0.05)
    s.close()
    bodies = []
    while got:
        head, _, rest = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")][0])
        bodies.append(rest[:length])
        got = rest[length:]
    assert [hashlib.sha256(b).hexdigest() for b in bodies] == [want, want]
