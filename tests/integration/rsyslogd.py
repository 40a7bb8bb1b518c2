"""A real rsyslogd as a log collector for the tests: it listens with imtcp
on a loopback port and writes what it receives over TCP to files in its
own temporary directory.

    r = Rsyslogd(tmp_path)         # started; r.port is its TCP port
    r.url                          # "tcp://127.0.0.1:PORT" for multid
    r.records()                    # [{'pri': 13, 'host': ..., 'msg': ...}]
    r.stop(); r.start()            # the same port again
    r.cleanup()

Only what came in through imtcp is written (rsyslogd's own messages are
not), one record per line in two files: `fields.log` with the RFC 5424
fields separated by TAB (rsyslogd escapes control characters in messages), and `raw.log` with the message as
received.  No imuxsock or imklog: the system's logs are never touched.
Start-up failure raises, so a test that needs rsyslogd fails without it.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
SEP = "\t"
FIELDS = ("pri", "time", "host", "app", "procid", "msgid", "sd", "msg")

CONFIG = """\
global(workDirectory="{dir}/work")
module(load="imtcp")
input(type="imtcp" port="{port}" address="{address}")
template(name="fields" type="string"
         string="%pri%\\t%timestamp:::date-rfc3339%\\t%hostname%\\t%app-name%\\t%procid%\\t%msgid%\\t%structured-data%\\t%msg%\\n")
template(name="raw" type="string" string="%rawmsg%\\n")
if $inputname == "imtcp" then {{
    action(type="omfile" file="{dir}/fields.log" template="fields")
    action(type="omfile" file="{dir}/raw.log" template="raw")
}}
"""


def free_port(address="127.0.0.1"):
    """A TCP port on address that nothing listens on right now."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Rsyslogd:
    def __init__(self, tmp_path, port=None, start=True, timeout=10,
                 address="127.0.0.1", name="rsyslog"):
        """address: where imtcp listens (127.0.0.1 or ::1); name: the
        directory under tmp_path, so that a test may run two."""
        self.dir = os.path.join(str(tmp_path), name)
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.address = address
        self.port = port or free_port(address)
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.errpath = os.path.join(self.dir, "stderr.log")
        with open(self.conf, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port,
                                  address=address))
        self.proc = None
        if start:
            self.start(timeout)

    def start(self, timeout=10):
        """Starts rsyslogd and waits until its port takes connections."""
        assert self.proc is None, "rsyslogd is running already"
        err = open(self.errpath, "ab")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        err.close()
        deadline = time.time() + timeout
        while True:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise RuntimeError("rsyslogd exited with %s:\n%s" % (
                    code, self.stderr()))
            try:
                socket.create_connection((self.address, self.port),
                                         timeout=1).close()
                return
            except OSError:
                if time.time() > deadline:
                    self.stop()
                    raise RuntimeError("rsyslogd does not listen on %d:\n%s"
                                       % (self.port, self.stderr()))
                time.sleep(0.05)

    def stop(self, timeout=10):
        """Stops rsyslogd by its PID (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()

    @property
    def url(self):
        host = "[%s]" % self.address if ":" in self.address else self.address
        return "tcp://%s:%d" % (host, self.port)

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _lines(self, name):
        try:
            with open(os.path.join(self.dir, name), "rb") as f:
                data = f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        # Only whole lines: rsyslogd may be writing the last one.
        return data.split("\n")[:-1]

    def raw(self):
        """Every message received, as it came."""
        return self._lines("raw.log")

    def records(self):
        """Every message received, as a dict of its RFC 5424 fields."""
        out = []
        for line in self._lines("fields.log"):
            parts = line.split(SEP, len(FIELDS) - 1)
            assert len(parts) == len(FIELDS), "odd line %r" % line
            rec = dict(zip(FIELDS, parts))
            rec["pri"] = int(rec["pri"])
            out.append(rec)
        return out

    def wait_records(self, pred, timeout=10):
        """Waits until pred(records) is true; returns the records."""
        deadline = time.time() + timeout
        while True:
            recs = self.records()
            if pred(recs) or time.time() > deadline:
                return recs
            time.sleep(0.05)
