"""@include (SPEC section 2): absolute and relative paths, globs in name
order, services joined across files, and errors in included files
reported with that file's name and line."""
import re

from multid import recv_all, recv_exactly, run_multid, service

LOCAL = "tcp://127.0.0.1:0"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def services(*groups):
    return "services = (\n  %s\n);\n" % ",\n  ".join(groups)


def check(path):
    """multid -t -c path: (exit status, stderr lines)."""
    r = run_multid(["-t", "-c", str(path)])
    return r.returncode, r.stderr.splitlines()


def echoes(d, name):
    s = d.connect(name)
    try:
        s.sendall(b"hello " + name.encode() + b"\n")
        want = b"hello " + name.encode() + b"\n"
        assert recv_exactly(s, len(want)) == want
    finally:
        s.close()


def listen_order(d):
    return [l.split()[0] for l in d.stderr().splitlines()
            if " listening on " in l]


def test_daemon_serves_services_of_a_conf_d_glob(tmp_path, start):
    """The files a glob matches are read in name order; an @include above
    the main file's services list comes before them, one below after."""
    write(tmp_path / "conf.d" / "20-b.conf",
          services(service("b", "echo", [LOCAL])))
    write(tmp_path / "conf.d" / "10-a.conf",
          services(service("a", "echo", [LOCAL])))
    write(tmp_path / "conf.d" / "README", "not a configuration {")
    write(tmp_path / "late.conf", services(service("z", "echo", [LOCAL])))
    # The daemon's own file is d0/multid.conf: ".." is relative to it.
    d = start('daemon = { log_level = "info"; };\n'
              '@include "../conf.d/*.conf"\n'
              + services(service("m", "echo", [LOCAL])) +
              '@include "../late.conf"\n')
    for name in ("a", "b", "m", "z"):
        echoes(d, name)
    assert listen_order(d) == ["a", "b", "m", "z"]


def test_absolute_include(tmp_path, start):
    inc = write(tmp_path / "abs" / "svc.conf",
                "# an included file\n" + services(service("abs", "echo", [LOCAL])))
    d = start('@include "%s"\n' % inc)
    echoes(d, "abs")


def test_relative_to_the_including_file(tmp_path, start):
    """sub/s.conf includes "t.conf": that is sub/t.conf, whatever the
    directory of the main file or of the daemon."""
    write(tmp_path / "sub" / "s.conf", '@include "t.conf"\n')
    write(tmp_path / "sub" / "t.conf", services(service("t", "echo", [LOCAL])))
    write(tmp_path / "t.conf", services(service("wrong", "echo", [LOCAL])))
    d = start('@include "../sub/s.conf"\n')
    echoes(d, "t")
    assert listen_order(d) == ["t"]


def test_service_keeps_its_file_for_paths(tmp_path, start):
    """A relative path key in an included file is relative to that file:
    http's root, here sub/www, serves the file put there."""
    write(tmp_path / "sub" / "www" / "index.html", "from sub\n")
    write(tmp_path / "sub" / "web.conf", services(service(
        "web", "http", [LOCAL], 'root = "www";')))
    d = start('@include "../sub/web.conf"\n')
    s = d.connect("web")
    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    got = recv_all(s)
    s.close()
    assert re.match(rb"HTTP/1\.[01] 200 ", got), got
    assert got.endswith(b"\r\n\r\nfrom sub\n"), got


def test_glob_without_match_is_fine(tmp_path):
    main = write(tmp_path / "multid.conf",
                 '@include "conf.d/*.conf"\n@include "nodir/?.conf"\n'
                 + services(service("e", "echo", [LOCAL])))
    rc, err = check(main)
    assert rc == 0, err
    assert err == ["configuration %s is ok" % main]


def test_glob_read_in_name_order(tmp_path):
    """Byte order: "10-" sorts before "2-"; the later file's duplicate is
    the one reported."""
    write(tmp_path / "conf.d" / "2-x.conf", services(service("x", "echo", [LOCAL])))
    write(tmp_path / "conf.d" / "10-x.conf",
          "\n" + services(service("x", "echo", [LOCAL])))
    main = write(tmp_path / "multid.conf", '@include "conf.d/*.conf"\n')
    rc, err = check(main)
    first = str(tmp_path / "conf.d" / "10-x.conf")
    later = str(tmp_path / "conf.d" / "2-x.conf")
    assert rc == 1
    assert any(l.startswith(later + ":2: services.[0]: name \"x\" is used twice")
               and first + ":3" in l for l in err), err


def test_syntax_error_in_included_file(tmp_path):
    inc = write(tmp_path / "conf.d" / "bad.conf",
                "# fine\n"
                "services = (\n"
                "  { name = ; }\n"
                ");\n")
    main = write(tmp_path / "multid.conf",
                 services(service("e", "echo", [LOCAL])) +
                 '@include "conf.d/*.conf"\n')
    rc, err = check(main)
    assert rc == 1
    assert len(err) == 1 and err[0].startswith(inc + ":3: "), err
    assert "is ok" not in "\n".join(err)


def test_key_error_in_included_file(tmp_path):
    inc = write(tmp_path / "x.conf",
                "\n\n" + services(service("x", "echo", [LOCAL], "bogus = 1;")))
    main = write(tmp_path / "multid.conf", '@include "x.conf"\n')
    rc, err = check(main)
    assert rc == 1
    assert err == [inc + ":4: services.[0].bogus: unknown key"], err


def test_duplicate_name_across_files(tmp_path):
    write(tmp_path / "a.conf", services(service("dup", "echo", [LOCAL])))
    b = write(tmp_path / "b.conf",
              "# b\n" + services(service("dup", "discard", [LOCAL])))
    main = write(tmp_path / "multid.conf",
                 '@include "a.conf"\n@include "b.conf"\n')
    rc, err = check(main)
    assert rc == 1
    assert any(l.startswith(b + ":3: services.[0]: name \"dup\" is used twice")
               and str(tmp_path / "a.conf") + ":2" in l for l in err), err


def test_duplicate_address_across_files(tmp_path):
    main = write(tmp_path / "multid.conf",
                 services(service("one", "echo", ["tcp://127.0.0.1:7777"])) +
                 '@include "b.conf"\n')
    b = write(tmp_path / "b.conf",
              services(service("two", "discard", ["tcp://127.0.0.1:7777"])))
    rc, err = check(main)
    assert rc == 1
    assert any(l.startswith(b + ":2: ") and
               "tcp://127.0.0.1:7777 is also used by service \"one\"" in l
               for l in err), err


def test_include_loop(tmp_path):
    a = write(tmp_path / "a.conf", '# a\n@include "a.conf"\n')
    main = write(tmp_path / "multid.conf", '@include "a.conf"\n'
                 + services(service("e", "echo", [LOCAL])))
    rc, err = check(main)
    assert rc == 1
    assert err == ['%s:2: @include "a.conf": %s: an include loop: this file '
                   'is already being read' % (a, a)], err
    # Back to the main file, through a glob that matches it.
    write(tmp_path / "a.conf", '@include "*.conf"\n')
    rc, err = check(main)
    assert rc == 1
    assert any("include loop" in l and l.startswith(a + ":1: ") for l in err), err


def test_include_depth_is_bounded(tmp_path):
    for i in range(12):
        write(tmp_path / ("%d.conf" % i), '@include "%d.conf"\n' % (i + 1))
    write(tmp_path / "12.conf", services(service("e", "echo", [LOCAL])))
    main = write(tmp_path / "multid.conf", '@include "0.conf"\n')
    rc, err = check(main)
    assert rc == 1
    assert len(err) == 1 and "included more than 10 files deep" in err[0], err
    assert err[0].startswith(str(tmp_path / "9.conf") + ":1: "), err


def test_missing_include(tmp_path):
    main = write(tmp_path / "multid.conf", '\n@include "absent.conf"\n'
                 + services(service("e", "echo", [LOCAL])))
    rc, err = check(main)
    assert rc == 1
    assert err == ['%s:2: @include "absent.conf": %s: cannot read: No such '
                   'file or directory' % (main, tmp_path / "absent.conf")], err


def test_include_inside_a_group_is_refused(tmp_path):
    write(tmp_path / "svc.conf", service("e", "echo", [LOCAL]))
    main = write(tmp_path / "multid.conf",
                 'services = (\n@include "svc.conf"\n);\n')
    rc, err = check(main)
    assert rc == 1
    assert len(err) == 1 and err[0].startswith(
        main + ':2: @include "svc.conf": allowed only at the top level'), err


def test_daemon_set_in_two_files(tmp_path):
    inc = write(tmp_path / "d.conf", '\ndaemon = { log_level = "debug"; };\n')
    main = write(tmp_path / "multid.conf",
                 'daemon = { };\n@include "d.conf"\n'
                 + services(service("e", "echo", [LOCAL])))
    rc, err = check(main)
    assert rc == 1
    assert err == ["%s:2: daemon: already set in %s:1; it may be set in one "
                   "file only" % (inc, main)], err


def test_reload_reads_a_new_file_in_conf_d(tmp_path, start):
    write(tmp_path / "conf.d" / "a.conf", services(service("a", "echo", [LOCAL])))
    d = start('@include "../conf.d/*.conf"\n')
    echoes(d, "a")
    write(tmp_path / "conf.d" / "b.conf", services(service("b", "echo", [LOCAL])))
    d.reload()
    echoes(d, "b")
    echoes(d, "a")
    # A broken file keeps the running configuration, and says where.
    write(tmp_path / "conf.d" / "c.conf", "\nservices = ( {\n")
    d.reload()
    err = d.stderr()
    # Named as the include joined it to the daemon's file, d0/multid.conf.
    bad = str(tmp_path / "d0") + "/../conf.d/c.conf"
    assert re.search("^" + re.escape(bad) + r":3: ", err, re.M), err
    assert "reload failed, configuration unchanged" in err
    echoes(d, "b")
