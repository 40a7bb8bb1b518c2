"""A PostgreSQL server of the tests' own: initdb and postgres in a
temporary directory, run as the user postgres (`runuser -u postgres --`),
listening on a free loopback port and on a Unix socket in that directory,
with a role and database `multid`.  Stopped (or crashed) by its PID.

    pg = PgServer()                   # initdb, start, CREATE ROLE multid
    pg.conninfo()                     # "host=127.0.0.1 port=... dbname=multid user=multid"
    pg.createdb("t1")                 # another database, owned by multid
    pg.query("SELECT 1", db="t1")     # rows as lists of strings, via psql
    pg.crash(); pg.start()            # kill -9 of every postgres process
    pg.close()

Failing to start raises: the tests that need PostgreSQL fail, not skip.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PGBIN = os.environ.get("MULTID_PGBIN", "/usr/lib/postgresql/15/bin")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _as_postgres(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args,
                          capture_output=True, text=True, **kw)


def _children(pid):
    """PIDs whose parent is pid (from /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(name))
    return out


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class PgServer:
    def __init__(self, settings=()):
        """settings: extra `-c NAME=VALUE` for postgres."""
        pw = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="multid-pg.")
        os.chmod(self.dir, 0o755)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.settings = list(settings)
        self.proc = None
        self.pid = None
        r = _as_postgres([os.path.join(PGBIN, "initdb"), "-D", self.data,
                          "-U", "postgres", "-A", "trust", "-E", "UTF8",
                          "--locale=C", "--no-sync"], timeout=120)
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout + r.stderr)
        self.start()
        self.query("CREATE ROLE multid LOGIN", db="postgres", user="postgres")
        self.createdb("multid")

    # --- the server ---------------------------------------------------------
    def start(self, timeout=30):
        """Starts postgres and waits until it accepts connections."""
        args = [os.path.join(PGBIN, "postgres"), "-D", self.data,
                "-p", str(self.port), "-k", self.dir,
                "-c", "listen_addresses=127.0.0.1",
                "-c", "max_connections=200", "-c", "shared_buffers=32MB",
                "-c", "fsync=on", "-c", "synchronous_commit=on"]
        for s in self.settings:
            args += ["-c", s]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["runuser", "-u", "postgres", "--"] + args,
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            r = subprocess.run([os.path.join(PGBIN, "pg_isready"), "-q",
                                "-h", "127.0.0.1", "-p", str(self.port)])
            if r.returncode == 0:
                self.pid = self._postmaster_pid()
                return
            time.sleep(0.1)
        raise RuntimeError("postgres did not start:\n" + self.log_text())

    def _postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def pids(self):
        """The postmaster's PID and those of the processes it started."""
        return [self.pid] + _children(self.pid) if self.pid else []

    def running(self):
        return self.pid is not None and _alive(self.pid)

    def stop(self, timeout=30):
        """A fast shutdown (SIGINT): sessions are ended, what committed
        stays."""
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGINT)
            deadline = time.time() + timeout
            while _alive(self.pid) and time.time() < deadline:
                time.sleep(0.05)
            if _alive(self.pid):
                self.crash()
        self._reap()

    def crash(self):
        """kill -9 of the postmaster and of every process it started, as a
        power cut would end them; the next start recovers from the WAL."""
        if self.pid is None:
            return
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        self._reap()

    def _reap(self):
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.pid = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # --- clients ------------------------------------------------------------
    def conninfo(self, db="multid"):
        return "host=127.0.0.1 port=%d dbname=%s user=multid" % (
            self.port, db)

    def psql_args(self, db="multid", user="multid"):
        return [os.path.join(PGBIN, "psql"), "-X", "-q", "-v",
                "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
                "-U", user, "-d", db]

    def query(self, sql, db="multid", user="multid", timeout=60):
        """Runs sql with psql; the rows as lists of strings."""
        r = _as_postgres(self.psql_args(db, user) + ["-At", "-F", "\t",
                                                     "-c", sql],
                         timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines()]

    def createdb(self, name):
        self.query('CREATE DATABASE "%s" OWNER multid' % name,
                   db="postgres", user="postgres")
        return name
