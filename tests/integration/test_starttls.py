"""STARTTLS for smtp (RFC 3207) and STLS for pop3 (RFC 2595), SPEC 6:
offered only with a certificate, the session starting over inside TLS,
plain text pipelined after the command thrown away (never read as a
command inside TLS), tls_required; with swaks --tls, curl --ssl-reqd,
smtplib and poplib; and the implicit-TLS ports 465 and 995 as tls://."""
import os
import poplib
import smtplib
import socket
import ssl
import subprocess

import pytest

from multid import Daemon, LineClient, config, service
from mailclient import HOST, Smtp, accounts_conf, messages
from test_tls import keys, make_cert


@pytest.fixture
def tlsmail(tmp_path):
    make_cert(str(tmp_path))
    maildir = tmp_path / "mail"
    k = keys(tmp_path)
    d = Daemon(tmp_path, config(
        service("smtp", "smtp", ["tcp://127.0.0.1:0", "tls://127.0.0.1:0"],
                'maildir = "%s"; hostname = "%s"; %s' % (maildir, HOST, k)),
        service("pop3", "pop3", ["tcp://127.0.0.1:0", "tls://127.0.0.1:0"],
                'maildir = "%s"; %s %s' % (maildir, accounts_conf(None), k)),
        service("smtpreq", "smtp", ["tcp://127.0.0.1:0"],
                'maildir = "%s"; hostname = "%s"; tls_required = true; %s'
                % (maildir, HOST, k)),
        service("pop3req", "pop3", ["tcp://127.0.0.1:0"],
                'maildir = "%s"; %s tls_required = true; %s'
                % (maildir, accounts_conf(None), k))))
    d.certdir = str(tmp_path)
    d.maildir = maildir
    yield d
    d.stop()


def ctx(d):
    c = ssl.create_default_context(cafile=os.path.join(d.certdir, "cert.pem"))
    return c


def tls_port(d, name):
    return d.addr(name, "tls")[1]


def ehlo_lines(c):
    c.send("EHLO client.test")
    return c.reply()


def test_starttls_offered_only_with_a_certificate(tlsmail, tmp_path):
    c = Smtp(tlsmail)
    lines = ehlo_lines(c)
    assert lines[-2:] == ["250-STARTTLS", "250 SMTPUTF8"]
    assert lines[-3] == "250-8BITMIME"
    os.makedirs(str(tmp_path / "plain"))
    plain = Daemon(tmp_path / "plain", config(service(
        "smtp", "smtp", ["tcp://127.0.0.1:0"],
        'maildir = "%s"; hostname = "%s";' % (tmp_path / "m2", HOST))))
    try:
        p = Smtp(plain)
        assert "250-STARTTLS" not in ehlo_lines(p)
        assert p.cmd("STARTTLS") == "502 5.5.1 Error: command not implemented"
    finally:
        plain.stop()


def test_smtp_starttls_and_pipelined_plaintext_is_discarded(tlsmail):
    host, port = tlsmail.addr("smtp")
    s = socket.create_connection((host, port), timeout=10)
    c = LineClient(sock=s)
    assert c.line() == "220 %s ESMTP multid" % HOST
    # The injection of CVE-2011-0411: commands after STARTTLS in the same
    # packet must not be run inside TLS.
    s.sendall(b"EHLO a.test\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@x.test>\r\n")
    lines = c.read_until(lambda l: l.startswith("220 "))
    assert lines[-1] == "220 2.0.0 Ready to start TLS"
    assert c.buf == b""
    t = ctx(tlsmail).wrap_socket(s, server_hostname="localhost")
    tc = LineClient(sock=t)
    # The session starts over: no greeting, no HELO, and none of the
    # pipelined commands ran (MAIL would have needed no RSET reply).
    tc.send("EHLO b.test")
    lines = tc.read_until(lambda l: l[3:4] == " ")
    assert "250-STARTTLS" not in lines
    assert tc.ask("STARTTLS") == "502 5.5.1 Error: command not implemented"
    assert tc.ask("MAIL FROM:<s@x.test>") == "250 2.1.0 Ok"
    assert tc.ask("RCPT TO:<alice@x.test>") == "250 2.1.5 Ok"
    assert tc.ask("DATA") == "354 End data with <CR><LF>.<CR><LF>"
    t.sendall(b"Subject: over tls\r\n\r\nsecret\r\n.\r\n")
    assert tc.line().startswith("250 2.0.0 Ok: queued as ")
    assert tc.ask("QUIT") == "221 2.0.0 Bye"
    t.close()
    body = list(messages(tlsmail.maildir, "alice").values())
    assert len(body) == 1 and body[0].endswith(b"secret\n")
    assert b"evil" not in body[0]


def test_swaks_tls_and_implicit_tls(tlsmail):
    for extra in (["--tls", "-p", str(tlsmail.port("smtp"))],
                  ["--tlsc", "-p", str(tls_port(tlsmail, "smtp"))]):
        r = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--to", "bob@x.test",
             "--from", "s@x.test", "--body", "via swaks " + extra[0],
             "--tls-verify", "--tls-ca-path",
             os.path.join(tlsmail.certdir, "cert.pem"),
             "--tls-sni", "localhost"] + extra,
            capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        if extra[0] == "--tls":
            assert "<-  220 2.0.0 Ready to start TLS" in r.stdout, r.stdout
            assert "~> EHLO" in r.stdout      # the session began again
        assert "Ok: queued as" in r.stdout
    bodies = b"".join(messages(tlsmail.maildir, "bob").values())
    assert b"via swaks --tls\n" in bodies and b"via swaks --tlsc\n" in bodies


def test_curl_ssl_reqd_smtp_and_pop3(tlsmail, tmp_path):
    mailfile = tmp_path / "m.txt"
    mailfile.write_text("Subject: curl\r\n\r\nfrom curl\r\n")
    ca = os.path.join(tlsmail.certdir, "cert.pem")
    port = tlsmail.port("smtp")
    r = subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "--cacert", ca, "--resolve",
         "localhost:%d:127.0.0.1" % port, "smtp://localhost:%d" % port,
         "--mail-from", "s@x.test", "--mail-rcpt", "alice@x.test",
         "-T", str(mailfile)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    port = tlsmail.port("pop3")
    r = subprocess.run(
        ["curl", "-sS", "--ssl-reqd", "--cacert", ca, "--resolve",
         "localhost:%d:127.0.0.1" % port, "-u", "alice:secret",
         "pop3://localhost:%d/1" % port], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"from curl" in r.stdout


def test_pop3_stls_with_poplib_and_pop3s(tlsmail):
    smtp = smtplib.SMTP("127.0.0.1", tlsmail.port("smtp"), timeout=10)
    smtp.starttls(context=ctx(tlsmail))
    smtp.sendmail("s@x.test", ["alice@x.test"], "Subject: x\r\n\r\nhello\r\n")
    smtp.quit()
    p = poplib.POP3("127.0.0.1", tlsmail.port("pop3"), timeout=10)
    assert "STLS" in p.capa()
    p.stls(context=ctx(tlsmail))
    assert "STLS" not in p.capa()
    p.user("alice")
    p.pass_("secret")
    assert p.stat()[0] == 1
    p.quit()
    p = poplib.POP3_SSL("127.0.0.1", tls_port(tlsmail, "pop3"), timeout=10,
                        context=ctx(tlsmail))
    p.user("alice")
    p.pass_("secret")
    assert b"hello" in b"\n".join(p.retr(1)[1])
    p.quit()


def test_pop3_stls_pipelined_plaintext_is_discarded(tlsmail):
    host, port = tlsmail.addr("pop3")
    s = socket.create_connection((host, port), timeout=10)
    c = LineClient(sock=s)
    assert c.line() == "+OK multid POP3 ready"
    s.sendall(b"STLS\r\nUSER alice\r\nPASS secret\r\n")
    assert c.line() == "+OK Begin TLS negotiation"
    assert c.buf == b""
    t = ctx(tlsmail).wrap_socket(s, server_hostname="localhost")
    tc = LineClient(sock=t)
    # USER and PASS sent in plain text were not taken: PASS needs USER.
    assert tc.ask("PASS secret") == "-ERR USER first"
    assert tc.ask("STLS").startswith("-ERR")
    t.close()


def test_tls_required(tlsmail):
    c = Smtp(tlsmail, greet=False)
    c.s.close()
    c = LineClient(tlsmail, "smtpreq")
    c.line()
    assert c.ask("EHLO a.test").startswith("250-")
    c.read_until(lambda l: l.startswith("250 "))
    assert c.ask("MAIL FROM:<s@x.test>") == \
        "530 5.7.0 Must issue a STARTTLS command first"
    p = LineClient(tlsmail, "pop3req")
    assert p.line() == "+OK multid POP3 ready"
    assert p.ask("USER alice") == "-ERR TLS required"
    assert p.ask("PASS secret") == "-ERR TLS required"
    assert p.ask("STLS") == "+OK Begin TLS negotiation"
    t = ctx(tlsmail).wrap_socket(p.s, server_hostname="localhost")
    tc = LineClient(sock=t)
    assert tc.ask("USER alice") == "+OK"
    assert tc.ask("PASS secret").startswith("+OK")
    t.close()
