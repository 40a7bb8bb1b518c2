"""The command line, exit statuses and signals (SPEC section 1)."""
import re
import signal
import socket
import time

import pytest

from multid import config, recv_all, recv_exactly, run_multid, service

ECHO = config(service("echo", "echo", ["tcp://127.0.0.1:0"]))


def write(tmp_path, text, name="multid.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("opt", ["-V", "--version"])
def test_version(opt):
    r = run_multid([opt])
    assert r.returncode == 0
    assert re.fullmatch(r"multid \d+\.\d+\.\d+\n", r.stdout), r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("opt", ["-h", "--help"])
def test_help(opt):
    r = run_multid([opt])
    assert r.returncode == 0
    assert r.stdout.startswith("usage: multid [-c FILE] [-t] [-V] [-h]\n")
    for word in ("--config", "--test", "--version", "--help"):
        assert word in r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("args", [["-x"], ["--bogus"], ["-c"],
                                  ["extra-argument"], ["-t", "-c"]])
def test_usage_error(args):
    r = run_multid(args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "usage: multid" in r.stderr


@pytest.mark.parametrize("opt", ["-t", "--test"])
def test_check_ok(tmp_path, opt):
    path = write(tmp_path, ECHO)
    r = run_multid([opt, "--config", path])
    assert r.returncode == 0
    assert r.stderr == "configuration %s is ok\n" % path
    assert r.stdout == ""


def test_check_reports_every_error_with_file_and_line(tmp_path):
    path = write(tmp_path, "daemon = { log_level = \"loud\"; };\n"
                           "services = (\n"
                           "  { name = \"echo\"; type = \"echo\";\n"
                           "    listen = ( \"tcp://127.0.0.1:70000\" ); },\n"
                           "  { name = \"x\"; type = \"nope\";\n"
                           "    listen = ( \"tcp://127.0.0.1:0\" ); }\n"
                           ");\n")
    r = run_multid(["-t", "-c", path])
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert any(l.startswith(path + ":1: daemon.log_level") for l in lines)
    assert any(l.startswith(path + ":4: services.[0].listen") and "70000" in l
               for l in lines), lines
    assert any(l.startswith(path + ":5: services.[1].type") for l in lines)
    assert "is ok" not in r.stderr


def test_check_syntax_error(tmp_path):
    path = write(tmp_path, "services = (\n  { name = \"echo\" \n")
    r = run_multid(["-t", "-c", path])
    assert r.returncode == 1
    assert re.match(re.escape(path) + r":\d+: ", r.stderr), r.stderr


def test_missing_file(tmp_path):
    path = str(tmp_path / "absent.conf")
    r = run_multid(["-t", "-c", path])
    assert r.returncode == 1
    assert path in r.stderr and "No such file" in r.stderr
    r = run_multid(["-c", path])
    assert r.returncode == 1


def test_invalid_config_at_start_exits_1(tmp_path):
    path = write(tmp_path, "services = ( { name = \"echo\"; } );\n")
    r = run_multid(["-c", path])
    assert r.returncode == 1
    assert path + ":1: " in r.stderr


def test_bind_failure_exits_3_with_one_line(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        path = write(tmp_path, config(
            service("time", "time", ["tcp://127.0.0.1:0"]),
            service("echo", "echo", ["tcp://127.0.0.1:%d" % port])))
        r = run_multid(["-c", path])
    assert r.returncode == 3
    assert r.stderr == ("echo: cannot bind tcp://127.0.0.1:%d: Address "
                        "already in use\n" % port)


@pytest.mark.parametrize("reuse", [0, 1])
def test_udp_bind_failure_exits_3(tmp_path, reuse):
    """A busy UDP port fails the bind, also when its socket has
    SO_REUSEADDR as another daemon's might: two sockets on one UDP port
    would split its datagrams between them without an error."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        path = write(tmp_path, config(
            service("echo", "echo", ["udp://127.0.0.1:%d" % port])))
        r = run_multid(["-c", path])
    assert r.returncode == 3
    assert r.stderr == ("echo: cannot bind udp://127.0.0.1:%d: Address "
                        "already in use\n" % port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly(start, sig):
    d = start(ECHO)
    s = d.connect("echo")
    s.sendall(b"bye\n")
    assert recv_exactly(s, 4) == b"bye\n"
    t0 = time.time()
    d.signal(sig)
    d.wait_note("STOPPING=1")
    d.proc.wait(10)
    assert d.proc.returncode == 0
    assert time.time() - t0 < 5
    # The open connection was closed, not left hanging.
    s.settimeout(5)
    try:
        assert recv_all(s) == b""
    except ConnectionResetError:
        pass
    s.close()
    assert "stopped" in d.stderr()


def test_stop_waits_at_most_shutdown_timeout(start):
    """A client that never reads cannot hold the daemon past
    daemon.shutdown_timeout."""
    d = start(config(service("chargen", "chargen", ["tcp://127.0.0.1:0"]),
                     daemon="shutdown_timeout = 1;"))
    s = d.connect("chargen")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    time.sleep(0.3)
    t0 = time.time()
    d.signal(signal.SIGTERM)
    d.proc.wait(10)
    assert d.proc.returncode == 0
    assert time.time() - t0 < 4
    s.close()


def test_listening_lines_name_real_ports(start):
    d = start(config(service("echo", "echo", ["tcp://127.0.0.1:0",
                                              "udp://[::1]:0"])))
    text = d.stderr()
    assert re.search(r"^echo listening on tcp://127\.0\.0\.1:[1-9]\d*$",
                     text, re.M)
    assert re.search(r"^echo listening on udp://\[::1\]:[1-9]\d*$", text,
                     re.M)
