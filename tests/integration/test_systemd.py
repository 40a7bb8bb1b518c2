"""systemd integration (SPEC section 5): socket activation through
systemd-socket-activate, sd_notify messages on a NOTIFY_SOCKET of our own,
the watchdog, the journal's priority prefixes, and the privilege drop."""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from multid import (BIN, Daemon, config, recv_all, recv_exactly, run_multid,
                    service)

SSA = shutil.which("systemd-socket-activate")
needs_ssa = pytest.mark.skipif(SSA is None,
                               reason="systemd-socket-activate missing")


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def activate(*sockets, datagram=False):
    """A systemd-socket-activate command line for (address, name) pairs;
    name None leaves the socket unnamed."""
    cmd = [SSA]
    if datagram:
        cmd.append("--datagram")
    for addr, _ in sockets:
        cmd += ["-l", addr]
    names = [n for _, n in sockets if n]
    if names:
        cmd.append("--fdname=" + ":".join(names))
    return cmd + ["-E", "NOTIFY_SOCKET"]


def wait_activator(d, timeout=5):
    """Waits until systemd-socket-activate has bound its sockets."""
    deadline = time.time() + timeout
    while "Listening on" not in d.stderr():
        assert time.time() < deadline, d.stderr()
        time.sleep(0.02)


def trigger_tcp(port):
    """systemd-socket-activate starts the daemon on the first connection;
    that connection is then the daemon's first client."""
    deadline = time.time() + 5
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def wait_started(d):
    d.wait_note("READY=1")
    d._parse_listeners()


def listening(d):
    return re.findall(r"^(\S+) listening on (\S+)$", d.stderr(), re.M)


@pytest.fixture
def spawn(tmp_path):
    started = []

    def _spawn(conf, **kw):
        sub = tmp_path / ("d%d" % len(started))
        sub.mkdir()
        kw.setdefault("wait", False)
        d = Daemon(sub, conf, **kw)
        started.append(d)
        return d

    yield _spawn
    for d in started:
        if d.alive():
            d.stop()
        else:
            d.cleanup()


# --- socket activation ------------------------------------------------------

@needs_ssa
def test_named_tcp_socket_is_used(spawn):
    port = free_port()
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:0"]),
                  service("time", "time", ["tcp://127.0.0.1:0"]))
    d = spawn(conf, wrapper=activate(("127.0.0.1:%d" % port, "echo")))
    first = trigger_tcp(port)
    wait_started(d)
    # The passed socket replaces the entry; the other service is bound.
    lines = listening(d)
    assert ("echo", "tcp://127.0.0.1:%d" % port) in lines
    assert len([n for n, _ in lines if n == "echo"]) == 1
    assert len([n for n, _ in lines if n == "time"]) == 1
    first.sendall(b"activated\n")
    assert recv_exactly(first, 10) == b"activated\n"
    first.close()
    assert len(recv_exactly(d.connect("time"), 4)) == 4
    assert d.stop() == 0


@needs_ssa
def test_unnamed_socket_matched_by_address(spawn):
    port = free_port()
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:%d" % port,
                                           "tcp://[::1]:0"]))
    d = spawn(conf, wrapper=activate(("127.0.0.1:%d" % port, None)))
    first = trigger_tcp(port)
    wait_started(d)
    assert ("echo", "tcp://127.0.0.1:%d" % port) in listening(d)
    first.sendall(b"by address\n")
    assert recv_exactly(first, 11) == b"by address\n"
    first.close()
    with d.connect("echo", family=socket.AF_INET6) as s:
        s.sendall(b"six\n")
        assert recv_exactly(s, 4) == b"six\n"


@needs_ssa
def test_datagram_socket(spawn):
    port = free_port(socket.SOCK_DGRAM)
    conf = config(service("echo", "echo", ["udp://127.0.0.1:0",
                                           "tcp://127.0.0.1:0"]))
    d = spawn(conf, wrapper=activate(("127.0.0.1:%d" % port, "echo"),
                                     datagram=True))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    wait_activator(d)
    # The datagram that starts the daemon is answered by it.
    u.sendto(b"wake up", ("127.0.0.1", port))
    wait_started(d)
    assert u.recvfrom(100)[0] == b"wake up"
    assert ("echo", "udp://127.0.0.1:%d" % port) in listening(d)
    u.sendto(b"again", ("127.0.0.1", port))
    assert u.recvfrom(100)[0] == b"again"
    u.close()
    with d.connect("echo") as s:
        s.sendall(b"tcp bound by multid\n")
        assert recv_exactly(s, 20) == b"tcp bound by multid\n"


@needs_ssa
def test_tcp_and_udp_from_systemd(spawn):
    """Two activators in a row pass a UDP and a TCP socket on one port,
    as a .socket unit with ListenStream= and ListenDatagram= does."""
    port = free_port()
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:%d" % port,
                                           "udp://127.0.0.1:%d" % port]))
    outer = [SSA, "--datagram", "-l", "127.0.0.1:%d" % port,
             "-E", "NOTIFY_SOCKET"]
    inner = activate(("127.0.0.1:%d" % port, "echo:echo"))
    d = spawn(conf, wrapper=outer + inner)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    wait_activator(d)
    u.sendto(b"first", ("127.0.0.1", port))
    wait_started(d)
    assert u.recvfrom(100)[0] == b"first"
    u.close()
    lines = listening(d)
    assert ("echo", "tcp://127.0.0.1:%d" % port) in lines
    assert ("echo", "udp://127.0.0.1:%d" % port) in lines
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"stream\n")
        assert recv_exactly(s, 7) == b"stream\n"


@needs_ssa
def test_stray_socket_exits_3(tmp_path):
    port = free_port()
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("echo", "echo", ["tcp://127.0.0.1:0"])))
    proc = subprocess.Popen(
        activate(("127.0.0.1:%d" % port, "nothing")) + [BIN, "-c", str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        trigger_tcp(port).close()
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3
    # systemd-socket-activate's own lines come first; multid says one.
    ours = [l for l in err.splitlines() if "passed by systemd" in l]
    assert ours == ["socket tcp://127.0.0.1:%d (FileDescriptorName=nothing) "
                    "passed by systemd matches no service" % port], err
    assert "listening on" not in err


@needs_ssa
def test_reload_keeps_and_reuses_passed_sockets(spawn):
    port = free_port()
    echo = service("echo", "echo", ["tcp://127.0.0.1:%d" % port])
    time_ = service("time", "time", ["tcp://127.0.0.1:0"])
    d = spawn(config(echo), wrapper=activate(("127.0.0.1:%d" % port,
                                              "echo")))
    keep = trigger_tcp(port)
    wait_started(d)
    keep.sendall(b"one\n")
    assert recv_exactly(keep, 4) == b"one\n"
    # Unchanged: the passed socket and the connection stay.
    d.reload(config(echo, time_))
    assert "reload: 1 added, 0 removed, 0 changed, 1 unchanged" in d.stderr()
    keep.sendall(b"two\n")
    assert recv_exactly(keep, 4) == b"two\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"new\n")
        assert recv_exactly(s, 4) == b"new\n"
    # Removed: its connections close; the socket goes back to the pool.
    d.reload(config(time_))
    keep.settimeout(5)
    assert recv_all(keep) == b""
    keep.close()
    # Added again: the same passed socket serves it, no bind needed.
    d.reload(config(time_, echo))
    assert "reload: 1 added, 0 removed, 0 changed, 1 unchanged" in d.stderr()
    assert listening(d).count(("echo", "tcp://127.0.0.1:%d" % port)) == 2
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"back\n")
        assert recv_exactly(s, 5) == b"back\n"
    assert d.stop() == 0


# --- sd_notify --------------------------------------------------------------

def test_notify_sequence(start):
    d = start(config(service("echo", "echo", ["tcp://127.0.0.1:0"]),
                     service("time", "time", ["tcp://127.0.0.1:0"])))
    status = d.wait_note("STATUS=")
    assert "STATUS=2 services, 0 connections" in status
    conns = [d.connect("echo") for _ in range(3)]
    for c in conns:
        c.sendall(b"x")
        assert c.recv(1) == b"x"
    assert "STATUS=2 services, 3 connections" in d.wait_note("3 connections",
                                                               timeout=5)
    for c in conns:
        c.close()
    d.wait_note("0 connections", timeout=5)
    d.reload()
    d.signal(signal.SIGTERM)
    assert d.wait_note("STOPPING=1") == "STOPPING=1"
    d.proc.wait(10)
    assert d.proc.returncode == 0


def test_ready_only_after_listening(start):
    d = start(config(service("echo", "echo", ["tcp://127.0.0.1:0"])),
              wait=False)
    d.wait_note("READY=1")
    # By the time READY=1 arrives the socket accepts.
    d._parse_listeners()
    with d.connect("echo") as s:
        s.sendall(b"ok\n")
        assert recv_exactly(s, 3) == b"ok\n"


def count_notes(d, word, seconds):
    """Counts notes containing word within a time window."""
    n = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        d.notify.settimeout(max(0.01, deadline - time.time()))
        try:
            msg = d.notify.recv(4096).decode()
        except socket.timeout:
            break
        n += word in msg
    return n


def test_watchdog_pings(start):
    d = start(config(service("echo", "echo", ["tcp://127.0.0.1:0"])),
              env={"WATCHDOG_USEC": "200000"})
    # Every 100 ms: about ten in a second.
    assert count_notes(d, "WATCHDOG=1", 1.0) >= 5


def test_watchdog_pid_checked(tmp_path):
    """WATCHDOG_PID must name the daemon; a shell that execs multid knows
    its pid in advance."""
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:0"]))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ok = Daemon(tmp_path / "a", conf, env={"WATCHDOG_USEC": "200000"},
                wrapper=["sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"'],
                wait=False)
    other = Daemon(tmp_path / "b", conf, env={"WATCHDOG_USEC": "200000",
                                              "WATCHDOG_PID": "1"},
                   wait=False)
    try:
        ok.wait_note("READY=1")
        other.wait_note("READY=1")
        assert count_notes(ok, "WATCHDOG=1", 1.0) >= 5
        assert count_notes(other, "WATCHDOG=1", 1.0) == 0
    finally:
        assert ok.stop() == 0
        assert other.stop() == 0


def test_no_notify_socket_is_fine(tmp_path):
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("echo", "echo", ["tcp://127.0.0.1:0"])))
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([BIN, "-c", str(conf)], stderr=subprocess.PIPE,
                            env=env, text=True)
    line = proc.stderr.readline()
    assert "echo listening on tcp://127.0.0.1:" in line
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    assert proc.returncode == 0


# --- the journal's priority prefixes -----------------------------------------

def daemon_with_stderr_identity(tmp_path, journal_stream):
    """Starts multid whose stderr file exists beforehand, so its device and
    inode can go into JOURNAL_STREAM (the harness keeps the inode)."""
    sub = tmp_path / "j"
    sub.mkdir()
    errfile = sub / "stderr.log"
    errfile.write_bytes(b"")
    st = os.stat(errfile)
    value = journal_stream(st)
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:0"]),
                  daemon='log_level = "info";')
    return Daemon(sub, conf, env={"JOURNAL_STREAM": value})


def test_journal_stream_prefix(tmp_path):
    d = daemon_with_stderr_identity(
        tmp_path, lambda st: "%d:%d" % (st.st_dev, st.st_ino))
    try:
        d.reload()
        d.reload("services = ( oops")
    finally:
        assert d.stop() == 0
    lines = d.stderr().splitlines()
    assert lines, "no output"
    assert all(re.match(r"^<[0-7]>", l) for l in lines), lines
    assert re.search(r"^<5>echo listening on tcp://127\.0\.0\.1:\d+$",
                     d.stderr(), re.M)
    assert any(l.startswith("<5>reload: ") for l in lines)
    assert any(l.startswith("<3>") and "multid.conf:1" in l for l in lines)
    assert "<3>reload failed, configuration unchanged" in lines


@pytest.mark.parametrize("value", ["1:2", "garbage", "%d:%d:3"])
def test_journal_stream_mismatch_is_plain(tmp_path, value):
    def make(st):
        return value % (st.st_dev, st.st_ino) if "%" in value else value
    d = daemon_with_stderr_identity(tmp_path, make)
    try:
        d.reload()
    finally:
        assert d.stop() == 0
    text = d.stderr()
    assert not re.search(r"^<\d>", text, re.M), text
    assert re.search(r"^echo listening on ", text, re.M)


# --- the privilege drop ------------------------------------------------------

def low_free_port():
    """A free TCP port below 1024 on 127.0.0.1 (root only)."""
    for port in list(range(1007, 1024)) + list(range(900, 1000)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


def proc_ids(pid):
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in rest.split()]
    return ids


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_drop_to_nobody_after_binding_a_low_port():
    nobody = pwd.getpwnam("nobody")
    port = low_free_port()
    # The configuration must stay readable by nobody for reloads.
    top = tempfile.mkdtemp(prefix="multid-priv-")
    os.chmod(top, 0o755)
    conf = config(service("echo", "echo", ["tcp://127.0.0.1:%d" % port]),
                  daemon='user = "nobody";')
    d = Daemon(top, conf, notify_open=True)
    try:
        ids = proc_ids(d.pid)
        assert ids["Uid"] == [nobody.pw_uid] * 4
        assert ids["Gid"] == [nobody.pw_gid] * 4
        assert 0 not in ids["Groups"]
        assert "running as user nobody" in d.stderr()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"low port\n")
            assert recv_exactly(s, 9) == b"low port\n"
        # Root is gone: another port below 1024 cannot be bound, and the
        # reload applies nothing.
        other = low_free_port() if port != 1023 else 1022
        d.reload(config(service("echo", "echo",
                                ["tcp://127.0.0.1:%d" % port]),
                        service("time", "time",
                                ["tcp://127.0.0.1:%d" % other]),
                        daemon='user = "nobody";'))
        err = d.stderr()
        assert ("time: cannot bind tcp://127.0.0.1:%d: Permission denied"
                % other) in err
        assert "reload failed, configuration unchanged" in err
        # Unprivileged ports still work on reload.
        d.reload(config(service("echo", "echo",
                                ["tcp://127.0.0.1:%d" % port]),
                        service("time", "time", ["tcp://127.0.0.1:0"]),
                        daemon='user = "nobody";'))
        assert "reload: 1 added, 0 removed, 0 changed, 1 unchanged" in \
            d.stderr()
        assert len(recv_exactly(d.connect("time"), 4)) == 4
        assert proc_ids(d.pid)["Uid"] == [nobody.pw_uid] * 4
        assert d.stop() == 0
    finally:
        d.kill()
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_start_fails_cleanly_without_root_for_low_port(tmp_path):
    """A port below 1024 as nobody (setpriv) is a start failure, exit 3."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv missing")
    port = low_free_port()
    top = tempfile.mkdtemp(prefix="multid-priv-")
    os.chmod(top, 0o755)
    try:
        path = os.path.join(top, "multid.conf")
        with open(path, "w") as f:
            f.write(config(service("echo", "echo",
                                   ["tcp://127.0.0.1:%d" % port])))
        os.chmod(path, 0o644)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                            "--clear-groups", BIN, "-c", path],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 3
        assert r.stderr == ("echo: cannot bind tcp://127.0.0.1:%d: "
                            "Permission denied\n" % port)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_user_that_does_not_exist(tmp_path):
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("echo", "echo", ["tcp://127.0.0.1:0"]),
                           daemon='user = "no-such-user-xyz";'))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 1
    assert re.search(r'multid\.conf:1: daemon\.user: user "no-such-user-xyz" '
                     r'does not exist', r.stderr), r.stderr
    # At start the same mistake is a failure to start: exit 3, one line.
    r = run_multid(["-c", str(conf)])
    assert r.returncode == 3
    assert r.stderr.strip().splitlines()[-1] == \
        'daemon.user: user "no-such-user-xyz" does not exist', r.stderr
