"""chat's cluster (SPEC 7): two multid instances share their rooms through
one Redis (tests/integration/redisserver.py): line users (raw sockets, as
telnet) and an IRC user on different instances chat in one room, /msg
reaches a user of the other instance, nick changes and quits are seen
across, a nickname is unique across the cluster, /who, /rooms and NAMES
list both instances, a killed instance's names free up within 30 s, and
when Redis dies mid-chat each instance goes on locally, says so once,
and shares again once Redis is back.

Each instance listens with the line protocol on 127.0.0.1 and IRC on
127.0.0.3; the server is called irc.test."""
import re
import socket
import time

import pytest

from multid import (LineClient, config, listen_group, recv_all, run_multid,
                    service)
from redisserver import RedisServer

LINE = "127.0.0.1"
COURSE = "127.0.0.2"
IRC = "127.0.0.3"
SRV = "irc.test"
DOWN = "* the cluster is unreachable; rooms are local for now"
BACK = "* the cluster is back; rooms are shared again"


def chat_conf(url, extra=""):
    return config(service("chat", "chat", [
        "tcp://%s:0" % LINE, listen_group("tcp://%s:0" % COURSE, "course"),
        listen_group("tcp://%s:0" % IRC, "irc")],
        'server_name = "%s"; cluster = "%s"; cluster_name = "t"; %s' % (
            SRV, url, extra)),
        service("m", "metrics", ["tcp://127.0.0.1:0"]))


def metric(d, name):
    """The value of a chat series in d's metrics, e.g.
    metric(d, 'multid_backend_up{service="chat",backend="redis"}')."""
    host, port = d.addr("m")
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = recv_all(s)
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError("no %s in:\n%s" % (name, data.decode()))


UP = 'multid_backend_up{service="chat",backend="redis"}'
ERRORS = 'multid_backend_errors_total{service="chat",backend="redis"}'


def addr(d, host):
    d._parse_listeners()
    for kind, h, port in d.listeners.get("chat", []):
        if kind == "tcp" and h == host:
            return h, port
    raise KeyError("chat has no listener on %s: %s" % (host, d.listeners))


class Line(LineClient):
    """A line user (what telnet sends); logs in when given a name."""

    def __init__(self, d, name=None):
        s = socket.create_connection(addr(d, LINE), timeout=5)
        super().__init__(sock=s, end=b"\r\n", sep=b"\r\n")
        self.name = name
        self.until("* choose a nickname")
        if name is not None:
            self.send(name)
            self.until("* hello " + name)

    def until(self, *parts, timeout=None):
        return self.read_until(lambda l: any(p in l for p in parts),
                               timeout=timeout)


class Irc(LineClient):
    def __init__(self, d, nick):
        s = socket.create_connection(addr(d, IRC), timeout=5)
        super().__init__(sock=s, end=b"\r\n", sep=b"\r\n")
        self.nick = nick
        self.send("NICK " + nick)
        self.send("USER %s 0 * :Real %s" % (nick, nick))
        self.until(" 376 " + nick + " ", " 422 " + nick + " ")

    def until(self, *parts, timeout=None):
        return self.read_until(lambda l: any(p in l for p in parts),
                               timeout=timeout)


class Course(LineClient):
    """A client of the course's chat protocol (NUL frames), logged in."""

    def __init__(self, d, name):
        s = socket.create_connection(addr(d, COURSE), timeout=5)
        super().__init__(sock=s, end=b"\0", sep=b"\0")
        self.ok = self.ask("/login " + name)


def eventually(pred, timeout=10.0, step=0.1):
    """Calls pred until it returns something true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("not within %.1f s: %r" % (timeout, got))
        time.sleep(step)


def who(c):
    c.send("/who")
    return c.until("* lobby: ")[-1]


def sees(c, nick):
    """Waits until c's /who lists nick (the other instance is in)."""
    eventually(lambda: nick in who(c).split(": ", 1)[1].split(", "))


@pytest.fixture
def redis():
    r = RedisServer()
    yield r
    r.close()


@pytest.fixture
def pair(start, redis):
    """Two instances, both connected to Redis."""
    a = start(chat_conf(redis.url()))
    b = start(chat_conf(redis.url()))
    eventually(lambda: metric(a, UP) == 1 and metric(b, UP) == 1)
    return a, b


def test_rooms_messages_and_lists_span_instances(pair):
    a, b = pair
    alice = Line(a, "alice")
    bob = Line(b, "bob")
    alice.until("* bob joined", timeout=10)
    alice.send("hello from a")
    assert bob.until("<alice>")[-1] == "<alice> hello from a"
    bob.send("hi from b")
    assert alice.until("<bob>")[-1] == "<bob> hi from b"
    bob.send("/me waves")
    assert alice.until("* bob waves")[-1] == "* bob waves"

    # An IRC user on b, in the same room.
    carol = Irc(b, "carol")
    carol.send("JOIN #lobby")
    names = carol.until(" 353 carol ")[-1]
    assert set(names.split(":")[-1].split()) == {"alice", "bob", "carol"}
    carol.until(" 366 carol ")
    assert alice.until("* carol joined")[-1] == "* carol joined"
    assert who(alice) == "* lobby: alice, bob, carol"
    alice.send("to everybody")
    assert carol.until("PRIVMSG #lobby")[-1] == (
        ":alice!alice@%s PRIVMSG #lobby :to everybody" % SRV)
    carol.send("PRIVMSG #lobby :from irc")
    assert alice.until("<carol>")[-1] == "<carol> from irc"
    carol.send("PRIVMSG #lobby :\x01ACTION dances\x01")
    assert alice.until("* carol dances")[-1] == "* carol dances"

    # /msg both ways across the instances.
    alice.send("/msg carol psst")
    assert carol.until("PRIVMSG carol")[-1] == (
        ":alice!alice@%s PRIVMSG carol :psst" % SRV)
    carol.send("PRIVMSG alice :hey you")
    assert alice.until("*carol*")[-1] == "*carol* hey you"
    bob.send("/msg alice quiet")
    assert alice.until("*bob*")[-1] == "*bob* quiet"

    # A private CTCP ACTION across: an IRC user gets it as one, a line
    # user as the line form a local one gets.
    dave = Irc(a, "dave")
    dave.send("PRIVMSG carol :\x01ACTION winks\x01")
    assert carol.until("PRIVMSG carol")[-1] == (
        ":dave!dave@%s PRIVMSG carol :\x01ACTION winks\x01" % SRV)
    carol.send("PRIVMSG alice :\x01ACTION nods\x01")
    assert alice.until("*carol*")[-1] == "*carol* * carol nods"
    dave.send("QUIT")
    alice.send("/msg nobody x")
    assert alice.until("! ")[-1].startswith("! no such user")

    # WHOIS and WHO see the other instance's users.
    carol.send("WHOIS alice")
    assert carol.until(" 311 carol alice ")[-1].endswith(":on another server")
    carol.until(" 318 carol alice ")
    carol.send("LIST")
    assert " 322 carol #lobby 3 :" in carol.until(" 322 carol #lobby ")[-1]
    carol.until(" 323 ")

    # A room of the other instance shows in /rooms.
    bob.send("/join kitchen")
    bob.until("* you are in kitchen")
    alice.until("* bob left")

    def rooms():
        alice.send("/rooms")
        return alice.until("* rooms:")[-1]
    eventually(lambda: "kitchen (1)" in rooms())
    assert rooms() == "* rooms: kitchen (1), lobby (2)"

    # Nick changes and quits are seen across.
    carol.send("NICK caroline")
    assert alice.until("is now")[-1] == "* carol is now caroline"
    carol.send("QUIT :off to bed")
    assert alice.until("left")[-1] == "* caroline left (off to bed)"
    assert who(alice) == "* lobby: alice"


def test_course_client_across_instances(pair):
    a, b = pair
    alice = Line(a, "alice")
    dave = Course(b, "dave")
    assert dave.ok.startswith("/ok ")
    # /users lists the room, users of the other instance included.
    eventually(lambda: dave.ask("/users") == "/users alice\ndave")
    alice.until("* dave joined")
    alice.send("hi dave")
    assert dave.line() == "alice:hi dave"
    dave.send("hi alice")
    assert alice.until("<dave>")[-1] == "<dave> hi alice"
    # The course rule for a taken name holds across instances.
    assert Course(b, "Alice").ok == "/error"


def test_nickname_unique_across_instances(pair, redis):
    a, b = pair
    alice = Line(a, "alice")
    x = Line(b)
    x.send("alice")
    assert x.until("! ")[-1] == "! nickname alice is taken, try another"
    x.send("ALICE")
    assert x.until("! ")[-1] == "! nickname ALICE is taken, try another"
    irc = Irc(b, "ivan")
    irc.send("NICK Alice")
    assert irc.until(" 433 ")[-1].startswith(":%s 433 ivan Alice " % SRV)
    x.send("xavier")
    x.until("* hello xavier")
    x.send("/nick alice")
    assert x.until("! ")[-1] == "! nickname alice is taken, try another"
    # The lease is in Redis under the cluster's name.
    assert redis.cli("EXISTS", "t:nick:alice").strip() == "1"

    # A rename frees the old name at once; the new one is held.
    alice.send("/nick alicia")
    alice.until("* you are now alicia")

    def take(c, name):
        c.send("/nick " + name)
        return c.until("* you are now", "! ")[-1]
    assert eventually(lambda: take(x, "alice") == "* you are now alice")
    assert take(x, "alicia") == "! nickname alicia is taken, try another"

    # Quitting frees it too.
    alice.send("/quit")
    alice.expect_closed()
    assert eventually(lambda: take(x, "Alicia") == "* you are now Alicia")


def test_killed_instance_names_free_within_30s(pair):
    a, b = pair
    watcher = Line(a, "watcher")
    alice = Line(b, "alice")
    sees(watcher, "alice")
    b.kill()
    alice.close()
    x = Line(a)
    x.send("alice")
    assert x.until("! ")[-1] == "! nickname alice is taken, try another"

    def take():
        x.send("alice")
        return x.until("* hello", "! ")[-1].startswith("* hello alice")
    # The lease lasts 30 s, renewed every 5 s, so it is gone 30 s after
    # the kill at the latest; the instance is given up after 20 s of
    # silence, checked every 5 s.  The wait is bounded with a margin for a
    # loaded machine (no timing is asserted).
    eventually(take, timeout=40, step=0.5)
    assert "* alice left (server gone)" in watcher.until("left")


def test_redis_away_and_back(pair, redis):
    a, b = pair
    alice = Line(a, "alice")
    bob = Line(b, "bob")
    sees(alice, "bob")
    alice.send("before")
    assert bob.until("<alice>")[-1] == "<alice> before"

    assert metric(a, UP) == 1
    errors = metric(a, ERRORS)
    redis.kill()
    assert alice.until(DOWN)[-1] == DOWN
    assert bob.until(DOWN)[-1] == DOWN
    assert metric(a, UP) == 0
    assert metric(a, ERRORS) > errors
    # Local chat goes on, and remote users are gone from the lists.
    amy = Line(a, "amy")
    alice.until("* amy joined")
    amy.send("local only")
    assert alice.until("<amy>")[-1] == "<amy> local only"
    assert who(alice) == "* lobby: alice, amy"
    bob.send("nobody hears this on a")
    bob.expect_silence(0.5)

    redis.start()
    assert alice.until(BACK, timeout=15)[-1] == BACK
    assert bob.until(BACK, timeout=15)[-1] == BACK
    assert metric(a, UP) == 1
    sees(alice, "bob")
    sees(bob, "amy")
    alice.send("after")
    assert bob.until("<alice>")[-1] == "<alice> after"
    bob.send("me too")
    assert amy.until("<bob>")[-1] == "<bob> me too"
    # The leases are claimed again.
    assert redis.cli("GET", "t:nick:amy").strip() != ""
    x = Line(b)
    x.send("amy")
    assert x.until("! ")[-1] == "! nickname amy is taken, try another"


def test_nickname_given_twice_while_away(pair, redis):
    a, b = pair
    watcher = Line(a, "watcher")
    sees(watcher, "watcher")
    redis.kill()
    watcher.until(DOWN)
    # Both instances give the name out locally while Redis is away.
    one, two = Line(a, "alice"), Line(b, "alice")
    redis.start()
    one.until(BACK, timeout=15)
    two.until(BACK, timeout=15)

    def renamed(c):
        try:
            return c.until("is held on another server", timeout=8)[-1]
        except AssertionError:
            return None
    told = [renamed(one), renamed(two)]
    # Exactly one of them keeps the name; the other is renamed and told.
    assert len([t for t in told if t]) == 1, told
    line = [t for t in told if t][0]
    assert re.fullmatch(r"\* alice is held on another server; you are now "
                        r"alice-[0-9a-f]{4}", line), line
    new = line.rsplit(" ", 1)[1]
    eventually(lambda: who(watcher) == "* lobby: %s" % ", ".join(
        sorted(["watcher", "alice", new], key=str.lower)))
    kept, moved = (one, two) if told[1] else (two, one)
    kept.send("who are you?")
    assert moved.until("<alice>")[-1] == "<alice> who are you?"
    moved.send("the other one")
    assert kept.until("<%s>" % new)[-1] == "<%s> the other one" % new


def test_history_is_shared(start, redis):
    a = start(chat_conf(redis.url(), "history = 5;"))
    alice = Line(a, "alice")
    for i in range(7):
        alice.send("line %d" % i)
    # In Redis before the other instance starts (else bob hears them live).
    eventually(lambda: redis.cli("LINDEX", "t:hist:lobby", "0").strip() ==
               "1 %s M- 5:alice5:lobby6:line 6--" % redis.cli(
                   "GET", "t:nick:alice").strip())
    assert redis.cli("LLEN", "t:hist:lobby").strip() == "5"
    # Redis by its name: looked up off the reactor.
    b = start(chat_conf(redis.url().replace("127.0.0.1", "localhost"),
                        "history = 5;"))
    bob = Line(b)
    bob.send("bob")
    got = bob.until("<alice> line 6", timeout=10)
    assert [l for l in got if l.startswith("<")] == [
        "<alice> line %d" % i for i in range(2, 7)]


def test_redis_absent_at_start(start, redis):
    redis.kill()
    a = start(chat_conf(redis.url()))
    alice = Line(a, "alice")
    alice.send("alone")
    redis.start()
    b = start(chat_conf(redis.url()))
    bob = Line(b, "bob")
    eventually(lambda: "alice" in who(bob), timeout=15)
    bob.send("found you")
    assert alice.until("<bob>")[-1] == "<bob> found you"


NOT_URL = "cluster: not redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]"


def test_password_user_and_database(start):
    """Redis with a password, and an ACL user of its own for one of the
    instances: both share the lobby, and the keys are in the database the
    URL names."""
    r = RedisServer(("--requirepass", "p@ss:w%rd",
                     "--user", "chat", "on", ">chat-pw", "~*", "&*",
                     "+@all"))
    try:
        a = start(chat_conf("redis://:p%%40ss%%3Aw%%25rd@127.0.0.1:%d/3" %
                            r.port))
        b = start(chat_conf("redis://chat:chat-pw@127.0.0.1:%d/3" % r.port))
        eventually(lambda: metric(a, UP) == 1 and metric(b, UP) == 1)
        alice = Line(a, "alice")
        bob = Line(b, "bob")
        alice.until("* bob joined", timeout=10)
        bob.send("over a password")
        assert alice.until("<bob>")[-1] == "<bob> over a password"
        assert "t:nick:alice" in r.cli("-n", "3", "KEYS", "t:*").split()
        assert r.cli("-n", "0", "KEYS", "t:*").strip() == ""
        assert "p@ss" not in a.stderr() and "chat-pw" not in b.stderr()
    finally:
        r.close()


@pytest.mark.parametrize("url, said", [
    ("redis://:wrong@127.0.0.1:%d", "WRONGPASS"),
    ("redis://127.0.0.1:%d", "NOAUTH"),
])
def test_refused_password_is_said_and_chat_stays_local(start, url, said):
    r = RedisServer(("--requirepass", "right"))
    try:
        a = start(chat_conf(url % r.port))
        eventually(lambda: said in a.stderr())
        assert "cluster: redis 127.0.0.1:%d: %s" % (r.port, said) in \
            a.stderr()
        assert metric(a, UP) == 0 and metric(a, ERRORS) >= 1
        alice = Line(a, "alice")
        bob = Line(a, "bob")
        alice.until("* bob joined")
        bob.send("still here")
        assert alice.until("<bob>")[-1] == "<bob> still here"
        assert r.cli("KEYS", "*").strip() == ""
    finally:
        r.close()


@pytest.mark.parametrize("url, name, error", [
    ("http://127.0.0.1:6379", "t", NOT_URL),
    ("redis://127.0.0.1:0", "t", NOT_URL),
    ("redis://:6379", "t", NOT_URL),
    ("redis://user@127.0.0.1:6379", "t", NOT_URL),
    ("redis://user:@127.0.0.1:6379", "t", NOT_URL),
    ("redis://:%zz@127.0.0.1:6379", "t", NOT_URL),
    ("redis://:a%00b@127.0.0.1:6379", "t", NOT_URL),
    ("redis://127.0.0.1:6379/x", "t", NOT_URL),
    ("redis://127.0.0.1:6379/", "t", NOT_URL),
    ("redis://[::1]x:6379", "t", NOT_URL),
    ("redis://127.0.0.1:6379", "a b", "cluster_name: letters, digits"),
])
def test_bad_cluster_keys(tmp_path, url, name, error):
    conf = tmp_path / "multid.conf"
    conf.write_text(config(service("chat", "chat", ["tcp://127.0.0.1:0"],
                                   'cluster = "%s"; cluster_name = "%s";' %
                                   (url, name))))
    r = run_multid(["-t", "-c", str(conf)])
    assert r.returncode != 0
    assert error in r.stderr, r.stderr


def test_no_backend_series_without_cluster(start):
    d = start(config(service("chat", "chat", ["tcp://127.0.0.1:0"]),
                     service("m", "metrics", ["tcp://127.0.0.1:0"])))
    with pytest.raises(AssertionError, match="no multid_backend_up"):
        metric(d, UP)
    with pytest.raises(AssertionError, match="no multid_backend_errors"):
        metric(d, ERRORS)
