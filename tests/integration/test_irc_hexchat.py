"""HexChat, the GTK IRC client, against chat's IRC protocol (SPEC 3 chat,
its IRC paragraph): Debian's hexchat runs on an Xvfb display with a
config directory of its own (no network list, no dialogs), connects at
start-up and is driven by a small Python plugin the test writes into its
addons directory.  The plugin runs the commands the test appends to a
file (as if typed in a channel's input box) and logs every line HexChat
receives from the server and the events HexChat prints; a line user
(plain TCP) is in the same rooms."""
import glob
import os
import pwd
import re
import select
import shutil
import subprocess
import tempfile
import time

import pytest

from test_irc import IRC, SRV, Irc, Line, addr, chat_conf, need, read_text

WAIT = 20               # seconds any single step may take
ERROR_NUMERIC = re.compile(r"^:\S+ [45]\d\d ")

# The plugin: commands come from CMDS ("CHANNEL<TAB>COMMAND" lines, an
# empty CHANNEL for the current tab), everything seen goes to LOG as
# "raw<TAB>LINE" (what the server sent) or "print<TAB>EVENT<TAB>ARGS...".
PLUGIN = r'''
import traceback

import hexchat

__module_name__ = "multid-test-driver"
__module_version__ = "1.0"
__module_description__ = "runs commands from a file, logs what arrives"

CMDS = %(cmds)r
LOG = open(%(log)r, "a", buffering=1, encoding="utf-8", errors="replace")
EVENTS = ("Channel Message", "Channel Action", "Topic", "Topic Change",
          "Join", "You Join", "Part", "Part with Reason", "You Part",
          "You Part with Reason", "Quit", "Change Nick",
          "Your Nick Changing", "Server Error", "Generic Message",
          "Disconnected", "Connected")
done = [0]


def raw(word, word_eol, userdata):
    LOG.write("raw\t%%s\n" %% word_eol[0])
    return hexchat.EAT_NONE


def shown(word, word_eol, event):
    LOG.write("print\t%%s\t%%s\n" %% (event, "\t".join(word)))
    return hexchat.EAT_NONE


def run(line):
    channel, command = line.split("\t", 1)
    ctx = (hexchat.find_context(channel=channel) if channel
           else hexchat.get_context())
    if ctx is None:
        LOG.write("nocontext\t%%s\n" %% line)
        return
    LOG.write("command\t%%s\n" %% line)
    ctx.command(command[1:])           # typed as "/join #x": "join #x"


def poll(userdata):
    try:
        with open(CMDS, "rb") as f:
            f.seek(done[0])
            data = f.read()
        end = data.rfind(b"\n") + 1
        done[0] += end
        for line in data[:end].decode("utf-8").splitlines():
            run(line)
    except Exception:
        LOG.write("exception\t%%s\n" %% traceback.format_exc())
    return True                    # (exactly True) keeps the timer


hexchat.hook_server("RAW LINE", raw)
for e in EVENTS:
    hexchat.hook_print(e, shown, e)
hexchat.hook_timer(50, poll)
LOG.write("loaded\n")
'''


def end(proc):
    """Stops proc by its PID: SIGTERM, then SIGKILL after 5 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Xvfb:
    """A virtual X display on the first free number."""

    def __init__(self, tmp):
        r, w = os.pipe()
        self.err = open(os.path.join(str(tmp), "xvfb.err"), "wb")
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-nolisten", "tcp",
             "-screen", "0", "1024x768x24"],
            pass_fds=(w,), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.err)
        os.close(w)
        got = b""
        deadline = time.monotonic() + WAIT
        try:
            # Xvfb writes "N\n" once display :N is ready.
            while not got.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([r], [], [], left)[0]:
                    break
                chunk = os.read(r, 16)
                if not chunk:
                    break
                got += chunk
        finally:
            os.close(r)
        if not got.strip().isdigit():
            self.stop()
            raise AssertionError("Xvfb gave no display: %r %s"
                                 % (got, read_text(self.err.name)))
        self.display = ":" + got.strip().decode()

    def stop(self):
        end(self.proc)
        self.err.close()


class HexChat:
    """hexchat -d DIR on display, connecting at start to host/port as
    nick, with the driving plugin in DIR/addons.

    HexChat run by root stops at start-up on a modal warning ("Running IRC
    as root is stupid!") until somebody closes it, so under root it runs
    as nobody, in a directory of its own that nobody owns."""

    def __init__(self, tmp, display, host, port, nick):
        self.top = tempfile.mkdtemp(prefix="multid-hexchat-")
        self.dir = os.path.join(self.top, "config")
        self.cmds = os.path.join(self.top, "commands")
        self.logpath = os.path.join(self.top, "seen.log")
        home = os.path.join(self.top, "home")
        os.makedirs(os.path.join(self.dir, "addons"))
        os.makedirs(home)
        open(self.cmds, "w").close()
        with open(os.path.join(self.dir, "hexchat.conf"), "w") as f:
            f.write("version = 2.16.1\n"
                    "gui_slist_skip = 1\n"      # no network list at start
                    "gui_join_dialog = 0\n"     # no "join a channel?" dialog
                    "gui_quit_dialog = 0\n"
                    "gui_tray = 0\n"
                    "identd_server = 0\n"       # no identd on port 113
                    "irc_logging = 0\n"
                    "net_auto_reconnect = 0\n"
                    "net_throttle = 0\n"
                    "irc_nick1 = %s\nirc_nick2 = %s_\nirc_nick3 = %s__\n"
                    "irc_user_name = %s\nirc_real_name = HexChat user\n"
                    % (nick, nick, nick, nick))
        with open(os.path.join(self.dir, "servlist.conf"), "w") as f:
            # F=10: the global nick settings (2), connect at start-up (8).
            f.write("v=2.16.1\n\nN=multid\nE=UTF-8 (Unicode)\nF=10\nD=0\n"
                    "S=%s/%d\n\n" % (host, port))
        with open(os.path.join(self.dir, "addons", "multid_driver.py"),
                  "w") as f:
            f.write(PLUGIN % {"cmds": self.cmds, "log": self.logpath})
        argv = ["hexchat", "-d", self.dir]
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for where, dirs, files in os.walk(self.top):
                for name in [where] + [os.path.join(where, n)
                                       for n in dirs + files]:
                    os.chown(name, nobody.pw_uid, nobody.pw_gid)
            argv = ["setpriv", "--reuid=%d" % nobody.pw_uid,
                    "--regid=%d" % nobody.pw_gid, "--clear-groups"] + argv
        env = dict(os.environ, DISPLAY=display, HOME=home,
                   XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"),
                   XDG_DATA_HOME=os.path.join(home, ".local"),
                   XDG_RUNTIME_DIR=home, NO_AT_BRIDGE="1",
                   GSETTINGS_BACKEND="memory",
                   # No session bus: nothing is started to provide one.
                   DBUS_SESSION_BUS_ADDRESS="unix:path=" +
                   os.path.join(home, "no-bus"))
        self.saved = os.path.join(str(tmp), "hexchat-seen.log")
        self.out = open(os.path.join(str(tmp), "hexchat.out"), "wb")
        # setpriv execs hexchat: the PID is HexChat's.
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT)

    def log(self):
        return read_text(self.logpath)

    def raw(self):
        """The lines HexChat received from the server so far."""
        return [l[4:] for l in self.log().splitlines()
                if l.startswith("raw\t")]

    def wait(self, what, probe, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no %s in HexChat within %d s (exit %r); "
                             "log:\n%s\noutput:\n%s"
                             % (what, timeout, self.proc.poll(),
                                self.log()[-3000:],
                                read_text(self.out.name)[-2000:]))

    def wait_raw(self, line):
        """Waits until HexChat received exactly this line."""
        self.wait(repr(line), lambda: line in self.raw())

    def wait_print(self, *fields):
        """Waits until HexChat printed this event with these first
        arguments."""
        entry = "\t".join(("print",) + fields)
        self.wait(repr(fields), lambda: any(
            l == entry or l.startswith(entry + "\t")
            for l in self.log().splitlines()))

    def do(self, command, channel=""):
        """Runs command as typed in channel's tab (the current tab when
        channel is empty); waits until the plugin has run it."""
        entry = "%s\t%s\n" % (channel, command)
        ran, lost = "command\t" + entry, "nocontext\t" + entry
        before = self.log().count(ran), self.log().count(lost)
        with open(self.cmds, "a") as f:
            f.write(entry)
        self.wait("run of " + repr(entry), lambda: (
            self.log().count(ran), self.log().count(lost)) != before)
        assert self.log().count(lost) == before[1], \
            "HexChat has no tab for %r" % channel

    def stop(self):
        end(self.proc)
        self.out.close()
        # What HexChat saw stays with the test's other files.
        if os.path.exists(self.logpath):
            shutil.copy(self.logpath, self.saved)
        shutil.rmtree(self.top, ignore_errors=True)


def plugin_loader():
    """Debian's hexchat-python3: the plugin that loads Python addons."""
    found = glob.glob("/usr/lib/*/hexchat/plugins/python.so")
    if not found:
        pytest.fail("hexchat-python3 is not installed (make deps-test "
                    "installs it)")


@pytest.fixture
def d(start):
    return start(chat_conf())


def test_hexchat_and_a_line_user_chat(d, tmp_path):
    """HexChat registers, joins two rooms (seeing the topic of one on
    join), talks and acts both ways with a line user, changes its nick,
    parts with a reason and quits with one; it receives no error numeric
    on the way."""
    need("hexchat", "Xvfb", *(["setpriv"] if os.getuid() == 0 else []))
    plugin_loader()
    host, port = addr(d, IRC)
    liner = Line(d, "liner")
    # A room with a topic, set before HexChat comes: shown on its join.
    setter = Irc(d, "setter")
    setter.join("#side")
    setter.send("TOPIC #side :the side room")
    setter.until(" TOPIC #side ")
    xvfb = Xvfb(tmp_path)
    hc = None
    try:
        hc = HexChat(tmp_path, xvfb.display, host, port, "hexy")
        hc.wait("plugin", lambda: "loaded\n" in hc.log())
        hc.wait_raw(":%s 001 hexy :Welcome to the multid IRC network "
                    "hexy!~hexy@127.0.0.1" % SRV)
        hc.wait_raw(":%s 376 hexy :End of MOTD command" % SRV)
        # #lobby: talk and act both ways, set the topic.
        hc.do("/join #lobby")
        assert liner.line() == "* hexy joined"
        hc.wait_raw(":%s 353 hexy = #lobby :hexy liner" % SRV)
        hc.wait_print("You Join", "hexy", "#lobby")
        hc.do("/say hello from hexchat", "#lobby")
        assert liner.line() == "<hexy> hello from hexchat"
        liner.send("hello from the line")
        hc.wait_raw(":liner!liner@%s PRIVMSG #lobby :hello from the line"
                    % SRV)
        hc.wait_print("Channel Message", "liner", "hello from the line")
        hc.do("/me waves", "#lobby")
        assert liner.line() == "* hexy waves"
        liner.send("/me waves back")
        hc.wait_raw(":liner!liner@%s PRIVMSG #lobby :\x01ACTION waves "
                    "back\x01" % SRV)
        hc.wait_print("Channel Action", "liner", "waves back")
        hc.do("/topic talk here", "#lobby")
        assert liner.line() == "* hexy set the topic of lobby: talk here"
        # #side: its topic on join, the line user comes over.
        hc.do("/join #side")
        hc.wait_raw(":%s 332 hexy #side :the side room" % SRV)
        hc.wait_print("Topic", "#side", "the side room")
        hc.wait_raw(":%s 353 hexy = #side :hexy setter" % SRV)
        liner.send("/join side")
        assert liner.line().startswith("* you are in side (3 here)")
        hc.wait_raw(":liner!liner@%s JOIN #side" % SRV)
        hc.do("/say hi side", "#side")
        assert liner.line() == "<hexy> hi side"
        liner.send("hi from the line")
        hc.wait_print("Channel Message", "liner", "hi from the line")
        # A nick change, a part with a reason, a quit with one.
        hc.do("/nick hexy2", "#side")
        assert liner.line() == "* hexy is now hexy2"
        hc.wait_print("Your Nick Changing", "hexy", "hexy2")
        hc.do("/part #side see you", "#side")
        assert liner.line() == "* hexy2 left (see you)"
        hc.wait_print("You Part with Reason", "hexy2", "~hexy@127.0.0.1",
                      "#side", "see you")
        hc.do("/join #side")
        assert liner.line() == "* hexy2 joined"
        hc.wait_raw(":%s 332 hexy2 #side :the side room" % SRV)
        hc.do("/quit bye all", "#side")
        assert liner.line() == "* hexy2 left (bye all)"
        # HexChat closes its side at once, before the server's ERROR.
        hc.wait_print("Disconnected")
        got = hc.raw()
        errors = [l for l in got if ERROR_NUMERIC.match(l)]
        assert not errors, (errors, got)
    finally:
        if hc is not None:
            hc.stop()
        xvfb.stop()
        setter.close()
        liner.close()
