#!/usr/bin/env python3
"""tls_idle.py - memory per idle TLS connection of a server.

    tls_idle.py -a HOST:PORT -p PID -n COUNT [-c CAFILE]

Opens COUNT TLS connections (each handshake completed, nothing sent after
it), waits for the server to settle, and reads the server's memory from
/proc: the VmRSS of PID and of its children (nginx's worker), before the
first connection and with all of them open.  Output, one line:

    conns=N rss_before_kb=... rss_kb=... kb_per_conn=... errors=...
"""
import argparse
import os
import socket
import ssl
import sys
import time


def rss_kb(pid):
    """VmRSS of pid and of its direct children, in KiB."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-a", required=True)
    ap.add_argument("-p", type=int, required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("-c", default=None)
    o = ap.parse_args()
    host, port = o.a.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=o.c) if o.c else \
        ssl._create_unverified_context()
    ctx.check_hostname = False
    before = rss_kb(o.p)
    conns, errors = [], 0
    deadline = time.monotonic() + 120
    for _ in range(o.n):
        if time.monotonic() > deadline:
            errors += 1
            break
        try:
            raw = socket.create_connection((host, int(port)), timeout=10)
            conns.append(ctx.wrap_socket(raw, server_hostname="localhost"))
        except OSError:
            errors += 1
    time.sleep(1.0)
    after = rss_kb(o.p)
    n = len(conns)
    print("conns=%d rss_before_kb=%d rss_kb=%d kb_per_conn=%.2f errors=%d" % (
        n, before, after, (after - before) / n if n else 0, errors))
    for s in conns:
        s.close()
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
