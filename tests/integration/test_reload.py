"""Live reload on SIGHUP (SPEC section 4): services are added, removed and
changed while unchanged ones keep their sockets and connections; a new
configuration that cannot be applied changes nothing."""
import re
import socket
import threading
import time

import pytest

from multid import LISTEN_RE, config, recv_all, recv_exactly, service

ECHO = service("echo", "echo", ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"])
DISCARD = service("discard", "discard", ["tcp://127.0.0.1:0"])
TIME = service("time", "time", ["tcp://127.0.0.1:0"])
CHARGEN = service("chargen", "chargen", ["tcp://127.0.0.1:0"])


def daytime(fmt):
    return service("daytime", "daytime", ["tcp://127.0.0.1:0"],
                   'utc = true; format = "%s";' % fmt)


def ports(d, name, proto="tcp"):
    """Every port the daemon reported for name, in order."""
    out = []
    for line in d.stderr().splitlines():
        m = LISTEN_RE.match(line.strip())
        if m and m.group(1) == name and m.group(2) == proto:
            out.append(int(m.group(4)))
    return out


def connect(port, timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def refused(port):
    try:
        connect(port).close()
    except ConnectionRefusedError:
        return True
    return False


def echo_round_trip(port, data=b"ping\n"):
    with connect(port) as s:
        s.sendall(data)
        return recv_exactly(s, len(data)) == data


def summary(d):
    found = re.findall(r"^reload: (\d+) added, (\d+) removed, (\d+) changed, "
                       r"(\d+) unchanged$", d.stderr(), re.M)
    return tuple(int(x) for x in found[-1]) if found else None


def test_add_remove_change_and_keep(start):
    d = start(config(ECHO, DISCARD, daytime("A %Y"), TIME))
    echo_port, discard_port = d.port("echo"), d.port("discard")
    echo_udp = d.port("echo", "udp")
    day_port, time_port = d.port("daytime"), d.port("time")
    with connect(day_port) as s:
        assert recv_all(s).startswith(b"A 20")

    d.reload(config(ECHO, daytime("B %Y"), TIME, CHARGEN))

    assert summary(d) == (1, 1, 1, 2), d.stderr()
    # Unchanged and changed services keep their sockets and ports.
    assert ports(d, "echo") == [echo_port]
    assert ports(d, "echo", "udp") == [echo_udp]
    assert ports(d, "daytime") == [day_port]
    assert ports(d, "time") == [time_port]
    assert echo_round_trip(echo_port)
    # The changed key applies to the next connection.
    with connect(day_port) as s:
        assert recv_all(s).startswith(b"B 20")
    # The removed service is gone, the new one answers.
    assert refused(discard_port)
    assert re.search(r"^discard: stopped$", d.stderr(), re.M)
    with connect(d.port("chargen")) as s:
        assert len(recv_exactly(s, 74)) == 74
    assert d.alive()


def test_open_connections_survive_reload(start):
    d = start(config(ECHO, DISCARD))
    keep = d.connect("echo")
    keep.sendall(b"before\n")
    assert recv_exactly(keep, 7) == b"before\n"
    # echo changes (a common key), discard goes: neither touches keep.
    d.reload(config(service("echo", "echo",
                            ["tcp://127.0.0.1:0", "udp://127.0.0.1:0"],
                            "max_connections = 500;")))
    assert summary(d) == (0, 1, 1, 0)
    keep.sendall(b"after\n")
    assert recv_exactly(keep, 6) == b"after\n"
    for _ in range(3):
        d.reload()
        keep.sendall(b"again\n")
        assert recv_exactly(keep, 6) == b"again\n"
    assert summary(d) == (0, 0, 0, 1)
    keep.close()


def test_removed_service_closes_its_connections(start):
    d = start(config(ECHO, TIME))
    port = d.port("echo")
    s = d.connect("echo")
    s.sendall(b"x\n")
    assert recv_exactly(s, 2) == b"x\n"
    d.reload(config(TIME))
    s.settimeout(5)
    try:
        assert recv_all(s) == b""
    except ConnectionResetError:
        pass
    s.close()
    assert refused(port)
    assert summary(d) == (0, 1, 0, 1)


def test_changed_listen_entry_moves_the_service(start):
    d = start(config(ECHO, TIME))
    old = d.port("echo")
    d.reload(config(service("echo", "echo", ["tcp://[::1]:0"]), TIME))
    assert summary(d) == (0, 0, 1, 1)
    assert refused(old)
    six = [l for l in d.stderr().splitlines()
           if l.startswith("echo listening on tcp://[::1]:")]
    assert len(six) == 1
    port = int(six[0].rsplit(":", 1)[1])
    with socket.create_connection(("::1", port), timeout=5) as s:
        s.sendall(b"v6\n")
        assert recv_exactly(s, 3) == b"v6\n"


def test_type_change_keeps_the_socket(start):
    d = start(config(service("x", "echo", ["tcp://127.0.0.1:0"])))
    port = d.port("x")
    assert echo_round_trip(port)
    d.reload(config(service("x", "daytime", ["tcp://127.0.0.1:0"],
                            'format = "day";')))
    assert summary(d) == (0, 0, 1, 0)
    assert ports(d, "x") == [port]
    with connect(port) as s:
        assert recv_all(s) == b"day\r\n"


@pytest.mark.parametrize("bad,where", [
    ("services = ( { name = \"echo\"; type = \"echo\";\n"
     "  listen = ( \"tcp://127.0.0.1:0\" ) } ",
     r"multid\.conf:\d+: "),
    (config(ECHO, service("t", "time", ["tcp://127.0.0.1:0"],
                          "colour = 3;")),
     r"multid\.conf:\d+: services\.\[1\]\.colour: unknown key"),
    (config(ECHO, service("echo", "time", ["tcp://127.0.0.1:0"])),
     r"multid\.conf:\d+: .*used twice"),
])
def test_invalid_config_changes_nothing(start, bad, where):
    d = start(config(ECHO, TIME))
    echo_port, time_port = d.port("echo"), d.port("time")
    keep = d.connect("echo")
    d.reload(bad)
    err = d.stderr()
    assert re.search(where, err), err
    assert "reload failed, configuration unchanged" in err
    assert summary(d) is None
    assert echo_round_trip(echo_port)
    assert len(recv_exactly(connect(time_port), 4)) == 4
    keep.sendall(b"still\n")
    assert recv_exactly(keep, 6) == b"still\n"
    keep.close()
    # The old configuration is still the one in force.
    d.reload(config(ECHO, TIME))
    assert summary(d) == (0, 0, 0, 2)


def test_bind_failure_applies_nothing(start):
    d = start(config(ECHO, DISCARD))
    discard_port = d.port("discard")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    try:
        # discard would go and time would come, but time cannot bind.
        d.reload(config(ECHO, service("time", "time",
                                      ["tcp://127.0.0.1:%d" % busy])))
        err = d.stderr()
        assert ("time: cannot bind tcp://127.0.0.1:%d: Address already in use"
                % busy) in err
        assert "reload failed, configuration unchanged" in err
        assert summary(d) is None
        # Nothing applied: discard still runs.
        with connect(discard_port) as s:
            s.sendall(b"into the void\n")
        assert not refused(discard_port)
        assert "discard: stopped" not in d.stderr()
    finally:
        blocker.close()
    # With the port free the same file applies.
    d.reload()
    assert summary(d) == (1, 1, 0, 1)
    assert refused(discard_port)
    with connect(busy) as s:
        assert len(recv_exactly(s, 4)) == 4


def test_no_refused_connection_during_reloads(start):
    """A client connecting in a tight loop to an unchanged service never
    sees a refused or reset connection while the daemon reloads."""
    d = start(config(ECHO, DISCARD))
    port = d.port("echo")
    stop = threading.Event()
    result = {"ok": 0, "errors": []}

    def hammer():
        deadline = time.time() + 30
        while not stop.is_set() and time.time() < deadline:
            try:
                with connect(port, timeout=5) as s:
                    s.sendall(b"hi\n")
                    if recv_exactly(s, 3) != b"hi\n":
                        result["errors"].append("short reply")
                result["ok"] += 1
            except OSError as e:
                result["errors"].append(repr(e))

    t = threading.Thread(target=hammer)
    t.start()
    try:
        time.sleep(0.1)
        for i in range(5):
            extra = [DISCARD] if i % 2 else [TIME]
            d.reload(config(ECHO, *extra))
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(40)
    assert result["errors"] == []
    assert result["ok"] > 10
    assert ports(d, "echo") == [port]


def test_log_level_follows_reload(start):
    d = start(config(ECHO, daemon='log_level = "error";'))
    # The listening lines show whatever the level.
    assert ports(d, "echo") == [d.port("echo")]
    d.reload(config(ECHO, TIME, daemon='log_level = "error";'))
    assert summary(d) is None
    assert ports(d, "time"), d.stderr()
    d.reload(config(ECHO, daemon='log_level = "notice";'))
    # The new level applies from the next line on.
    d.reload()
    assert summary(d) == (0, 0, 0, 1)
    assert "time: stopped" not in d.stderr()


def test_reload_reports_to_systemd(start):
    d = start(config(ECHO))
    d.signal(__import__("signal").SIGHUP)
    note = d.wait_note("RELOADING=1")
    assert re.search(r"MONOTONIC_USEC=\d+", note)
    d.wait_note("READY=1")
    status = d.wait_note("STATUS=")
    assert "1 services" in status
