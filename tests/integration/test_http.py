"""The http service: static files, listings, path safety, HTTP/1.x
framing and error statuses, against the real daemon over real sockets."""
import email.utils
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from multid import assert_closed, config, listen_group, service

SECRET = b"TOP-SECRET-OUTSIDE-ROOT\n"
DATE_RE = r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT"


# --- fixtures and helpers ---------------------------------------------------

def make_tree(base):
    """A web root with files, listings, odd names and traps; returns
    (root, outside) paths."""
    root = os.path.join(base, "www")
    outside = os.path.join(base, "outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "docs", "inner"))
    os.makedirs(os.path.join(root, ".git"))
    files = {
        "hello.txt": b"hello\n",
        "page.html": b"<h1>page</h1>\n",
        "small.bin": bytes(range(256)) * 4,
        "big.bin": os.urandom(300 * 1024),
        "empty.txt": b"",
        "sub/index.html": b"<h1>sub index</h1>\n",
        "docs/b.txt": b"bbb\n",
        "docs/a.txt": b"a\n",
        "docs/a&b <c>.txt": b"amp\n",
        "docs/sp ace.txt": b"space\n",
        "docs/\u00fcber.txt".encode(): b"umlaut\n",
        "docs/q?x#y%z.txt": b"query-ish\n",
        "docs/" + "L" * 60 + ".txt": b"long\n",
        "docs/inner/deep.txt": b"deep\n",
        ".hidden": b"dotfile\n",
        ".git/config": b"[core]\n",
        "docs/.secret": b"hidden too\n",
    }
    for name, data in files.items():
        if isinstance(name, str):
            name = name.encode()
        with open(os.path.join(root.encode(), name), "wb") as f:
            f.write(data)
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "abs-escape"))
    os.symlink("../outside/secret.txt", os.path.join(root, "rel-escape"))
    os.symlink("../outside", os.path.join(root, "dir-escape"))
    os.symlink("hello.txt", os.path.join(root, "inlink"))
    os.symlink("../hello.txt", os.path.join(root, "docs", "uplink"))
    os.mkfifo(os.path.join(root, "fifo"))
    return root, outside


@pytest.fixture
def site(tmp_path, start):
    """A running http service on the tree of make_tree; returns a
    namespace with the daemon, the root and a connect helper."""
    def _site(extra="", root=None, **kw):
        if root is None:
            root, _ = make_tree(str(tmp_path))
        d = start(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                 'root = "%s"; %s' % (root, extra))), **kw)
        d.root = root
        return d
    return _site


class Client:
    """A raw HTTP/1.x client that keeps what it read past a response, so
    pipelined responses can be taken one at a time."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def get(self, path, headers="", version="1.1", method="GET"):
        host = "Host: t\r\n" if version == "1.1" else ""
        self.send(("%s %s HTTP/%s\r\n%s%s\r\n" % (
            method, path, version, host, headers)).encode("latin-1"))
        return self.response(head=(method == "HEAD"))

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed; have %r" % self.buf[:200])
        self.buf += chunk

    def response(self, head=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            assert k.lower() not in headers, "duplicate header " + k
            headers[k.lower()] = v.strip()
        n = 0 if head or status == "304" else int(headers["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(status), headers, body

    def closed(self):
        """True when the server closes without sending anything more."""
        try:
            extra = self.s.recv(4096)
        except ConnectionResetError:
            return True
        assert extra == b"", "unexpected bytes %r" % extra[:200]
        return True


def client(d, timeout=10):
    return Client(d.connect("web", timeout=timeout))


def get(d, path, **kw):
    c = client(d)
    try:
        return c.get(path, **kw)
    finally:
        c.s.close()


def curl(d, *args):
    host, port = d.addr("web")
    url = "http://%s:%d" % (host, port)
    args = [a.replace("URL", url) for a in args]
    return subprocess.run(["curl", "-s", "--max-time", "20"] + args,
                          capture_output=True, timeout=30)


def read_file(root, name):
    with open(os.path.join(root, name), "rb") as f:
        return f.read()


# --- files ------------------------------------------------------------------

def test_file_headers_and_body(site):
    d = site()
    status, h, body = get(d, "/hello.txt")
    assert status == 200
    assert body == b"hello\n"
    assert h["content-length"] == "6"
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["server"] == "multid"
    assert re.fullmatch(DATE_RE, h["date"])
    st = os.stat(os.path.join(d.root, "hello.txt"))
    assert h["last-modified"] == email.utils.formatdate(st.st_mtime, usegmt=True)
    assert h["etag"] == '"%x-%x"' % (int(st.st_mtime), st.st_size)
    assert h["accept-ranges"] == "bytes"
    assert get(d, "/page.html")[1]["content-type"] == "text/html; charset=utf-8"
    status, h, body = get(d, "/small.bin")
    assert h["content-type"] == "application/octet-stream"
    status, h, body = get(d, "/empty.txt")
    assert status == 200 and body == b"" and h["content-length"] == "0"


def test_binary_files_byte_for_byte(site):
    d = site()
    for name in ("small.bin", "big.bin"):
        want = read_file(d.root, name)
        status, h, body = get(d, "/" + name)
        assert status == 200 and body == want
        r = curl(d, "URL/" + name)
        assert r.returncode == 0 and r.stdout == want


def test_head_has_no_body(site):
    d = site()
    c = client(d)
    for path in ("/big.bin", "/hello.txt", "/docs/", "/nope"):
        status, h, body = c.get(path, method="HEAD")
        full = get(d, path)
        assert status == full[0]
        assert h["content-length"] == str(len(full[2]))
        assert body == b""
    # Had any body been sent, this response would not parse.
    assert c.get("/hello.txt")[2] == b"hello\n"


def test_keep_alive_rules(site):
    d = site()
    c = client(d)
    for _ in range(3):
        status, h, body = c.get("/hello.txt")
        assert status == 200 and "connection" not in h
    status, h, body = c.get("/hello.txt", headers="Connection: close\r\n")
    assert status == 200 and h["connection"] == "close"
    assert c.closed()

    c = client(d)
    status, h, body = c.get("/hello.txt", version="1.0")
    assert h["connection"] == "close"
    assert c.closed()

    c = client(d)
    for _ in range(2):
        status, h, body = c.get("/hello.txt", version="1.0",
                                headers="Connection: keep-alive\r\n")
        assert status == 200 and h["connection"] == "keep-alive"
    status, h, body = c.get("/hello.txt", version="1.0")
    assert c.closed()


def test_pipelined_requests_answered_in_order(site):
    d = site()
    c = client(d)
    names = ["hello.txt", "big.bin", "nope", "small.bin", "docs", "big.bin",
             "page.html"] * 3
    c.send(b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % n.encode()
                    for n in names))
    for n in names:
        status, h, body = c.response()
        if n == "nope":
            assert status == 404
        elif n == "docs":
            assert status == 301 and h["location"] == "/docs/"
        else:
            assert status == 200 and body == read_file(d.root, n)


def test_pipelined_then_half_close(site):
    d = site()
    c = client(d)
    c.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n" * 8 +
           b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    c.s.shutdown(socket.SHUT_WR)
    big = read_file(d.root, "big.bin")
    for _ in range(8):
        assert c.response()[2] == big
    assert c.response()[2] == b"hello\n"
    assert c.closed()


def test_request_split_across_writes(site):
    d = site()
    c = client(d)
    req = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n"
    for i in range(len(req)):
        c.send(req[i:i + 1])
    assert c.response()[2] == b"hello\n"


# --- methods, bodies, errors --------------------------------------------------

def test_other_methods_get_405(site):
    d = site()
    c = client(d)
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "get", "PROPFIND"):
        status, h, body = c.get("/hello.txt", method=m)
        assert status == 405
        assert h["allow"] == "GET, HEAD"
        assert b"405 Method Not Allowed" in body
    # The connection went on through all of them.
    assert c.get("/hello.txt")[0] == 200


def test_request_bodies_are_discarded(site):
    d = site()
    c = client(d)
    c.send(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n"
           b"GET /evil H"
           b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n"
           b"body"
           b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[0] == 405
    assert c.response()[2] == b"hello\n"
    assert c.response()[2] == b"<h1>page</h1>\n"


def test_expect_continue_body_answered_then_closed(site):
    d = site()
    c = client(d)
    c.send(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
           b"Expect: 100-continue\r\n\r\n")
    status, h, body = c.response()
    assert status == 405 and h["connection"] == "close"
    assert c.closed()
    r = curl(d, "-H", "Expect: 100-continue", "--data-binary", "x" * 2000,
             "-X", "GET", "-o", "/dev/null", "-w", "%{http_code}",
             "URL/hello.txt")
    assert r.stdout == b"200"


def test_chunked_request_answered_then_closed(site):
    d = site()
    c = client(d)
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    status, h, body = c.response()
    assert status == 200 and body == b"hello\n"
    assert h["connection"] == "close"
    assert c.closed()


@pytest.mark.parametrize("raw,status", [
    (b"GET /\r\n", 400),                                  # HTTP/0.9
    (b"GET /hello.txt\r\n\r\n", 400),                     # HTTP/0.9
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n", 400),  # TLS hello
    (b"GET / HTTP/1.1\r\n\r\n", 400),                     # no Host
    (b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    (b"GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET hello.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\n\r\n", 505),
])
def test_malformed_requests(site, raw, status):
    d = site()
    c = client(d)
    c.send(raw + b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    got, h, body = c.response()
    assert got == status
    assert h["connection"] == "close"
    assert h["content-type"] == "text/html; charset=utf-8"
    assert b"<title>%d " % status in body
    assert c.closed()


def test_uri_too_long_and_headers_too_large(site):
    d = site('max_request = 1024;')
    c = client(d)
    c.send(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    status, h, body = c.response()
    assert status == 414 and h["connection"] == "close"
    assert c.closed()

    c = client(d)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n" +
           b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(40)) +
           b"\r\n")
    status, h, body = c.response()
    assert status == 431 and h["connection"] == "close"
    assert c.closed()

    # Just under the limit is fine.
    c = client(d)
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 900 +
           b"\r\n\r\n")
    assert c.response()[0] == 200

    # The default limit is 8192 bytes.
    d2 = site(root=d.root)
    c = client(d2)
    c.send(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert c.response()[0] == 414
    c = client(d2)
    assert c.get("/" + "a" * 7000)[0] == 404


def test_incomplete_request_gets_408(site):
    d = site("idle_timeout = 1;")
    c = client(d)
    c.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n")
    status, h, body = c.response()
    assert status == 408 and h["connection"] == "close"
    assert b"408 Request Timeout" in body
    assert c.closed()

    # A connection that never sends anything gets it too.
    c = client(d)
    assert c.response()[0] == 408
    assert c.closed()


def closed_after(c, least, most):
    """Waits for the server to close c without a word; fails unless that
    happens between least and most seconds from now."""
    t0 = time.monotonic()
    assert assert_closed(c.s, timeout=most + 1) == b""
    took = time.monotonic() - t0
    assert least <= took <= most, "closed after %.2f s" % took


def test_keepalive_timeout_closes_idle_connection(site):
    d = site("keepalive_timeout = 1;")
    c = client(d)
    assert c.get("/hello.txt")[0] == 200
    closed_after(c, 0.7, 2.5)

    # The wait starts again after every response.
    c = client(d)
    for _ in range(3):
        assert c.get("/hello.txt")[0] == 200
        time.sleep(0.6)
    assert c.get("/docs/")[0] == 200
    closed_after(c, 0.7, 2.5)


def test_keepalive_timeout_apart_from_idle_timeout(site):
    """keepalive_timeout bounds the wait between requests, idle_timeout
    a request in progress; neither cuts the other short."""
    d = site("keepalive_timeout = 3; idle_timeout = 1;")
    c = client(d)
    assert c.get("/hello.txt")[0] == 200
    time.sleep(1.8)
    assert c.get("/hello.txt")[2] == b"hello\n"
    closed_after(c, 2.3, 4.5)

    c = client(d)
    assert c.get("/hello.txt")[0] == 200
    c.send(b"GET /hello.txt HTTP/1.1\r\n")
    t0 = time.monotonic()
    status, h, body = c.response()
    assert status == 408 and h["connection"] == "close"
    assert 0.7 <= time.monotonic() - t0 <= 2.5
    assert c.closed()

    # Without keepalive_timeout, the default of 15 s holds a connection
    # that idle_timeout alone would have closed after 1 s.
    d = site("idle_timeout = 1;", root=d.root)
    c = client(d)
    assert c.get("/hello.txt")[0] == 200
    time.sleep(1.8)
    assert c.get("/hello.txt")[2] == b"hello\n"


def test_keepalive_timeout_zero_closes_after_each_response(site):
    d = site("keepalive_timeout = 0;")
    for version, headers in (("1.1", ""),
                             ("1.0", "Connection: keep-alive\r\n")):
        c = client(d)
        status, h, body = c.get("/hello.txt", version=version,
                                headers=headers)
        assert status == 200 and body == b"hello\n"
        assert h["connection"] == "close"
        assert c.closed()


def test_error_pages(site):
    d = site()
    status, h, body = get(d, "/nope.txt")
    assert status == 404
    assert h["content-type"] == "text/html; charset=utf-8"
    assert b"<title>404 Not Found</title>" in body
    assert int(h["content-length"]) == len(body)
    assert "connection" not in h


# --- path safety -------------------------------------------------------------

TRAVERSALS = [
    "/../outside/secret.txt",
    "/../../../../etc/passwd",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E/%2e%2e/etc/passwd",
    "/..%2foutside%2fsecret.txt",
    "/docs/..%2f..%2foutside/secret.txt",
    "/%252e%252e/outside/secret.txt",
    "/docs/../../outside/secret.txt",
    "/docs/%2e%2e/%2e%2e/outside/secret.txt",
    "/abs-escape",
    "/rel-escape",
    "/dir-escape/secret.txt",
    "/dir-escape/",
    "/hello.txt%00.png",
    "/.hidden",
    "/.git/config",
    "/.git/",
    "/docs/.secret",
    "/%2ehidden",
    "/docs%2fa.txt",
    "http://t/../outside/secret.txt",
    "http://t/%2e%2e/outside/secret.txt",
    "http://t/abs-escape",
    "/fifo",
    "/hello.txt/",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_root_or_hidden(site, path):
    d = site()
    c = client(d)
    status, h, body = c.get(path)
    assert status == 404, (path, status, body[:200])
    assert SECRET not in body and b"root:" not in body
    # The connection is fine afterwards.
    assert c.get("/hello.txt")[2] == b"hello\n"


def test_traversal_with_curl(site):
    d = site()
    for path in ("/../outside/secret.txt", "/%2e%2e/outside/secret.txt",
                 "/abs-escape", "/.hidden"):
        r = curl(d, "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                 "URL" + path)
        assert r.stdout == b"404", path


def test_symlinks_inside_root_are_followed(site):
    d = site()
    assert get(d, "/inlink")[2] == b"hello\n"
    assert get(d, "/docs/uplink")[2] == b"hello\n"


def test_absolute_form_and_dot_segments(site):
    d = site()
    assert get(d, "http://example.org/hello.txt")[2] == b"hello\n"
    assert get(d, "http://example.org:8080/docs/a.txt?x")[2] == b"a\n"
    assert get(d, "/docs/../hello.txt")[2] == b"hello\n"
    assert get(d, "/docs/./a.txt")[2] == b"a\n"
    assert get(d, "//docs//a.txt")[2] == b"a\n"
    assert get(d, "/%68ello.txt")[2] == b"hello\n"
    assert get(d, "/docs/sp%20ace.txt")[2] == b"space\n"
    assert get(d, "/docs/%C3%BCber.txt")[2] == b"umlaut\n"


NO_OPENAT2 = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/syscall.h>
long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	va_list ap;
	long a[6];
	if (nr == SYS_openat2) {
		errno = ENOSYS;
		return -1;
	}
	if (real == NULL)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
"""


def test_without_openat2_no_symlink_is_followed(site, tmp_path):
    """On a kernel without openat2 the path is walked with O_NOFOLLOW."""
    if os.environ.get("MULTID_SANITIZE"):
        pytest.skip("an LD_PRELOAD shim does not mix with ASan")
    src = tmp_path / "no_openat2.c"
    src.write_text(NO_OPENAT2)
    lib = tmp_path / "no_openat2.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src),
                    "-ldl"], check=True, timeout=60)
    d = site(env={"LD_PRELOAD": str(lib)})
    assert get(d, "/hello.txt")[2] == b"hello\n"
    assert get(d, "/docs/inner/deep.txt")[2] == b"deep\n"
    assert get(d, "/sub/")[2] == b"<h1>sub index</h1>\n"
    text, entries = parse_listing(get(d, "/")[2])
    assert [e[0] for e in entries] == ["docs/", "sub/", "big.bin", "empty.txt",
                                       "hello.txt", "page.html", "small.bin"]
    for path in ("/abs-escape", "/rel-escape", "/dir-escape/secret.txt",
                 "/inlink", "/docs/uplink", "/../outside/secret.txt", "/fifo"):
        status, h, body = get(d, path)
        assert status == 404 and SECRET not in body, path


def test_unreadable_file_is_403(site):
    if os.geteuid() == 0:
        pytest.skip("root reads every file regardless of its mode")
    d = site()
    p = os.path.join(d.root, "locked.txt")
    with open(p, "w") as f:
        f.write("x")
    os.chmod(p, 0)
    assert get(d, "/locked.txt")[0] == 403


# --- directories ---------------------------------------------------------------

def test_directory_redirects_keep_query(site):
    d = site()
    status, h, body = get(d, "/docs")
    assert status == 301 and h["location"] == "/docs/"
    status, h, body = get(d, "/docs?format=json&x=1")
    assert status == 301 and h["location"] == "/docs/?format=json&x=1"
    status, h, body = get(d, "//docs/inner")
    assert status == 301 and h["location"] == "/docs/inner/"
    r = curl(d, "-L", "URL/docs/inner")
    assert b"deep.txt" in r.stdout


def test_index_file_served(site):
    d = site()
    status, h, body = get(d, "/sub/")
    assert status == 200 and body == b"<h1>sub index</h1>\n"
    assert h["content-type"] == "text/html; charset=utf-8"
    assert "etag" in h and "last-modified" in h


def test_index_list_and_autoindex_off(site):
    d = site('autoindex = false; index = ( "page.html", "hello.txt" );')
    assert get(d, "/")[2] == b"<h1>page</h1>\n"
    status, h, body = get(d, "/docs/")
    assert status == 403 and b"403 Forbidden" in body
    assert get(d, "/sub/")[0] == 403     # index.html is not in the list
    assert get(d, "/docs/a.txt")[2] == b"a\n"


LINE_RE = re.compile(r'^<a href="([^"]*)">([^<]*)</a>( *) '
                     r'(\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d) +(-|\d+)$')


def parse_listing(body):
    text = body.decode()
    lines = text.split("\r\n")
    entries = []
    for line in lines:
        if line.startswith("<h1>"):
            line = line.split("<pre>", 1)[1]
        m = LINE_RE.match(line)
        if m:
            entries.append(m.groups())
    return text, entries


def test_html_listing(site):
    d = site()
    status, h, body = get(d, "/docs/")
    assert status == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    text, entries = parse_listing(body)
    assert "<title>Index of /docs/</title>" in text
    assert "<h1>Index of /docs/</h1>" in text
    assert '<a href="../">../</a>' in text
    hrefs = [e[0] for e in entries]
    shown = [e[1] for e in entries]
    # Directories first, then files sorted by name (bytewise).
    names = ["inner", "L" * 60 + ".txt", "a&b <c>.txt", "a.txt", "b.txt",
             "q?x#y%z.txt", "sp ace.txt", "uplink", "\u00fcber.txt"]
    assert hrefs == ["inner/", "L" * 60 + ".txt", "a%26b%20%3Cc%3E.txt",
                     "a.txt", "b.txt", "q%3Fx%23y%25z.txt", "sp%20ace.txt",
                     "uplink", "%C3%BCber.txt"]
    assert shown[0] == "inner/"
    assert shown[1] == "L" * 47 + "..&gt;"          # cut to 50 columns
    assert shown[2] == "a&amp;b &lt;c&gt;.txt"
    assert ".secret" not in text
    for (href, shown_name, pad, when, size), name in zip(entries, names):
        if href.endswith("/"):
            assert size == "-"
        else:
            st = os.stat(os.path.join(d.root, "docs", name))
            assert size == str(st.st_size)
            assert when == time.strftime("%d-%b-%Y %H:%M",
                                         time.gmtime(st.st_mtime))
    # Every link works.
    for href in hrefs:
        assert get(d, "/docs/" + href)[0] == 200, href


def test_root_listing(site):
    d = site()
    text, entries = parse_listing(get(d, "/")[2])
    assert "<h1>Index of /</h1>" in text
    assert 'href="../"' not in text
    hrefs = [e[0] for e in entries]
    assert hrefs == ["docs/", "sub/", "big.bin", "empty.txt", "hello.txt",
                     "inlink", "page.html", "small.bin"]
    for hidden in (".hidden", ".git", "abs-escape", "rel-escape",
                   "dir-escape", "fifo"):
        assert hidden not in text


def test_json_listing(site):
    d = site()
    status, h, body = get(d, "/docs/?format=json")
    assert status == 200 and h["content-type"] == "application/json"
    entries = json.loads(body)
    assert [e["name"] for e in entries] == [
        "inner", "L" * 60 + ".txt", "a&b <c>.txt", "a.txt", "b.txt",
        "q?x#y%z.txt", "sp ace.txt", "uplink", "\u00fcber.txt"]
    for e in entries:
        assert re.fullmatch(DATE_RE, e["mtime"])
        st = os.stat(os.path.join(d.root, "docs", e["name"]))
        assert e["type"] == ("directory" if e["name"] == "inner" else "file")
        # As nginx, directories have no size.
        if e["type"] == "file":
            assert set(e) == {"name", "type", "mtime", "size"}
            assert e["size"] == st.st_size
        else:
            assert set(e) == {"name", "type", "mtime"}
        assert e["mtime"] == email.utils.formatdate(st.st_mtime, usegmt=True)
    # An index file wins over the listing.
    assert get(d, "/sub/?format=json")[2] == b"<h1>sub index</h1>\n"
    assert json.loads(get(d, "/docs/inner/?format=json")[2]) == [
        {"name": "deep.txt", "type": "file", "size": 5,
         "mtime": email.utils.formatdate(
             os.stat(os.path.join(d.root, "docs/inner/deep.txt")).st_mtime,
             usegmt=True)}]


def test_listing_of_names_beyond_ascii(site, tmp_path):
    """Names are counted in characters for the HTML columns, and a name
    that is not UTF-8 still gives valid JSON (U+FFFD for the bad byte)."""
    root = tmp_path / "names"
    root.mkdir()
    for name in (b"plain.txt", "\u00fcber.txt".encode(), b"bad\xff.txt"):
        with open(os.path.join(bytes(root), name), "wb") as f:
            f.write(b"x")
    d = site(root=str(root))
    entries = json.loads(get(d, "/?format=json")[2])
    assert [e["name"] for e in entries] == [
        "bad\ufffd.txt", "plain.txt", "\u00fcber.txt"]
    lines = get(d, "/")[2].decode(errors="replace").split("\r\n")
    rows = [m.groups() for m in (LINE_RE.match(l.split("<pre>")[-1])
                                 for l in lines) if m]
    assert [r[0] for r in rows] == ["bad%FF.txt", "plain.txt", "%C3%BCber.txt"]
    assert {len(r[1]) + len(r[2]) for r in rows} == {len("plain.txt") + len(rows[1][2])}


def test_listing_follows_changes(site):
    d = site()
    before = get(d, "/docs/")[2]
    assert b"new.txt" not in before
    with open(os.path.join(d.root, "docs", "new.txt"), "w") as f:
        f.write("new\n")
    assert b'href="new.txt"' in get(d, "/docs/")[2]
    assert any(e["name"] == "new.txt"
               for e in json.loads(get(d, "/docs/?format=json")[2]))
    os.unlink(os.path.join(d.root, "docs", "new.txt"))
    assert b"new.txt" not in get(d, "/docs/")[2]


def test_listing_of_many_entries(site, tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(300):
        (root / ("f%03d.txt" % i)).write_bytes(b"x" * i)
    d = site(root=str(root))
    for _ in range(3):   # the cached copy equals the first rendering
        text, entries = parse_listing(get(d, "/")[2])
        assert [e[0] for e in entries] == ["f%03d.txt" % i for i in range(300)]
        assert [e[4] for e in entries] == [str(i) for i in range(300)]


# --- conditionals and ranges ------------------------------------------------

def test_conditional_requests(site):
    d = site()
    status, h, body = get(d, "/hello.txt")
    etag, lm = h["etag"], h["last-modified"]
    c = client(d)
    status, h2, body = c.get("/hello.txt", headers="If-None-Match: %s\r\n" % etag)
    assert status == 304 and body == b"" and h2["etag"] == etag
    assert "content-length" not in h2
    status, h2, body = c.get("/hello.txt",
                             headers='If-None-Match: "x", W/%s\r\n' % etag)
    assert status == 304
    status, h2, body = c.get("/hello.txt", headers="If-None-Match: *\r\n")
    assert status == 304
    status, h2, body = c.get("/hello.txt", headers="If-Modified-Since: %s\r\n" % lm)
    assert status == 304 and h2["last-modified"] == lm
    status, h2, body = c.get("/hello.txt", headers=(
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"))
    assert status == 200 and body == b"hello\n"
    # If-None-Match wins over If-Modified-Since.
    status, h2, body = c.get("/hello.txt", headers=(
        'If-None-Match: "other"\r\nIf-Modified-Since: %s\r\n' % lm))
    assert status == 200
    status, h2, body = c.get("/hello.txt",
                             headers="If-Modified-Since: garbage\r\n")
    assert status == 200
    # A changed file is sent again.
    p = os.path.join(d.root, "hello.txt")
    os.utime(p, (time.time() + 10, time.time() + 10))
    status, h2, body = c.get("/hello.txt", headers="If-Modified-Since: %s\r\n" % lm)
    assert status == 200 and h2["etag"] != etag


def test_byte_ranges(site):
    d = site()
    big = read_file(d.root, "big.bin")
    size = len(big)
    c = client(d)
    cases = [("bytes=0-9", 0, 9), ("bytes=100-", 100, size - 1),
             ("bytes=-500", size - 500, size - 1),
             ("bytes=1000-999999", 1000, size - 1),
             ("bytes=200000-200000", 200000, 200000)]
    for spec, a, b in cases:
        status, h, body = c.get("/big.bin", headers="Range: %s\r\n" % spec)
        assert status == 206, spec
        assert h["content-range"] == "bytes %d-%d/%d" % (a, b, size)
        assert int(h["content-length"]) == b - a + 1
        assert body == big[a:b + 1]
    for spec in ("bytes=%d-" % size, "bytes=-0", "bytes=999999999-"):
        status, h, body = c.get("/big.bin", headers="Range: %s\r\n" % spec)
        assert status == 416, spec
        assert h["content-range"] == "bytes */%d" % size
    # Several ranges, or nonsense: the whole file.
    for spec in ("bytes=0-1,5-6", "bytes=9-1", "lines=1-2"):
        status, h, body = c.get("/big.bin", headers="Range: %s\r\n" % spec)
        assert status == 200 and body == big
    # If-Range: the range holds only for the same version.
    etag = c.get("/big.bin", method="HEAD")[1]["etag"]
    status, h, body = c.get("/big.bin", headers=(
        "Range: bytes=0-3\r\nIf-Range: %s\r\n" % etag))
    assert status == 206 and body == big[:4]
    status, h, body = c.get("/big.bin", headers=(
        'Range: bytes=0-3\r\nIf-Range: "old"\r\n'))
    assert status == 200 and body == big
    # Small files too; curl agrees.
    status, h, body = c.get("/hello.txt", headers="Range: bytes=1-3\r\n")
    assert status == 206 and body == b"ell"
    r = curl(d, "-r", "5-9", "URL/big.bin")
    assert r.stdout == big[5:10]
    status, h, body = c.get("/empty.txt", headers="Range: bytes=0-\r\n")
    assert status == 416 and h["content-range"] == "bytes */0"


# --- big files, mirroring, limits, reload -------------------------------------

def test_big_sparse_file_streams_with_bounded_memory(site, tmp_path):
    d = site()
    size = 50 * 1024 * 1024
    p = os.path.join(d.root, "sparse.img")
    with open(p, "wb") as f:
        f.truncate(size)
        for off in (0, 12345678, size - 7):
            f.seek(off)
            f.write(b"MARKER!")
    with open(p, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    rss_before = d.rss_kb()
    c = client(d, timeout=30)
    c.send(b"GET /sparse.img HTTP/1.1\r\nHost: t\r\n\r\n")
    while b"\r\n\r\n" not in c.buf:
        c._fill()
    head, rest = c.buf.split(b"\r\n\r\n", 1)
    assert b"Content-Length: %d" % size in head
    h = hashlib.sha256(rest)
    got = len(rest)
    peak = 0
    while got < size:
        chunk = c.s.recv(1 << 16)
        assert chunk
        h.update(chunk)
        got += len(chunk)
        if got > size // 2 and peak == 0:
            peak = d.rss_kb()
    assert got == size and h.hexdigest() == want
    if not os.environ.get("MULTID_SANITIZE"):   # ASan keeps freed memory
        assert peak - rss_before < 16 * 1024, (rss_before, peak)
    r = curl(d, "URL/sparse.img")
    assert hashlib.sha256(r.stdout).hexdigest() == want


def test_wget_mirror(site, tmp_path):
    assert shutil.which("wget"), "wget is not installed (make deps-test)"
    d = site()
    host, port = d.addr("web")
    out = tmp_path / "mirror"
    r = subprocess.run(["wget", "-q", "-r", "-np", "-nH", "-e", "robots=off",
                        "-P", str(out), "http://%s:%d/docs/" % (host, port)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name in ("a.txt", "b.txt", "a&b <c>.txt", "sp ace.txt", "inner/deep.txt",
                 "L" * 60 + ".txt", "\u00fcber.txt", "uplink"):
        src = "hello.txt" if name == "uplink" else "docs/" + name
        with open(os.path.join(out, "docs", name), "rb") as f:
            assert f.read() == read_file(d.root, src), name
    assert not os.path.exists(os.path.join(out, "docs", ".secret"))


def test_busy_gets_503(site):
    d = site("max_connections = 1;")
    c = client(d)
    assert c.get("/hello.txt")[0] == 200
    c2 = client(d)
    status, h, body = Client(c2.s).response()
    assert status == 503
    c2.s.close()
    assert c.get("/hello.txt")[0] == 200


# --- protocol = "course" ----------------------------------------------------

COURSE = "127.0.0.2"


@pytest.fixture
def course_site(tmp_path, start):
    """The tree of make_tree served on 127.0.0.1 with the default protocol
    and on 127.0.0.2 with the course's."""
    root, _ = make_tree(str(tmp_path))
    d = start(config(service(
        "web", "http", ["tcp://127.0.0.1:0",
                        listen_group("tcp://%s:0" % COURSE, "course")],
        'root = "%s"; %s' % (root, "max_connections = 2;"))))
    d.root = root
    return d


def course_exchange(d, request, most=2.0):
    """Sends request on a new connection to the course listener in one
    send(), as the course's clients do, and reads until the server closes;
    fails unless that takes less than `most` seconds.  Returns the bytes."""
    d._parse_listeners()
    port = [p for k, h, p in d.listeners["web"] if h == COURSE][0]
    s = socket.create_connection((COURSE, port), timeout=5)
    try:
        t0 = time.monotonic()
        s.sendall(request)
        data = assert_closed(s, timeout=most)
        assert time.monotonic() - t0 < most
        return data
    finally:
        s.close()


def parse_all(data, head=False):
    """Every response in data, the whole of what a connection sent (a
    response cut short fails on the missing socket)."""
    c = Client(None)
    c.buf, out = data, []
    while c.buf:
        out.append(c.response(head=head))
    return out


def test_course_protocol_closes_after_each_response(course_site):
    d = course_site
    # HTTP/1.1 without "Connection: close": persistent by default, but not
    # on the course's socket.
    [(status, h, body)] = parse_all(course_exchange(
        d, b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert status == 200 and body == b"hello\n"
    assert h["connection"] == "close"

    # The course's own client: bare LF, an upper-case header name.
    [(status, h, body)] = parse_all(course_exchange(
        d, b"GET / HTTP/1.1\nHOST: t\n\n"))
    assert status == 200 and h["connection"] == "close"
    assert b"<title>Index of /</title>" in body

    for request, want in (
            (b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
             200),
            (b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n", 200),
            (b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404),
            (b"GET /docs HTTP/1.1\r\nHost: t\r\n\r\n", 301),
            (b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n", 405)):
        [(status, h, body)] = parse_all(course_exchange(d, request),
                                        head=request.startswith(b"HEAD"))
        assert status == want and h["connection"] == "close", request

    # Pipelined requests: the first is answered, and the connection ends.
    data = course_exchange(d, b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
                           b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n")
    [(status, h, body)] = parse_all(data)
    assert body == b"hello\n"

    # A big file is sent whole before the close.
    [(status, h, body)] = parse_all(course_exchange(
        d, b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"))
    assert body == read_file(d.root, "big.bin")


def test_default_protocol_beside_course_keeps_alive(course_site):
    d = course_site
    c = client(d)
    assert d.addr("web")[0] == "127.0.0.1"
    for _ in range(3):
        status, h, body = c.get("/hello.txt")
        assert status == 200 and "connection" not in h
    # Still open: nothing arrives and no close within a moment.
    c.s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        c.s.recv(1)
    c.s.settimeout(5)
    assert c.get("/page.html")[2] == b"<h1>page</h1>\n"


def test_course_busy_gets_503(course_site):
    d = course_site
    c1, c2 = client(d), client(d)
    assert c1.get("/hello.txt")[0] == 200 and c2.get("/hello.txt")[0] == 200
    data = course_exchange(d, b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 503 ")


def test_reload_changes_root(site, tmp_path):
    d = site()
    other = tmp_path / "other"
    other.mkdir()
    (other / "only-here.txt").write_bytes(b"other\n")
    assert b"hello.txt" in get(d, "/")[2]
    d.reload(config(service("web", "http", ["tcp://127.0.0.1:0"],
                            'root = "%s";' % other)))
    assert get(d, "/only-here.txt")[2] == b"other\n"
    text, entries = parse_listing(get(d, "/")[2])
    assert [e[0] for e in entries] == ["only-here.txt"]


def test_ipv6(start, tmp_path):
    root, _ = make_tree(str(tmp_path))
    try:
        d = start(config(service("web", "http", ["tcp://[::1]:0"],
                                 'root = "%s";' % root)))
    except RuntimeError as e:
        pytest.skip("no IPv6 loopback: %s" % e)
    c = Client(d.connect("web", family=socket.AF_INET6))
    assert c.get("/hello.txt")[2] == b"hello\n"


def test_config_errors(tmp_path):
    from multid import run_multid
    conf = tmp_path / "m.conf"
    conf.write_text(config(service("web", "http", ["tcp://127.0.0.1:0"], "")))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "root" in r.stderr
    conf.write_text(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                   'root = "nowhere";')))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1 and "nowhere" in r.stderr
    conf.write_text(config(service("web", "http", ["udp://127.0.0.1:0"],
                                   'root = ".";')))
    assert run_multid(["-t", "-c", str(conf)]).returncode == 1
    conf.write_text(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                   'root = "."; index = ( "../x" );')))
    assert run_multid(["-t", "-c", str(conf)]).returncode == 1
    conf.write_text(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                   'root = "."; max_request = 10;')))
    assert run_multid(["-t", "-c", str(conf)]).returncode == 1
    for bad in ("-1", "86401", '"15"'):
        conf.write_text(config(service(
            "web", "http", ["tcp://127.0.0.1:0"],
            'root = "."; keepalive_timeout = %s;' % bad)))
        r = run_multid(["-t", "-c", str(conf)])
        assert r.returncode == 1 and "keepalive_timeout" in r.stderr, bad
    conf.write_text(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                   'root = "."; autoindex = false;')))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr


def test_many_requests_fd_stable(site):
    d = site()
    c = client(d)
    for i in range(20):
        c.get("/big.bin")
        c.get("/docs/")
        c.get("/nope")
    before = d.fd_count()
    for i in range(200):
        assert c.get(("/big.bin", "/hello.txt", "/docs/", "/nope")[i % 4])[0] \
            in (200, 404)
    assert d.fd_count() <= before
