"""guess: the number-guessing game over TCP, played like a user would."""
import re

import pytest

from multid import LineClient, config, service

ROUND_RE = re.compile(r"^\* .*between 1 and (\d+)")


class Player(LineClient):
    """A telnet-like player: lines end with CRLF both ways."""

    def __init__(self, d, name="guess"):
        super().__init__(d, name, end=b"\r\n")

    def round_max(self):
        """Reads a new-round line and returns its MAX."""
        line = self.line()
        m = ROUND_RE.match(line)
        assert m, line
        return int(m.group(1))

    def solve(self, hi):
        """Binary search; returns (number, tries, '=' line)."""
        lo, tries = 1, 0
        while True:
            g = (lo + hi) // 2
            r = self.ask(str(g))
            tries += 1
            if r.startswith("= "):
                return g, tries, r
            if r.startswith("- "):
                hi = g - 1
            else:
                assert r.startswith("+ "), r
                lo = g + 1
            assert lo <= hi

    def find_without_hitting(self, hi):
        """Narrows the interval to one number without guessing it; returns
        it, or None when a guess happened to hit (a new round has then
        begun)."""
        lo = 1
        while lo < hi:
            g = (lo + hi) // 2
            r = self.ask(str(g))
            if r.startswith("= "):
                self.round_max()
                return None
            if r.startswith("- "):
                hi = g - 1
            else:
                lo = g + 1
        return lo


@pytest.fixture
def d(start):
    return start(config(
        service("guess", "guess", ["tcp://127.0.0.1:0"]),
        service("g2", "guess", ["tcp://127.0.0.1:0"], "max = 2;"),
        service("gbig", "guess", ["tcp://127.0.0.1:0"], "max = 1000000;"),
        service("gshort", "guess", ["tcp://127.0.0.1:0"], "max_line = 32;")))


def test_greeting_names_the_range(d):
    p = Player(d)
    assert p.round_max() == 100
    p = Player(d, "g2")
    assert p.round_max() == 2
    p = Player(d, "gbig")
    assert p.round_max() == 1000000


def test_play_a_round_and_a_new_one_starts(d):
    p = Player(d)
    assert p.round_max() == 100
    n, tries, line = p.solve(100)
    assert 1 <= n <= 100
    assert line.startswith("= ")
    assert tries <= 7
    # The next round starts at once.
    assert p.round_max() == 100
    n2, _, _ = p.solve(100)
    assert 1 <= n2 <= 100


def test_replies_point_the_right_way(d):
    p = Player(d)
    p.round_max()
    n = p.find_without_hitting(100)
    while n is None:
        n = p.find_without_hitting(100)
    if n > 1:
        assert p.ask(str(n - 1)).startswith("+ ")
    if n < 100:
        assert p.ask(str(n + 1)).startswith("- ")
    assert p.ask(" %d " % n).startswith("= ")
    assert p.round_max() == 100


def test_giveup_tells_the_number(d):
    p = Player(d)
    p.round_max()
    n = None
    while n is None:
        n = p.find_without_hitting(100)
    assert p.ask("giveup") == "* the number was %d" % n
    assert p.round_max() == 100


def test_new_with_and_without_max(d):
    p = Player(d)
    p.round_max()
    p.send("new 10")
    assert p.round_max() == 10
    n, _, _ = p.solve(10)
    assert 1 <= n <= 10
    # The new maximum stays for the following rounds.
    assert p.round_max() == 10
    p.send("NEW")
    assert p.round_max() == 10
    p.send("new 1000000")
    assert p.round_max() == 1000000
    p.send("new 2")
    assert p.round_max() == 2


@pytest.mark.parametrize("arg", ["1", "0", "1000001", "-5", "ten", "5 6"])
def test_new_with_bad_max(d, arg):
    p = Player(d)
    p.round_max()
    assert p.ask("new " + arg).startswith("! ")
    # The round goes on with the old maximum.
    assert p.ask("101").startswith("! ")
    assert p.ask("stats").startswith("* ")


def test_stats(d):
    p = Player(d)
    p.round_max()
    line = p.ask("stats")
    assert line.startswith("* ")
    assert [int(x) for x in re.findall(r"\d+", line)][:2] == [0, 0]
    _, tries, _ = p.solve(100)
    p.round_max()
    p.send("giveup")
    assert p.line().startswith("* the number was ")
    p.round_max()
    line = p.ask("Stats")
    assert line.startswith("* ")
    nums = [int(x) for x in re.findall(r"\d+", line)]
    # rounds finished (won or given up), won, best tries
    assert nums[:3] == [2, 1, tries], line


@pytest.mark.parametrize("bad", ["0", "101", "-1", "abc", "4 2", "1.5",
                                 "99999999999999999999", "guess 5", "+"])
def test_errors(d, bad):
    p = Player(d)
    p.round_max()
    assert p.ask(bad).startswith("! ")
    # A bad line is no try and the game goes on.
    assert p.ask("50")[:2] in ("- ", "+ ", "= ")


def test_help_and_case_insensitive_commands(d):
    p = Player(d)
    p.round_max()
    p.send("HELP")
    p.send("stats")
    lines = []
    while True:
        line = p.line()
        lines.append(line)
        if line.startswith("* rounds"):
            break
    assert len(lines) >= 2
    assert all(l.startswith("* ") for l in lines), lines
    p.send("GiveUp")
    assert p.line().startswith("* the number was ")


def test_quit_closes(d):
    p = Player(d)
    p.round_max()
    p.send("quit")
    rest = p.expect_closed()
    assert all(l.startswith("* ") for l in rest.decode().split("\r\n")[:-1])


def test_max_2_round(d):
    p = Player(d, "g2")
    assert p.round_max() == 2
    assert p.ask("3").startswith("! ")
    r = p.ask("1")
    if r.startswith("+ "):
        assert p.ask("2").startswith("= ")
    else:
        assert r.startswith("= ")
    assert p.round_max() == 2


def test_numbers_are_random(d):
    # Eight games up to a million agree only by a miracle.
    seen = set()
    for _ in range(8):
        p = Player(d, "gbig")
        p.round_max()
        p.send("giveup")
        seen.add(p.line())
        p.s.close()
    assert len(seen) >= 7


def test_pipelined_guesses(d):
    p = Player(d, "g2")
    p.round_max()
    p.raw(b"1\r\n2\r\nstats\r\n")
    first = p.line()
    assert first[:2] in ("+ ", "= ")
    if first.startswith("= "):
        assert p.round_max() == 2
        assert p.line()[:2] in ("+ ", "= ", "- ")
    else:
        assert p.line().startswith("= ")
    while True:
        line = p.line()
        if "won" in line:
            break
        assert ROUND_RE.match(line) or line[:2] in ("+ ", "- ", "= "), line


def test_line_too_long(d):
    p = Player(d, "gshort")
    p.round_max()
    p.raw(b"1" * 100 + b"\r\n")
    assert p.line() == "! line too long"
    assert p.ask("101").startswith("! ")
    assert p.ask("50")[:2] in ("- ", "+ ", "= ")


def test_telnet_iac_removed(d):
    p = Player(d)
    p.round_max()
    # IAC DO SUPPRESS-GO-AHEAD and IAC NOP inside a command: removed; the
    # DO is answered by IAC WONT SUPPRESS-GO-AHEAD (SPEC 3) before the reply.
    p.raw(b"\xff\xfd\x03st\xff\xf1ats\r\n")
    line = p.line_bytes()
    assert line.startswith(b"\xff\xfc\x03"), line
    assert line[3:].startswith(b"* rounds"), line


def test_busy(start):
    d = start(config(service("guess", "guess", ["tcp://127.0.0.1:0"],
                             "max_connections = 1;")))
    a = Player(d)
    a.round_max()
    b = Player(d)
    assert b.line() == "! busy"
    assert a.ask("stats").startswith("* ")
