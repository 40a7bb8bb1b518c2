"""The log service (SPEC section 3, log) with the clients people use:
logger(1) in both RFC formats, nc -u, and plain UDP sockets from IPv4 and
IPv6; stdout, file and journal output; truncation; reopen on SIGHUP; a
paced burst; and an output that cannot keep up."""
import calendar
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import time

import pytest

import multid
from multid import Daemon, config, run_multid, service

LINE_RE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z "
    r"(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):(\d+) "
    r"(emerg|alert|crit|err|warning|notice|info|debug) (.*)$")


def log_config(extra="", listen=("udp://127.0.0.1:0", "udp://[::1]:0")):
    return config(service("log", "log", list(listen), extra))


def wait_for(read, count, timeout=10):
    """Waits until read() returns at least count lines; returns them."""
    deadline = time.time() + timeout
    while True:
        lines = read().splitlines()
        if len(lines) >= count or time.time() > deadline:
            return lines
        time.sleep(0.02)


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="strict")
    except FileNotFoundError:
        return ""


def tails(lines):
    """The part after the address of each line: 'SEVERITY APP: MESSAGE'."""
    out = []
    for line in lines:
        m = LINE_RE.match(line)
        assert m, "malformed output line: %r" % line
        out.append("%s %s" % (m.group(5), m.group(6)))
    return out


def send(d, payloads, family=socket.AF_INET):
    """Sends each payload as one datagram from one socket; returns the
    socket's port."""
    host, port = d.addr("log", "udp", family)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        for p in payloads:
            s.send(p)
        return s.getsockname()[1]


def logger(d, *args, family=socket.AF_INET):
    host, port = d.addr("log", "udp", family)
    subprocess.run(["logger", "--udp", "-n", host, "-P", str(port)] +
                   list(args), check=True, timeout=10)


@pytest.fixture
def d(start):
    return start(log_config())


# --- the line format and the clients -------------------------------------

def test_logger_rfc5424(d):
    before = time.time()
    logger(d, "--rfc5424", "-t", "backup", "-p", "local0.notice", "done in 3s")
    lines = wait_for(d.stdout, 1)
    after = time.time()
    assert len(lines) == 1
    m = LINE_RE.match(lines[0])
    assert m, lines
    assert m.group(3) == "127.0.0.1" and 1024 <= int(m.group(4)) < 65536
    assert m.group(5) == "notice" and m.group(6) == "backup: done in 3s"
    stamp = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    stamp += int(m.group(2)) / 1000
    assert before - 1 <= stamp <= after + 1


def test_logger_rfc3164_with_pid_and_severities(d):
    logger(d, "--rfc3164", "-t", "cron", "-i", "-p", "user.err", "oops")
    logger(d, "--rfc3164", "-t", "kern", "-p", "kern.emerg", "panic")
    logger(d, "--rfc5424", "-t", "dbg", "-p", "daemon.debug", "deep")
    lines = wait_for(d.stdout, 3)
    assert sorted(tails(lines)) == sorted([
        "err cron: oops", "emerg kern: panic", "debug dbg: deep"])


def test_logger_multiline_stdin_and_ipv6(d):
    host, port = d.addr("log", "udp", socket.AF_INET6)
    subprocess.run(["logger", "--udp", "-n", host, "-P", str(port),
                    "--rfc3164", "-t", "multi"], input=b"first\nsecond\n",
                   check=True, timeout=10)
    lines = wait_for(d.stdout, 2)
    assert tails(lines) == ["notice multi: first", "notice multi: second"]
    assert all(LINE_RE.match(l).group(3) == "[::1]" for l in lines)


def test_nc_plain_lines(d):
    port = d.port("log", "udp")
    subprocess.run("printf 'hello world\\r\\nsecond line\\n\\n\\r\\nthird' | "
                   "nc -u -w1 127.0.0.1 %d" % port, shell=True, check=True,
                   timeout=10)
    lines = wait_for(d.stdout, 3)
    assert tails(lines) == ["info hello world", "info second line",
                            "info third"]
    # One datagram: one sender port on every line.
    assert len({LINE_RE.match(l).group(4) for l in lines}) == 1


def test_crlf_lines_from_nc_c(d):
    """nc -C ends every line with CRLF; the last CR ends the datagram."""
    port = d.port("log", "udp")
    subprocess.run("printf 'crlf one\\n' | nc -u -C -w1 127.0.0.1 %d" % port,
                   shell=True, check=True, timeout=10)
    send(d, [b"ends in cr\r"])
    lines = wait_for(d.stdout, 2)
    assert sorted(tails(lines)) == ["info crlf one", "info ends in cr"]


def test_ipv4_and_ipv6_sources(d):
    p4 = send(d, [b"<14>from four"])
    p6 = send(d, [b"<14>from six"], socket.AF_INET6)
    lines = wait_for(d.stdout, 2)
    assert "127.0.0.1:%d info from four" % p4 in [l.split(" ", 1)[1]
                                                  for l in lines]
    assert "[::1]:%d info from six" % p6 in [l.split(" ", 1)[1]
                                             for l in lines]


def test_ipv4_mapped_source_on_dual_stack_socket(start):
    d = start(log_config(listen=("udp://*:0",)))
    port = d.port("log", "udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"mapped", ("127.0.0.1", port))
        mine = s.getsockname()[1]
    lines = wait_for(d.stdout, 1)
    assert lines[0].split(" ", 1)[1] == "127.0.0.1:%d info mapped" % mine


# --- headers, good and broken ---------------------------------------------

HEADERS = [
    # RFC 5424
    (b"<133>1 2026-11-22T10:15:30.123Z vm backup - - - done in 3s",
     "notice backup: done in 3s"),
    (b"<11>1 - - - - - - nil everywhere", "err nil everywhere"),
    (b"<11>1 - - app - - -", "err app: "),
    (b"<11>1 - ::1 app 12 ID [x@1 a=\"b\\]c\" d=\"]\"][y] sd", "err app: sd"),
    (b"<11>1 - - app - - - \xef\xbb\xbfbom gone", "err app: bom gone"),
    (b"<13>1 2026-11-22T10:15:30Z host app", "notice 1 2026-11-22T10:15:30Z host app"),
    (b"<13>1 - - app - - [unclosed msg", "notice 1 - - app - - [unclosed msg"),
    # RFC 3164
    (b"<11>Nov 22 10:15:30 vm su[42]: auth", "err su: auth"),
    (b"<11>Nov  2 10:15:30 vm su: padded", "err su: padded"),
    (b"<11>Nov 22 10:15:30 su: no host", "err su: no host"),
    (b"<11>Nov 22 10:15:30 2001:db8::1 su: v6 host", "err su: v6 host"),
    (b"<11>Nov 22 10:15:30 ::1 su: v6 host", "err su: v6 host"),
    (b"<11>su: no time", "err su: no time"),
    (b"<11>Nov 22 10:15:30 vm no tag here", "err vm no tag here"),
    (b"<11>just text", "err just text"),
    # <PRI> broken or out of range: plain, info, whole record.
    (b"<192>too big", "info <192>too big"),
    (b"<1000>way too big", "info <1000>way too big"),
    (b"<abc>garbage", "info <abc>garbage"),
    (b"<>empty", "info <>empty"),
    (b"<13 unclosed", "info <13 unclosed"),
    (b"no header: at all", "info no header: at all"),
]


@pytest.mark.parametrize("payload,want", HEADERS,
                         ids=[h[0][:24].decode("latin-1") for h in HEADERS])
def test_headers(d, payload, want):
    send(d, [payload])
    assert tails(wait_for(d.stdout, 1)) == [want]


def test_escaping_keeps_one_record_one_line(d):
    send(d, [b"tab\there\x1b[31mred\x7f \xff\xfe \xc3\xa4 \xe2\x82\xac "
             b"\xc0\xaf \xed\xa0\x80 nul\x00end\rcr",
             b"<14>1 - - ap\x01p - - - x"])
    lines = wait_for(d.stdout, 2)
    assert len(lines) == 2
    assert tails(lines) == [
        "info tab\\x09here\\x1b[31mred\\x7f \\xff\\xfe \u00e4 \u20ac "
        "\\xc0\\xaf \\xed\\xa0\\x80 nul\\x00end\\x0dcr",
        "info ap\\x01p: x"]


def test_every_byte_value(d):
    send(d, [bytes(b for b in range(256) if b != 10)])
    lines = wait_for(d.stdout, 1)
    want = "".join(chr(b) if 0x20 <= b < 0x7f else "\\x%02x" % b
                   for b in range(256) if b != 10)
    assert tails(lines) == ["info " + want]


# --- truncation ---------------------------------------------------------------

def test_truncation_default_max_message(d):
    send(d, [b"A" * 8192, b"B" * 8193, b"C" * 60000])
    lines = wait_for(d.stdout, 3)
    assert tails(lines) == ["info " + "A" * 8192,
                            "info " + "B" * 8192 + "...[truncated]",
                            "info " + "C" * 8192 + "...[truncated]"]


def test_truncation_cuts_the_last_record(start):
    d = start(log_config("max_message = 64;"))
    send(d, [b"one\ntwo\n" + b"x" * 100,
             b"<11>Nov 22 10:15:30 vm app: " + b"y" * 100,
             b"z" * 63 + b"\n" + b"lost",
             b"exactly".ljust(64, b".")])
    lines = wait_for(d.stdout, 7)
    assert tails(lines) == [
        "info one", "info two", "info " + "x" * 56 + "...[truncated]",
        "err app: " + "y" * 36 + "...[truncated]",
        "info " + "z" * 63, "info ...[truncated]",
        "info " + "exactly".ljust(64, ".")]


# --- outputs -------------------------------------------------------------------

def test_file_output_relative_path_and_reopen_on_sighup(start, tmp_path):
    d = start(log_config('output = "app.log";'))
    path = os.path.join(d.dir, "app.log")
    send(d, [b"<14>app: first"])
    assert tails(wait_for(lambda: read_file(path), 1)) == ["info app: first"]
    os.rename(path, path + ".1")
    send(d, [b"<14>app: second"])
    wait_for(lambda: read_file(path + ".1"), 2)
    d.reload()
    send(d, [b"<14>app: third"])
    assert tails(wait_for(lambda: read_file(path), 1)) == ["info app: third"]
    assert tails(read_file(path + ".1").splitlines()) == [
        "info app: first", "info app: second"]
    assert d.stdout() == ""
    assert d.stop() == 0


def test_file_is_appended_to(start, tmp_path):
    path = str(tmp_path / "kept.log")
    with open(path, "w") as f:
        f.write("old line\n")
    d = start(log_config('output = "%s";' % path))
    send(d, [b"new"])
    lines = wait_for(lambda: read_file(path), 2)
    assert lines[0] == "old line" and tails(lines[1:]) == ["info new"]


def test_reopen_failure_keeps_the_old_file(start, tmp_path):
    os.mkdir(tmp_path / "logs")
    path = str(tmp_path / "logs" / "x.log")
    d = start(log_config('output = "%s";' % path))
    send(d, [b"before"])
    wait_for(lambda: read_file(path), 1)
    os.rename(tmp_path / "logs", tmp_path / "moved")
    d.reload()
    assert "cannot reopen %s" % path in d.stderr()
    send(d, [b"after"])
    moved = str(tmp_path / "moved" / "x.log")
    assert tails(wait_for(lambda: read_file(moved), 2)) == [
        "info before", "info after"]
    assert d.alive()


def test_full_disk_is_reported_once_and_survived(start):
    d = start(log_config('output = "/dev/full";'))
    for i in range(5):
        send(d, [b"lost %d" % i])
        time.sleep(0.05)
    deadline = time.time() + 5
    while "No space left on device" not in d.stderr() and time.time() < deadline:
        time.sleep(0.02)
    assert d.stderr().count("No space left on device") == 1, d.stderr()
    # Still serving: a reload works and the daemon stops cleanly.
    d.reload()
    assert d.alive()
    assert d.stop() == 0


def test_reload_switches_output(start, tmp_path):
    d = start(log_config())
    send(d, [b"to stdout"])
    wait_for(d.stdout, 1)
    path = str(tmp_path / "switched.log")
    d.reload(log_config('output = "%s";' % path))
    send(d, [b"to file"])
    assert tails(wait_for(lambda: read_file(path), 1)) == ["info to file"]
    assert tails(d.stdout().splitlines()) == ["info to stdout"]


def test_records_are_written_at_shutdown(start, tmp_path):
    path = str(tmp_path / "last.log")
    d = start(log_config('output = "%s";' % path))
    send(d, [b"last words %d" % i for i in range(200)])
    assert d.stop() == 0
    assert len(read_file(path).splitlines()) == 200


# --- configuration ---------------------------------------------------------------

@pytest.mark.parametrize("extra,words", [
    ('output = "/nonexistent-dir/x.log";', "directory does not exist"),
    ("max_message = 8;", "max_message"),
    ("max_message = 70000;", "max_message"),
    ('rcvbuf = -1;', "rcvbuf"),
    ('colour = "red";', "colour"),
])
def test_config_errors(tmp_path, extra, words):
    path = tmp_path / "bad.conf"
    path.write_text(log_config(extra))
    r = run_multid(["-t", "-c", str(path)])
    assert r.returncode == 1, r.stderr
    assert words in r.stderr and "bad.conf:" in r.stderr


def test_tcp_is_refused(tmp_path):
    path = tmp_path / "bad.conf"
    path.write_text(log_config(listen=("tcp://127.0.0.1:0",)))
    r = run_multid(["-t", "-c", str(path)])
    assert r.returncode == 1


def test_unwritable_output_stops_start(tmp_path):
    path = tmp_path / "m.conf"
    path.write_text(log_config('output = "%s";' % tmp_path))
    r = run_multid(["-c", str(path)])
    assert r.returncode == 3
    assert "Is a directory" in r.stderr


# --- load -------------------------------------------------------------------------

def test_paced_burst_of_20000(start, tmp_path):
    path = str(tmp_path / "burst.log")
    d = start(log_config('output = "%s";' % path))
    host, port = d.addr("log", "udp")
    total = 20000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        for i in range(total):
            s.send(b"<14>burst: %06d " % i + b"x" * 80)
            if i % 500 == 499:
                time.sleep(0.005)
    lines = wait_for(lambda: read_file(path), total, timeout=20)
    seen = {int(re.search(r"burst: (\d{6}) ", l).group(1)) for l in lines}
    assert len(lines) == len(seen)
    assert len(seen) >= total * 0.99, len(seen)
    assert all(LINE_RE.match(l) for l in lines)


def test_stdout_that_is_not_read_does_not_block(tmp_path):
    """stdout is a pipe nobody reads: the daemon must go on serving (an
    echo service in the same process answers), drop what does not fit,
    say so once, and write only whole lines."""
    run = tmp_path / "run"
    run.mkdir()
    fifo = str(run / "stdout.log")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    conf = config(service("log", "log", ["udp://127.0.0.1:0"]),
                  service("echo", "echo", ["udp://127.0.0.1:0"]))
    d = Daemon(run, conf)
    try:
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        host, port = d.addr("log", "udp")
        echo = d.udp("echo")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, port))
            for i in range(60000):
                s.send(b"<14>flood: %06d " % i + b"y" * 100)
                if i % 1000 == 999:
                    echo.send(b"still there %d" % i)
                    assert echo.recv(100) == b"still there %d" % i
                    time.sleep(0.002)
        deadline = time.time() + 10
        while "dropping records" not in d.stderr() and time.time() < deadline:
            time.sleep(0.02)
        assert d.stderr().count("not keeping up") == 1, d.stderr()
        data = b""
        while True:
            r, _, _ = select.select([reader], [], [], 1.0)
            if not r:
                break
            chunk = os.read(reader, 1 << 20)
            if not chunk:
                break
            data += chunk
        lines = data.decode().split("\n")
        assert lines[-1] == ""
        assert len(lines) > 100
        for l in lines[:-1]:
            assert re.match(LINE_RE, l) and re.search(
                r"flood: \d{6} y{100}$", l), l
        assert d.stop() == 0
    finally:
        d.kill()
        os.close(reader)


def stalled_fifo(start, tmp_path):
    """A daemon with echo and a log whose output file is a FIFO nobody
    reads yet, as a stalled disk would take nothing; (daemon, reader fd)."""
    fifo = str(tmp_path / "stalled.log")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    d = start(config(
        service("log", "log", ["udp://127.0.0.1:0"], 'output = "%s";' % fifo),
        service("echo", "echo", ["udp://127.0.0.1:0"])))
    return d, reader


def send_paced(d, first, count, echo=None):
    """Numbered 500-byte records; echo, if given, must answer meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(d.addr("log", "udp"))
        for i in range(first, first + count):
            s.send(b"<14>stall: %04d " % i + b"z" * 500)
            if i % 100 == 99:
                if echo is not None:
                    echo.send(b"still there %d" % i)
                    assert echo.recv(100) == b"still there %d" % i
                time.sleep(0.002)


def test_stalled_output_file_does_not_block(start, tmp_path):
    """The file takes nothing for a while: the daemon goes on serving,
    keeps the records queued, and writes every one of them, in order,
    once the file takes them again."""
    d, reader = stalled_fifo(start, tmp_path)
    try:
        total = 1000                    # 0.5 MB; the pipe holds 64 KiB
        send_paced(d, 0, total, echo=d.udp("echo"))
        data = b""
        deadline = time.time() + 20
        while data.count(b"\n") < total and time.time() < deadline:
            if select.select([reader], [], [], 0.5)[0]:
                data += os.read(reader, 1 << 20)
        numbers = [re.search(r"stall: (\d{4}) z{500}$", l).group(1)
                   for l in data.decode().splitlines()]
        assert numbers == ["%04d" % i for i in range(total)]
        assert "dropping" not in d.stderr(), d.stderr()
        assert d.stop() == 0
    finally:
        os.close(reader)


def test_shutdown_with_a_stalled_output_file(start, tmp_path):
    """Stopping while the file takes nothing: the daemon waits a moment,
    says that records were not written, and exits."""
    d, reader = stalled_fifo(start, tmp_path)
    try:
        send_paced(d, 0, 300)           # fills the pipe; the writer waits
        time.sleep(0.3)
        send_paced(d, 300, 100)         # queued behind it
        time.sleep(0.3)
        assert d.stop() == 0
        assert "did not take the last records" in d.stderr(), d.stderr()
    finally:
        os.close(reader)


def test_output_fifo_without_reader_fails_start(tmp_path):
    """Opening the output never waits: a FIFO nobody reads is an error."""
    fifo = str(tmp_path / "nobody.log")
    os.mkfifo(fifo)
    path = tmp_path / "m.conf"
    path.write_text(log_config('output = "%s";' % fifo))
    r = run_multid(["-c", str(path)])
    assert r.returncode == 3
    assert "cannot open %s: No such device or address" % fifo in r.stderr


# --- the journal ------------------------------------------------------------------

def parse_journal(dgram):
    """Fields of one native-protocol journal datagram."""
    fields, i = {}, 0
    while i < len(dgram):
        nl = dgram.index(b"\n", i)
        line = dgram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields[k.decode()] = v.decode()
            i = nl + 1
        else:
            size = int.from_bytes(dgram[nl + 1:nl + 9], "little")
            fields[line.decode()] = dgram[nl + 9:nl + 9 + size].decode()
            i = nl + 9 + size + 1
    return fields


def private_journal(tmp_path, monkeypatch, with_socket=True):
    """Makes the daemon start in a mount namespace of its own whose
    /run/systemd/journal is a directory of the test; returns a socket
    there that stands in for journald (or None)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private journal socket")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -m is not permitted here")
    jdir = tmp_path / "journal"
    jdir.mkdir()
    sock = None
    if with_socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(jdir / "socket"))
        sock.settimeout(10)
    wrapper = tmp_path / "in-namespace.sh"
    wrapper.write_text(
        "#!/bin/sh\n"
        "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && "
        "mount --bind '%s' /run/systemd/journal || exit 3\n"
        "exec '%s' \"$@\"\n" % (jdir, os.path.abspath(multid.BIN)))
    wrapper.chmod(0o755)
    launcher = tmp_path / "launch.sh"
    launcher.write_text("#!/bin/sh\nexec unshare -m --propagation private "
                        "'%s' \"$@\"\n" % wrapper)
    launcher.chmod(0o755)
    monkeypatch.setattr(multid, "BIN", str(launcher))
    return sock


def test_journal_output(start, tmp_path, monkeypatch):
    sock = private_journal(tmp_path, monkeypatch)
    d = start(log_config('output = "journal";'))
    try:
        p4 = send(d, [b"<11>Nov 22 10:15:30 vm cron[7]: job \x01failed"])
        p6 = send(d, [b"no header"], socket.AF_INET6)
        got = [parse_journal(sock.recv(65536)) for _ in range(2)]
    finally:
        sock.close()
    got.sort(key=lambda f: f["MESSAGE"])
    assert got[0]["MESSAGE"] == "job \\x01failed"
    assert got[0]["PRIORITY"] == "3"
    assert got[0]["SYSLOG_FACILITY"] == "1"
    assert got[0]["SYSLOG_IDENTIFIER"] == "cron"
    assert got[0]["REMOTE_ADDR"] == "127.0.0.1"
    assert got[0]["REMOTE_PORT"] == str(p4)
    assert got[1]["MESSAGE"] == "no header"
    assert got[1]["PRIORITY"] == "6"
    # Unknown: empty, as libsystemd would otherwise fill in "multid".
    assert got[1].get("SYSLOG_IDENTIFIER", "") == ""
    assert "SYSLOG_FACILITY" not in got[1]
    assert got[1]["REMOTE_ADDR"] == "::1"
    assert got[1]["REMOTE_PORT"] == str(p6)
    assert d.stdout() == ""


def test_journal_missing_is_reported_once(start, tmp_path, monkeypatch):
    private_journal(tmp_path, monkeypatch, with_socket=False)
    d = start(log_config('output = "journal";'))
    for i in range(3):
        send(d, [b"nobody listens %d" % i])
        time.sleep(0.05)
    deadline = time.time() + 5
    while "dropping records" not in d.stderr() and time.time() < deadline:
        time.sleep(0.02)
    assert d.stderr().count("the journal:") == 1, d.stderr()
    assert d.stop() == 0


def metric(text, name):
    m = re.search(r'^%s\{service="log"\} (\d+)$' % name, text, re.M)
    return int(m.group(1)) if m else 0


def test_counters_in_metrics(start):
    d = start(config(service("log", "log", ["udp://127.0.0.1:0"],
                             'output = "/dev/full";'),
                     service("metrics", "metrics", ["tcp://127.0.0.1:0"])))
    send(d, [b"a\nb\nc", b"d"])
    deadline = time.time() + 5
    while True:
        with d.connect("metrics") as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            text = multid.recv_all(s).decode()
        if (metric(text, "multid_log_records_dropped_total") == 4 or
                time.time() > deadline):
            break
        time.sleep(0.05)
    assert metric(text, "multid_log_records_total") == 4
    assert metric(text, "multid_log_records_dropped_total") == 4
    assert metric(text, "multid_datagrams_received_total") == 2
