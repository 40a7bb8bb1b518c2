"""files (SPEC section 3): uploads with nc, tar archives unpacked as they
arrive, downloads of a file or a directory, and hostile input that must
leave nothing behind."""
import contextlib
import hashlib
import io
import os
import re
import signal
import socket
import struct
import subprocess
import tarfile
import threading
import time

import pytest

from multid import Daemon, assert_closed, config, recv_all, service

OK_FILE = re.compile(r"^OK (\d{8}T\d{6}Z_127\.0\.0\.1_(\d+)(?:\.\d+)?) (\d+) "
                     r"([0-9a-f]{64})$")
OK_TREE = re.compile(r"^OK (\d{8}T\d{6}Z_127\.0\.0\.1_\d+(?:\.\d+)?) (\d+) "
                     r"(\d+)$")


def files_conf(tmp_path, extra="", metrics=False, idle=None, **dirs):
    """A receive service "up" (plain), "x" (extract) and the send services
    given as name=path; directories are made under tmp_path."""
    up = tmp_path / "up"
    xd = tmp_path / "x"
    up.mkdir(exist_ok=True)
    xd.mkdir(exist_ok=True)
    idle_key = "idle_timeout = %d;" % idle if idle else ""
    svcs = [
        service("up", "files", ["tcp://127.0.0.1:0"],
                'mode = "receive"; directory = "%s"; %s %s' % (up, extra,
                                                              idle_key)),
        service("x", "files", ["tcp://127.0.0.1:0"],
                'mode = "receive"; directory = "%s"; extract = true; %s %s'
                % (xd, extra, idle_key)),
    ]
    for name, spec in dirs.items():
        path, fmt = spec if isinstance(spec, tuple) else (spec, None)
        svcs.append(service(name, "files", ["tcp://127.0.0.1:0"],
                            'mode = "send"; path = "%s"; %s' % (
                                path, 'format = "%s";' % fmt if fmt else "")))
    if metrics:
        svcs.append(service("m", "metrics", ["tcp://127.0.0.1:0"]))
    return config(*svcs), up, xd


def nc_upload(d, name, data, timeout=30):
    """`nc -N host port < file`: returns nc's output, decoded."""
    host, port = d.addr(name)
    p = subprocess.run(["nc", "-N", host, str(port)], input=data,
                       capture_output=True, timeout=timeout)
    return p.stdout.decode()


def sock_upload(d, name, data, timeout=30):
    """The same from a socket: all of data, the half-close, the answer."""
    s = d.connect(name, timeout=timeout)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    answer = recv_all(s)
    s.close()
    return answer.decode()


def recv_big(s):
    """Everything until the peer closes; linear in the size."""
    data = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return bytes(data)
        data += chunk


def listing(path):
    """Every name beneath path, temporaries included."""
    out = []
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), path))
    return sorted(out)


def wait_empty(path, timeout=5, keep=()):
    """Waits until path holds nothing but the names in keep (a worker
    removes what failed); returns what else it holds."""
    deadline = time.time() + timeout
    while time.time() < deadline and set(os.listdir(path)) - set(keep):
        time.sleep(0.05)
    return sorted(set(os.listdir(path)) - set(keep))


def make_tar(entries, mode="w"):
    """A tar archive in memory: entries are (TarInfo, bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    return buf.getvalue()


def info(name, type_=tarfile.REGTYPE, mode=0o644, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.mode = mode
    ti.linkname = link
    return ti


# --- receive ---------------------------------------------------------------

def test_nc_upload_is_stored_with_its_sha256(start, tmp_path):
    conf, up, _ = files_conf(tmp_path)
    d = start(conf)
    data = os.urandom(700000)
    answer = nc_upload(d, "up", data)
    m = OK_FILE.match(answer.rstrip("\r\n"))
    assert m, answer
    assert answer.endswith("\r\n")
    name, _, size, digest = m.groups()
    assert int(size) == len(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert os.listdir(up) == [name]
    with open(up / name, "rb") as f:
        assert f.read() == data


def test_empty_upload_and_close_without_half_close(start, tmp_path):
    conf, up, _ = files_conf(tmp_path)
    d = start(conf)
    answer = sock_upload(d, "up", b"")
    m = OK_FILE.match(answer.rstrip())
    assert m and m.group(3) == "0", answer
    assert m.group(4) == hashlib.sha256(b"").hexdigest()
    # A plain close (FIN) ends the upload as a half-close does.
    s = d.connect("up")
    s.sendall(b"last words")
    s.close()
    deadline = time.time() + 5
    while len(os.listdir(up)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    names = sorted(os.listdir(up))
    assert len(names) == 2
    assert sorted(os.path.getsize(up / n) for n in names) == [0, 10]


def test_taken_name_gets_a_suffix(start, tmp_path):
    conf, up, _ = files_conf(tmp_path)
    d = start(conf)
    s = d.connect("up")
    port = s.getsockname()[1]
    now = time.time()
    for t in (now - 1, now, now + 1):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
        (up / ("%s_127.0.0.1_%d" % (stamp, port))).write_bytes(b"old")
    s.sendall(b"new")
    s.shutdown(socket.SHUT_WR)
    answer = recv_all(s).decode().rstrip()
    m = OK_FILE.match(answer)
    assert m and m.group(1).endswith(".1"), answer
    assert (up / m.group(1)).read_bytes() == b"new"


def test_max_size_answers_too_large_and_keeps_nothing(start, tmp_path):
    conf, up, _ = files_conf(tmp_path, extra="max_size = 300000;")
    d = start(conf)
    assert nc_upload(d, "up", os.urandom(1000000)) == "ERR too large\r\n"
    assert wait_empty(up) == []
    # Exactly max_size is fine.
    m = OK_FILE.match(nc_upload(d, "up", b"a" * 300000).rstrip())
    assert m
    assert os.listdir(up) == [m.group(1)]
    # The answer comes at once; input is thrown away until the half-close.
    s = d.connect("up")
    s.sendall(os.urandom(400000))
    s.settimeout(5)
    assert s.recv(100) == b"ERR too large\r\n"
    s.sendall(b"more" * 1000)
    s.shutdown(socket.SHUT_WR)
    assert assert_closed(s) == b""
    assert wait_empty(up, keep=[m.group(1)]) == []


def test_reset_midway_leaves_nothing(start, tmp_path):
    conf, up, _ = files_conf(tmp_path)
    d = start(conf)
    s = d.connect("up")
    s.sendall(os.urandom(1 << 20))
    # Wait for the temporary file: the reset must remove it.
    deadline = time.time() + 5
    while not os.listdir(up) and time.time() < deadline:
        time.sleep(0.02)
    assert os.listdir(up) and os.listdir(up)[0].startswith(".multid-files-")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert wait_empty(up) == []


def test_idle_timeout_leaves_nothing(start, tmp_path):
    conf, up, xd = files_conf(tmp_path, idle=1)
    d = start(conf)
    a = d.connect("up")
    a.sendall(os.urandom(300000))
    b = d.connect("x")
    b.sendall(make_tar([(info("a"), b"x" * 5000)])[:3000])
    assert assert_closed(a, timeout=5) == b""
    assert assert_closed(b, timeout=5) == b""
    assert wait_empty(up) == []
    assert wait_empty(xd) == []


def test_kill_during_upload_then_restart_cleans(start, tmp_path):
    conf, up, xd = files_conf(tmp_path)
    d = start(conf)
    a = d.connect("up")
    a.sendall(os.urandom(1 << 20))
    b = d.connect("x")
    tar = make_tar([(info("f%d" % i), os.urandom(50000)) for i in range(20)])
    b.sendall(tar[:len(tar) // 2])
    deadline = time.time() + 5
    while (not os.listdir(up) or len(listing(xd)) < 2) and \
            time.time() < deadline:
        time.sleep(0.02)
    assert os.listdir(up)[0].startswith(".multid-files-")
    assert os.listdir(xd)[0].startswith(".multid-files-")
    assert len(listing(xd)) > 1
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    a.close()
    b.close()
    assert os.listdir(up) and os.listdir(xd)
    start(conf)
    assert wait_empty(up) == []
    assert wait_empty(xd) == []


@pytest.mark.memory_bound
def test_100_concurrent_uploads(start, tmp_path):
    conf, up, _ = files_conf(tmp_path)
    d = start(conf)
    blobs = [os.urandom(1 << 20) for _ in range(100)]
    answers = [None] * 100
    peak = [0]
    go = threading.Event()

    def one(i):
        s = d.connect("up", timeout=60)
        go.wait()
        for off in range(0, len(blobs[i]), 65536):
            s.sendall(blobs[i][off:off + 65536])
        s.shutdown(socket.SHUT_WR)
        answers[i] = recv_all(s).decode()
        s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    go.set()
    while any(t.is_alive() for t in threads):
        peak[0] = max(peak[0], d.rss_kb())
        time.sleep(0.02)
    for t in threads:
        t.join(60)
    for i, answer in enumerate(answers):
        m = OK_FILE.match((answer or "").rstrip())
        assert m, (i, answer)
        assert m.group(4) == hashlib.sha256(blobs[i]).hexdigest()
        assert (up / m.group(1)).read_bytes() == blobs[i]
    assert len(os.listdir(up)) == 100
    assert peak[0] < 64 * 1024, "RSS peaked at %d kB" % peak[0]


@contextlib.contextmanager
def small_disk(path, size="1m"):
    """A tmpfs of `size` mounted at path (as root; else the test skips)."""
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size,
                        "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.decode())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)])


def test_full_disk_answers_and_leaves_nothing(start, tmp_path):
    with small_disk(tmp_path / "up"), small_disk(tmp_path / "x"):
        conf, up, xd = files_conf(tmp_path)
        d = start(conf)
        full = "ERR cannot store upload: No space left on device\r\n"
        assert nc_upload(d, "up", os.urandom(3 << 20)) == full
        assert nc_upload(d, "x", make_tar([(info("a"), os.urandom(3 << 20))])) \
            == full
        assert wait_empty(up) == [] and wait_empty(xd) == []
        # Uploads that fit go on.
        m = OK_FILE.match(nc_upload(d, "up", b"small").rstrip())
        assert m and (up / m.group(1)).read_bytes() == b"small"
        m = OK_TREE.match(nc_upload(d, "x", make_tar([(info("a"), b"a")]))
                          .rstrip())
        assert m and (xd / m.group(1) / "a").read_bytes() == b"a"


# --- extract ---------------------------------------------------------------

@pytest.mark.parametrize("compress", ["", "gzip", "bzip2", "xz", "zstd"])
def test_course_recipe_tar_pipe(start, tmp_path, compress):
    """tar c * | gzip | nc host port, and the other compressors."""
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    src = tmp_path / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"alpha\n")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300000))
    (src / "sub" / "deep" / "c").write_bytes(b"")
    os.symlink("../a.txt", src / "sub" / "link")
    os.chmod(src / "a.txt", 0o600)
    host, port = d.addr("x")
    stage = "" if not compress else " | %s" % compress
    p = subprocess.run("tar c * %s | nc -N %s %d" % (stage, host, port),
                       shell=True, cwd=src, capture_output=True, timeout=30)
    answer = p.stdout.decode()
    m = OK_TREE.match(answer.rstrip("\r\n"))
    assert m, (answer, p.stderr)
    name, nfiles, nbytes = m.group(1), int(m.group(2)), int(m.group(3))
    assert nfiles == 3
    assert nbytes > 0
    assert os.listdir(xd) == [name]
    out = xd / name
    assert listing(out) == ["a.txt", "sub", "sub/b.bin", "sub/deep",
                            "sub/deep/c", "sub/link"]
    assert (out / "sub" / "b.bin").read_bytes() == \
        (src / "sub" / "b.bin").read_bytes()
    assert os.readlink(out / "sub" / "link") == "../a.txt"
    assert (out / "sub" / "link").read_bytes() == b"alpha\n"
    assert os.stat(out / "a.txt").st_mode & 0o777 == 0o600


def test_hard_link_inside_is_kept(start, tmp_path):
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    tar = make_tar([(info("a"), b"data"),
                    (info("b", tarfile.LNKTYPE, link="a"), None)])
    m = OK_TREE.match(sock_upload(d, "x", tar).rstrip())
    assert m, m
    out = xd / m.group(1)
    assert os.stat(out / "a").st_ino == os.stat(out / "b").st_ino


HOSTILE = {
    "absolute": [(info("/tmp/multid-files-evil"), b"x")],
    "dotdot": [(info("../evil"), b"x")],
    "dotdot-inside": [(info("a/../../evil"), b"x")],
    "symlink-absolute": [(info("l", tarfile.SYMTYPE, link="/etc"), None)],
    "symlink-up": [(info("l", tarfile.SYMTYPE, link="../evil"), None)],
    "symlink-deep-up": [(info("a/b/l", tarfile.SYMTYPE,
                              link="../../../evil"), None)],
    "symlink-through-symlink": [
        (info("a", tarfile.SYMTYPE, link="."), None),
        (info("b", tarfile.SYMTYPE, link="a/.."), None)],
    "write-through-symlink": [
        (info("d", tarfile.DIRTYPE, mode=0o755), None),
        (info("l", tarfile.SYMTYPE, link="d"), None),
        (info("l/x"), b"x")],
    "hardlink-out": [(info("h", tarfile.LNKTYPE, link="../evil"), None)],
    "hardlink-absolute": [(info("h", tarfile.LNKTYPE, link="/etc/passwd"),
                           None)],
    "hardlink-to-symlink": [
        (info("s", tarfile.SYMTYPE, link="t"), None),
        (info("h", tarfile.LNKTYPE, link="s"), None)],
    "char-device": [(info("dev", tarfile.CHRTYPE), None)],
    "block-device": [(info("blk", tarfile.BLKTYPE), None)],
    "fifo": [(info("fifo", tarfile.FIFOTYPE), None)],
    "setuid": [(info("suid", mode=0o4755), b"#!/bin/sh\n")],
    "setgid-dir": [(info("sgid", tarfile.DIRTYPE, mode=0o2755), None)],
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_archive_is_refused(start, tmp_path, kind):
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    good = [(info("ok.txt"), b"fine"), (info("ok2.txt"), b"x" * 100000)]
    tar = make_tar(good + HOSTILE[kind])
    last = HOSTILE[kind][-1][0]
    bad = last.name + ("/" if last.type == tarfile.DIRTYPE else "")
    answer = nc_upload(d, "x", tar)
    assert answer == "ERR unsafe entry %s\r\n" % bad
    assert wait_empty(xd) == []
    assert not os.path.lexists(tmp_path / "evil")
    assert not os.path.lexists("/tmp/multid-files-evil")


@pytest.mark.parametrize("kind", ["junk", "truncated", "bad-gzip"])
def test_broken_archive_is_refused(start, tmp_path, kind):
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    tar = make_tar([(info("a"), os.urandom(200000)), (info("b"), b"b")])
    data = {
        "junk": b"this is not an archive\n" * 100,
        "truncated": tar[:100000],
        "bad-gzip": make_tar([(info("a"), b"x" * 100000)], "w:gz")[:-30]
        + b"\0" * 30,
    }[kind]
    answer = nc_upload(d, "x", data)
    assert re.match(r"^ERR bad archive: \S.*\r\n$", answer), answer
    assert wait_empty(xd) == []


def test_unsafe_entry_answer_reaches_a_client_still_sending(start, tmp_path):
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    tar = make_tar([(info("../evil"), b"x")] + [
        (info("f%d" % i), os.urandom(100000)) for i in range(30)])
    s = d.connect("x")
    s.sendall(tar[:20000])
    s.settimeout(5)
    assert s.recv(200) == b"ERR unsafe entry ../evil\r\n"
    s.sendall(tar[20000:])
    s.shutdown(socket.SHUT_WR)
    assert assert_closed(s) == b""
    assert wait_empty(xd) == []


def test_extract_max_size_counts_bytes_received_and_unpacked(start, tmp_path):
    conf, _, xd = files_conf(tmp_path, extra="max_size = 200000;")
    d = start(conf)
    big = make_tar([(info("a"), os.urandom(300000))])
    assert nc_upload(d, "x", big) == "ERR too large\r\n"
    # A small gzip that unpacks past max_size.
    bomb = make_tar([(info("zeros"), b"\0" * 1000000)], "w:gz")
    assert len(bomb) < 200000
    assert nc_upload(d, "x", bomb) == "ERR too large\r\n"
    assert wait_empty(xd) == []


def test_extract_reset_midway_leaves_nothing(start, tmp_path):
    conf, _, xd = files_conf(tmp_path)
    d = start(conf)
    tar = make_tar([(info("f%d" % i), os.urandom(100000)) for i in range(10)])
    s = d.connect("x")
    s.sendall(tar[:600000])
    deadline = time.time() + 5
    while len(listing(xd)) < 3 and time.time() < deadline:
        time.sleep(0.02)
    assert len(listing(xd)) >= 3
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert wait_empty(xd) == []


# --- send ------------------------------------------------------------------

def make_tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "one.txt").write_bytes(b"one\n")
    (root / "sub" / "two.bin").write_bytes(os.urandom(400000))
    (root / "sub" / "deeper" / "three").write_bytes(b"3")
    (root / ".secret").write_bytes(b"hidden")
    (root / "sub" / ".hidden-dir").mkdir()
    (root / "sub" / ".hidden-dir" / "x").write_bytes(b"x")
    os.symlink("/etc/passwd", root / "sub" / "outside-link")


def test_send_file_with_nc(start, tmp_path):
    blob = tmp_path / "blob.bin"
    data = os.urandom(16 << 20)
    blob.write_bytes(data)
    conf, _, _ = files_conf(tmp_path, dl=str(blob))
    d = start(conf)
    host, port = d.addr("dl")
    p = subprocess.run(["nc", host, str(port)], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert hashlib.sha256(p.stdout).hexdigest() == \
        hashlib.sha256(data).hexdigest()
    # What a client sends is thrown away; the file still comes whole.
    # (The client reads late, so the daemon has read its bytes before
    # the file is all sent: closing then would not reset.)
    s = d.connect("dl")
    s.sendall(b"ignored\n" * 100)
    time.sleep(0.3)
    assert recv_big(s) == data


@pytest.mark.parametrize("fmt", [None, "tar", "tar.gz"])
def test_send_directory_as_tar(start, tmp_path, fmt):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    conf, _, _ = files_conf(tmp_path, dl=(str(root), fmt))
    d = start(conf)
    host, port = d.addr("dl")
    dest = tmp_path / "dest"
    dest.mkdir()
    flags = "xz" if fmt == "tar.gz" else "x"
    p = subprocess.run("nc %s %d < /dev/null | tar %sf -" % (host, port, flags),
                       shell=True, cwd=dest, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert listing(dest) == ["one.txt", "sub", "sub/deeper",
                             "sub/deeper/three", "sub/outside-link",
                             "sub/two.bin"]
    assert (dest / "sub" / "two.bin").read_bytes() == \
        (root / "sub" / "two.bin").read_bytes()
    assert os.readlink(dest / "sub" / "outside-link") == "/etc/passwd"


def test_send_directory_to_a_client_that_half_closes(start, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    make_tree(root)
    conf, _, _ = files_conf(tmp_path, dl=str(root))
    d = start(conf)
    s = d.connect("dl")
    s.sendall(b"whatever")
    s.shutdown(socket.SHUT_WR)
    data = recv_all(s)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        names = sorted(t.getnames())
    assert names == ["one.txt", "sub", "sub/deeper", "sub/deeper/three",
                     "sub/outside-link", "sub/two.bin"]


@pytest.mark.memory_bound
def test_send_large_directory_to_a_slow_reader(start, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    for i in range(40):
        (root / ("f%02d" % i)).write_bytes(os.urandom(1 << 20))
    conf, _, _ = files_conf(tmp_path, dl=str(root))
    d = start(conf)
    base = d.rss_kb()
    s = d.connect("dl")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    time.sleep(1.0)
    # The reader has taken nothing: the daemon holds a few chunks only.
    assert d.rss_kb() - base < 8 * 1024
    data = recv_big(s)
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert len(t.getnames()) == 40
        assert t.extractfile("f07").read() == (root / "f07").read_bytes()


# --- configuration and metrics ---------------------------------------------

@pytest.mark.parametrize("keys,err", [
    ('', "mode: required"),
    ('mode = "receive";', "directory: required"),
    ('mode = "send";', "path: required"),
    ('mode = "send"; path = "/nonexistent/x";', "cannot open"),
    ('mode = "upload"; directory = "/tmp";', "unknown value"),
    ('mode = "receive"; directory = "/tmp"; max_size = 0;', "max_size"),
    ('mode = "send"; path = "/tmp"; format = "zip";', "unknown value"),
])
def test_configuration_errors(tmp_path, keys, err):
    from multid import run_multid
    conf = tmp_path / "bad.conf"
    conf.write_text(config(service("f", "files", ["tcp://127.0.0.1:0"],
                                   keys)))
    p = run_multid(["-t", "-c", str(conf)])
    assert p.returncode == 1
    assert err in p.stderr, p.stderr


def test_metrics(start, tmp_path):
    conf, _, _ = files_conf(tmp_path, metrics=True, extra="max_size = 1000;")
    d = start(conf)
    assert OK_FILE.match(nc_upload(d, "up", b"x" * 600).rstrip())
    assert OK_FILE.match(nc_upload(d, "up", b"y" * 400).rstrip())
    assert nc_upload(d, "up", b"z" * 2000) == "ERR too large\r\n"
    assert nc_upload(d, "x", b"junk" * 10).startswith("ERR bad archive")
    s = d.connect("m")
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    text = recv_all(s).decode()
    assert 'multid_files_uploads_total{service="up"} 2' in text
    assert 'multid_files_upload_bytes_total{service="up"} 1000' in text
    assert 'multid_files_uploads_failed_total{service="up"} 1' in text
    assert 'multid_files_uploads_failed_total{service="x"} 1' in text
