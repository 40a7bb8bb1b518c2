"""The tftp service (SPEC section 3, tftp) with the Debian clients people
use (tftp-hpa, atftp, curl tftp://), byte-exact against sha256, and raw
UDP sockets for what no client shows: retransmission and giving up, the
Sorcerer's Apprentice rule, error 5 to a stranger, hostile requests, the
limits, and uploads that stop half-way."""
import hashlib
import os
import re
import socket
import struct
import subprocess
import time

import pytest

from multid import config, recv_all, service

RRQ, WRQ, DATA, ACK, ERROR, OACK = 1, 2, 3, 4, 5, 6
SAMPLE_RE = re.compile(r'^(multid_[a-z_]+)\{([^}]*)\} (\d+)$')


# --- set-up ---------------------------------------------------------------

def tftp_config(root, extra="", listen=("udp://127.0.0.1:0",), limits=""):
    return config(
        service("t", "tftp", list(listen),
                'root = "%s"; %s %s' % (root, extra, limits)),
        service("m", "metrics", ["tcp://127.0.0.1:0"]))


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    return r


def put_file(root, name, data):
    path = root / name
    path.write_bytes(data)
    return path


def sha(data):
    return hashlib.sha256(data).hexdigest()


def metrics(d):
    """{(name, labels): value} of every series."""
    s = d.connect("m")
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = recv_all(s).split(b"\r\n\r\n", 1)[1].decode()
    s.close()
    out = {}
    for line in body.splitlines():
        m = SAMPLE_RE.match(line)
        if m:
            out[(m.group(1), m.group(2))] = int(m.group(3))
    return out


def metric(d, name, labels='service="t"'):
    return metrics(d).get((name, labels), 0)


# --- raw packets ----------------------------------------------------------

def request(op, name, mode="octet", **opts):
    body = name.encode() + b"\0" + mode.encode() + b"\0"
    for k, v in opts.items():
        body += k.encode() + b"\0" + str(v).encode() + b"\0"
    return struct.pack("!H", op) + body


def ack(n):
    return struct.pack("!HH", ACK, n & 0xffff)


def data_pkt(n, payload):
    return struct.pack("!HH", DATA, n & 0xffff) + payload


class Raw:
    """A UDP client socket that speaks TFTP packets by hand."""

    def __init__(self, d, family=socket.AF_INET):
        self.host, self.port = d.addr("t", "udp")
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.tid = None

    def send(self, pkt, to=None):
        self.s.sendto(pkt, to or self.tid or (self.host, self.port))

    def recv(self, timeout=3.0):
        """(opcode, number, payload, sender); number is the block or the
        error code; the first reply's sender becomes the TID."""
        self.s.settimeout(timeout)
        pkt, addr = self.s.recvfrom(70000)
        op, num = struct.unpack("!HH", pkt[:4]) if len(pkt) >= 4 else \
            (struct.unpack("!H", pkt[:2])[0], 0)
        if self.tid is None and op != ERROR:
            self.tid = addr
        return op, num, pkt[4:] if op != OACK else pkt[2:], addr

    def quiet(self, seconds):
        """Asserts that nothing arrives for that long."""
        self.s.settimeout(seconds)
        try:
            pkt = self.s.recvfrom(70000)
        except socket.timeout:
            return
        raise AssertionError("unexpected packet %r" % (pkt,))

    def error(self, pkt, timeout=3.0):
        """Sends pkt and returns the ERROR code it gets."""
        self.send(pkt)
        op, code, msg, _ = self.recv(timeout)
        assert op == ERROR, "expected an ERROR, got opcode %d" % op
        return code

    def close(self):
        self.s.close()


def oack_options(payload):
    parts = payload.split(b"\0")
    return {parts[i].decode().lower(): parts[i + 1].decode()
            for i in range(0, len(parts) - 1, 2)}


# --- the real clients ------------------------------------------------------

def run(cmd, timeout=120, cwd=None):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=cwd)


def hpa(d, cmd, mode="binary", cwd=None):
    host, port = d.addr("t", "udp")
    return run(["tftp", "-m", mode, host, str(port), "-c"] + cmd, cwd=cwd)


def atftp(d, args, blksize=1428, windowsize=16, tsize=0):
    host, port = d.addr("t", "udp")
    opts = []
    if blksize:
        opts += ["--option", "blksize %d" % blksize]
    if windowsize:
        opts += ["--option", "windowsize %d" % windowsize]
    if tsize is not None:
        opts += ["--option", "tsize %d" % tsize]
    return run(["atftp"] + opts + args + [host, str(port)])


def curl_url(d, name):
    host, port = d.addr("t", "udp")
    return "tftp://%s:%d/%s" % (host, port, name)


SIZES = {
    "small": 100,
    "multiple512": 512 * 8,
    "multiple1428": 1428 * 5,
    "empty": 0,
    "multimb": 5 * 1024 * 1024 + 17,
}


@pytest.fixture
def files(root):
    out = {}
    for name, size in SIZES.items():
        data = os.urandom(size)
        put_file(root, name + ".bin", data)
        out[name] = sha(data)
    return out


# --- reading with the clients --------------------------------------------

def test_read_with_tftp_hpa(start, root, files, tmp_path):
    d = start(tftp_config(root))
    for name, digest in files.items():
        out = tmp_path / ("hpa-" + name)
        r = hpa(d, ["get", name + ".bin", str(out)])
        assert r.returncode == 0, r
        assert sha(out.read_bytes()) == digest, name
    assert metric(d, "multid_tftp_transfers_total",
                  'service="t",op="read"') == len(files)
    assert metric(d, "multid_tftp_bytes_total") == sum(SIZES.values())


def test_read_with_atftp_options(start, root, files, tmp_path):
    d = start(tftp_config(root))
    for name, digest in files.items():
        for blksize, window in ((1428, 16), (512, 1), (8192, 4)):
            out = tmp_path / ("atftp-%s-%d" % (name, blksize))
            r = atftp(d, ["-g", "-r", name + ".bin", "-l", str(out)],
                      blksize=blksize, windowsize=window)
            assert r.returncode == 0, r
            assert sha(out.read_bytes()) == digest, (name, blksize)


def test_read_with_curl(start, root, files, tmp_path):
    d = start(tftp_config(root))
    for name, digest in files.items():
        for blksize in (512, 1428):
            out = tmp_path / ("curl-%s-%d" % (name, blksize))
            r = run(["curl", "-sS", "--tftp-blksize", str(blksize), "-o",
                     str(out), curl_url(d, name + ".bin")])
            assert r.returncode == 0, r
            assert sha(out.read_bytes()) == digest, (name, blksize)


def test_block_numbers_wrap(start, root, tmp_path):
    """More than 65535 blocks: the block number rolls over to 0."""
    data = os.urandom(70000 * 8 + 3)
    put_file(root, "wrap.bin", data)
    d = start(tftp_config(root))
    out = tmp_path / "wrap"
    r = run(["curl", "-sS", "--tftp-blksize", "8", "-o", str(out),
             curl_url(d, "wrap.bin")])
    assert r.returncode == 0, r
    assert sha(out.read_bytes()) == sha(data)


def test_tsize_answers_the_size(start, root):
    put_file(root, "f", b"x" * 12345)
    d = start(tftp_config(root))
    c = Raw(d)
    c.send(request(RRQ, "f", tsize=0, blksize=1000, windowsize=4,
                   timeout=2, bogus=1))
    op, _, payload, _ = c.recv()
    assert op == OACK
    assert oack_options(payload) == {"tsize": "12345", "blksize": "1000",
                                     "windowsize": "4", "timeout": "2"}
    c.send(ack(0))
    got = b""
    for n in range(1, 14):
        op, block, payload, _ = c.recv()
        assert (op, block) == (DATA, n)
        got += payload
        if n % 4 == 0 or len(payload) < 1000:
            c.send(ack(n))
    assert got == b"x" * 12345


# --- writing with the clients --------------------------------------------

def test_write_with_every_client(start, root, tmp_path):
    d = start(tftp_config(root, "write = true;"))
    for name, size in SIZES.items():
        data = os.urandom(size)
        src = tmp_path / ("src-" + name)
        src.write_bytes(data)
        r = hpa(d, ["put", str(src), "hpa-" + name])
        assert r.returncode == 0 and b"rror" not in r.stdout + r.stderr, r
        r = atftp(d, ["-p", "-l", str(src), "-r", "atftp-" + name],
                  tsize=size)
        assert r.returncode == 0, r
        r = run(["curl", "-sS", "-T", str(src),
                 curl_url(d, "curl-" + name)])
        assert r.returncode == 0, r
        for client in ("hpa", "atftp", "curl"):
            got = (root / ("%s-%s" % (client, name))).read_bytes()
            assert sha(got) == sha(data), (client, name)
    # Nothing else was left in root: no temporary files.
    assert len(os.listdir(root)) == 3 * len(SIZES)
    assert metric(d, "multid_tftp_transfers_total",
                  'service="t",op="write"') == 3 * len(SIZES)


def test_existing_file_is_never_overwritten(start, root, tmp_path):
    put_file(root, "keep", b"old")
    d = start(tftp_config(root, "write = true;"))
    src = tmp_path / "new"
    src.write_bytes(b"new contents")
    c = Raw(d)
    assert c.error(request(WRQ, "keep")) == 6
    r = hpa(d, ["put", str(src), "keep"])
    assert b"Error code 6" in r.stdout + r.stderr
    assert (root / "keep").read_bytes() == b"old"


def test_write_disabled(start, root, tmp_path):
    d = start(tftp_config(root))
    c = Raw(d)
    assert c.error(request(WRQ, "x")) == 2
    src = tmp_path / "src"
    src.write_bytes(b"data")
    r = hpa(d, ["put", str(src), "y"])
    assert b"Error code 2" in r.stdout + r.stderr
    assert os.listdir(root) == []


# --- netascii --------------------------------------------------------------

def test_netascii_read_converts_line_ends(start, root, tmp_path):
    text = b"one\ntwo\r\nthree\rfour\n"
    put_file(root, "t.txt", text)
    d = start(tftp_config(root))
    c = Raw(d)
    c.send(request(RRQ, "t.txt", "netascii"))
    op, block, payload, _ = c.recv()
    assert (op, block) == (DATA, 1)
    assert payload == b"one\r\ntwo\r\0\r\nthree\r\0four\r\n"
    c.send(ack(1))
    # tftp-hpa turns it back into the file as it is.
    out = tmp_path / "t"
    r = hpa(d, ["get", "t.txt", str(out)], mode="netascii")
    assert r.returncode == 0, r
    assert out.read_bytes() == text


def test_netascii_line_ends_across_blocks(start, root):
    """An LF at the end of a block: its CR ends that block, its LF starts
    the next."""
    put_file(root, "t.txt", b"a" * 511 + b"\n" + b"b" * 10)
    d = start(tftp_config(root))
    c = Raw(d)
    c.send(request(RRQ, "t.txt", "NETASCII"))
    op, block, p1, _ = c.recv()
    assert (op, block, p1) == (DATA, 1, b"a" * 511 + b"\r")
    c.send(ack(1))
    op, block, p2, _ = c.recv()
    assert (op, block, p2) == (DATA, 2, b"\n" + b"b" * 10)
    c.send(ack(2))


def test_netascii_write_converts_back(start, root, tmp_path):
    d = start(tftp_config(root, "write = true;"))
    c = Raw(d)
    c.send(request(WRQ, "w.txt", "netascii"))
    op, block, _, _ = c.recv()
    assert (op, block) == (ACK, 0)
    wire = b"x" * 511 + b"\r" + b"\nline\r\0cr\r\n"
    c.send(data_pkt(1, wire[:512]))
    assert c.recv()[:2] == (ACK, 1)
    c.send(data_pkt(2, wire[512:]))
    assert c.recv()[:2] == (ACK, 2)
    assert (root / "w.txt").read_bytes() == b"x" * 511 + b"\nline\rcr\n"
    # And with tftp-hpa.
    src = tmp_path / "src.txt"
    src.write_bytes(b"a\nb\r\nc\rd\n")
    r = hpa(d, ["put", str(src), "hpa.txt"], mode="netascii")
    assert r.returncode == 0, r
    assert (root / "hpa.txt").read_bytes() == b"a\nb\r\nc\rd\n"


# --- retransmission, the Sorcerer's Apprentice, strangers -----------------

def test_retransmits_after_timeout_then_gives_up(start, root):
    put_file(root, "f", b"z" * 2000)
    d = start(tftp_config(root, "timeout = 1; retries = 2;"))
    c = Raw(d)
    c.send(request(RRQ, "f"))
    t0 = time.monotonic()
    first = c.recv()
    assert first[:2] == (DATA, 1)
    times = []
    for _ in range(2):                       # the ACKs are "lost"
        op, block, payload, _ = c.recv(timeout=3)
        assert (op, block, payload) == (DATA, 1, first[2])
        times.append(time.monotonic() - t0)
    assert 0.8 <= times[0] <= 2.0, times
    assert 1.7 <= times[1] <= 3.5, times
    c.quiet(2.0)                             # no third copy: abandoned
    # An ACK now reaches a closed socket, or nobody that answers.
    assert metric(d, "multid_tftp_retransmits_total") == 2
    assert metric(d, "multid_tftp_failed_total") == 1


def test_write_side_retransmits_its_ack(start, root):
    d = start(tftp_config(root, "write = true; timeout = 1; retries = 1;"))
    c = Raw(d)
    c.send(request(WRQ, "w"))
    assert c.recv()[:2] == (ACK, 0)
    assert c.recv(timeout=2.5)[:2] == (ACK, 0)     # sent again
    c.quiet(2.5)
    assert os.listdir(root) == []


def test_duplicate_ack_gets_no_second_block(start, root):
    put_file(root, "f", (bytes(range(256)) * 6)[:1300])  # 3 blocks
    d = start(tftp_config(root, "timeout = 3;"))
    c = Raw(d)
    c.send(request(RRQ, "f"))
    assert c.recv()[:2] == (DATA, 1)
    c.send(ack(1))
    c.send(ack(1))                                  # a duplicate
    op, block, _, _ = c.recv()
    assert (op, block) == (DATA, 2)
    c.quiet(1.0)                                    # DATA 2 only once
    c.send(ack(1))                                  # late duplicate again
    c.quiet(1.0)
    c.send(ack(2))
    assert c.recv()[:2] == (DATA, 3)
    c.send(ack(3))
    c.quiet(0.5)
    assert metric(d, "multid_tftp_transfers_total",
                  'service="t",op="read"') == 1
    assert metric(d, "multid_tftp_retransmits_total") == 0


def test_stranger_gets_error_5_and_changes_nothing(start, root):
    put_file(root, "f", b"q" * 1500)
    d = start(tftp_config(root, "timeout = 3;"))
    c = Raw(d)
    c.send(request(RRQ, "f"))
    op, block, _, tid = c.recv()
    assert (op, block) == (DATA, 1)
    assert tid[1] != c.port                        # a TID of its own
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.settimeout(3)
    stranger.sendto(ack(1), tid)
    pkt, frm = stranger.recvfrom(1000)
    assert frm == tid
    assert struct.unpack("!HH", pkt[:4]) == (ERROR, 5)
    stranger.close()
    c.quiet(0.8)                                   # its ACK moved nothing
    c.send(ack(1))
    assert c.recv()[:2] == (DATA, 2)
    c.send(ack(2))
    op, block, payload, _ = c.recv()
    assert (op, block, len(payload)) == (DATA, 3, 1500 - 1024)
    c.send(ack(3))


def test_windowsize_sends_a_window_per_ack(start, root):
    data = os.urandom(512 * 10 + 5)
    put_file(root, "f", data)
    d = start(tftp_config(root, "timeout = 3;"))
    c = Raw(d)
    c.send(request(RRQ, "f", windowsize=4))
    op, _, payload, _ = c.recv()
    assert op == OACK and oack_options(payload) == {"windowsize": "4"}
    c.send(ack(0))
    got = {}
    for n in range(1, 5):
        op, block, payload, _ = c.recv()
        assert (op, block) == (DATA, n)
        got[n] = payload
    c.quiet(0.5)                                    # a window, no more
    c.send(ack(4))
    for n in range(5, 9):
        op, block, payload, _ = c.recv()
        got[n] = payload
    c.send(ack(8))
    for n in range(9, 12):
        op, block, payload, _ = c.recv()
        got[n] = payload
    c.send(ack(11))
    assert b"".join(got[n] for n in sorted(got)) == data


# --- hostile and broken input ---------------------------------------------

def test_tsize_too_large_on_write_is_error_3(start, root):
    d = start(tftp_config(root, "write = true; max_size = 1000000;"))
    c = Raw(d)
    assert c.error(request(WRQ, "big", tsize=10 * 1024 ** 3)) == 3
    assert os.listdir(root) == []


def test_upload_past_max_size_is_error_3(start, root):
    d = start(tftp_config(root, "write = true; max_size = 1000;"))
    c = Raw(d)
    c.send(request(WRQ, "big"))
    assert c.recv()[:2] == (ACK, 0)
    c.send(data_pkt(1, b"a" * 512))
    assert c.recv()[:2] == (ACK, 1)
    c.send(data_pkt(2, b"a" * 512))
    op, code, _, _ = c.recv()
    assert (op, code) == (ERROR, 3)
    time.sleep(0.2)
    assert os.listdir(root) == []


@pytest.mark.parametrize("blksize", ["0", "7", "65465", "65536", "-1", "x"])
def test_bad_blksize_is_error_8(start, root, blksize):
    put_file(root, "f", b"data")
    d = start(tftp_config(root))
    c = Raw(d)
    assert c.error(request(RRQ, "f", blksize=blksize)) == 8


@pytest.mark.parametrize("name,code", [
    ("../x", 2), ("a/../../x", 2), ("/../x", 2), (".hidden", 1),
    ("sub/.hidden", 1), ("nothere", 1), ("sub", 2), ("out", 2),
    ("sub/out", 2)])
def test_paths_outside_root_are_refused(start, root, tmp_path, name, code):
    (tmp_path / "secret").write_bytes(b"secret")
    (root / "sub").mkdir()
    put_file(root, ".hidden", b"h")
    put_file(root / "sub", ".hidden", b"h")
    os.symlink(str(tmp_path / "secret"), str(root / "out"))
    os.symlink("../../secret", str(root / "sub" / "out"))
    d = start(tftp_config(root, "write = true;"))
    c = Raw(d)
    assert c.error(request(RRQ, name)) == code


def test_write_outside_root_is_refused(start, root, tmp_path):
    (root / "sub").mkdir()
    os.symlink(str(tmp_path), str(root / "link"))
    d = start(tftp_config(root, "write = true;"))
    c = Raw(d)
    for name in ("../x", "sub/../../x", "link/x", ".dot", "nodir/x"):
        code = c.error(request(WRQ, name))
        assert code in (1, 2), (name, code)
    assert not (tmp_path / "x").exists()
    assert sorted(os.listdir(root)) == ["link", "sub"]
    # A leading slash is the root, as with tftpd -s; a sub-directory works.
    c = Raw(d)
    c.send(request(WRQ, "/sub/ok"))
    assert c.recv()[:2] == (ACK, 0)
    c.send(data_pkt(1, b"fine"))
    assert c.recv()[:2] == (ACK, 1)
    assert (root / "sub" / "ok").read_bytes() == b"fine"


def test_malformed_and_unknown_requests(start, root):
    d = start(tftp_config(root))
    c = Raw(d)
    assert c.error(request(RRQ, "f", mode="mail")) == 4
    assert c.error(b"\0\1noterminator") == 4
    assert c.error(struct.pack("!HH", ACK, 1)) == 4
    c.send(struct.pack("!HH", ERROR, 0) + b"x\0")   # never answered
    c.quiet(0.5)
    assert d.alive()


def test_rrq_flood_from_one_source_is_bounded(start, root):
    put_file(root, "f", b"f" * 5000)
    d = start(tftp_config(root, "timeout = 1; retries = 0;",
                          limits="per_source = 3;"))
    socks = [Raw(d) for _ in range(40)]
    for c in socks:
        c.send(request(RRQ, "f"))
    started = refused = 0
    for c in socks:
        op, num, _, _ = c.recv()
        if op == DATA:
            started += 1
        else:
            assert (op, num) == (ERROR, 0)
            refused += 1
    assert (started, refused) == (3, 37)
    assert metric(d, "multid_connections_rejected_total",
                  'service="t",reason="per_source"') == 37
    assert metric(d, "multid_tftp_failed_total") == 37
    # Once those are abandoned (timeout 1, no retries), new ones start.
    time.sleep(1.6)
    c = Raw(d)
    c.send(request(RRQ, "f"))
    assert c.recv()[:2] == (DATA, 1)


def test_max_connections_counts_transfers(start, root):
    put_file(root, "f", b"f" * 5000)
    d = start(tftp_config(root, "timeout = 2;", limits="max_connections = 2;"))
    a, b, c = Raw(d), Raw(d), Raw(d)
    for x in (a, b, c):
        x.send(request(RRQ, "f"))
    assert a.recv()[:2] == (DATA, 1)
    assert b.recv()[:2] == (DATA, 1)
    assert c.recv()[:2] == (ERROR, 0)
    # One finishes; a new transfer fits again.
    for n in range(1, 11):
        a.send(ack(n))
        op, block, payload, _ = a.recv()
        assert (op, block) == (DATA, n + 1)
        if len(payload) < 512:
            a.send(ack(n + 1))
            break
    time.sleep(0.2)
    c.send(request(RRQ, "f"))
    assert c.recv()[:2] == (DATA, 1)


def test_daemon_max_connections_counts_transfers_too(start, root):
    """Every transfer holds a socket, so the daemon's limit, which fits
    the open-files limit, counts transfers with TCP connections."""
    put_file(root, "f", b"f" * 5000)
    conf = tftp_config(root, "timeout = 2;").replace(
        "daemon = {  }", "daemon = { max_connections = 3; }")
    assert "max_connections = 3" in conf
    d = start(conf)
    socks = [Raw(d) for _ in range(4)]
    for x in socks:
        x.send(request(RRQ, "f"))
    got = sorted(x.recv()[:2] for x in socks)
    assert got == [(DATA, 1)] * 3 + [(ERROR, 0)]


def test_upload_that_stops_midway_leaves_nothing(start, root):
    d = start(tftp_config(root, "write = true; timeout = 1; retries = 1;"))
    c = Raw(d)
    c.send(request(WRQ, "half", blksize=1024))
    op, _, payload, _ = c.recv()
    assert op == OACK and oack_options(payload) == {"blksize": "1024"}
    for n in range(1, 400):
        c.send(data_pkt(n, os.urandom(1024)))
        assert c.recv()[:2] == (ACK, n)
    # The client vanishes: after timeout * (retries + 1) it is abandoned.
    time.sleep(3.5)
    assert os.listdir(root) == []
    assert metric(d, "multid_tftp_failed_total") == 1
    # The same name can be written afterwards.
    c = Raw(d)
    c.send(request(WRQ, "half"))
    assert c.recv()[:2] == (ACK, 0)
    c.send(data_pkt(1, b"whole"))
    assert c.recv()[:2] == (ACK, 1)
    assert (root / "half").read_bytes() == b"whole"


def test_upload_is_named_only_when_complete(start, root):
    d = start(tftp_config(root, "write = true; timeout = 5;"))
    c = Raw(d)
    c.send(request(WRQ, "later"))
    assert c.recv()[:2] == (ACK, 0)
    for n in range(1, 50):
        c.send(data_pkt(n, b"x" * 512))
        assert c.recv()[:2] == (ACK, n)
        assert os.listdir(root) == []
    c.send(data_pkt(50, b"end"))
    assert c.recv()[:2] == (ACK, 50)
    assert (root / "later").stat().st_size == 49 * 512 + 3
    # A repeated last block (its ACK lost) gets the ACK again.
    c.send(data_pkt(50, b"end"))
    assert c.recv()[:2] == (ACK, 50)


def test_dual_stack_listener(start, root, tmp_path):
    data = os.urandom(3000)
    put_file(root, "f", data)
    d = start(tftp_config(root, listen=("udp://*:0",)))
    _, port = d.addr("t", "udp")
    for host, fam in (("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(request(RRQ, "f"), (host, port))
        pkt, tid = s.recvfrom(1000)
        assert tid[0] == host and struct.unpack("!HH", pkt[:4]) == (DATA, 1)
        s.close()
    out = tmp_path / "o"
    r = hpa(d, ["get", "f", str(out)])
    assert r.returncode == 0 and out.read_bytes() == data


@pytest.mark.parametrize("listen,host,fam", [
    ("udp://0.0.0.0:0", "127.0.0.2", socket.AF_INET),
    ("udp://*:0", "127.0.0.2", socket.AF_INET),
    ("udp://[::]:0", "::1", socket.AF_INET6),
])
def test_reply_comes_from_the_address_written_to(start, root, listen, host,
                                                 fam):
    """On a wildcard listener each transfer's socket is bound to the
    address the request was sent to (loopback answers all of 127/8), so
    a client that checks its server's address takes the blocks."""
    data = os.urandom(1500)
    put_file(root, "f", data)
    d = start(tftp_config(root, listen=(listen,)))
    _, port = d.addr("t", "udp")
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(request(RRQ, "f"), (host, port))
    got = b""
    for n in range(1, 4):
        pkt, tid = s.recvfrom(1000)
        assert tid[0] in (host, "::ffff:" + host)
        assert tid[1] != port
        assert struct.unpack("!HH", pkt[:4]) == (DATA, n)
        got += pkt[4:]
        s.sendto(ack(n), tid)
        if len(pkt) < 516:
            break
    assert got == data
    s.close()


def test_config_errors(tmp_path):
    from multid import run_multid
    conf = tmp_path / "c.conf"
    for extra, word in (('', "root"), ('root = "/nonexistent";', "root"),
                        ('root = "/tmp"; timeout = 0;', "timeout"),
                        ('root = "/tmp"; timeout = 256;', "timeout")):
        conf.write_text(config(service("t", "tftp", ["udp://127.0.0.1:0"],
                                       extra)))
        r = run_multid(["-t", "-c", str(conf)])
        assert r.returncode == 1 and word in r.stderr, (extra, r.stderr)
    conf.write_text(config(service("t", "tftp", ["tcp://127.0.0.1:0"],
                                   'root = "/tmp";')))
    assert run_multid(["-t", "-c", str(conf)]).returncode == 1


def test_stop_with_transfers_in_flight(start, root):
    put_file(root, "f", os.urandom(100000))
    d = start(tftp_config(root, "write = true; timeout = 5;"))
    r = Raw(d)
    r.send(request(RRQ, "f"))
    assert r.recv()[:2] == (DATA, 1)
    w = Raw(d)
    w.send(request(WRQ, "up", blksize=8192))
    assert w.recv()[0] == OACK
    for n in range(1, 41):                 # past one buffer for the disk
        w.send(data_pkt(n, os.urandom(8192)))
        assert w.recv()[:2] == (ACK, n)
    assert d.stop() == 0
    assert os.listdir(root) == ["f"]       # the unfinished upload left nothing
    assert r.recv()[:2] == (ERROR, 0)      # both clients were told
    assert w.recv()[:2] == (ERROR, 0)


def test_reload_removing_the_service_ends_its_transfers(start, root):
    put_file(root, "f", os.urandom(5000))
    d = start(tftp_config(root, "write = true; timeout = 5;"))
    r = Raw(d)
    r.send(request(RRQ, "f"))
    assert r.recv()[:2] == (DATA, 1)
    w = Raw(d)
    w.send(request(WRQ, "up"))
    assert w.recv()[:2] == (ACK, 0)
    w.send(data_pkt(1, b"u" * 512))
    assert w.recv()[:2] == (ACK, 1)
    d.reload(config(service("m", "metrics", ["tcp://127.0.0.1:0"])))
    assert r.recv()[:2] == (ERROR, 0)
    assert w.recv()[:2] == (ERROR, 0)
    assert os.listdir(root) == ["f"]
    assert d.alive()


def test_metrics_families(start, root, tmp_path):
    put_file(root, "f", b"r" * 700)
    d = start(tftp_config(root, "write = true;"))
    out = tmp_path / "o"
    assert hpa(d, ["get", "f", str(out)]).returncode == 0
    assert hpa(d, ["put", str(out), "g"]).returncode == 0
    s = d.connect("m")
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    body = recv_all(s).split(b"\r\n\r\n", 1)[1].decode()
    assert body.count("# HELP multid_tftp_transfers_total ") == 1
    assert body.count("# TYPE multid_tftp_transfers_total counter") == 1
    lines = body.splitlines()
    i = lines.index("# TYPE multid_tftp_transfers_total counter")
    assert lines[i + 1:i + 3] == [
        'multid_tftp_transfers_total{service="t",op="read"} 1',
        'multid_tftp_transfers_total{service="t",op="write"} 1']
    assert 'multid_tftp_bytes_total{service="t"} 1400' in lines
    assert 'multid_tftp_failed_total{service="t"} 0' in lines
