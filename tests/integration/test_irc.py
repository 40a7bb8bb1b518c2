"""chat's IRC protocol (SPEC 3 chat, its IRC paragraph) over real sockets:
registration and its burst, every command, every numeric and string the
SPEC fixes, IRC users in the same rooms as line (telnet, nc) and course
clients both ways, bad input, flood and slow readers, PING/PONG.

The chat listens with the line protocol on 127.0.0.1, the course protocol
on 127.0.0.2 and IRC on 127.0.0.3, so a test picks the protocol by
address.  The server is called irc.test."""
import os
import shutil
import socket
import subprocess
import time

import pytest

from multid import LineClient, config, listen_group, service

LINE = "127.0.0.1"
COURSE = "127.0.0.2"
IRC = "127.0.0.3"
SRV = "irc.test"
ISUPPORT = ("CHANTYPES=# NICKLEN=16 CASEMAPPING=ascii CHANLIMIT=#:20 "
            "CHANNELLEN=17 TOPICLEN=390 AWAYLEN=160 MAXTARGETS=4 "
            "CHANMODES=,,,nt PREFIX=() NETWORK=multid")


def chat_conf(extra='motd = "first line\\nsecond line";'):
    return config(service("chat", "chat", [
        "tcp://%s:0" % LINE,
        listen_group("tcp://%s:0" % COURSE, "course"),
        listen_group("tcp://%s:0" % IRC, "irc")],
        'server_name = "%s"; %s' % (SRV, extra)))


def addr(d, host):
    d._parse_listeners()
    for kind, h, port in d.listeners.get("chat", []):
        if kind == "tcp" and h == host:
            return h, port
    raise KeyError("chat has no listener on %s: %s" % (host, d.listeners))


class Irc(LineClient):
    """A raw IRC client: CRLF lines; registers when given a nick."""

    def __init__(self, d, nick=None, user=None, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(5)
        s.connect(addr(d, IRC))
        super().__init__(sock=s, end=b"\r\n", sep=b"\r\n")
        self.nick = nick
        if nick is not None:
            self.send("NICK " + nick)
            self.send("USER %s 0 * :Real %s" % (user or nick, nick))
            self.burst = self.until(" 376 " + nick + " ", " 422 " + nick + " ")

    def until(self, *parts):
        """Lines up to the first that holds one of parts."""
        return self.read_until(lambda l: any(p in l for p in parts))

    def num(self, code):
        """The next line, which must be numeric code from the server."""
        line = self.line()
        assert line.startswith(":%s %s " % (SRV, code)), line
        return line

    def me(self):
        return "%s!~%s@127.0.0.1" % (self.nick, self.nick)

    def join(self, *rooms):
        self.send("JOIN " + ",".join(rooms))
        for r in rooms:
            self.until(" 366 %s %s " % (self.nick, r))


class Line(LineClient):
    def __init__(self, d, name=None, end=b"\r\n"):
        s = socket.create_connection(addr(d, LINE), timeout=5)
        super().__init__(sock=s, end=end, sep=b"\r\n")
        if name is not None:
            self.send(name)
            self.read_until(lambda l: l.startswith("* hello " + name))


class Course(LineClient):
    def __init__(self, d, name):
        s = socket.create_connection(addr(d, COURSE), timeout=5)
        super().__init__(sock=s, end=b"\0", sep=b"\0")
        assert self.ask("/login " + name).startswith("/ok ")


@pytest.fixture
def d(start):
    return start(chat_conf())


# --- registration -------------------------------------------------------------


def test_registration_burst(d):
    a = Irc(d)
    a.send("NICK alice")
    a.send("USER al 0 * :Alice Liddell")
    assert a.line() == (":irc.test 001 alice :Welcome to the multid IRC "
                        "network alice!~al@127.0.0.1")
    assert a.line().startswith(":irc.test 002 alice :Your host is irc.test")
    assert a.line().startswith(":irc.test 003 alice :")
    assert a.line().startswith(":irc.test 004 alice irc.test multid-")
    assert a.line() == (":irc.test 005 alice %s :are supported by this "
                        "server" % ISUPPORT)
    assert a.line() == ":irc.test 375 alice :- irc.test Message of the day - "
    assert a.line() == ":irc.test 372 alice :- first line"
    assert a.line() == ":irc.test 372 alice :- second line"
    assert a.line() == ":irc.test 376 alice :End of MOTD command"
    # Nothing else until the client acts: no room is joined for it.
    a.expect_silence()
    b = Line(d, "bob")
    b.send("/who")
    assert b.line() == "* lobby: bob"


def test_no_motd_422_and_user_before_nick(start):
    d = start(chat_conf(extra=""))
    a = Irc(d)
    a.send("PASS whatever")          # ignored
    a.send("USER x 0 * :X")
    a.expect_silence()
    a.send("NICK alice")
    lines = a.until(" 422 ")
    assert [l.split()[1] for l in lines] == ["001", "002", "003", "004",
                                             "005", "422"]
    assert lines[-1] == ":irc.test 422 alice :MOTD File is missing"
    a.send("PASS late")
    assert a.line() == (":irc.test 462 alice :Unauthorized command "
                        "(already registered)")
    a.send("USER x 0 * :X")
    a.num("462")


def test_cap_negotiation_holds_registration(d):
    a = Irc(d)
    a.send("CAP LS 302")
    assert a.line() == ":irc.test CAP * LS :"
    a.send("NICK alice")
    a.send("USER a 0 * :A")
    a.send("CAP REQ :multi-prefix")
    assert a.line() == ":irc.test CAP alice NAK :multi-prefix"
    a.expect_silence()                     # held until CAP END
    a.send("CAP END")
    assert a.line().startswith(":irc.test 001 alice ")
    a.until(" 376 ")
    a.send("CAP LIST")
    assert a.line() == ":irc.test CAP alice LIST :"
    a.send("CAP FOO")
    assert a.line() == ":irc.test 410 alice FOO :Invalid CAP command"


def test_before_registration(d):
    a = Irc(d)
    a.send("JOIN #lobby")
    assert a.line() == ":irc.test 451 * :You have not registered"
    a.send("PRIVMSG x :y")
    a.num("451")
    a.send("USER onlythree 0 *")
    assert a.line() == ":irc.test 461 * USER :Not enough parameters"
    a.send("NICK")
    assert a.line() == ":irc.test 431 * :No nickname given"
    a.send("NICK 9lives")
    assert a.line() == ":irc.test 432 * 9lives :Erroneous nickname"
    a.send("PING :tok")
    assert a.line() == ":irc.test PONG irc.test :tok"


def test_nick_unique_across_protocols(d):
    keep = [Line(d, "bob"), Course(d, "carol")]
    a = Irc(d)
    a.send("NICK BOB")
    assert a.line() == ":irc.test 433 * BOB :Nickname is already in use"
    a.send("NICK Carol")
    a.num("433")
    a.send("NICK alice")
    a.send("USER a 0 * :A")
    a.until(" 376 ")
    # And the other way round.
    x = Line(d)
    x.read_until(lambda l: l.startswith("* choose"))
    assert x.ask("ALICE").startswith("! nickname ALICE is taken")
    c = socket.create_connection(addr(d, COURSE), timeout=5)
    c.send(b"/login alice\0")
    assert c.recv(100) == b"/error\0"
    # A nick change to a taken name, and to a bad one.
    a.send("NICK bob")
    assert a.line() == ":irc.test 433 alice bob :Nickname is already in use"
    a.send("NICK a" + "b" * 16)
    a.num("432")
    assert len(keep) == 2


# --- rooms ------------------------------------------------------------------------


def test_join_names_topic_part(d):
    bob = Line(d, "bob")
    a = Irc(d, "alice")
    a.send("JOIN #lobby,#side")
    assert a.line() == ":%s JOIN #lobby" % a.me()
    assert a.line() == ":irc.test 353 alice = #lobby :alice bob"
    assert a.line() == ":irc.test 366 alice #lobby :End of NAMES list"
    assert a.line() == ":%s JOIN #side" % a.me()
    assert a.line() == ":irc.test 353 alice = #side :alice"
    assert a.line() == ":irc.test 366 alice #side :End of NAMES list"
    assert bob.line() == "* alice joined"
    # Anyone may set a topic; it is shown on join with 332.
    a.send("TOPIC #side")
    assert a.line() == ":irc.test 331 alice #side :No topic is set"
    a.send("TOPIC #lobby :all about \x02cats\x02")
    assert a.line() == ":%s TOPIC #lobby :all about cats" % a.me()
    assert bob.line() == "* alice set the topic of lobby: all about cats"
    c = Irc(d, "carl")
    c.send("JOIN #lobby")
    assert c.line() == ":%s JOIN #lobby" % c.me()
    assert c.line() == ":irc.test 332 carl #lobby :all about cats"
    assert c.line() == ":irc.test 353 carl = #lobby :alice bob carl"
    c.num("366")
    assert a.line() == ":%s JOIN #lobby" % c.me()
    assert bob.line() == "* carl joined"
    c.send("TOPIC #lobby")
    assert c.line() == ":irc.test 332 carl #lobby :all about cats"
    # PART with a reason; line users see it in parentheses.
    a.send("PART #lobby :off to bed")
    assert a.line() == ":%s PART #lobby :off to bed" % a.me()
    assert c.line() == ":%s PART #lobby :off to bed" % a.me()
    assert bob.line() == "* alice left (off to bed)"
    a.send("PART #lobby")
    assert a.line() == ":irc.test 442 alice #lobby :You're not on that channel"
    a.send("PART #nowhere")
    assert a.line() == ":irc.test 403 alice #nowhere :No such channel"
    a.send("TOPIC #lobby :mine now")
    a.num("442")
    a.send("JOIN lobby,#bad!name,#" + "x" * 17)
    assert a.line() == ":irc.test 403 alice lobby :No such channel"
    assert a.line() == ":irc.test 403 alice #bad!name :No such channel"
    a.num("403")
    a.send("PART")
    assert a.line() == ":irc.test 461 alice PART :Not enough parameters"


def test_join_0_parts_all(d):
    bob = Line(d, "bob")
    a = Irc(d, "alice")
    a.join("#lobby", "#a", "#b")
    bob.line()
    a.send("JOIN 0")
    parts = [a.line() for _ in range(3)]
    assert sorted(parts) == sorted(":%s PART #%s" % (a.me(), r)
                                   for r in ("lobby", "a", "b"))
    assert bob.line() == "* alice left"
    a.send("LIST")
    assert a.line() == ":irc.test 322 alice #lobby 1 :"
    assert a.line() == ":irc.test 323 alice :End of LIST"


def test_chanlimit_405_for_1000_channels(d):
    a = Irc(d, "alice")
    names = ["#c%d" % i for i in range(1000)]
    for i in range(0, 1000, 50):
        a.send("JOIN " + ",".join(names[i:i + 50]))
    got = a.read_until(lambda l: " 405 alice #c999 " in l, timeout=120)
    assert sum(1 for l in got if " JOIN #c" in l) == 20
    assert sum(1 for l in got if " 405 alice " in l) == 980
    assert (":irc.test 405 alice #c20 :You have joined too many channels"
            in got)
    a.send("LIST #c0,#c20")
    assert a.line() == ":irc.test 322 alice #c0 1 :"
    a.num("323")


def test_list_names_who_whois_mode_away(d):
    bob = Line(d, "bob")
    carol = Course(d, "carol")
    a = Irc(d, "alice")
    a.join("#lobby", "#side")
    bob.line()
    a.send("LIST")
    assert a.line() == ":irc.test 322 alice #lobby 3 :"
    assert a.line() == ":irc.test 322 alice #side 1 :"
    assert a.line() == ":irc.test 323 alice :End of LIST"
    a.send("NAMES #lobby")
    assert a.line() == ":irc.test 353 alice = #lobby :alice bob carol"
    a.num("366")
    a.send("NAMES #none")
    assert a.line() == ":irc.test 366 alice #none :End of NAMES list"
    a.send("WHO #lobby")
    who = sorted(a.line() for _ in range(3))
    assert who == [
        ":irc.test 352 alice #lobby bob irc.test irc.test bob H :0 line user",
        ":irc.test 352 alice #lobby carol irc.test irc.test carol H :0 "
        "course client",
        ":irc.test 352 alice #lobby ~alice 127.0.0.1 irc.test alice H :0 "
        "Real alice"]
    assert a.line() == ":irc.test 315 alice #lobby :End of WHO list"
    a.send("WHOIS bob")
    assert a.line() == ":irc.test 311 alice bob bob irc.test * :line user"
    assert a.line() == ":irc.test 319 alice bob :#lobby"
    assert a.line() == ":irc.test 312 alice bob irc.test :multid chat"
    assert a.num("317").endswith(" :seconds idle")
    assert a.line() == ":irc.test 318 alice bob :End of WHOIS list"
    a.send("WHOIS nobody")
    assert a.line() == ":irc.test 401 alice nobody :No such nick/channel"
    a.num("318")
    a.send("MODE #lobby")
    assert a.line() == ":irc.test 324 alice #lobby +nt"
    a.send("MODE #lobby b")
    a.num("368")
    a.send("MODE #lobby +o bob")
    assert a.line() == ":irc.test 482 alice #lobby :You're not channel operator"
    a.send("MODE alice")
    assert a.line() == ":irc.test 221 alice +"
    a.send("MODE alice +i")
    assert a.line() == ":irc.test 221 alice +"
    a.send("MODE #nope")
    assert a.line() == ":irc.test 403 alice #nope :No such channel"
    a.send("MODE")
    assert a.line() == ":irc.test 461 alice MODE :Not enough parameters"
    # AWAY: 306/305, 301 to whoever writes, G in WHO.
    a.send("AWAY :lunch")
    assert a.line() == ":irc.test 306 alice :You have been marked as being away"
    b = Irc(d, "bert")
    b.send("PRIVMSG alice :there?")
    assert b.line() == ":irc.test 301 bert alice :lunch"
    assert a.line() == ":%s PRIVMSG alice :there?" % b.me()
    b.send("WHO alice")
    assert b.line().endswith(" alice G :0 Real alice")
    b.num("315")
    a.send("AWAY")
    assert a.line() == (":irc.test 305 alice :You are no longer marked as "
                        "being away")
    a.send("ISON bob nobody alice")
    assert a.line() == ":irc.test 303 alice :bob alice"
    a.send("USERHOST bob alice nobody")
    assert a.line() == (":irc.test 302 alice :bob=+bob@irc.test "
                        "alice=+~alice@127.0.0.1")
    a.send("KICK #lobby bob")
    assert a.line() == ":irc.test 482 alice #lobby :You're not channel operator"
    a.send("KICK #nope bob")
    a.num("403")
    a.send("KICK #lobby")
    a.num("461")
    carol.expect_silence()


# --- messages between protocols ----------------------------------------------------


def test_messages_both_ways(d):
    bob = Line(d, "bob")
    ned = Line(d, "ned", end=b"\n")
    carol = Course(d, "carol")
    a = Irc(d, "alice")
    a.join("#lobby")
    bob.read_until(lambda l: l == "* alice joined")
    ned.read_until(lambda l: l == "* alice joined")
    bob.send("hi")
    assert a.line() == ":bob!bob@irc.test PRIVMSG #lobby :hi"
    bob.send("/me waves")
    assert a.line() == ":bob!bob@irc.test PRIVMSG #lobby :\x01ACTION waves\x01"
    carol.send("hello from the course")
    assert a.line() == ":carol!carol@irc.test PRIVMSG #lobby :hello from the course"
    a.send("PRIVMSG #lobby :hi all")
    assert bob.line() == "<carol> hello from the course"
    assert bob.line() == "<alice> hi all"
    assert ned.read_until(lambda l: l.startswith("<alice>"))[-1] == \
        "<alice> hi all"
    assert carol.read_until(lambda l: l.startswith("alice:"))[-1] == \
        "alice:hi all"
    a.send("PRIVMSG #lobby :\x01ACTION dances\x01")
    assert bob.line() == "* alice dances"
    a.expect_silence()               # no echo of one's own messages
    # Private messages, every protocol.
    a.send("PRIVMSG bob :psst")
    assert bob.line() == "*alice* psst"
    a.send("PRIVMSG carol,ned :both")
    assert carol.line() == "alice:both"
    assert ned.read_until(lambda l: l.startswith("*alice*"))[-2:] == [
        "* alice dances", "*alice* both"]
    bob.send("/msg alice back at you")
    assert a.line() == ":bob!bob@irc.test PRIVMSG alice :back at you"
    a.send("PRIVMSG bob :\x01ACTION pokes\x01")
    assert bob.line() == "*alice* * alice pokes"
    a.send("NOTICE bob :a notice")
    assert bob.line() == "*alice* a notice"


def test_formatting_kept_for_irc_removed_for_line(d):
    bob = Line(d, "bob")
    a = Irc(d, "alice")
    b = Irc(d, "bert")
    a.join("#lobby")
    b.join("#lobby")
    bob.line()
    bob.line()
    a.line()
    text = "\x02bold\x02 \x034,12red\x03 \x1funder\x1f \x0freset \x12rev\x16x"
    a.send("PRIVMSG #lobby :" + text)
    assert b.line() == ":%s PRIVMSG #lobby :%s" % (a.me(), text)
    assert bob.line() == "<alice> bold red under reset revx"
    # Terminal controls go for everybody.
    a.send("PRIVMSG #lobby :a\x1b[31mb\x07c\x7fd")
    assert b.line() == ":%s PRIVMSG #lobby :abcd" % a.me()
    assert bob.line() == "<alice> abcd"


def test_events_relayed_as_irc_messages(d):
    a = Irc(d, "alice")
    a.join("#lobby", "#side")
    bob = Line(d, "bob")
    assert a.line() == ":bob!bob@irc.test JOIN #lobby"
    bob.send("/nick robert")
    bob.line()
    assert a.line() == ":bob!bob@irc.test NICK :robert"
    bob.send("/join side")
    assert a.line() == ":robert!robert@irc.test PART #lobby"
    assert a.line() == ":robert!robert@irc.test JOIN #side"
    bob.send("/quit see you")
    # Once, though alice shares two rooms with... one room now.
    assert a.line() == ":robert!robert@irc.test QUIT :see you"
    b2 = Line(d, "dora")
    assert a.line() == ":dora!dora@irc.test JOIN #lobby"
    b2.s.close()
    assert a.line() == ":dora!dora@irc.test QUIT :Client Quit"
    # An IRC user's nick change and quit, seen by all.
    c = Irc(d, "carl")
    c.join("#lobby", "#side")
    assert a.line() == ":%s JOIN #lobby" % c.me()
    assert a.line() == ":%s JOIN #side" % c.me()
    ed = Line(d, "ed")
    assert a.line() == ":ed!ed@irc.test JOIN #lobby"
    assert c.line() == ":ed!ed@irc.test JOIN #lobby"
    c.send("NICK karl")
    assert c.line() == ":%s NICK :karl" % c.me()
    assert a.line() == ":%s NICK :karl" % c.me()     # once for two rooms
    assert ed.line() == "* carl is now karl"
    c.send("QUIT :gone fishing")
    assert c.line() == "ERROR :Closing Link: karl (gone fishing)"
    c.expect_closed()
    assert a.line() == ":karl!~carl@127.0.0.1 QUIT :gone fishing"
    assert ed.line() == "* karl left (gone fishing)"
    a.expect_silence()


def test_nick_change_outside_rooms_is_echoed(d):
    a = Irc(d, "alice")
    a.send("NICK Alicia")
    assert a.line() == ":%s NICK :Alicia" % a.me()
    a.send("NICK alicia")                  # a change of case is a change
    assert a.line() == ":Alicia!~alice@127.0.0.1 NICK :alicia"


def test_message_errors(d):
    a = Irc(d, "alice")
    bert = Irc(d, "bert")
    bert.join("#side")
    a.send("PRIVMSG")
    assert a.line() == ":irc.test 411 alice :No recipient given (PRIVMSG)"
    a.send("PRIVMSG bob")
    assert a.line() == ":irc.test 412 alice :No text to send"
    a.send("PRIVMSG nobody :x")
    assert a.line() == ":irc.test 401 alice nobody :No such nick/channel"
    a.send("PRIVMSG #nowhere :x")
    assert a.line() == ":irc.test 401 alice #nowhere :No such nick/channel"
    a.send("PRIVMSG #side :x")
    assert a.line() == ":irc.test 404 alice #side :Cannot send to channel"
    a.send("FROB x")
    assert a.line() == ":irc.test 421 alice FROB :Unknown command"
    a.send("WHOIS")
    assert a.line() == ":irc.test 461 alice WHOIS :Not enough parameters"
    a.send("JOIN")
    a.num("461")
    a.send("PING")
    assert a.line() == ":irc.test 409 alice :No origin specified"
    # NOTICE is never answered with an error.
    a.send("NOTICE nobody :x")
    a.send("NOTICE")
    a.send("NOTICE #side :x")
    a.expect_silence()
    bert.expect_silence()


def test_history_replayed_to_irc(start):
    d = start(chat_conf(extra="history = 2;"))
    bob = Line(d, "bob")
    for t in ("one", "two", "three"):
        bob.send(t)
    assert bob.ask("/who") == "* lobby: bob"      # all three taken
    a = Irc(d, "alice")
    a.send("JOIN #lobby")
    a.until(" 366 ")
    assert a.line() == ":bob!bob@irc.test PRIVMSG #lobby :two"
    assert a.line() == ":bob!bob@irc.test PRIVMSG #lobby :three"


def test_long_line_user_text_fits_one_irc_line(start):
    d = start(chat_conf(extra="max_line = 2000;"))
    a = Irc(d, "alice")
    a.join("#lobby")
    bob = Line(d, "bob")
    a.line()
    bob.send("é" * 900)
    got = a.line_bytes()
    assert len(got) <= 510
    assert got.decode().startswith(":bob!bob@irc.test PRIVMSG #lobby :éé")


# --- PING / PONG -----------------------------------------------------------------------


def test_server_ping_and_timeout(start):
    d = start(chat_conf(extra="irc_ping = 1;"))
    bob = Line(d, "bob")
    a = Irc(d, "alice")
    k = Irc(d, "keeper")
    a.join("#lobby")
    bob.line()
    t0 = time.monotonic()
    assert a.line(timeout=4) == "PING :irc.test"
    assert 0.8 < time.monotonic() - t0 < 4
    assert k.line(timeout=4) == "PING :irc.test"
    k.send("PONG :irc.test")
    # alice says nothing more: closed after another irc_ping seconds.
    assert a.line(timeout=4) == "ERROR :Closing Link: alice (Ping timeout)"
    a.expect_closed()
    assert bob.line() == "* alice left (Ping timeout)"
    # keeper answered and is still there, pinged again later.
    assert k.line(timeout=4) == "PING :irc.test"
    k.send("PING :still")
    assert k.line() == ":irc.test PONG irc.test :still"


# --- bad input ----------------------------------------------------------------------------


def test_over_long_line_417_and_goes_on(d):
    a = Irc(d, "alice")
    a.raw(b"PRIVMSG #lobby :" + b"x" * 600 + b"\r\n")
    assert a.line() == "417 * :Input line was too long"
    a.raw(b"X" * 100000 + b"\r\n")
    assert a.line() == "417 * :Input line was too long"
    a.send("PING :ok")
    assert a.line() == ":irc.test PONG irc.test :ok"
    # 510 bytes and CR LF is the longest line taken.
    a.raw(b"PING :" + b"y" * 504 + b"\r\n")
    assert a.num("PONG").endswith("y" * 100)


def test_prefix_nul_cr_and_blanks(d):
    bob = Line(d, "bob")
    a = Irc(d, "alice")
    a.join("#lobby")
    bob.line()
    # A prefix from a client is ignored: nobody can speak as somebody else.
    a.send(":bob!bob@evil PRIVMSG #lobby :spoof?")
    assert bob.line() == "<alice> spoof?"
    a.raw(b"PRIVMSG #lobby :nul\0here and\rthere\r\n")
    assert bob.line() == "<alice> nulhere andthere"
    a.raw(b"privmsg   #lobby   :  lower case  \n")
    assert bob.line() == "<alice>   lower case  "
    a.raw(b"PRIVMSG #lobby no-colon words\r\n")
    assert bob.line() == "<alice> no-colon"
    a.raw(b"\r\n   \r\n")                         # nothing to answer
    a.raw(b"PRIVMSG #lobby :\xff\xfe\r\n")
    assert a.line() == "NOTICE alice :invalid UTF-8, not delivered"
    a.expect_silence()
    bob.expect_silence()


def test_flood_delays_the_flooder_only(start):
    d = start(chat_conf(extra="irc_flood = 20;"))
    victim = Irc(d, "victim")
    other = Line(d, "other")
    f = Irc(d, "flood")
    # A CTCP flood: 400 lines at once.
    f.raw(b"".join(b"PRIVMSG victim :\x01VERSION\x01\r\n" for _ in range(400)))
    time.sleep(1.0)
    # Others are served at once meanwhile.
    t0 = time.monotonic()
    other.send("/who")
    assert other.line() == "* lobby: other"
    assert time.monotonic() - t0 < 0.5
    data = b""
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        victim.s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data += victim.s.recv(65536)
        except socket.timeout:
            pass
    n = data.count(b"PRIVMSG victim :\x01VERSION\x01")
    # A burst of 20 and 20 a second: far fewer than 400 after ~1.3 s.
    assert 20 <= n <= 80, n
    # The flooder itself is still served, in turn.
    f.send("PING :end")
    f.read_until(lambda l: l == ":irc.test PONG irc.test :end", timeout=30)


def test_nick_change_loop_is_bounded(start):
    d = start(chat_conf(extra="irc_flood = 50;"))
    a = Irc(d, "alice")
    bob = Line(d, "bob")
    a.join("#lobby")
    bob.line()
    lines = b"".join(b"NICK n%d\r\n" % (i % 2) for i in range(200))
    t0 = time.monotonic()
    a.raw(lines)
    a.send("PING :done")
    got = a.read_until(lambda l: l.endswith("PONG irc.test :done"), timeout=20)
    assert time.monotonic() - t0 > 2.5          # 200 at 50/s after 20
    assert sum(1 for l in got if " NICK :" in l) == 200
    seen = bob.read_until(lambda l: l == "* n0 is now n1", timeout=5)
    assert d.alive()
    assert len(seen) >= 1


def test_never_reading_client_dropped(start):
    d = start(chat_conf(extra="max_queue = 65536;"))
    lazy = Irc(d, "lazy", rcvbuf=4096)
    lazy.join("#lobby")
    bob = Line(d, "bob")
    talker = Line(d, "talker")
    bob.read_until(lambda l: l == "* talker joined")
    fds = d.fd_count()
    # bob reads as it goes; lazy never does, and is dropped past
    # max_queue (and what the kernel buffers), bob and the daemon go on.
    for r in range(300):
        for i in range(50):
            talker.send("%d-%d %s" % (r, i, "z" * 400))
        got = bob.read_until(lambda l: l.startswith("<talker> %d-49 " % r))
        if "* lazy left (too slow)" in got:
            break
    else:
        raise AssertionError("lazy was never dropped")
    # The daemon let go of it (the kernel may still hold megabytes for
    # its tiny window, which would take long to read).
    assert d.wait_fds(fds - 1) <= fds - 1
    talker.send("still here")
    assert bob.line() == "<talker> still here"
    assert d.alive()


def test_irc_busy_refusal(start):
    d = start(chat_conf(extra="max_connections = 1;"))
    a = Irc(d, "alice")
    s = socket.create_connection(addr(d, IRC), timeout=5)
    data = s.recv(1000)
    assert data == b"ERROR :Closing Link: * (Server busy)\r\n"
    a.send("PING :x")
    a.num("PONG")


def test_server_name_defaults_to_host_name(start):
    d = start(config(service("chat", "chat", [
        listen_group("tcp://%s:0" % IRC, "irc")])))
    a = Irc.__new__(Irc)
    s = socket.create_connection(addr(d, IRC), timeout=5)
    LineClient.__init__(a, sock=s, end=b"\r\n", sep=b"\r\n")
    a.send("NICK x")
    a.send("USER x 0 * :x")
    assert a.line().startswith(":%s 001 x " % socket.gethostname())


# --- real clients: ii and irssi, with a line user, across two rooms ---------------


def need(*tools):
    """The real clients are part of the suite (make deps-test installs
    them): a missing one fails its test, as a broken one would."""
    for t in tools:
        if shutil.which(t) is None:
            pytest.fail("%s is not installed (make deps-test installs it)" % t)


def wait_for(what, probe, timeout=10):
    """Polls probe() until it returns something true; fails naming what."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("no %s within %d s; last: %r" % (what, timeout,
                                                         probe()))


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class II:
    """ii, driven through its FIFOs, its output read from its files."""

    def __init__(self, tmp, host, port, nick):
        self.dir = os.path.join(str(tmp), "ii")
        self.srv = os.path.join(self.dir, host)
        self.proc = subprocess.Popen(
            ["ii", "-s", host, "-p", str(port), "-n", nick, "-i", self.dir,
             "-f", "ii user"], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("ii registration",
                 lambda: "End of MOTD" in self.out() and os.path.exists(
                     os.path.join(self.srv, "in")))

    def out(self, where=""):
        return read_text(os.path.join(self.srv, where, "out"))

    def say(self, text, where=""):
        path = os.path.join(self.srv, where, "in")
        wait_for("%s/in" % (where or "ii"), lambda: os.path.exists(path))
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)

    def wait(self, text, where="", timeout=10):
        wait_for(repr(text) + " in ii's " + (where or "server") + " out",
                 lambda: text in self.out(where), timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


class Irssi:
    """irssi in a detached tmux session: keys in, the screen and its
    channel logs out."""

    def __init__(self, tmp, host, port, nick, tls_ca=None):
        """tls_ca: connect with TLS, checking the server's certificate
        against this CA file."""
        self.home = os.path.join(str(tmp), "irssi")
        self.logs = os.path.join(self.home, "logs")
        os.makedirs(self.logs)
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write('settings = {\n'
                    '  core = { real_name = "irssi user"; user_name = "%s";'
                    ' nick = "%s"; settings_autosave = "no"; };\n'
                    '  "fe-common/core" = { autolog = "yes";'
                    ' autolog_path = "%s/$0.log"; };\n'
                    '};\n' % (nick, nick, self.logs))
        self.session = "multid-irc-%d" % os.getpid()
        subprocess.run(["tmux", "kill-session", "-t", self.session],
                       stderr=subprocess.DEVNULL)
        cmd = "irssi --home=%s" % self.home
        if tls_ca is None:
            cmd += " -c %s -p %d" % (host, port)
        subprocess.run(["tmux", "new-session", "-d", "-s", self.session,
                        "-x", "160", "-y", "50", cmd], check=True)
        if tls_ca is not None:
            self.wait_screen("Irssi v")
            self.keys("/connect -tls -tls_cafile %s -tls_verify %s %d"
                      % (tls_ca, host, port))

    def keys(self, text):
        subprocess.run(["tmux", "send-keys", "-t", self.session, "-l", text],
                       check=True)
        subprocess.run(["tmux", "send-keys", "-t", self.session, "Enter"],
                       check=True)

    def screen(self):
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.session, "-S", "-500"],
            capture_output=True, text=True).stdout

    def log(self, channel):
        return read_text(os.path.join(self.logs, channel + ".log"))

    def wait_screen(self, text, timeout=10):
        wait_for(repr(text) + " on irssi's screen",
                 lambda: text in self.screen(), timeout)

    def wait_log(self, channel, text, timeout=10):
        wait_for(repr(text) + " in irssi's " + channel,
                 lambda: text in self.log(channel), timeout)

    def stop(self):
        subprocess.run(["tmux", "kill-session", "-t", self.session],
                       stderr=subprocess.DEVNULL)


CLIENT_ERRORS = ("Unknown command", "Not enough parameters",
                 "You have not registered", "No such nick", "ERROR",
                 "Erroneous", "already in use", "not on that channel")


def test_irssi_ii_and_a_line_user_chat_across_two_rooms(d, tmp_path):
    need("ii", "irssi", "tmux")
    host, port = addr(d, IRC)
    liner = Line(d, "liner")
    ii = II(tmp_path, host, port, "iiuser")
    irssi = Irssi(tmp_path, host, port, "ircy")
    try:
        irssi.wait_screen("End of MOTD command")
        ii.say("/j #lobby")
        ii.say("/j #side")
        ii.wait("has joined #side", "#side")
        irssi.keys("/join #lobby,#side")
        irssi.wait_log("#side", "Total of 2 nicks")
        liner.read_until(lambda l: l == "* ircy joined")
        # Lobby: line -> both IRC clients, ii -> line and irssi.
        liner.send("hello from line")
        ii.wait("<liner> hello from line", "#lobby")
        irssi.wait_log("#lobby", "liner> hello from line")
        ii.say("hello from ii", "#lobby")
        assert liner.line() == "<iiuser> hello from ii"
        irssi.wait_log("#lobby", "iiuser> hello from ii")
        # Side: irssi -> ii, then the line user comes over.
        irssi.keys("/msg #side hello from irssi")
        ii.wait("<ircy> hello from irssi", "#side")
        liner.send("/join side")
        assert liner.line().startswith("* you are in side (3 here)")
        irssi.wait_log("#side", "liner")
        irssi.keys("/window goto #side")
        irssi.keys("/me waves")
        assert liner.line() == "* ircy waves"
        liner.send("hi side")
        ii.wait("<liner> hi side", "#side")
        irssi.wait_log("#side", "liner> hi side")
        irssi.wait_screen("liner> hi side")
        # A nick change, a part, a quit.
        irssi.keys("/nick ircy2")
        assert liner.line() == "* ircy is now ircy2"
        ii.wait("ircy changed nick to ircy2")
        irssi.wait_screen("You're now known as ircy2")
        ii.say("/l see you", "#side")
        assert liner.line() == "* iiuser left (see you)"
        irssi.wait_log("#side", "has left #side")
        irssi.keys("/quit bye all")
        assert liner.line() == "* ircy2 left (bye all)"
        ii.wait("has quit")
        # Neither client showed an error at any point.
        shown = irssi.screen() + irssi.log("#lobby") + irssi.log("#side")
        for log in (ii.out(), ii.out("#lobby"), ii.out("#side"), shown):
            for e in CLIENT_ERRORS:
                assert e not in log, (e, log[-2000:])
    finally:
        irssi.stop()
        ii.stop()


class WeeChat:
    """weechat-headless, driven through its FIFO, its buffers read from
    the logger's files."""

    def __init__(self, tmp, host, port, nick):
        self.dir = os.path.join(str(tmp), "weechat")
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.dir)
        # Logs written at once; no anti-flood delay between our lines.
        setup = ";".join([
            "/set logger.file.flush_delay 0",
            "/set logger.level.irc 9",
            "/server add multid %s/%d -notls" % (host, port),
            "/set irc.server.multid.nicks %s" % nick,
            "/set irc.server.multid.username %s" % nick,
            "/set irc.server.multid.anti_flood_prio_high 0",
            "/set irc.server.multid.anti_flood_prio_low 0",
            "/connect multid"])
        self.proc = subprocess.Popen(
            ["weechat-headless", "--dir", self.dir, "-r", setup],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.fifo = os.path.join(self.dir, "weechat_fifo_%d" % self.proc.pid)
        wait_for("WeeChat's registration",
                 lambda: "End of MOTD" in self.log("irc.server.multid")
                 or "MOTD File is missing" in self.log("irc.server.multid"))

    def log(self, buffer):
        return read_text(os.path.join(self.logs, buffer + ".weechatlog"))

    def send(self, text, buffer="irc.server.multid"):
        """Text or a /command typed in buffer (its full name)."""
        wait_for("WeeChat's FIFO", lambda: os.path.exists(self.fifo))
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, ("%s *%s\n" % (buffer, text)).encode())
        finally:
            os.close(fd)

    def wait_log(self, buffer, text, timeout=10):
        wait_for(repr(text) + " in WeeChat's " + buffer,
                 lambda: text in self.log(buffer), timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def test_weechat_and_a_line_user_chat(d, tmp_path):
    """WeeChat (its headless build) joins, talks both ways with a line
    user, acts, changes its nick, sets a topic, parts and quits, and
    shows no error: no numeric's error text, no line of its own
    beginning with =!=."""
    need("weechat-headless")
    host, port = addr(d, IRC)
    liner = Line(d, "liner")
    wc = WeeChat(tmp_path, host, port, "weey")
    lobby = "irc.multid.#lobby"
    try:
        wc.send("/join #lobby")
        assert liner.line() == "* weey joined"
        wc.wait_log(lobby, "Channel #lobby: 2 nicks")
        wc.send("hello from weechat", lobby)
        assert liner.line() == "<weey> hello from weechat"
        liner.send("hello weey")
        wc.wait_log(lobby, "liner\thello weey")
        wc.send("/me waves", lobby)
        assert liner.line() == "* weey waves"
        liner.send("/me waves back")
        wc.wait_log(lobby, "liner waves back")
        wc.send("/topic talk here", lobby)
        assert liner.line() == "* weey set the topic of lobby: talk here"
        wc.send("/nick weey2", lobby)
        assert liner.line() == "* weey is now weey2"
        wc.wait_log("irc.server.multid", "You are now known as weey2")
        wc.send("/whois liner")
        wc.wait_log("irc.server.multid", "[liner]")
        wc.send("/part see you", lobby)
        assert liner.line() == "* weey2 left (see you)"
        wc.send("/join #lobby")
        assert liner.line() == "* weey2 joined"
        wc.send("/quit bye all")
        assert liner.line() == "* weey2 left (bye all)"
        for buf in ("irc.server.multid", lobby, "core.weechat"):
            log = wc.log(buf)
            for e in CLIENT_ERRORS + ("=!=",):
                assert e not in log, (e, log[-2000:])
    finally:
        wc.stop()


def test_irssi_over_tls_with_a_line_user(start, tmp_path):
    """irssi on tls:// (IRC on 6697, SPEC 6), checking the certificate,
    talks with a plain line user in the same room."""
    from test_tls import keys, make_cert
    need("irssi", "tmux")
    make_cert(str(tmp_path))
    d = start(config(service(
        "chat", "chat", ["tcp://127.0.0.1:0",
                         listen_group("tls://127.0.0.1:0", "irc")],
        'server_name = "%s"; motd = "over TLS"; %s'
        % (SRV, keys(tmp_path)))))
    host, port = d.addr("chat", "tls")
    # irssi checks the certificate's DNS names, not its IP address.
    irssi = Irssi(tmp_path, "localhost", port, "tlsy",
                  tls_ca=str(tmp_path / "cert.pem"))
    line = None
    try:
        irssi.wait_screen("End of MOTD command")
        irssi.keys("/join #lobby")
        irssi.wait_log("#lobby", "Total of 1 nick")
        line = LineClient(d, "chat")
        line.read_until(lambda l: "nickname" in l)
        line.send("plain")
        line.read_until(lambda l: l.startswith("* hello plain"))
        line.send("hello over there")
        irssi.wait_log("#lobby", "plain> hello over there")
        irssi.keys("/msg #lobby hello back over TLS")
        line.read_until(lambda l: l == "<tlsy> hello back over TLS")
        shown = irssi.screen() + irssi.log("#lobby")
        for bad in CLIENT_ERRORS + ("Connection lost", "warning"):
            assert bad not in shown, shown
    finally:
        irssi.stop()
        if line is not None:
            line.close()
    assert "TLS handshake failed" not in d.stderr()
