"""Test harness: start the real multid binary with a temporary
configuration and talk to it over real sockets.

    d = Daemon(tmp_path, '''services = ( { name = "echo"; type = "echo";
                    listen = ( "tcp://127.0.0.1:0" ); } );''')
    s = d.connect("echo")        # TCP socket to the first tcp listener
    d.stop()                     # SIGTERM; returns the exit status

Ports are always ":0" in test configurations; the daemon's
"NAME listening on PROTO://ADDR:PORT" lines tell where they went.  Start-up
is complete when the daemon sends READY=1 to the NOTIFY_SOCKET we give it.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

BIN = os.environ.get("MULTID_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "multid")
LISTEN_RE = re.compile(r"^(\S+) listening on (tcp|udp|tls)://(.+):(\d+)$")


# Every Daemon started, so that conftest can check each one's stderr for
# sanitizer reports after the test, however the test started it.
STARTED = []


class Daemon:
    def __init__(self, tmp_path, config, env=None, args=None, wait=True,
                 timeout=10, wrapper=None, notify_open=False):
        """wrapper: a command line put in front of the binary (e.g.
        systemd-socket-activate ...).  notify_open: let any user send to
        the NOTIFY_SOCKET (for a daemon that drops root)."""
        STARTED.append(self)
        self.dir = str(tmp_path)
        self.conf = os.path.join(self.dir, "multid.conf")
        with open(self.conf, "w") as f:
            f.write(config)
        self.errpath = os.path.join(self.dir, "stderr.log")
        self.outpath = os.path.join(self.dir, "stdout.log")
        self.notify_path = os.path.join(
            tempfile.mkdtemp(prefix="mdn", dir="/tmp"), "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        if notify_open:
            os.chmod(os.path.dirname(self.notify_path), 0o711)
            os.chmod(self.notify_path, 0o666)
        self.notify.settimeout(timeout)
        self.notes = []
        e = dict(os.environ)
        e.pop("JOURNAL_STREAM", None)
        e.pop("LISTEN_FDS", None)
        e["NOTIFY_SOCKET"] = self.notify_path
        e.update(env or {})
        self.err = open(self.errpath, "wb")
        self.out = open(self.outpath, "wb")
        self.proc = subprocess.Popen(
            list(wrapper or []) + [BIN, "-c", self.conf] + (args or []),
            stdout=self.out,
            stderr=self.err, stdin=subprocess.DEVNULL, env=e)
        self.listeners = {}
        if wait:
            self.wait_note("READY=1", timeout)
            self._parse_listeners()

    # --- systemd notifications -------------------------------------------
    def wait_note(self, word, timeout=10):
        """Waits for a sd_notify message containing `word`."""
        deadline = time.time() + timeout
        for n in self.notes:
            if word in n:
                self.notes.remove(n)
                return n
        while time.time() < deadline:
            # Messages sent just before an exit are still read first.
            exited = self.proc.poll() is not None
            self.notify.settimeout(0 if exited else
                                   max(0.05, min(0.5, deadline - time.time())))
            try:
                msg = self.notify.recv(4096).decode()
            except (socket.timeout, BlockingIOError):
                if exited:
                    raise RuntimeError("multid exited with %s:\n%s" % (
                        self.proc.returncode, self.stderr()))
                continue
            if word in msg:
                return msg
            self.notes.append(msg)
        raise TimeoutError("no %s from multid:\n%s" % (word, self.stderr()))

    # --- what the daemon printed -----------------------------------------
    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def stdout(self):
        with open(self.outpath, "rb") as f:
            return f.read().decode(errors="replace")

    def _parse_listeners(self):
        self.listeners = {}
        for line in self.stderr().splitlines():
            m = LISTEN_RE.match(line.strip())
            if m:
                name, proto, host, port = m.groups()
                host = host.strip("[]")
                if host in ("*", "0.0.0.0"):
                    host = "127.0.0.1"
                elif host == "::":
                    host = "::1"
                self.listeners.setdefault(name, []).append(
                    (proto, host, int(port)))

    def addr(self, name, proto="tcp", family=None):
        """(host, port) of the service's first listener of that kind."""
        self._parse_listeners()
        for p, host, port in self.listeners.get(name, []):
            if p != proto:
                continue
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            if family is None or family == fam:
                return host, port
        raise KeyError("%s has no %s listener: %s" % (name, proto,
                                                      self.listeners))

    def port(self, name, proto="tcp"):
        return self.addr(name, proto)[1]

    # --- clients -----------------------------------------------------------
    def connect(self, name, family=None, timeout=5):
        host, port = self.addr(name, "tcp", family)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect((host, port))
        return s

    def udp(self, name, family=None, timeout=2):
        """A UDP socket connected to the service's first udp listener."""
        host, port = self.addr(name, "udp", family)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.connect((host, port))
        return s

    # --- process ---------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def wait_fds(self, most, timeout=10):
        """Waits until the daemon has at most `most` open files; returns
        how many it has then (more when the timeout passed first)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            n = self.fd_count()
            if n <= most:
                return n
            time.sleep(0.1)
        return self.fd_count()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, config=None, timeout=10):
        """Optionally rewrites the file, sends SIGHUP, waits for READY=1."""
        if config is not None:
            with open(self.conf, "w") as f:
                f.write(config)
        self.signal(signal.SIGHUP)
        self.wait_note("RELOADING=1", timeout)
        self.wait_note("READY=1", timeout)
        self._parse_listeners()

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.cleanup()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.cleanup()

    def cleanup(self):
        for f in (self.err, self.out):
            if not f.closed:
                f.close()
        try:
            self.notify.close()
            os.unlink(self.notify_path)
            os.rmdir(os.path.dirname(self.notify_path))
        except OSError:
            pass


def run_multid(args, timeout=10, env=None):
    """Runs multid to completion (for -t, -V, -h and start errors)."""
    e = dict(os.environ)
    e.pop("LISTEN_FDS", None)
    e.pop("NOTIFY_SOCKET", None)
    e.update(env or {})
    return subprocess.run([BIN] + args, capture_output=True, text=True,
                          timeout=timeout, env=e)


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_until(s, marker, limit=1 << 20):
    data = b""
    while marker not in data and len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def recv_all(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def service(name, type_, listen, extra=""):
    """One service group for a test configuration.  A listen entry that
    starts with "{" (see listen_group) is taken as it is."""
    lst = ", ".join(l if l.startswith("{") else '"%s"' % l for l in listen)
    return '{ name = "%s"; type = "%s"; listen = ( %s ); %s }' % (
        name, type_, lst, extra)


def listen_group(address, protocol):
    """A listen entry that names the protocol spoken on that socket."""
    return '{ address = "%s"; protocol = "%s"; }' % (address, protocol)


def config(*services, daemon=""):
    return "daemon = { %s };\nservices = (\n  %s\n);\n" % (
        daemon, ",\n  ".join(services))


# --- the shared line client ----------------------------------------------------

def assert_closed(sock, timeout=5.0, limit=1 << 20):
    """Fails unless the peer closes the connection (end of file or reset)
    within `timeout` seconds.  Whatever arrives before the close is read
    and returned; more than `limit` bytes of it fails too (a peer that
    keeps talking has not closed)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("peer did not close within %.1f s; read %r"
                                 % (timeout, data[-200:]))
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            raise AssertionError("peer sent more than %d bytes instead of "
                                 "closing: %r" % (limit, data[-200:]))


class LineClient:
    """One TCP connection that speaks in lines (or frames): send a line,
    read a line with a timeout, read until a predicate holds, expect the
    server to close.  `end` is appended to what send() sends; `sep` ends
    every reply (b"\\r\\n" for the line services, b"\\0" for NUL frames).

        c = LineClient(d, "guess")            # the service's first tcp listener
        c = LineClient.at(host, port)         # any address
        c.ask("stats") -> "* rounds 0 ..."
        c.expect_closed()

    Every read fails with AssertionError, naming what was read so far, when
    the connection closes or the timeout passes before a whole line."""

    def __init__(self, d=None, name=None, timeout=5.0, end=b"\n",
                 sep=b"\r\n", family=None, sock=None, rcvbuf=None):
        if sock is None:
            host, port = d.addr(name, "tcp", family)
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(fam, socket.SOCK_STREAM)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect((host, port))
        self.s = sock
        self.timeout = timeout
        self.end = end
        self.sep = sep
        self.buf = b""                  # received, not yet returned

    @classmethod
    def at(cls, host, port, timeout=5.0, **kw):
        """A client connected to host:port."""
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect((host, port))
        return cls(timeout=timeout, sock=sock, **kw)

    # --- sending ---
    def send(self, text):
        """Sends text (str or bytes) and the line end."""
        if isinstance(text, str):
            text = text.encode()
        self.s.sendall(text + self.end)

    def raw(self, data):
        """Sends bytes exactly as given."""
        self.s.sendall(data)

    # --- receiving ---
    def _fill(self, deadline, what):
        """Reads once more into the buffer, or fails at the deadline or
        on a close."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %s within %.1f s; have %r"
                                 % (what, self.timeout, self.buf[-300:]))
        self.s.settimeout(left)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            raise AssertionError("connection closed before %s; have %r"
                                 % (what, self.buf[-300:]))
        self.buf += chunk

    def line_bytes(self, timeout=None):
        """The next reply as bytes, without its separator."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self.sep not in self.buf:
            self._fill(deadline, "whole line")
        line, self.buf = self.buf.split(self.sep, 1)
        return line

    def line(self, timeout=None):
        """The next reply, decoded as UTF-8, without its separator."""
        return self.line_bytes(timeout).decode()

    def ask(self, text, timeout=None):
        """Sends a line and returns the next reply line."""
        self.send(text)
        return self.line(timeout)

    def read_until(self, pred, timeout=None, most=10000):
        """Reads lines until pred(line) is true; returns them all, the
        matching one last.  Fails after `most` lines or the timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        while len(lines) < most:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            lines.append(self.line(left))
            if pred(lines[-1]):
                return lines
        raise AssertionError("no line matched within %.1f s / %d lines: %r"
                             % (timeout or self.timeout, most, lines[-10:]))

    def recv_bytes(self, n, timeout=None):
        """Exactly n bytes (from the buffer first)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline, "%d bytes" % n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_some(self, timeout=None):
        """What the buffer holds, or else what one recv() returns (b"" at
        end of file); fails when nothing arrives within the timeout."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        self.s.settimeout(timeout or self.timeout)
        try:
            return self.s.recv(65536)
        except socket.timeout:
            raise AssertionError("nothing received within %.1f s"
                                 % (timeout or self.timeout))

    def expect_silence(self, wait=0.3):
        """Fails when anything arrives (or the connection closes) within
        `wait` seconds."""
        assert not self.buf, "unexpected %r" % self.buf
        self.s.settimeout(wait)
        try:
            data = self.s.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("expected silence, got %r" % data)

    def expect_closed(self, timeout=None):
        """Fails unless the server closes within the timeout; returns what
        was unread before the close (buffer included)."""
        rest, self.buf = self.buf, b""
        return rest + assert_closed(self.s, timeout or self.timeout)

    def shutdown(self):
        """Half-closes: the server sees the end of input."""
        self.s.shutdown(socket.SHUT_WR)

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
