"""Durability drill for the bank: 20 rounds of load from several clients
(DEPOSIT, WITHDRAW, TRANSFER), each ended by SIGKILL at a random moment,
then a restart on the same database.  After every kill the SQLite file,
read directly, must hold every acknowledged operation with the balance
the client was told, at most the one operation in flight besides, no
negative balance, every balance equal to the sum of its history, and
every transfer-out paired with its transfer-in.

The kill points are random; the seed is printed, and DURABILITY_SEED
repeats a run."""
import os
import random
import signal
import sqlite3
import threading
import time

from multid import config, service

ROUNDS = 20
CLIENTS = 6
SIGN = {"deposit": 1, "transfer-in": 1, "withdraw": -1, "transfer-out": -1}


def bank_config(db):
    return config(service("bank", "bank", ["tcp://127.0.0.1:0"],
                          'database = "%s";' % db))


class Client:
    def __init__(self, d):
        self.s = d.connect("bank", timeout=10)
        self.f = self.s.makefile("rb")

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\n")
        raw = self.f.readline()
        if not raw.endswith(b"\r\n"):
            raise ConnectionError("no complete reply: %r" % raw)
        return raw[:-2].decode()

    def close(self):
        self.f.close()
        self.s.close()


def cents(text):
    whole, frac = text.split(".")
    return int(whole) * 100 + int(frac)


def load(d, names, me, rnd, stop, acked):
    """Random operations on me's account until the daemon dies; appends
    each acknowledged one as (kind, cents, balance_after, other)."""
    try:
        c = Client(d)
        assert c.cmd("LOGIN %s sesame" % me).startswith("OK balance ")
        while not stop.is_set():
            amount = rnd.randint(1, 5000)
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
        pass                  # killed: the reply in flight is lost


def snapshot(db):
    con = sqlite3.connect(db, timeout=10)
    try:
        accounts = {name: (aid, bal) for aid, name, bal in con.execute(
            "SELECT id, name, balance FROM accounts")}
        history = con.execute(
            "SELECT id, account, kind, amount, balance, other FROM history "
            "ORDER BY id").fetchall()
    finally:
        con.close()
    return accounts, history


def check_books(accounts, history):
    """No negative balance, balances are their history's sums (and the
    last history line shows each), transfers come in pairs."""
    names = {aid: name for name, (aid, _) in accounts.items()}
    sums = dict.fromkeys(names, 0)
    for hid, acc, kind, amount, bal, other in history:
        assert amount > 0
        sums[acc] += SIGN[kind] * amount
        assert sums[acc] == bal >= 0, "history %d: sum %d, balance %d" % (
            hid, sums[acc], bal)
    for name, (aid, bal) in accounts.items():
        assert bal >= 0 and sums[aid] == bal, name
    byid = {h[0]: h for h in history}
    for hid, acc, kind, amount, bal, other in history:
        if kind == "transfer-out":
            pair = byid.get(hid + 1)
            assert pair is not None and pair[2] == "transfer-in", hid
            assert pair[3] == amount and names[pair[1]] == other
            assert pair[5] == names[acc]
        elif kind == "transfer-in":
            assert byid[hid - 1][2] == "transfer-out", hid


def test_kill_at_20_random_points(start, tmp_path):
    seed = int(os.environ.get("DURABILITY_SEED", time.time()))
    print("DURABILITY_SEED=%d" % seed)
    rnd = random.Random(seed)
    db = str(tmp_path / "bank.db")
    names = ["d%d" % i for i in range(CLIENTS)]
    d = start(bank_config(db))
    setup = Client(d)
    for n in names:
        assert setup.cmd("OPEN %s sesame" % n) == "OK opened " + n
        assert setup.cmd("DEPOSIT 500") == "OK 500.00"
    setup.close()
    assert d.stop() == 0
    total_acked, t_start = 0, time.time()
    for r in range(ROUNDS):
        accounts, history = snapshot(db)
        last_id = history[-1][0] if history else 0
        d = start(bank_config(db))
        stop = threading.Event()
        acked = [[] for _ in names]
        threads = [threading.Thread(target=load, args=(
            d, names, me, random.Random(rnd.random()), stop, acked[i]))
            for i, me in enumerate(names)]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.3, 1.2))
        d.signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        for t in threads:
            t.join(10)
            assert not t.is_alive()
        accounts, history = snapshot(db)
        check_books(accounts, history)
        for i, me in enumerate(names):
            aid = accounts[me][0]
            own = [(kind, amount, bal, other)
                   for hid, acc, kind, amount, bal, other in history
                   if hid > last_id and acc == aid and kind != "transfer-in"]
            assert own[:len(acked[i])] == acked[i], "round %d, %s" % (r, me)
            assert len(own) <= len(acked[i]) + 1, "round %d, %s" % (r, me)
        total_acked += sum(len(a) for a in acked)
    print("%d rounds, %d acknowledged operations, %.1f s" % (
        ROUNDS, total_acked, time.time() - t_start))
    assert total_acked > ROUNDS * 20, "too little load to judge"
    # The last state serves: every balance as the file says.
    d = start(bank_config(db))
    c = Client(d)
    accounts, _ = snapshot(db)
    for n in names:
        assert c.cmd("LOGIN %s sesame" % n) == "OK balance %d.%02d" % divmod(
            accounts[n][1], 100)
    c.close()
    assert d.stop() == 0
