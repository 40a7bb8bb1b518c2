import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from multid import Daemon  # noqa: E402


@pytest.fixture
def start(tmp_path):
    """start(config, **kw) -> Daemon; every daemon is stopped after the
    test, and a test fails if one died on its own."""
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
