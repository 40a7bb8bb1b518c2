import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import multid  # noqa: E402
from multid import Daemon  # noqa: E402

# Set by `make check SANITIZE=...`: memory bounds do not hold under ASan.
SANITIZED = bool(os.environ.get("MULTID_SANITIZE"))
SANITIZER_REPORT = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
    r"SUMMARY: UndefinedBehaviorSanitizer")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "memory_bound: asserts RSS bounds (skipped under ASan)")
    config.addinivalue_line(
        "markers", "tls_audit: testssl.sh's minutes-long audit of the TLS "
        "settings, which ASan does not change (run in the plain suite)")


def pytest_collection_modifyitems(config, items):
    if not SANITIZED:
        return
    skip = pytest.mark.skip(reason="RSS bounds do not hold under ASan")
    audit = pytest.mark.skip(reason="the TLS audit runs in the plain suite")
    for item in items:
        if "memory_bound" in item.keywords:
            item.add_marker(skip)
        if "tls_audit" in item.keywords:
            item.add_marker(audit)


@pytest.fixture(autouse=True)
def sanitizer_reports():
    """After every test, each daemon it started (through start, a fixture
    of its own or Daemon directly) is stopped if still running, and the
    test fails if a sanitizer reported anything in its stderr."""
    multid.STARTED.clear()
    yield
    started, multid.STARTED[:] = list(multid.STARTED), []
    for d in started:
        if d.proc.poll() is None:
            d.stop()
        else:
            d.cleanup()
        try:
            text = d.stderr()
        except FileNotFoundError:
            continue              # a test that removed its own directory
        report = SANITIZER_REPORT.search(text)
        assert report is None, "sanitizer report:\n" + text[-4000:]


@pytest.fixture
def start(tmp_path):
    """start(config, **kw) -> Daemon; every daemon is stopped after the
    test (and checked for sanitizer reports, as every daemon is)."""
    started = []

    def _start(config, **kw):
        sub = tmp_path / ("d%d" % len(started))
        sub.mkdir()
        d = Daemon(sub, config, **kw)
        started.append(d)
        return d

    yield _start
    for d in started:
        if d.proc.poll() is None:
            d.stop()
        else:
            d.cleanup()
