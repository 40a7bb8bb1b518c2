"""The manual pages: they format without warnings, and multid.conf(5)
documents every configuration key the code knows, in the right section."""
import glob
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MAN8 = os.path.join(ROOT, "man", "multid.8")
MAN5 = os.path.join(ROOT, "man", "multid.conf.5")

KEY_ROW = re.compile(r'\{\s*"([a-z_]+)"\s*,\s*CFG_[A-Z]+')
TYPE_NAME = re.compile(
    r'const\s+struct\s+service_type\s+\w+\s*=\s*\{[^}]*?\.name\s*=\s*"(\w+)"',
    re.S)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(page, macro):
    """Splits a roff page into {title: body} at .SH or .SS lines."""
    out, title = {}, None
    for line in page.splitlines():
        m = re.match(r"^\.%s\s+(.*)$" % macro, line)
        if m:
            title = m.group(1).strip('"')
            out[title] = ""
        elif title is not None:
            out[title] += line + "\n"
    return out


def bolded(body, key):
    """True when key is set in bold: `.B key`, `.BR key ...`, `\\fBkey\\fR`."""
    k = re.escape(key)
    return bool(re.search(r"^\.BR?\s+\"?%s\"?(\s|$)" % k, body, re.M) or
                re.search(r"\\fB%s\\f[RP]" % k, body))


def table_keys(text, table):
    """Keys of one `static const struct cfg_key NAME[] = { ... };`."""
    m = re.search(r"cfg_key\s+%s\[\]\s*=\s*\{(.*?)\n\};" % table, text, re.S)
    assert m, "table %s not found" % table
    return KEY_ROW.findall(m.group(1))


def service_tables():
    """{type name: [keys]} from every src/services/*.c and
    src/services/*/*.c (a service in a folder of its own) with a key
    table."""
    out = {}
    services = os.path.join(ROOT, "src", "services")
    for path in sorted(glob.glob(os.path.join(services, "*.c")) +
                       glob.glob(os.path.join(services, "*", "*.c"))):
        text = read(path)
        keys = KEY_ROW.findall(text)
        m = TYPE_NAME.search(text)
        if m:
            out[m.group(1)] = keys
        else:
            assert not keys, "%s: key rows but no service_type" % path
    return out


def type_section(subsections, name):
    for title, body in subsections.items():
        if re.search(r"(^|[\s,])%s([\s,]|$)" % re.escape(name), title):
            return body
    return None


def test_daemon_keys_documented():
    cfg = read(os.path.join(ROOT, "src", "cfg.c"))
    body = sections(read(MAN5), "SH")["THE DAEMON BLOCK"]
    keys = table_keys(cfg, "daemon_key_table")
    assert "user" in keys and "log_level" in keys
    missing = [k for k in keys if not bolded(body, k)]
    assert not missing, "daemon keys missing from multid.conf(5): %s" % missing


def test_common_keys_documented():
    cfg = read(os.path.join(ROOT, "src", "cfg.c"))
    body = sections(read(MAN5), "SH")["SERVICES"]
    keys = table_keys(cfg, "common_key_table")
    m = re.search(r"common_keys\[\]\s*=\s*\{(.*?)\};", cfg, re.S)
    keys += re.findall(r'"([a-z_]+)"', m.group(1))
    assert {"name", "type", "listen", "allow"} <= set(keys)
    missing = sorted({k for k in keys if not bolded(body, k)})
    assert not missing, "service keys missing from multid.conf(5): %s" % missing


def test_every_type_and_its_keys_documented():
    page = read(MAN5)
    subs = sections(page, "SS")
    tables = service_tables()
    assert {"echo", "daytime", "transform", "chat", "guess", "bank", "log",
            "http", "metrics"} <= set(tables), tables
    problems = []
    for name, keys in sorted(tables.items()):
        body = type_section(subs, name)
        if body is None:
            problems.append("type %s has no .SS section" % name)
            continue
        problems += ["%s.%s" % (name, k) for k in keys if not bolded(body, k)]
    assert not problems, "missing from multid.conf(5): %s" % problems


def test_types_listed_under_type_key():
    body = sections(read(MAN5), "SH")["SERVICES"]
    for name in service_tables():
        assert bolded(body, name), "type %s not listed under type" % name


@pytest.mark.skipif(shutil.which("man") is None, reason="man missing")
@pytest.mark.parametrize("page", [MAN8, MAN5])
def test_formats_without_warnings(page):
    r = subprocess.run(["man", "--warnings", "-l", page],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
    assert r.returncode == 0
    assert r.stderr == ""
    assert "NAME" in r.stdout


def test_multid_8_covers_the_command_line():
    page = read(MAN8)
    shs = sections(page, "SH")
    for sec in ("SYNOPSIS", "OPTIONS", "SIGNALS", "FILES", "EXIT STATUS",
                "EXAMPLES"):
        assert sec in shs, sec
    for opt in (r"\-c", r"\-\-config", r"\-t", r"\-\-test", r"\-V",
                r"\-\-version", r"\-h", r"\-\-help"):
        assert opt in shs["OPTIONS"], opt
    for sig in ("SIGTERM", "SIGINT", "SIGHUP"):
        assert sig in shs["SIGNALS"]
    for code in "0123":
        assert re.search(r"^\.TP\n\.B %s$" % code, shs["EXIT STATUS"], re.M)
