"""One pass of valgrind's memcheck over the daemon with every service:
it is started under valgrind, each service is driven briefly (the same
checks as the abuse tests, plus a chat conversation, a bank session with
hashing and history, http listings, ranges and errors, and a reload),
then it is stopped with SIGTERM.  Valgrind must report no error and no
definite leak (--error-exitcode=1 --leak-check=full
--errors-for-leak-kinds=definite), and the daemon must exit 0.

Skipped under ASan (make check-sanitize), which valgrind cannot run, and
when valgrind is not installed (make deps installs it)."""
import os
import re
import shutil

import pytest

from multid import LineClient
from test_abuse import Site, chat_pair, check_services, full_config

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("MULTID_SANITIZE")),
                       reason="valgrind cannot run an ASan build"),
    pytest.mark.skipif(shutil.which("valgrind") is None,
                       reason="valgrind is not installed"),
]


def drive_more(d):
    """What check_services leaves out: two chat users talking, a bank
    session that hashes and writes, http listings, ranges and errors."""
    a, b = chat_pair(d, "vala", "valb", timeout=30)
    a.raw(b"hi \x1b[31mthere\n/who\n")
    assert b.line() == "<vala> hi there"
    assert a.line().startswith("* lobby: ")
    b.send("/quit bye")
    assert a.line() == "* valb left (bye)"
    for x in (a, b):
        x.close()

    c = LineClient(d, "bank", timeout=60)
    for cmd, want in (("OPEN valgrind sesame", "OK opened valgrind"),
                      ("DEPOSIT 12.30", "OK 12.30"),
                      ("WITHDRAW 0.30", "OK 12.00"),
                      ("HISTORY", "OK 2")):
        assert c.ask(cmd) == want
    assert " withdraw 0.30 12.00" in c.line()
    assert " deposit 12.30 12.30" in c.line()
    c.close()

    with d.connect("http", timeout=30) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: v\r\n\r\n"
                  b"GET /?format=json HTTP/1.1\r\nHost: v\r\n\r\n"
                  b"GET /small.txt HTTP/1.1\r\nHost: v\r\nRange: bytes=1-2\r\n\r\n"
                  b"GET /nothing HTTP/1.1\r\nHost: v\r\n\r\n"
                  b"GET /../etc/passwd HTTP/1.1\r\nHost: v\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"200", b"206", b"404", b"404"], statuses


def test_every_service_under_memcheck(start, tmp_path):
    site = Site(tmp_path)
    vlog = str(tmp_path / "valgrind.log")
    wrapper = ["valgrind", "--tool=memcheck", "--error-exitcode=1",
               "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--track-fds=no", "--log-file=" + vlog]
    d = start(full_config(site, echo_extra=""), wrapper=wrapper, timeout=120)
    check_services(d, site)
    drive_more(d)
    d.reload()
    check_services(d, site)
    status = d.stop(timeout=120)
    with open(vlog) as f:
        report = f.read()
    assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
    assert not re.search(r"definitely lost: [1-9]", report), report[-6000:]
    assert status == 0, report[-6000:]
