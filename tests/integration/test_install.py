"""`make install` into a staging tree, the shipped units (systemd-analyze
verify and security), and the production example configuration."""
import gzip
import os
import re
import shutil
import stat
import subprocess

import pytest

from multid import BIN, run_multid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(ROOT, "conf", "multid.conf.example")
UNITS = os.path.join(ROOT, "systemd")


def make(*args):
    """Runs make in the source tree with the binary under test: -o keeps
    make from rebuilding it."""
    build = os.path.dirname(os.path.abspath(BIN))
    cmd = ["make", "--no-print-directory", "-C", ROOT, "BUILD=" + build,
           "-o", os.path.join(build, "multid")] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def staged(tmp_path):
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    return str(dest)


def test_tree(staged):
    p = lambda rel: os.path.join(staged, rel.lstrip("/"))
    sbin = p("/usr/sbin/multid")
    assert mode(sbin) == 0o755
    r = subprocess.run([sbin, "-V"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("multid ")
    for unit in ("multid.service", "multid.socket"):
        assert mode(p("/lib/systemd/system/" + unit)) == 0o644
    service = open(p("/lib/systemd/system/multid.service")).read()
    assert re.search(r"^ExecStart=/usr/sbin/multid -c /etc/multid/multid\.conf$",
                     service, re.M)
    assert "ExecReload=/bin/kill -HUP $MAINPID" in service
    assert open(p("/lib/systemd/system/multid.socket")).read() == \
        open(os.path.join(UNITS, "multid.socket")).read()
    assert "u multid" in open(p("/usr/lib/sysusers.d/multid.conf")).read()
    for page, src in (("/usr/share/man/man8/multid.8.gz", "multid.8"),
                      ("/usr/share/man/man5/multid.conf.5.gz",
                       "multid.conf.5")):
        with gzip.open(p(page), "rt") as f:
            assert f.read() == open(os.path.join(ROOT, "man", src)).read()
    conf = p("/etc/multid/multid.conf")
    assert mode(conf) == 0o644
    assert open(conf).read() == open(EXAMPLE).read()
    assert os.path.isdir(p("/srv/www"))


def test_existing_configuration_is_kept(staged):
    conf = os.path.join(staged, "etc", "multid", "multid.conf")
    with open(conf, "a") as f:
        f.write("# edited by the administrator\n")
    edited = open(conf).read()
    r = make("install", "DESTDIR=%s" % staged, "PREFIX=/usr")
    assert "keeping" in r.stdout
    assert open(conf).read() == edited
    # uninstall removes the rest but keeps the edited file.
    make("uninstall", "DESTDIR=%s" % staged, "PREFIX=/usr")
    assert open(conf).read() == edited
    for rel in ("usr/sbin/multid", "lib/systemd/system/multid.service",
                "lib/systemd/system/multid.socket",
                "usr/share/man/man8/multid.8.gz"):
        assert not os.path.exists(os.path.join(staged, rel)), rel


def test_prefix_rewrites_the_unit(tmp_path):
    dest = tmp_path / "dest"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr/local")
    service = open(dest / "lib/systemd/system/multid.service").read()
    assert "ExecStart=/usr/local/sbin/multid -c /etc/multid/multid.conf" in \
        service
    assert (dest / "usr/local/sbin/multid").exists()
    assert (dest / "usr/local/share/man/man8/multid.8.gz").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze missing")
def test_units_verify(tmp_path):
    """Installs under tmp_path itself (DESTDIR=/ with every directory
    there), so the units name a binary that exists, and verifies them."""
    t = str(tmp_path / "root")
    make("install", "DESTDIR=/", "PREFIX=%s/usr" % t,
         "SYSCONFDIR=%s/etc" % t, "UNITDIR=%s/lib/systemd/system" % t,
         "SYSUSERSDIR=%s/usr/lib/sysusers.d" % t, "WWWROOT=%s/srv/www" % t)
    units = [os.path.join(t, "lib/systemd/system", u)
             for u in ("multid.service", "multid.socket")]
    r = subprocess.run(["systemd-analyze", "verify"] + units,
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=t + "/usr/share/man"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout + r.stderr == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze missing")
def test_unit_exposure_is_low():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        os.path.join(UNITS, "multid.service")],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for multid\.service: ([\d.]+)",
                  r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_settings():
    service = open(os.path.join(UNITS, "multid.service")).read()
    for line in ("Type=notify", "StateDirectory=multid",
                 "LogsDirectory=multid", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "SystemCallFilter=@system-service", "ProtectHome=yes",
                 "PrivateDevices=yes", "MemoryDenyWriteExecute=yes",
                 "ProtectProc=invisible", "UMask=0077"):
        assert re.search(r"^%s$" % re.escape(line), service, re.M), line
    assert re.search(r"^WatchdogSec=\d+", service, re.M)
    assert re.search(r"^CapabilityBoundingSet=$", service, re.M)
    sock = open(os.path.join(UNITS, "multid.socket")).read()
    for port in (7, 9, 13, 19, 37):
        assert re.search(r"^ListenStream=%d$" % port, sock, re.M), port


def test_socket_unit_matches_the_example():
    """Every socket of multid.socket has a service in the example, or
    multid would refuse to start (exit 3)."""
    sock = open(os.path.join(UNITS, "multid.socket")).read()
    example = open(EXAMPLE).read()
    for kind, port in re.findall(r"^Listen(Stream|Datagram)=(\d+)$", sock,
                                 re.M):
        proto = "tcp" if kind == "Stream" else "udp"
        assert '"%s://*:%s"' % (proto, port) in example, (proto, port)


def test_example_configuration_is_valid(tmp_path):
    """The production example passes -t once its user and web root exist
    here."""
    www = tmp_path / "www"
    www.mkdir()
    text = open(EXAMPLE).read()
    text = text.replace('user = "multid"', 'user = "nobody"')
    text = text.replace('"/srv/www"', '"%s"' % www)
    path = tmp_path / "multid.conf"
    path.write_text(text)
    r = run_multid(["-t", "-c", str(path)])
    assert r.returncode == 0, r.stderr
    assert r.stderr == "configuration %s is ok\n" % path
