"""The http service as a browser sees it: headless Chromium renders a
directory listing, follows its links and takes a screenshot, over http and
over https (SPEC 6).  make check installs Chromium (make deps-test); without
it these tests fail rather than skip."""
import base64
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from multid import config, service
from test_tls import keys, make_cert

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# The public key hash of the test certificate Chromium is told to trust
# (--ignore-certificate-errors-spki-list trusts that key alone).
SPKI = []


def spki_hash(cert):
    der = subprocess.run(
        "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
        "-outform der" % cert, shell=True, check=True,
        capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def chromium(*args, timeout=90):
    """Runs headless Chromium in its own process group and profile; the
    whole group is killed if it hangs."""
    assert CHROMIUM is not None, "chromium is not installed (make deps-test)"
    profile = tempfile.mkdtemp(prefix="mdchrome")
    trust = ["--ignore-certificate-errors-spki-list=" + ",".join(SPKI)] \
        if SPKI else []
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--user-data-dir=" + profile] + \
        trust + list(args)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


@pytest.fixture(params=["http", "https"])
def web(start, tmp_path, request):
    root = tmp_path / "www"
    (root / "photos" / "2026").mkdir(parents=True)
    (root / "readme.txt").write_text("plain text file\n")
    (root / "\u00fcber uns.txt").write_text("umlaut\n")
    (root / "a&b<c>.txt").write_text("odd name\n")
    (root / ".profile").write_text("hidden\n")
    (root / "photos" / "cat.txt").write_text("meow\n")
    if request.param == "https":
        make_cert(str(tmp_path))
        SPKI[:] = [spki_hash(str(tmp_path / "cert.pem"))]
        d = start(config(service("web", "http", ["tls://127.0.0.1:0"],
                                 'root = "%s"; %s' % (root, keys(tmp_path)))))
        host, port = d.addr("web", "tls")
    else:
        SPKI[:] = []
        d = start(config(service("web", "http", ["tcp://127.0.0.1:0"],
                                 'root = "%s";' % root)))
        host, port = d.addr("web")
    d.url = "%s://%s:%d" % (request.param, host, port)
    return d


def test_listing_renders_in_chromium(web):
    rc, dom, err = chromium("--dump-dom", web.url + "/")
    assert rc == 0, err[-2000:]
    assert "<title>Index of /</title>" in dom
    assert "<h1>Index of /</h1>" in dom
    # Names arrive as UTF-8 and escaped: the browser shows them as they are.
    assert "\u00fcber uns.txt</a>" in dom
    assert "a&amp;b&lt;c&gt;.txt</a>" in dom
    assert 'href="photos/"' in dom and 'href="%C3%BCber%20uns.txt"' in dom
    assert ".profile" not in dom
    assert dom.index("photos/") < dom.index("readme.txt")


def test_links_lead_where_they_say(web):
    rc, dom, err = chromium("--dump-dom", web.url + "/photos")
    assert rc == 0, err[-2000:]
    # The browser followed the 301 to /photos/ and sees that listing.
    assert "<h1>Index of /photos/</h1>" in dom
    assert 'href="../"' in dom and 'href="2026/"' in dom
    rc, dom, err = chromium("--dump-dom", web.url + "/%C3%BCber%20uns.txt")
    assert rc == 0 and "umlaut" in dom


def test_screenshot_of_a_listing(web, tmp_path):
    shot = tmp_path / "listing.png"
    rc, out, err = chromium("--screenshot=%s" % shot, "--window-size=800,600",
                            web.url + "/photos/")
    assert rc == 0, err[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 2000   # an actual picture, not an empty page
