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
import threading
import time

from bankclient import Client, bank_config, check_invariants, random_ops

ROUNDS = 20
CLIENTS = 6


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
        accounts, history = check_invariants(db)
        last_id = history[-1][0] if history else 0
        d = start(bank_config(db))
        stop = threading.Event()
        acked = [[] for _ in names]
        threads = [threading.Thread(target=random_ops, args=(
            d, names, me, random.Random(rnd.random()), stop, acked[i]),
            kwargs={"max_cents": 5000}) for i, me in enumerate(names)]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(0.3, 1.2))
        d.signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
        for t in threads:
            t.join(10)
            assert not t.is_alive()
        accounts, history = check_invariants(db)
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
    accounts, _ = check_invariants(db)
    for n in names:
        assert c.cmd("LOGIN %s sesame" % n) == "OK balance %d.%02d" % divmod(
            accounts[n][1], 100)
    c.close()
    assert d.stop() == 0
