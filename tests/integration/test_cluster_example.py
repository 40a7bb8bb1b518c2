"""The README's "More than one machine" example, run as a newcomer runs
it: conf/cluster/run.sh starts PostgreSQL, Redis, rsyslog, two multid
instances and HAProxy in front; chat, bank and log then span both
instances, and stopping the script stops everything it started."""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from multid import BIN, LineClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(ROOT, "conf", "cluster", "run.sh")
PORTS = (7200, 6667, 7400, 15432, 16379, 10514, 17200, 27200, 17400, 27400)


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def run_cluster(tmp_path, binary):
    busy = [p for p in PORTS if listening(p)]
    assert not busy, "the example's ports are in use: %r" % busy
    env = dict(os.environ, CLUSTER_DIR=str(tmp_path / "cluster"))
    p = subprocess.Popen(["bash", RUN, binary], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    seen = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen.append(line)
            # The banner ends with how to look at the shared chat keys.
            if "redis-cli" in line:
                break
        assert any(l.startswith("cluster: ready") for l in seen), "".join(seen)
        yield p, tmp_path / "cluster", "".join(seen)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def cluster(tmp_path):
    yield from run_cluster(tmp_path, BIN)


@pytest.fixture
def cluster_memcheck(tmp_path):
    """The example with both instances under valgrind's memcheck (run.sh
    takes any executable as the binary: here a script that execs it
    under valgrind), and where each instance's report goes."""
    vdir = tmp_path / "valgrind"
    vdir.mkdir()
    wrapper = tmp_path / "multid-memcheck"
    wrapper.write_text(
        "#!/bin/sh\nexec valgrind --tool=memcheck --error-exitcode=1 "
        "--leak-check=full --errors-for-leak-kinds=definite --track-fds=no "
        "--log-file=%s/%%p.log %s \"$@\"\n" % (vdir, BIN))
    wrapper.chmod(0o755)
    for got in run_cluster(tmp_path, str(wrapper)):
        yield got + (vdir,)


def chatter(port, nick):
    c = LineClient.at("127.0.0.1", port, timeout=10)
    c.send(nick)
    c.read_until(lambda l: l.startswith("* hello %s" % nick))
    return c


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        return r.read().decode()


def test_the_example_spans_both_instances_and_stops_whole(cluster):
    exercise(*cluster)


@pytest.mark.skipif(bool(os.environ.get("MULTID_SANITIZE")),
                    reason="valgrind cannot run an ASan build")
@pytest.mark.skipif(shutil.which("valgrind") is None,
                    reason="valgrind is not installed (make deps installs it)")
def test_the_example_under_memcheck(cluster_memcheck):
    """The same, with both instances under memcheck: the PostgreSQL,
    Redis and forwarding clients included, no error, no definite leak."""
    p, d, banner, vdir = cluster_memcheck
    exercise(p, d, banner)
    reports = sorted(vdir.glob("*.log"))
    assert len(reports) == 2, reports
    for r in reports:
        text = r.read_text()
        assert "ERROR SUMMARY: 0 errors" in text, text[-6000:]
        assert not re.search(r"definitely lost: [1-9]", text), text[-6000:]


def exercise(p, d, banner):
    # The banner tells a newcomer how to reach each piece.
    for want in ("telnet 127.0.0.1 7200", "nc 127.0.0.1 7400", "psql -h 127.0.0.1 -p 15432"):
        assert want in banner, banner

    # Chat: one user on each instance and one through HAProxy share a room.
    alice = chatter(17200, "alice")
    bob = chatter(27200, "bob")
    carol = chatter(7200, "carol")
    for c in (alice, bob):
        c.read_until(lambda l: "carol" in l and "joined" in l)
    alice.send("hello from a")
    bob.read_until(lambda l: l == "<alice> hello from a")
    carol.read_until(lambda l: l == "<alice> hello from a")
    bob.send("/who")
    who = bob.read_until(lambda l: l.startswith("* lobby: "))
    assert all(n in who[-1] for n in ("alice", "bob", "carol")), who
    # A nickname held on one instance is taken on the other.
    dup = LineClient.at("127.0.0.1", 17200, timeout=10)
    dup.send("bob")
    assert dup.read_until(lambda l: l.startswith("! "))[-1].startswith("! ")

    # Bank: an account opened through HAProxy is the same on both instances.
    b1 = LineClient.at("127.0.0.1", 7400, timeout=10)
    assert b1.ask("OPEN dave s3cret") == "OK opened dave"
    assert b1.ask("DEPOSIT 12.50") == "OK 12.50"
    for port in (17400, 27400):
        b2 = LineClient.at("127.0.0.1", port, timeout=10)
        assert b2.ask("LOGIN dave s3cret") == "OK balance 12.50"
        b2.s.close()
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", "15432", "-U", "multid", "-At",
                          "-c", "select balance from accounts where name = 'dave'", "multid"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "1250", out

    # Log: records sent to either instance reach the one collector.
    for port, tag in ((17514, "via-a"), (27514, "via-b")):
        subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(port), "-t", tag,
                        "cluster example"], check=True, timeout=10)
    log = d / "forwarded.log"
    deadline = time.monotonic() + 20
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if "via-a" in text and "via-b" in text:
            break
        time.sleep(0.2)
    assert "via-a" in text and "via-b" in text, text

    # Each instance reports its shared backends up.
    for port in (19100, 29100):
        m = metrics(port)
        for backend in ("postgresql", "redis", "forward"):
            assert any(l.startswith("multid_backend_up{") and 'backend="%s"' % backend in l
                       and l.endswith(" 1") for l in m.splitlines()), (backend, m)

    # Stopping the script stops everything it started.
    for c in (alice, bob, carol, dup, b1):
        c.s.close()
    p.send_signal(signal.SIGTERM)
    assert p.wait(60) == 0
    left = [port for port in PORTS if listening(port)]
    assert not left, "still listening after the stop: %r" % left
