"""conf/multid.conf, the configuration `make run` starts: every service
comes up, conf/connect-help.sh prints a command for each, and the
commands it prints for the file, tftp and mail services work as printed
(the others have tests of their own)."""
import os
import re
import io
import shutil
import socket
import subprocess
import tarfile

import pytest

from multid import Daemon

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(ROOT, "conf")


def start_dev(tmp_path, **kw):
    """The development configuration in a copy of conf/, so that uploads,
    mail and the bank's database stay in the test's directory."""
    run = tmp_path / "conf"
    run.mkdir()
    shutil.copytree(os.path.join(CONF, "www"), run / "www")
    (run / "uploads").mkdir()
    with open(os.path.join(CONF, "multid.conf")) as f:
        text = f.read()
    return Daemon(run, text, **kw), run


@pytest.fixture
def dev(tmp_path):
    d, run = start_dev(tmp_path)
    yield d, run
    d.stop()


def helper_lines():
    out = subprocess.run(["sh", os.path.join(CONF, "connect-help.sh"),
                          os.path.join(CONF, "multid.conf")],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()[1:]


def command(type_, contains=""):
    """The first command printed for a service of type_."""
    for line in helper_lines():
        fields = line.split(None, 2)
        if fields[1] == type_ and contains in line:
            return re.sub(r"^\s*\S+\s+\S+\s+(course |irc )?\s*", "", line)
    raise AssertionError("no command for %s in %r" % (type_, helper_lines()))


def sh(cmd, cwd, stdin=None, timeout=60):
    return subprocess.run(cmd, shell=True, cwd=cwd, input=stdin,
                          capture_output=True, timeout=timeout)


def test_every_service_starts_and_has_a_command(dev):
    d, _ = dev
    with open(os.path.join(CONF, "multid.conf")) as f:
        names = re.findall(r'\{ name = "([^"]+)";\s*type', f.read())
    started = set(d.listeners)
    assert set(names) <= started, set(names) - started
    printed = {line.split()[0] for line in helper_lines()}
    assert printed == set(names), (printed, names)


def test_file_commands_work_as_printed(dev, tmp_path):
    check_files(*dev, tmp_path)


def check_files(d, run, tmp_path):
    up = command("files", "< FILE").replace("FILE", "up.txt")
    (tmp_path / "up.txt").write_bytes(b"hello multid\n")
    r = sh(up, tmp_path)
    assert r.stdout.startswith(b"OK "), r
    stored = r.stdout.split()[1].decode()
    assert (run / "uploads" / stored).read_bytes() == b"hello multid\n"
    down = command("files", "tar t")
    r = sh(down.replace("| tar t", ""), tmp_path)
    names = tarfile.open(fileobj=io.BytesIO(r.stdout)).getnames()
    assert "index.html" in names and "files/hello.txt" in names, names


def test_tftp_command_works_as_printed(dev, tmp_path):
    check_tftp(*dev, tmp_path)


def check_tftp(d, run, tmp_path):
    r = sh(command("tftp"), tmp_path)
    assert r.returncode == 0, r
    assert (tmp_path / "index.html").read_bytes() == (run / "www" / "index.html").read_bytes()


def test_mail_commands_work_as_printed(dev, tmp_path):
    check_mail(tmp_path)


def check_mail(tmp_path):
    r = sh(command("smtp"), tmp_path, timeout=120)
    assert b"250 2.0.0 Ok: queued as" in r.stdout, r
    r = sh(command("pop3"), tmp_path, timeout=120)
    assert re.match(rb"^1 \d+\r?\n$", r.stdout), r


@pytest.mark.skipif(bool(os.environ.get("MULTID_SANITIZE")),
                    reason="valgrind cannot run an ASan build")
@pytest.mark.skipif(shutil.which("valgrind") is None,
                    reason="valgrind is not installed (make deps installs it)")
def test_file_tftp_mail_and_irc_under_memcheck(tmp_path):
    """The services test_valgrind's daemon leaves out (files, tftp, smtp,
    pop3, IRC), driven by the same commands under valgrind's memcheck:
    no error, no definite leak, exit 0 after SIGTERM."""
    vlog = str(tmp_path / "valgrind.log")
    d, run = start_dev(tmp_path, timeout=120, wrapper=[
        "valgrind", "--tool=memcheck", "--error-exitcode=1",
        "--leak-check=full", "--errors-for-leak-kinds=definite",
        "--track-fds=no", "--log-file=" + vlog])
    try:
        check_files(d, run, tmp_path)
        check_tftp(d, run, tmp_path)
        check_mail(tmp_path)
        # The chat's IRC port, as connect-help prints it for irssi.
        port = int(command("chat", "irssi").split()[-1])
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(b"NICK vg\r\nUSER vg 0 * :vg\r\nJOIN #lobby\r\n"
                      b"PRIVMSG #lobby :hi\r\nQUIT :bye\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        assert b" 001 vg " in data and b" 366 vg #lobby " in data, data
    finally:
        status = d.stop(timeout=120)
    with open(vlog) as f:
        report = f.read()
    assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
    assert not re.search(r"definitely lost: [1-9]", report), report[-6000:]
    assert status == 0, report[-6000:]
