"""The bank service over real sockets: every command and error, amounts,
durability across restarts and kill -9, concurrent clients on one account,
secrets kept only as hashes, group commit, and that hashing never stalls
the other services."""
import os
import random
import signal
import socket
import sqlite3
import threading
import time
import urllib.request

import pytest

from bankclient import (Client, bank_config, cents, check_invariants,
                        random_ops)
from multid import recv_all, run_multid, service

@pytest.fixture
def bank(start, tmp_path):
    return start(bank_config(tmp_path / "bank.db"))


# --- the commands -----------------------------------------------------------

def test_no_greeting_and_help(bank):
    c = Client(bank)
    c.s.settimeout(0.3)
    with pytest.raises(socket.timeout):
        c.s.recv(1)
    c.s.settimeout(10)
    help_ = c.cmd("HELP")
    assert help_.startswith("OK ")
    for word in ("OPEN", "LOGIN", "BALANCE", "DEPOSIT", "WITHDRAW",
                 "TRANSFER", "HISTORY", "LOGOUT", "QUIT"):
        assert word in help_
    assert c.cmd("help") == help_
    assert c.cmd("frobnicate") == "ERR unknown command"
    assert c.cmd("OPENX a b") == "ERR unknown command"


def test_login_required(bank):
    c = Client(bank)
    for cmd in ("BALANCE", "DEPOSIT 1", "WITHDRAW 1", "TRANSFER bob 1",
                "HISTORY", "HISTORY 5"):
        assert c.cmd(cmd) == "ERR login required", cmd
    assert c.cmd("LOGOUT") == "OK"


def test_open_and_names(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.cmd("BALANCE") == "OK 0.00"
    assert c.cmd("OPEN ALICE other1") == "ERR exists"
    assert c.cmd("open Alice other1") == "ERR exists"
    for bad in ("1alice", "_x", "al.ice", "a" * 17, "ällo", "a/b"):
        assert c.cmd("OPEN %s sesame" % bad) == "ERR bad name", bad
    assert c.cmd("OPEN " + "b" * 16 + " sesame") == "OK opened " + "b" * 16
    assert c.cmd("OPEN z-_9 sesame") == "OK opened z-_9"
    for bad in ("abc", "x" * 73, "with space", "tab\there"):
        assert c.cmd("OPEN carol " + bad) == "ERR bad secret", bad
    assert c.cmd("OPEN carol " + "x" * 72) == "OK opened carol"
    assert c.cmd("OPEN dave abcd") == "OK opened dave"
    assert c.cmd("OPEN") == "ERR usage: OPEN NAME SECRET"
    assert c.cmd("OPEN erin") == "ERR usage: OPEN NAME SECRET"
    # OPEN logged the client in as the last opened account.
    assert c.cmd("DEPOSIT 1") == "OK 1.00"
    assert c.cmd("LOGIN dave abcd") == "OK balance 1.00"


def test_login_and_logout(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.cmd("DEPOSIT 12.3") == "OK 12.30"
    assert c.cmd("LOGOUT") == "OK"
    assert c.cmd("BALANCE") == "ERR login required"
    assert c.cmd("LOGIN ALICE sesame") == "OK balance 12.30"
    assert c.cmd("BALANCE") == "OK 12.30"
    assert c.cmd("LOGIN alice") == "ERR usage: LOGIN NAME SECRET"
    d = Client(bank)
    assert d.cmd("login alice sesame") == "OK balance 12.30"
    assert d.cmd("LOGIN alice Sesame") == "ERR denied"
    assert d.cmd("LOGIN nobody sesame") == "ERR denied"
    # A failed LOGIN does not end the session that was open before it.
    assert d.cmd("BALANCE") == "OK 12.30"


def test_three_failed_logins_close(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    c.close()
    c = Client(bank)
    assert c.cmd("LOGIN alice wrong1") == "ERR denied"
    assert c.cmd("LOGIN nobody wrong2") == "ERR denied"
    assert c.cmd("LOGIN 1bad-name x") == "ERR denied"
    assert c.closed()
    # Another connection still may log in.
    c = Client(bank)
    assert c.cmd("LOGIN alice wrong") == "ERR denied"
    assert c.cmd("LOGIN alice sesame") == "OK balance 0.00"


def test_amounts(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    good = [("0.01", "0.01"), ("7.5", "7.50"), ("12.30", "12.30"),
            ("0000000001", "1.00"), ("3", "3.00")]
    total = 0
    for text, shown in good:
        total += cents(shown)
        reply = c.cmd("DEPOSIT " + text)
        assert reply == "OK %d.%02d" % divmod(total, 100), text
    for bad in ("0", "0.00", "0.0", "1.234", "-1", "+1", "abc", "1.", ".5",
                "1e3", "1,00", "1000000000.01", "12345678901",
                "99999999999", "0x10"):
        assert c.cmd("DEPOSIT " + bad) == "ERR bad amount", bad
        assert c.cmd("WITHDRAW " + bad) == "ERR bad amount", bad
    assert c.cmd("DEPOSIT 1000000000.00") == "OK 1000000023.81"
    assert c.cmd("DEPOSIT 1000000000") == "OK 2000000023.81"
    assert c.cmd("DEPOSIT") == "ERR usage: DEPOSIT AMOUNT"
    assert c.cmd("DEPOSIT 1 2") == "ERR usage: DEPOSIT AMOUNT"
    assert c.cmd("deposit 0.10") == "OK 2000000023.91"


def test_withdraw(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.cmd("WITHDRAW 0.01") == "ERR insufficient funds"
    assert c.cmd("DEPOSIT 10") == "OK 10.00"
    assert c.cmd("WITHDRAW 10.01") == "ERR insufficient funds"
    assert c.cmd("WITHDRAW 2.5") == "OK 7.50"
    assert c.cmd("WiThDrAw 7.50") == "OK 0.00"
    assert c.cmd("WITHDRAW") == "ERR usage: WITHDRAW AMOUNT"
    assert c.cmd("BALANCE") == "OK 0.00"


def test_transfer(bank):
    a, b = Client(bank), Client(bank)
    assert a.cmd("OPEN alice sesame") == "OK opened alice"
    assert b.cmd("OPEN Bob secret") == "OK opened Bob"
    assert a.cmd("DEPOSIT 50") == "OK 50.00"
    assert a.cmd("TRANSFER nobody 1") == "ERR no such account"
    assert a.cmd("TRANSFER 1nvalid 1") == "ERR no such account"
    assert a.cmd("TRANSFER bob 50.01") == "ERR insufficient funds"
    assert a.cmd("TRANSFER bob 0") == "ERR bad amount"
    assert a.cmd("TRANSFER bob") == "ERR usage: TRANSFER NAME AMOUNT"
    assert a.cmd("TRANSFER BOB 20.25") == "OK 29.75"
    assert b.cmd("BALANCE") == "OK 20.25"
    assert b.cmd("TRANSFER alice 0.25") == "OK 20.00"
    assert a.cmd("BALANCE") == "OK 30.00"
    # To oneself: nothing changes, but it is recorded both ways.
    assert a.cmd("TRANSFER alice 30") == "OK 30.00"
    assert a.cmd("TRANSFER alice 30.01") == "ERR insufficient funds"
    h = [l.split()[1:] for l in a.history()]
    assert h == [["transfer-in", "30.00", "30.00", "alice"],
                 ["transfer-out", "30.00", "0.00", "alice"],
                 ["transfer-in", "0.25", "30.00", "Bob"],
                 ["transfer-out", "20.25", "29.75", "Bob"],
                 ["deposit", "50.00", "50.00"]]
    h = [l.split()[1:] for l in b.history()]
    assert h == [["transfer-out", "0.25", "20.00", "alice"],
                 ["transfer-in", "20.25", "20.25", "alice"]]


def test_history(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.history() == []
    for i in range(1, 13):
        assert c.cmd("DEPOSIT %d" % i).startswith("OK ")
    assert c.cmd("WITHDRAW 0.5").startswith("OK ")
    h = c.history()
    assert len(h) == 10                       # the default
    assert h[0].split()[1:] == ["withdraw", "0.50", "77.50"]
    assert h[1].split()[1:] == ["deposit", "12.00", "78.00"]
    assert h[9].split()[1:] == ["deposit", "4.00", "10.00"]
    now = time.gmtime()
    stamp = time.strptime(h[0].split()[0], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(stamp) - time.mktime(now)) < 3600
    assert len(c.history("1")) == 1
    assert len(c.history("1000")) == 13
    assert [l.split()[1:] for l in c.history("13")][-1] == \
        ["deposit", "1.00", "1.00"]
    for bad in ("0", "1001", "x", "-1", "1 2", "1.5"):
        reply = c.cmd("HISTORY " + bad)
        assert reply.startswith("ERR usage: "), bad


def test_limit(start, tmp_path):
    """The balance limit is 10000000000000.00.  Reaching it by deposits
    would take 10000 commands, so the account is prepared in the database
    while the daemon is stopped, with a history line that explains it."""
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    c = Client(d)
    assert c.cmd("OPEN rich sesame") == "OK opened rich"
    assert c.cmd("OPEN poor sesame") == "OK opened poor"
    assert c.cmd("DEPOSIT 1") == "OK 1.00"
    c.close()
    assert d.stop() == 0
    con = sqlite3.connect(db)
    with con:
        (aid,) = con.execute("SELECT id FROM accounts WHERE name = 'rich'") \
            .fetchone()
        big = 10000000000000 * 100 - 100
        # The line joins the account's chain (see check_chains).
        con.execute("INSERT INTO history (account, time, kind, amount, "
                    "balance, prev) VALUES (?, 0, 'deposit', ?, ?, (SELECT "
                    "last FROM accounts WHERE id = ?))", (aid, big, big, aid))
        con.execute("UPDATE accounts SET balance = ?, last = "
                    "last_insert_rowid() WHERE id = ?", (big, aid))
    con.close()
    d = start(bank_config(db))
    c = Client(d)
    assert c.cmd("LOGIN rich sesame") == "OK balance 9999999999999.00"
    assert c.cmd("DEPOSIT 1.01") == "ERR limit"
    assert c.cmd("DEPOSIT 1000000000") == "ERR limit"
    assert c.cmd("DEPOSIT 1") == "OK 10000000000000.00"
    assert c.cmd("DEPOSIT 0.01") == "ERR limit"
    p = Client(d)
    assert p.cmd("LOGIN poor sesame") == "OK balance 1.00"
    assert p.cmd("TRANSFER rich 0.01") == "ERR limit"
    assert p.cmd("BALANCE") == "OK 1.00"
    assert c.cmd("TRANSFER poor 0.01") == "OK 9999999999999.99"
    assert p.cmd("BALANCE") == "OK 1.01"
    c.close()
    p.close()
    assert d.stop() == 0
    check_invariants(db)


def test_quit_and_line_rules(bank):
    c = Client(bank)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    c.s.sendall(b"BALANCE\r\n\r\n\n   \n")
    assert c.line() == "OK 0.00"
    # Telnet IAC removed (WONT is never answered, so no bytes come back).
    c.s.sendall(b"\xff\xfc\x01BAL\xff\xf1ANCE\r\n")
    assert c.line() == "OK 0.00"
    c.s.sendall(b"DEPOSIT " + b"1" * 2000 + b"\n")
    assert c.line() == "ERR line too long"
    assert c.cmd("  deposit   2  ") == "OK 2.00"
    assert c.cmd("QUIT") == "OK bye"
    assert c.closed()


def test_pipelined_replies_stay_in_order(bank):
    c = Client(bank)
    lines = ["OPEN alice sesame"]
    expect = ["OK opened alice"]
    balance = 0
    for i in range(200):
        if i % 3 == 2:
            lines.append("WITHDRAW 0.01")
            balance -= 1
        else:
            lines.append("DEPOSIT 0.02")
            balance += 2
        expect.append("OK %d.%02d" % divmod(balance, 100))
        if i % 50 == 0:
            lines += ["BOGUS", "BALANCE", "LOGOUT", "BALANCE",
                      "LOGIN alice sesame"]
            expect += ["ERR unknown command",
                       "OK %d.%02d" % divmod(balance, 100), "OK",
                       "ERR login required",
                       "OK balance %d.%02d" % divmod(balance, 100)]
    lines.append("QUIT")
    expect.append("OK bye")
    c.s.sendall(("\n".join(lines) + "\n").encode())
    got = recv_all(c.s).decode().split("\r\n")
    assert got[-1] == ""
    assert got[:-1] == expect


def test_half_close_gets_every_reply(bank):
    c = Client(bank)
    c.s.sendall(b"OPEN alice sesame\nDEPOSIT 5\nBALANCE\n")
    c.s.shutdown(socket.SHUT_WR)
    assert recv_all(c.s) == b"OK opened alice\r\nOK 5.00\r\nOK 5.00\r\n"


def test_busy(start, tmp_path):
    d = start(bank_config(tmp_path / "bank.db", "max_connections = 1;"))
    a = Client(d)
    assert a.cmd("HELP").startswith("OK ")
    b = d.connect("bank")
    assert recv_all(b) == b"ERR busy\r\n"


# --- storage ----------------------------------------------------------------

def test_persistence_across_restart(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.cmd("DEPOSIT 100") == "OK 100.00"
    assert c.cmd("OPEN bob hunter2") == "OK opened bob"
    assert c.cmd("LOGIN alice sesame") == "OK balance 100.00"
    assert c.cmd("TRANSFER bob 40") == "OK 60.00"
    before = c.history()
    c.close()
    assert d.stop() == 0
    assert not os.path.exists(db + "-wal")     # closed cleanly
    d = start(bank_config(db))
    c = Client(d)
    assert c.cmd("LOGIN alice sesame") == "OK balance 60.00"
    assert c.history() == before
    assert c.cmd("LOGIN bob hunter2") == "OK balance 40.00"
    assert c.cmd("OPEN alice again") == "ERR exists"
    assert d.stop() == 0
    check_invariants(db)


def test_relative_database_path(start, tmp_path):
    d = start(bank_config("relative.db"))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert os.path.exists(os.path.join(d.dir, "relative.db"))


def test_refuses_a_foreign_database(tmp_path):
    other = str(tmp_path / "other.db")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.commit()
    con.close()
    junk = str(tmp_path / "junk.db")
    with open(junk, "wb") as f:
        f.write(b"this is not a database at all\n" * 200)
    for path, why in ((other, "not a multid bank database"),
                      (junk, "not a database"),
                      (str(tmp_path / "missing" / "bank.db"), "cannot open")):
        conf = tmp_path / "m.conf"
        conf.write_text(bank_config(path))
        r = run_multid(["-c", str(conf)])
        assert r.returncode == 3, r.stderr
        assert why in r.stderr and path in r.stderr, r.stderr
        assert "listening" not in r.stderr
        # One line that names the file and the reason, as for every
        # failure to start.
        assert len(r.stderr.splitlines()) == 1, r.stderr
    con = sqlite3.connect(other)      # untouched: still not in WAL mode
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 1
    con.close()


# Schema 1, as multid 0.1 created it: history found through an index.
SCHEMA_1 = """
PRAGMA journal_mode = WAL;
CREATE TABLE accounts (id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE, secret TEXT NOT NULL,
  balance INTEGER NOT NULL CHECK (balance BETWEEN 0 AND 1000000000000000),
  created INTEGER NOT NULL);
CREATE TABLE history (id INTEGER PRIMARY KEY,
  account INTEGER NOT NULL REFERENCES accounts (id),
  time INTEGER NOT NULL, kind TEXT NOT NULL, amount INTEGER NOT NULL,
  balance INTEGER NOT NULL, other TEXT);
CREATE INDEX history_account ON history (account, id);
CREATE TRIGGER history_no_update BEFORE UPDATE ON history
  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER history_no_delete BEFORE DELETE ON history
  BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
PRAGMA application_id = 1835164014;
PRAGMA user_version = 1;
"""


def test_schema_1_is_upgraded(start, tmp_path):
    """A database of the first schema is upgraded in place at start: the
    history of every account is kept, newest first, and goes on."""
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    c.close()
    assert d.stop() == 0
    con = sqlite3.connect(db)           # the same secret hash, in schema 1
    (secret,) = con.execute("SELECT secret FROM accounts").fetchone()
    con.close()
    os.unlink(db)
    con = sqlite3.connect(db)
    con.executescript(SCHEMA_1)
    with con:
        for aid, name in ((1, "alice"), (2, "bob")):
            con.execute("INSERT INTO accounts VALUES (?, ?, ?, 0, 0)",
                        (aid, name, secret))
        rows = [(1, "deposit", 500, 500, None), (2, "deposit", 100, 100, None),
                (1, "transfer-out", 200, 300, "bob"),
                (2, "transfer-in", 200, 300, "alice"),
                (1, "withdraw", 50, 250, None)]
        for aid, kind, amount, bal, other in rows:
            con.execute("INSERT INTO history (account, time, kind, amount, "
                        "balance, other) VALUES (?, 0, ?, ?, ?, ?)",
                        (aid, kind, amount, bal, other))
            con.execute("UPDATE accounts SET balance = ? WHERE id = ?",
                        (bal, aid))
    con.close()
    d = start(bank_config(db))
    assert "schema 1 upgraded to 2" in d.stderr()
    a = Client(d)
    assert a.cmd("LOGIN alice sesame") == "OK balance 2.50"
    assert [l.split()[1:] for l in a.history()] == [
        ["withdraw", "0.50", "2.50"], ["transfer-out", "2.00", "3.00", "bob"],
        ["deposit", "5.00", "5.00"]]
    assert a.cmd("DEPOSIT 1") == "OK 3.50"
    assert [l.split()[1:] for l in a.history("2")] == [
        ["deposit", "1.00", "3.50"], ["withdraw", "0.50", "2.50"]]
    b = Client(d)
    assert b.cmd("LOGIN bob sesame") == "OK balance 3.00"
    assert [l.split()[1:] for l in b.history()] == [
        ["transfer-in", "2.00", "3.00", "alice"], ["deposit", "1.00", "1.00"]]
    a.close()
    b.close()
    assert d.stop() == 0
    check_invariants(db)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                       "'history_account'").fetchone()[0] == 0
    con.close()


def test_unknown_schema_version_is_refused(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    assert d.stop() == 0
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 3")
    con.close()
    conf = tmp_path / "m.conf"
    conf.write_text(bank_config(db))
    r = run_multid(["-c", str(conf)])
    assert r.returncode == 3, r.stderr
    assert "schema version 3 is not one this multid knows" in r.stderr


def test_secrets_are_salted_hashes(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    c = Client(d)
    secrets = ["Tr0ub4dor-and-3", "correct-horse-battery-staple-9"]
    assert c.cmd("OPEN alice " + secrets[0]) == "OK opened alice"
    assert c.cmd("OPEN bob " + secrets[0]) == "OK opened bob"
    assert c.cmd("OPEN carol " + secrets[1]) == "OK opened carol"
    assert c.cmd("LOGIN alice " + secrets[0]) == "OK balance 0.00"
    d.kill()                         # the WAL is left as it is
    blobs = b""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            with open(db + suffix, "rb") as f:
                blobs += f.read()
    for s in secrets:
        assert s.encode() not in blobs
    con = sqlite3.connect(db)
    hashes = [h for (h,) in con.execute("SELECT secret FROM accounts")]
    con.close()
    assert len(hashes) == 3
    for h in hashes:
        assert h.startswith("$y$"), h
    salts = {h.rsplit("$", 1)[0] for h in hashes}
    assert len(salts) == 3            # one salt each, even for equal secrets
    assert hashes[0] != hashes[1]


# --- concurrency ------------------------------------------------------------

def test_concurrent_withdrawals(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    owner = Client(d)
    assert owner.cmd("OPEN alice sesame") == "OK opened alice"
    clients = []
    for _ in range(16):
        c = Client(d)
        assert c.cmd("LOGIN alice sesame").startswith("OK balance ")
        clients.append(c)
    for round_ in range(5):
        assert owner.cmd("DEPOSIT 100").startswith("OK ")
        barrier = threading.Barrier(len(clients))
        replies = [None] * len(clients)

        def withdraw(i):
            barrier.wait()
            replies[i] = clients[i].cmd("WITHDRAW 60")

        threads = [threading.Thread(target=withdraw, args=(i,))
                   for i in range(len(clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        oks = [r for r in replies if r.startswith("OK ")]
        assert len(oks) == 1, replies
        assert oks[0] == "OK 40.00"
        assert replies.count("ERR insufficient funds") == len(clients) - 1
        assert owner.cmd("WITHDRAW 40") == "OK 0.00"
    for c in clients:
        c.close()
    assert d.stop() == 0
    accounts, history = check_invariants(db)
    assert accounts["alice"][1] == 0
    assert sum(1 for h in history if h[2] == "withdraw") == 10


def scrape_commits(d):
    """multid_bank_commits_total of service bank, from the metrics
    service; None when the metrics service does not answer."""
    host, port = d.addr("metrics")
    try:
        body = urllib.request.urlopen(
            "http://%s:%d/metrics" % (host, port), timeout=3).read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith("multid_bank_commits_total") and \
                'service="bank"' in line:
            return float(line.split()[-1])
    return 0.0 if "multid_" in body else None


def test_group_commit(start, tmp_path):
    """Deposits from many clients at once share commits: fewer durable
    commits than acknowledged operations."""
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db, more=[service(
        "metrics", "metrics", ["tcp://127.0.0.1:0"])]))
    # The count is this test's only witness: a metrics service that does
    # not answer is a failure, never a reason to skip.
    assert scrape_commits(d) is not None, \
        "the metrics service does not answer"
    n, per = 24, 40
    clients = []
    for i in range(n):
        c = Client(d)
        assert c.cmd("OPEN u%d sesame" % i) == "OK opened u%d" % i
        clients.append(c)
    before = scrape_commits(d)
    assert before >= n                # every OPEN was a commit
    # Every client keeps one deposit in flight at all times.
    for c in clients:
        c.send("DEPOSIT 1")
    for k in range(1, per + 1):
        for c in clients:
            assert c.line() == "OK %d.00" % k
            if k < per:
                c.send("DEPOSIT 1")
    commits = scrape_commits(d) - before
    print("%d deposits in %d commits" % (n * per, commits))
    assert 1 <= commits < n * per / 2, commits


def check_acknowledged(db, names, results):
    """Every acknowledged operation of each client is in its account's
    history, in order, with the balance the client was told; at most the
    one operation in flight at the end is there unacknowledged."""
    accounts, history = check_invariants(db)
    for i, me in enumerate(names):
        aid = accounts[me][0]
        own = [(kind, amount, bal, other)
               for _, acc, kind, amount, bal, other in history
               if acc == aid and kind != "transfer-in"][1:]   # [0]: seed
        acked = results[i]
        assert own[:len(acked)] == acked, me
        assert len(own) <= len(acked) + 1, me
    return accounts


def load_then_stop(d, names, seconds, stop_daemon):
    """Opens names with 100.00 each, runs random_ops for each of them for
    seconds, then calls stop_daemon(); returns every client's
    acknowledged operations."""
    setup = Client(d)
    for n in names:
        assert setup.cmd("OPEN %s sesame" % n) == "OK opened " + n
        assert setup.cmd("DEPOSIT 100") == "OK 100.00"
    setup.close()
    stop = threading.Event()
    results = [None] * len(names)

    def client(i):
        results[i] = []
        random_ops(d, names, names[i], random.Random(i), stop, results[i])

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(len(names))]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop_daemon()
    stop.set()
    for t in threads:
        t.join(10)
    return results


def test_kill_during_load_loses_nothing_acknowledged(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    names = ["c%d" % i for i in range(8)]

    def kill():
        d.signal(signal.SIGKILL)
        d.proc.wait()

    results = load_then_stop(d, names, 1.5, kill)
    assert sum(len(r) for r in results) > 100, "too little load to judge"
    accounts = check_acknowledged(db, names, results)
    # The daemon starts again on the file it left and sees the same state.
    d2 = start(bank_config(db))
    c = Client(d2)
    for n in names:
        bal = "%d.%02d" % divmod(accounts[n][1], 100)
        assert c.cmd("LOGIN %s sesame" % n) == "OK balance " + bal
    assert c.cmd("DEPOSIT 1").startswith("OK ")


def test_graceful_stop_commits_pending_writes(start, tmp_path):
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    names = ["g%d" % i for i in range(6)]

    def terminate():
        d.signal(signal.SIGTERM)
        assert d.proc.wait(15) == 0

    results = load_then_stop(d, names, 0.8, terminate)
    assert sum(len(r) for r in results) > 50
    assert not os.path.exists(db + "-wal")     # the database was closed
    check_acknowledged(db, names, results)


def test_database_belongs_to_the_running_bank(start, tmp_path):
    """The bank holds its database with an exclusive lock while it runs
    (the WAL index then lives in memory, not in a mapped -shm file):
    another process cannot take it, and the bank carries on meanwhile."""
    db = str(tmp_path / "bank.db")
    d = start(bank_config(db))
    a = Client(d)
    assert a.cmd("OPEN alice sesame") == "OK opened alice"
    con = sqlite3.connect(db, isolation_level=None, timeout=0.5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        con.execute("BEGIN IMMEDIATE")
    con.close()
    assert not os.path.exists(db + "-shm")
    assert a.cmd("DEPOSIT 5") == "OK 5.00"
    assert d.stop() == 0
    check_invariants(db)


def test_hashing_does_not_stall_other_services(start, tmp_path):
    """While clients keep the yescrypt threads busy with OPEN and LOGIN,
    echo round trips on the same daemon stay fast.  Ten clients at once
    would hold a reactor that hashed itself for 200 ms and more."""
    d = start(bank_config(tmp_path / "bank.db", more=[service(
        "echo", "echo", ["tcp://127.0.0.1:0"])]))
    stop = threading.Event()
    done = [0] * 10

    def hasher(i):
        c = Client(d)
        k = 0
        while not stop.is_set():
            name = "h%dx%d" % (i, k)
            assert c.cmd("OPEN %s sesame" % name) == "OK opened " + name
            assert c.cmd("LOGIN %s sesame" % name) == "OK balance 0.00"
            done[i] += 2
            k += 1
        c.close()

    threads = [threading.Thread(target=hasher, args=(i,))
               for i in range(len(done))]
    for t in threads:
        t.start()
    echo = d.connect("echo")
    times = []
    try:
        time.sleep(0.2)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            t0 = time.monotonic()
            echo.sendall(b"ping\n")
            got = b""
            while len(got) < 5:
                got += echo.recv(5 - len(got))
            times.append(time.monotonic() - t0)
            time.sleep(0.005)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    times.sort()
    p99 = times[int(len(times) * 0.99)]
    print("echo round trips: %d, p50 %.2f ms, p99 %.2f ms, max %.2f ms; "
          "%d OPEN/LOGIN meanwhile" % (len(times), times[len(times) // 2] *
                                       1000, p99 * 1000, times[-1] * 1000,
                                       sum(done)))
    assert sum(done) >= 20, "the hash threads were not kept busy"
    assert p99 < 0.2
