"""A Redis server of the tests' own: redis-server on a free loopback port,
without persistence, in a temporary directory, stopped (or killed) by its
PID and started again on the same port.

    r = RedisServer()                 # started, answering PING
    r.url()                           # "redis://127.0.0.1:PORT"
    r.cli("KEYS", "*")                # redis-cli's output, as text
    r.kill(); r.start()               # kill -9, then the same port again
    r.close()

Failing to start raises: the tests that need Redis fail, not skip.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RedisServer:
    def __init__(self, args=()):
        """args: more redis-server options, e.g. ("--requirepass", "pw")."""
        self.dir = tempfile.mkdtemp(prefix="multid-redis.")
        self.port = free_port()
        self.log = os.path.join(self.dir, "redis.log")
        self.args = list(args)
        self.password = None
        if "--requirepass" in self.args:
            self.password = self.args[self.args.index("--requirepass") + 1]
        self.proc = None
        self.start()

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        """Starts redis-server on self.port; raises unless it answers."""
        assert self.proc is None or self.proc.poll() is not None
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", self.log, "--daemonize", "no"] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start on port %d:\n%s" %
                           (self.port, self._log_tail()))

    def _ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=1) as s:
                s.sendall(b"PING\r\n")
                # With a password, Redis is up when it refuses the PING.
                return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def _log_tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def cli(self, *args):
        """One command through redis-cli; its output as text."""
        env = dict(os.environ)
        if self.password is not None:
            env["REDISCLI_AUTH"] = self.password
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p",
                            str(self.port)] + list(args),
                           capture_output=True, text=True, timeout=10,
                           env=env)
        return r.stdout

    def _end(self, sig):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self):
        """kill -9: gone at once, with every key (no persistence)."""
        self._end(signal.SIGKILL)

    def stop(self):
        self._end(signal.SIGTERM)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
