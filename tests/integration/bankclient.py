"""What the bank tests share: a line client, amounts in cents, the
database read directly with its invariants checked, and a client loop of
random operations that records what was acknowledged."""
import re
import sqlite3

from multid import config, service

HISTORY_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    r"(deposit|withdraw|transfer-in|transfer-out) \d+\.\d\d \d+\.\d\d"
    r"( [A-Za-z][A-Za-z0-9_-]*)?$")
SIGN = {"deposit": 1, "transfer-in": 1, "withdraw": -1, "transfer-out": -1}


def bank_config(db, extra="", more=()):
    return config(service("bank", "bank", ["tcp://127.0.0.1:0"],
                          'database = "%s"; %s' % (db, extra)), *more)


class Client:
    """One line-based connection to the bank."""

    def __init__(self, d, timeout=10):
        self.s = d.connect("bank", timeout=timeout)
        self.f = self.s.makefile("rb")

    def line(self):
        raw = self.f.readline()
        if not raw.endswith(b"\r\n"):
            raise ConnectionError("reply %r does not end with CRLF" % raw)
        return raw[:-2].decode()

    def send(self, text):
        self.s.sendall(text.encode() + b"\n")

    def cmd(self, text):
        self.send(text)
        return self.line()

    def history(self, arg=""):
        head = self.cmd(("HISTORY " + arg).strip())
        assert re.match(r"^OK \d+$", head), head
        lines = [self.line() for _ in range(int(head.split()[1]))]
        for l in lines:
            assert HISTORY_RE.match(l), l
        return lines

    def closed(self):
        return self.f.read() == b""

    def close(self):
        self.f.close()
        self.s.close()


def cents(text):
    whole, frac = text.split(".")
    return int(whole) * 100 + int(frac)


def db_rows(path):
    """(accounts {name: (id, balance)}, history rows in order), read from
    the SQLite file itself."""
    con = sqlite3.connect(path, timeout=10)
    try:
        accounts = {name: (aid, bal) for aid, name, bal in con.execute(
            "SELECT id, name, balance FROM accounts")}
        history = con.execute(
            "SELECT id, account, kind, amount, balance, other FROM history "
            "ORDER BY id").fetchall()
    finally:
        con.close()
    return accounts, history


def check_chains(path):
    """Each account's history lines are chained from accounts.last through
    history.prev: all of them, newest first, and no other line."""
    con = sqlite3.connect(path, timeout=10)
    try:
        last = dict(con.execute("SELECT id, last FROM accounts"))
        rows = {hid: (acc, prev) for hid, acc, prev in con.execute(
            "SELECT id, account, prev FROM history")}
    finally:
        con.close()
    for aid, line in last.items():
        chain = []
        while line is not None:
            acc, prev = rows[line]
            assert acc == aid, "line %d of account %d in %d's chain" % (
                line, acc, aid)
            chain.append(line)
            line = prev
        mine = sorted((h for h, (acc, _) in rows.items() if acc == aid),
                      reverse=True)
        assert chain == mine, "account %d: chain %r, lines %r" % (
            aid, chain[:10], mine[:10])


def check_invariants(path):
    """No negative balance; every balance is the sum of its history, and
    its last history line shows it; every transfer-out is followed by its
    transfer-in.  Returns (accounts, history)."""
    accounts, history = db_rows(path)
    names = {aid: name for name, (aid, _) in accounts.items()}
    sums = {aid: 0 for aid in names}
    for hid, acc, kind, amount, bal, other in history:
        assert amount > 0
        sums[acc] += SIGN[kind] * amount
        assert sums[acc] == bal >= 0, \
            "history line %d: running sum %d, balance %d" % (hid, sums[acc], bal)
    for name, (aid, bal) in accounts.items():
        assert bal >= 0, name
        assert sums[aid] == bal, "%s: history sums to %d, balance %d" % (
            name, sums[aid], bal)
    byid = {h[0]: h for h in history}
    ins = 0
    for hid, acc, kind, amount, bal, other in history:
        if kind == "transfer-in":
            ins += 1
            assert byid[hid - 1][2] == "transfer-out", hid
        if kind != "transfer-out":
            continue
        pair = byid.get(hid + 1)
        assert pair is not None and pair[2] == "transfer-in", hid
        assert pair[3] == amount and names[pair[1]] == other
        assert pair[5] == names[acc]
    assert ins == sum(1 for h in history if h[2] == "transfer-out")
    check_chains(path)
    return accounts, history


def random_ops(d, names, me, rnd, stop, acked, max_cents=3000):
    """Logs in as me and runs random DEPOSIT, WITHDRAW and TRANSFER until
    stop is set or the daemon goes away, appending each acknowledged one
    to acked as (kind, cents, balance_after, other).  The reply in flight
    when the daemon is stopped or killed is lost, which is allowed for a
    command never acknowledged; a connection lost while the daemon lives
    is an error."""
    try:
        c = Client(d)
        assert c.cmd("LOGIN %s sesame" % me).startswith("OK balance ")
        while not stop.is_set():
            amount = rnd.randint(1, max_cents)
            text = "%d.%02d" % divmod(amount, 100)
            kind = rnd.choice(["deposit", "withdraw", "transfer-out"])
            other = None
            if kind == "deposit":
                reply = c.cmd("DEPOSIT " + text)
            elif kind == "withdraw":
                reply = c.cmd("WITHDRAW " + text)
            else:
                other = rnd.choice([n for n in names if n != me])
                reply = c.cmd("TRANSFER %s %s" % (other, text))
            if reply.startswith("OK "):
                acked.append((kind, amount, cents(reply[3:]), other))
            else:
                assert reply == "ERR insufficient funds", reply
    except OSError:
        stop.wait(20)
        if d.alive():
            raise
