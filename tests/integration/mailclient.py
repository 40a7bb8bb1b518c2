"""What the smtp and pop3 tests share: a configuration with both services on
one Maildir, yescrypt hashes made by the system's libcrypt, an SMTP client
that reads whole (multi-line) replies, and the Maildir read from disk."""
import ctypes
import os
import re

from multid import LineClient, config, service

HOST = "mx.test"
NAME_RE = re.compile(r"^\d+\.M\d+P\d+Q\d+\.mx\.test,S=(\d+),W=(\d+)(:2,[A-Z]*)?$")

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt.restype = ctypes.c_char_p


def yescrypt(secret):
    """A yescrypt hash of secret, as `mkpasswd -m yescrypt` prints it."""
    salt = _libcrypt.crypt_gensalt(b"$y$", 0, None, 0)
    return _libcrypt.crypt(secret.encode(), salt).decode()


ACCOUNTS = {"alice": "secret", "bob": "hunter2 with spaces"}
_HASHES = {}


def accounts_conf(accounts=None):
    rows = []
    for name, secret in (accounts or ACCOUNTS).items():
        if (name, secret) not in _HASHES:
            _HASHES[(name, secret)] = yescrypt(secret)
        rows.append('{ name = "%s"; secret = "%s"; }'
                    % (name, _HASHES[(name, secret)]))
    return "accounts = ( %s );" % ", ".join(rows)


def mail_config(maildir, smtp_extra="", pop3_extra="", accounts=None):
    return config(
        service("smtp", "smtp", ["tcp://127.0.0.1:0"],
                'maildir = "%s"; hostname = "%s"; %s'
                % (maildir, HOST, smtp_extra)),
        service("pop3", "pop3", ["tcp://127.0.0.1:0"],
                'maildir = "%s"; %s %s'
                % (maildir, accounts_conf(accounts), pop3_extra)))


class Smtp(LineClient):
    """An SMTP connection that reads the greeting and whole replies."""

    def __init__(self, d, end=b"\r\n", timeout=10, greet=True):
        super().__init__(d, "smtp", end=end, timeout=timeout)
        if greet:
            assert self.reply() == ["220 %s ESMTP multid" % HOST]

    def reply(self, timeout=None):
        """The lines of one reply (the last has a blank after the code)."""
        return self.read_until(lambda l: len(l) < 4 or l[3] == " ",
                               timeout=timeout)

    def cmd(self, text):
        """Sends a command; the last line of its reply."""
        self.send(text)
        return self.reply()[-1]

    def envelope(self, rcpts=("alice@x.test",), sender="s@x.test"):
        assert self.cmd("MAIL FROM:<%s>" % sender) == "250 2.1.0 Ok"
        for r in rcpts:
            assert self.cmd("RCPT TO:<%s>" % r) == "250 2.1.5 Ok"
        assert self.cmd("DATA") == "354 End data with <CR><LF>.<CR><LF>"


def messages(maildir, box, sub=("new", "cur")):
    """{file name: bytes} of a mailbox's new/ and cur/ (or the subs named)."""
    out = {}
    for s in sub:
        d = os.path.join(str(maildir), box, s)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.join(s, n)] = f.read()
    return out


def check_maildir(maildir):
    """Every file in every mailbox is whole: its name's S= and W= match its
    bytes, and tmp/ holds nothing."""
    for box in os.listdir(str(maildir)):
        root = os.path.join(str(maildir), box)
        assert os.listdir(os.path.join(root, "tmp")) == [], box
        for name, data in messages(maildir, box).items():
            m = NAME_RE.match(os.path.basename(name))
            assert m, name
            assert int(m.group(1)) == len(data), name
            crlf = len(data) + data.count(b"\n") - data.count(b"\r\n")
            assert int(m.group(2)) == crlf, name
