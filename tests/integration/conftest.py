import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
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


@pytest.fixture
def start(tmp_path):
    """start(config, **kw) -> Daemon; every daemon is stopped after the
    test, and the test fails if a sanitizer reported anything."""
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
        report = SANITIZER_REPORT.search(d.stderr())
        assert report is None, "sanitizer report:\n" + d.stderr()[-4000:]
