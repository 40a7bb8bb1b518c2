"""The bank with `backend = "postgresql"`: the same answers as with SQLite,
the schema other tools read, several instances on one database with no
lost update, and what happens when an instance or the database dies.
PostgreSQL runs as the user postgres in a temporary directory
(pgserver.py); when it cannot start, these tests fail."""
import collections
import itertools
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from bankclient import Client, bank_config
from multid import config, run_multid, service
from pgserver import PgServer

START = "1000.00"                       # each account's first deposit


@pytest.fixture(scope="module")
def pg():
    server = PgServer()
    yield server
    server.close()


_dbs = itertools.count()


@pytest.fixture
def db(pg):
    """A database of the test's own on the shared server."""
    return pg.createdb("bank%d" % next(_dbs))


def pg_config(pg, db, extra="", metrics=False, conninfo=None):
    more = [service("metrics", "metrics", ["tcp://127.0.0.1:0"])] \
        if metrics else []
    return config(service("bank", "bank", ["tcp://127.0.0.1:0"],
                          'backend = "postgresql"; conninfo = "%s"; %s'
                          % (conninfo or pg.conninfo(db), extra)), *more)


def metric(d, name):
    """The value of the bank's series `name` (its labels, without the
    service's), or None."""
    host, port = d.addr("metrics")
    body = urllib.request.urlopen("http://%s:%d/metrics" % (host, port),
                                  timeout=10).read().decode()
    fam, _, labels = name.partition("{")
    key = '%s{service="bank"%s}' % (fam, "," + labels[:-1] if labels else "")
    for line in body.splitlines():
        k, _, v = line.rpartition(" ")
        if k == key:
            return int(v)
    return None


def wait_serving(d, timeout=30):
    """Waits until the bank answers from the database again (a LOGIN that
    is denied rather than unavailable)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        c = Client(d)
        last = c.cmd("LOGIN nobody nosuchsecret")
        c.close()
        if last == "ERR denied":
            return
        assert last == "ERR unavailable", last
        time.sleep(0.2)
    raise AssertionError("the bank did not come back: %r\n%s" % (
        last, d.stderr()))


# --- configuration -------------------------------------------------------------

@pytest.mark.parametrize("keys,phrase", [
    ('backend = "postgresql";', 'backend "postgresql" needs conninfo'),
    ('backend = "postgresql"; conninfo = "dbname=x"; database = "/tmp/x";',
     "database is the sqlite backend's file; postgresql takes conninfo"),
    ('conninfo = "dbname=x";', 'conninfo needs backend = "postgresql"'),
    ('backend = "sqlite"; conninfo = "dbname=x";',
     'conninfo needs backend = "postgresql"'),
    ('backend = "postgresql"; conninfo = "nosuchoption=1";',
     'conninfo: invalid connection option "nosuchoption"'),
    ('backend = "mysql";', 'unknown value "mysql"'),
])
def test_bad_combinations_are_refused(tmp_path, keys, phrase):
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("bank", "bank", ["tcp://127.0.0.1:0"],
                                   keys)))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode != 0
    assert phrase in r.stderr, r.stderr


def test_sqlite_stays_the_default(tmp_path):
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("bank", "bank", ["tcp://127.0.0.1:0"])))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr


def test_sqlite_bank_shows_no_backend_series(start, tmp_path):
    d = start(bank_config(tmp_path / "bank.db", more=[
        service("metrics", "metrics", ["tcp://127.0.0.1:0"])]))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert metric(d, "multid_bank_commits_total") == 1
    assert metric(d, 'multid_backend_up{backend="postgresql"}') is None
    assert metric(d, "multid_bank_backend_errors_total") is None


# --- the protocol, as with SQLite ---------------------------------------------

# (client, command): two connections, every command and most errors.
SCRIPT = [
    (0, "HELP"), (0, "BALANCE"), (0, "HISTORY"),
    (0, "OPEN Alice sesame"), (0, "OPEN alice other1"),
    (0, "OPEN ALICE other1"), (0, "OPEN 1bad sesame"), (0, "OPEN carl abc"),
    (0, "BALANCE"), (0, "DEPOSIT 12.3"), (0, "WITHDRAW 2.30"),
    (0, "WITHDRAW 100"), (0, "DEPOSIT 0"), (0, "DEPOSIT 1.234"),
    (1, "LOGIN alice wrong1"), (1, "LOGIN ALICE sesame"),
    (1, "OPEN bob secret1"), (1, "TRANSFER alice 1"), (1, "BALANCE"),
    (0, "TRANSFER BOB 4"), (0, "TRANSFER Alice 1"), (0, "TRANSFER alice 6"),
    (0, "TRANSFER alice 6.01"), (0, "TRANSFER nobody 1"),
    (0, "TRANSFER 1bad 1"), (0, "TRANSFER bob 0"),
    (1, "BALANCE"), (1, "TRANSFER alice 0.5"), (1, "WITHDRAW 3.50"),
    (1, "WITHDRAW 0.01"), (1, "DEPOSIT 1000000000"),
    (0, "HISTORY"), (0, "HISTORY 2"), (0, "HISTORY 0"), (0, "HISTORY x"),
    (1, "HISTORY 1000"), (1, "LOGOUT"), (1, "BALANCE"),
    (1, "LOGIN bob secret1"), (1, "HISTORY 3"),
    (0, "frobnicate"), (0, "QUIT"),
]
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ")


def run_script(d):
    clients = [Client(d), Client(d)]
    out = []
    for who, cmd in SCRIPT:
        c = clients[who]
        reply = c.cmd(cmd)
        out.append((who, cmd, reply))
        m = re.match(r"^OK (\d+)$", reply)
        if cmd.startswith("HISTORY") and m:
            for _ in range(int(m.group(1))):
                line = c.line()
                assert STAMP.match(line), line
                out.append((who, cmd, STAMP.sub("T ", line)))
    assert clients[0].closed()
    return out


def test_same_answers_as_sqlite(start, tmp_path, pg, db):
    lite = run_script(start(bank_config(tmp_path / "bank.db")))
    post = run_script(start(pg_config(pg, db)))
    for a, b in zip(lite, post):
        assert a == b
    assert len(lite) == len(post)


def test_limit(start, pg, db):
    d = start(pg_config(pg, db))
    c = Client(d)
    assert c.cmd("OPEN rich sesame") == "OK opened rich"
    assert c.cmd("OPEN poor sesame") == "OK opened poor"
    assert c.cmd("DEPOSIT 5") == "OK 5.00"
    # The ceiling is 10000000000000.00; history need not explain it here.
    pg.query("UPDATE accounts SET balance = 999999999999900 "
             "WHERE name = 'rich'", db=db)
    assert c.cmd("TRANSFER rich 1.01") == "ERR limit"
    assert c.cmd("TRANSFER rich 1") == "OK 4.00"
    assert c.cmd("TRANSFER rich 0.01") == "ERR limit"
    assert c.cmd("LOGIN rich sesame") == "OK balance 10000000000000.00"
    assert c.cmd("DEPOSIT 0.01") == "ERR limit"
    assert c.cmd("WITHDRAW 0.01") == "OK 9999999999999.99"


# --- the schema -----------------------------------------------------------------

def test_schema_is_created_versioned_and_readable(start, pg, db):
    d = start(pg_config(pg, db, metrics=True))
    c = Client(d)
    assert c.cmd("OPEN Alice sesame") == "OK opened Alice"
    assert c.cmd("DEPOSIT 2.50") == "OK 2.50"
    assert c.cmd("OPEN bob sesame") == "OK opened bob"
    assert c.cmd("TRANSFER ALICE 0") == "ERR bad amount"
    assert pg.query("SELECT version FROM schema_version", db=db) == [["1"]]
    rows = pg.query("SELECT name, balance, hash FROM accounts ORDER BY id",
                    db=db)
    assert [r[:2] for r in rows] == [["alice", "250"], ["bob", "0"]]
    for r in rows:
        assert r[2].startswith("$y$") and "sesame" not in r[2]
    hist = pg.query("SELECT a.name, h.kind, h.amount, h.balance, "
                    "coalesce(h.other, ''), h.time <= now() FROM history h "
                    "JOIN accounts a ON a.id = h.account", db=db)
    assert hist == [["alice", "deposit", "250", "250", "", "t"]]
    with pytest.raises(RuntimeError, match="append-only"):
        pg.query("DELETE FROM history", db=db)
    with pytest.raises(RuntimeError, match="accounts_balance_check"):
        pg.query("UPDATE accounts SET balance = -1", db=db)
    assert metric(d, 'multid_backend_up{backend="postgresql"}') == 1
    # A second instance finds the schema there and serves the same
    # accounts.
    e = start(pg_config(pg, db))
    c2 = Client(e)
    assert c2.cmd("LOGIN alice sesame") == "OK balance 2.50"
    assert pg.query("SELECT count(*) FROM schema_version", db=db) == [["1"]]


def test_foreign_or_newer_schema_is_refused(start, pg):
    foreign = pg.createdb("foreign%d" % next(_dbs))
    pg.query("CREATE TABLE accounts (x int)", db=foreign)
    newer = pg.createdb("newer%d" % next(_dbs))
    pg.query("CREATE TABLE schema_version (version integer NOT NULL); "
             "INSERT INTO schema_version VALUES (2)", db=newer)
    for name, phrase in ((foreign, "not a multid bank database"),
                         (newer, "schema version 2 is not one this multid "
                          "knows")):
        d = start(pg_config(pg, name))
        c = Client(d)
        assert c.cmd("OPEN alice sesame") == "ERR unavailable"
        deadline = time.time() + 10
        while phrase not in d.stderr() and time.time() < deadline:
            time.sleep(0.1)
        assert phrase in d.stderr()
    assert pg.query("SELECT count(*) FROM accounts", db=foreign) == [["0"]]


def test_host_names_are_looked_up(start, pg, db):
    """A host name (libpq would look it up on the reactor) is looked up by
    a thread, in a URI too; a name that does not resolve is said so."""
    d = start(pg_config(pg, db, conninfo="postgresql://multid@localhost:%d/%s"
                        % (pg.port, db)))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    d = start(pg_config(pg, db, conninfo="host=nosuchhost.invalid port=%d "
                        "dbname=%s user=multid" % (pg.port, db)))
    c = Client(d)
    assert c.cmd("LOGIN alice sesame") == "ERR unavailable"
    deadline = time.time() + 10
    while "cannot resolve nosuchhost.invalid" not in d.stderr() and \
            time.time() < deadline:
        time.sleep(0.1)
    assert "cannot resolve nosuchhost.invalid" in d.stderr()


# --- several instances, and failures ----------------------------------------------

def open_accounts(d, n):
    names = ["acct%02d" % i for i in range(n)]
    c = Client(d)
    for name in names:
        assert c.cmd("OPEN %s sesame" % name) == "OK opened " + name
        assert c.cmd("DEPOSIT " + START) == "OK " + START
    c.close()
    return names


def transfers(d, names, me, seed, stop, acked, replies, deadline):
    """Logs in as me and sends TRANSFERs to random accounts until stop or
    the deadline; each acknowledged one goes to acked as (account, kind,
    cents, balance), every reply is counted.  A daemon that is gone ends
    it quietly."""
    rnd = random.Random(seed)
    try:
        c = Client(d)
        reply = c.cmd("LOGIN %s sesame" % me)
        replies[reply.split(" ")[0] + " " + reply.split(" ")[1]] += 1
        if not reply.startswith("OK balance"):
            return
        while not stop.is_set() and time.time() < deadline:
            amount = rnd.randint(1, 2000)
            other = rnd.choice(names)
            reply = c.cmd("TRANSFER %s %d.%02d" % ((other,) +
                                                   divmod(amount, 100)))
            replies[reply if reply.startswith("ERR") else "OK"] += 1
            if reply == "ERR unavailable":
                time.sleep(0.05)
            if reply.startswith("OK "):
                whole, frac = reply[3:].split(".")
                bal = int(whole) * 100 + int(frac)
                if other == me:
                    acked.append((me, "transfer-in", amount, bal))
                else:
                    acked.append((me, "transfer-out", amount, bal))
    except OSError:
        # A kill -9 of the daemon: it may take a moment to be gone.
        for _ in range(50):
            if not d.alive():
                return
            time.sleep(0.1)
        raise


def run_load(daemons, names, clients, seconds, stop=None, extra=None):
    """clients threads split across daemons doing transfers for at most
    seconds; returns (acked, replies, threads, stop)."""
    acked = []
    replies = collections.Counter()
    stop = stop or threading.Event()
    deadline = time.time() + seconds
    threads = [threading.Thread(target=transfers, args=(
        daemons[i % len(daemons)], names, names[i % len(names)], i, stop,
        acked, replies, deadline)) for i in range(clients)]
    for t in threads:
        t.start()
    return acked, replies, threads, stop


def join(threads, stop, timeout=60):
    deadline = time.time() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.time()))
    stop.set()
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "a client hangs"


def check_database(pg, db, n):
    """The promises, read by psql: no negative balance, each balance the
    sum of its history and each history line the running sum, money
    neither made nor lost, and every transfer-out with its transfer-in."""
    total = pg.query("SELECT sum(balance), min(balance), count(*) "
                     "FROM accounts", db=db)[0]
    assert total == [str(n * 100000), total[1], str(n)]
    assert int(total[1]) >= 0
    bad = pg.query(
        "SELECT a.name, a.balance, coalesce(sum(CASE WHEN h.kind IN "
        "('deposit', 'transfer-in') THEN h.amount ELSE -h.amount END), 0) "
        "FROM accounts a LEFT JOIN history h ON h.account = a.id "
        "GROUP BY a.id HAVING a.balance <> coalesce(sum(CASE WHEN h.kind IN "
        "('deposit', 'transfer-in') THEN h.amount ELSE -h.amount END), 0)",
        db=db)
    assert bad == []
    running = pg.query(
        "SELECT count(*) FROM (SELECT balance, sum(CASE WHEN kind IN "
        "('deposit', 'transfer-in') THEN amount ELSE -amount END) OVER "
        "(PARTITION BY account ORDER BY id) AS s FROM history) x "
        "WHERE s <> balance OR balance < 0", db=db)
    assert running == [["0"]]
    pairs = pg.query("SELECT kind, count(*), sum(amount) FROM history "
                     "WHERE kind LIKE 'transfer-%' GROUP BY kind ORDER BY 1",
                     db=db)
    if pairs:
        assert pairs[0][1:] == pairs[1][1:], pairs


def check_acked(pg, db, acked):
    """Every acknowledged transfer is in the history: the sender's line
    with its amount and the balance the reply showed."""
    rows = pg.query("SELECT a.name, h.kind, h.amount, h.balance FROM "
                    "history h JOIN accounts a ON a.id = h.account", db=db)
    have = collections.Counter((r[0], r[1], int(r[2]), int(r[3]))
                               for r in rows)
    want = collections.Counter(acked)
    missing = want - have
    assert not missing, "acknowledged but not in the database: %r" % (
        list(missing.items())[:5],)


def test_two_instances_64_clients(start, pg, db):
    one = start(pg_config(pg, db))
    two = start(pg_config(pg, db))
    names = open_accounts(one, 16)
    acked, replies, threads, stop = run_load([one, two], names, 64, 3)
    join(threads, stop)
    assert set(replies) <= {"OK", "OK balance", "ERR insufficient funds"}, \
        (replies, one.stderr(), two.stderr())
    assert replies["OK"] > 64, replies
    check_database(pg, db, 16)
    check_acked(pg, db, acked)


def test_kill_9_of_an_instance_mid_load(start, pg, db):
    one = start(pg_config(pg, db))
    two = start(pg_config(pg, db))
    names = open_accounts(two, 8)
    acked, replies, threads, stop = run_load([one, two], names, 32, 4)
    time.sleep(1.5)
    one.kill()
    join(threads, stop)
    assert set(replies) <= {"OK", "OK balance", "ERR insufficient funds"}, \
        (replies, two.stderr())
    check_database(pg, db, 8)
    check_acked(pg, db, acked)
    # The survivor still serves.
    c = Client(two)
    assert c.cmd("LOGIN acct00 sesame").startswith("OK balance ")


def test_kill_9_of_postgres_mid_load(start, pg, db):
    d = start(pg_config(pg, db, metrics=True))
    names = open_accounts(d, 8)
    errors_before = metric(d, "multid_bank_backend_errors_total")
    stop = threading.Event()
    acked, replies, threads, _ = run_load([d], names, 24, 8, stop)
    time.sleep(1)
    pg.crash()
    try:
        c = Client(d)
        deadline = time.time() + 10
        reply = c.cmd("LOGIN nobody nosuchsecret")
        while reply != "ERR unavailable" and time.time() < deadline:
            reply = c.cmd("LOGIN nobody nosuchsecret")
        assert reply == "ERR unavailable"
        assert c.cmd("OPEN newcomer sesame") == "ERR unavailable"
        assert metric(d, 'multid_backend_up{backend="postgresql"}') == 0
        time.sleep(0.5)
    finally:
        pg.start()
    wait_serving(d)
    time.sleep(1)
    join(threads, stop)
    assert set(replies) <= {"OK", "OK balance", "ERR insufficient funds",
                            "ERR unavailable"}, replies
    assert replies["ERR unavailable"] > 0, replies
    check_database(pg, db, 8)
    check_acked(pg, db, acked)
    assert metric(d, 'multid_backend_up{backend="postgresql"}') == 1
    assert metric(d, "multid_bank_backend_errors_total") > errors_before
    assert "no connection; commands get ERR unavailable" in d.stderr()


def test_unavailable_while_postgres_is_down(start, pg, db):
    d = start(pg_config(pg, db, metrics=True))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert c.cmd("DEPOSIT 7") == "OK 7.00"
    pg.stop()
    try:
        for cmd in ("BALANCE", "DEPOSIT 1", "WITHDRAW 1", "TRANSFER alice 1",
                    "HISTORY", "OPEN bob sesame", "LOGIN alice sesame"):
            assert c.cmd(cmd) == "ERR unavailable", cmd
        assert metric(d, 'multid_backend_up{backend="postgresql"}') == 0
    finally:
        pg.start()
    wait_serving(d)
    assert c.cmd("BALANCE") == "OK 7.00"
    assert c.cmd("DEPOSIT 1") == "OK 8.00"
    assert metric(d, 'multid_backend_up{backend="postgresql"}') == 1
    # Lines about the outage are few: at most about one a second.
    lines = [l for l in d.stderr().splitlines() if "postgresql:" in l]
    assert 1 <= len(lines) <= 40, lines


def test_starts_while_postgres_is_down(start, pg, db):
    pg.stop()
    try:
        d = start(pg_config(pg, db))
        c = Client(d)
        assert c.cmd("OPEN alice sesame") == "ERR unavailable"
    finally:
        pg.start()
    wait_serving(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    assert pg.query("SELECT version FROM schema_version", db=db) == [["1"]]


def test_a_stalled_database_does_not_stall_the_reactor(start, pg, db):
    """Every PostgreSQL process stopped (SIGSTOP): a DEPOSIT waits for its
    answer, and meanwhile another service of the daemon answers at once."""
    d = start(config(
        service("bank", "bank", ["tcp://127.0.0.1:0"],
                'backend = "postgresql"; conninfo = "%s";'
                % pg.conninfo(db)),
        service("echo", "echo", ["tcp://127.0.0.1:0"])))
    c = Client(d)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    pids = pg.pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        c.send("DEPOSIT 5")
        c.s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            c.s.recv(1)
        # Were the reactor waiting for the database, the echo would come
        # only after SIGCONT, below.
        e = d.connect("echo")
        e.settimeout(10)
        e.sendall(b"ping\n")
        assert e.recv(100) == b"ping\n"
        e.close()
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    c.s.settimeout(10)
    assert c.line() == "OK 5.00"


def test_stop_with_commands_in_flight(start, pg, db):
    """SIGTERM while clients have commands pipelined: the daemon stops
    cleanly, and every deposit a client saw acknowledged is stored."""
    d = start(pg_config(pg, db))
    names = open_accounts(d, 8)
    clients = []
    for name in names:
        c = Client(d)
        assert c.cmd("LOGIN %s sesame" % name).startswith("OK balance ")
        clients.append(c)
    for c in clients:
        c.send("\n".join(["DEPOSIT 1"] * 30))
    time.sleep(0.05)
    assert d.stop() == 0
    acked = 0
    for c in clients:
        data = c.f.read().decode()
        lines = [l for l in data.split("\r\n") if l]
        for l in lines:
            assert re.match(r"^OK \d+\.00$", l) or \
                l == "ERR service stopping", l
        acked += sum(1 for l in lines if l.startswith("OK "))
    stored = int(pg.query("SELECT count(*) FROM history WHERE kind = "
                          "'deposit' AND amount = 100", db=db)[0][0])
    assert stored >= acked
    check_database_sums(pg, db)


def check_database_sums(pg, db):
    """Each balance is the sum of its history."""
    bad = pg.query(
        "SELECT a.name FROM accounts a LEFT JOIN history h "
        "ON h.account = a.id GROUP BY a.id HAVING a.balance <> "
        "coalesce(sum(CASE WHEN h.kind IN ('deposit', 'transfer-in') "
        "THEN h.amount ELSE -h.amount END), 0)", db=db)
    assert bad == []


def test_a_statement_stuck_on_a_lock_gives_up(start, pg, db):
    """A session that holds an account's row (and forgets it) makes a
    DEPOSIT on it wait; after the statement timeout (10 s) the client
    gets ERR unavailable, and the next one goes through once the lock is
    gone."""
    d = start(pg_config(pg, db))
    c = Client(d, timeout=30)
    assert c.cmd("OPEN alice sesame") == "OK opened alice"
    holder = subprocess.Popen(
        ["runuser", "-u", "postgres", "--"] + pg.psql_args(db) +
        ["-c", "BEGIN; SELECT id FROM accounts WHERE name = 'alice' "
         "FOR UPDATE; SELECT pg_sleep(14); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while pg.query("SELECT count(*) FROM pg_locks l JOIN pg_class c "
                       "ON c.oid = l.relation WHERE c.relname = 'accounts' "
                       "AND l.mode = 'RowShareLock'", db=db) == [["0"]]:
            assert time.time() < deadline, "psql did not take its lock"
            time.sleep(0.1)
        assert c.cmd("DEPOSIT 1") == "ERR unavailable"
    finally:
        holder.wait(30)
    assert c.cmd("DEPOSIT 2") == "OK 2.00"


@pytest.mark.skipif(bool(os.environ.get("MULTID_SANITIZE")),
                    reason="valgrind cannot run an ASan build")
@pytest.mark.skipif(shutil.which("valgrind") is None,
                    reason="valgrind is not installed")
def test_postgresql_store_under_memcheck(start, tmp_path, pg, db):
    """The store's life under valgrind: requests of every kind, the
    database going away and coming back, and the stop.  No error, no
    definite leak."""
    vlog = str(tmp_path / "valgrind.log")
    wrapper = ["valgrind", "--tool=memcheck", "--error-exitcode=1",
               "--leak-check=full", "--errors-for-leak-kinds=definite",
               "--track-fds=no", "--log-file=" + vlog]
    d = start(pg_config(pg, db), wrapper=wrapper, timeout=120)
    c = Client(d, timeout=60)
    for cmd, want in (("OPEN alice sesame", "OK opened alice"),
                      ("OPEN bob sesame", "OK opened bob"),
                      ("DEPOSIT 10", "OK 10.00"),
                      ("WITHDRAW 1", "OK 9.00"),
                      ("TRANSFER alice 2", "OK 7.00"),
                      ("TRANSFER bob 3", "OK 7.00"),
                      ("TRANSFER nobody 3", "ERR no such account"),
                      ("WITHDRAW 100", "ERR insufficient funds")):
        assert c.cmd(cmd) == want, cmd
    assert len(c.history("3")) == 3
    pg.stop()
    try:
        assert c.cmd("BALANCE") == "ERR unavailable"
    finally:
        pg.start()
    wait_serving(d, timeout=60)
    assert c.cmd("LOGIN alice sesame") == "OK balance 2.00"
    assert c.cmd("LOGIN bob sesame") == "OK balance 7.00"
    status = d.stop(timeout=120)
    with open(vlog) as f:
        report = f.read()
    assert "ERROR SUMMARY: 0 errors" in report, report[-6000:]
    assert not re.search(r"definitely lost: [1-9]", report), report[-6000:]
    assert status == 0, report[-6000:]
