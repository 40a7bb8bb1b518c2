#!/bin/sh
# irc.sh - multid's chat over IRC against ngIRCd, for tests/bench/run.sh.
#
#   MULTID=build/multid BIN=build/bench RUNS=3 SECS=5 sh tests/bench/irc.sh
#
# One channel, 100 IRC clients, 10 senders (build/bench/irc_bench): paced
# at 10,000 messages a second (p99 latency) and unpaced (deliveries a
# second), multid then ngIRCd, RUNS times each, medians compared; then
# 10,000 idle registered clients and the server's resident memory.
#
# Both servers run with their flood limits off, so that neither delays
# the senders: multid with irc_flood = 0, ngIRCd with MaxPenaltyTime = 0
# (no penalty seconds per command), MaxConnectionsIP = 0 and MaxJoins = 0.
# ngIRCd accepts new connections slowly (about 12 a second here), so the
# idle row measures multid alone.
#
# Output: progress on stderr; ROW|workload|multid|peer|ratio|target|met
# lines on stdout.
set -u
MULTID=${MULTID:-build/multid}
BIN=${BIN:-build/bench}
RUNS=${RUNS:-3}
SECS=${SECS:-5}
TMP=$(mktemp -d /tmp/multid-irc.XXXXXX)
PIDS=""
NGIRCD=$(PATH="$PATH:/usr/sbin:/sbin" command -v ngircd)

say() { echo "irc.sh: $*" >&2; }
field() { sed -n "s/.*\\b$1=\\([-0-9.]*\\).*/\\1/p" | head -1; }
median() { sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
stop() {
	kill "$1" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}
cleanup() {
	for p in $PIDS; do stop "$p"; done
	rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 100); do
		python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Starts a fresh server ($1: multid | ngircd); sets PORT and PID.
start() {
	PORT=$(free_port)
	if [ "$1" = multid ]; then
		cat >"$TMP/m.conf" <<-EOF
		daemon = { max_connections = 15000; log_level = "warning"; };
		services = ( { name = "chat"; type = "chat"; server_name = "bench";
		  irc_flood = 0; max_queue = 4194304;
		  listen = ( { address = "tcp://127.0.0.1:$PORT"; protocol = "irc"; } ); } );
		EOF
		"$MULTID" -c "$TMP/m.conf" 2>>"$TMP/multid.err" &
	else
		cat >"$TMP/n.conf" <<-EOF
		[Global]
		Name = bench.ngircd
		Info = bench
		Listen = 127.0.0.1
		Ports = $PORT
		[Limits]
		MaxConnections = 0
		MaxConnectionsIP = 0
		MaxJoins = 0
		MaxNickLength = 16
		MaxPenaltyTime = 0
		PingTimeout = 600
		PongTimeout = 600
		[Options]
		DNS = no
		Ident = no
		PAM = no
		EOF
		"$NGIRCD" -n -f "$TMP/n.conf" >>"$TMP/ngircd.log" 2>&1 &
	fi
	PID=$!
	PIDS="$PIDS $PID"
	wait_port "$PORT" || say "$1 did not start"
}

# run SERVER ARGS...: one irc_bench run against a fresh server.
run() {
	srv=$1
	shift
	start "$srv"
	timeout $((SECS * 3 + 150)) "$BIN/irc_bench" -a "127.0.0.1:$PORT" -P "$PID" "$@" 2>>"$TMP/bench.err" | tail -1
	stop "$PID"
}

# values KEY FILE: KEY's value in every line of FILE.
values() { tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"; }

# figure KEY ARGS...: RUNS back-to-back runs; sets M (multid's median), N
# (ngIRCd's) and ML (multid's lost messages in all runs).
figure() {
	key=$1
	shift
	: >"$TMP/m.runs"
	: >"$TMP/n.runs"
	for _ in $(seq "$RUNS"); do
		run multid "$@" >>"$TMP/m.runs"
		[ -n "$NGIRCD" ] && run ngircd "$@" >>"$TMP/n.runs"
	done
	M=$(values "$key" "$TMP/m.runs" | median)
	N=$(values "$key" "$TMP/n.runs" | median)
	ML=$(values lost "$TMP/m.runs" | awk '{ s += $1 } END { print s + 0 }')
	sed 's/^/multid: /' "$TMP/m.runs" >&2
	sed 's/^/ngircd: /' "$TMP/n.runs" >&2
}
met() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo NO; fi; }

[ -x "$BIN/irc_bench" ] || { say "$BIN/irc_bench missing: run make bench"; exit 1; }
[ -n "$NGIRCD" ] || say "ngircd not installed (make bench-deps): no peer"

say "IRC, one channel, 100 clients, 10 senders, paced 10,000 msg/s"
figure p99_us -n 100 -S 10 -r 10000 -t "$SECS"
r=$(ratio "$M" "$N")
echo "ROW|irc 100 clients 10 senders 10k msg/s p99 (us)|$M|${N:--} ngircd|$r|<= 0.5, 0 lost|$(met "\"$r\" != \"-\" && $r <= 0.5 && $ML == 0")"

say "IRC, one channel, 100 clients, 10 senders, unpaced"
figure deliveries_s -n 100 -S 10 -r 0 -t "$SECS"
r=$(ratio "$M" "$N")
echo "ROW|irc unpaced deliveries/s|$M|${N:--} ngircd|$r|>= 3x, 0 lost|$(met "\"$r\" != \"-\" && $r >= 3 && $ML == 0")"
# The generator shares the two CPUs with the server and needs most of one
# at these rates, so the server's own CPU time per delivery says what it
# could deliver with a CPU to itself.
MC=$(values cpu_ns_per_delivery "$TMP/m.runs" | median)
NC=$(values cpu_ns_per_delivery "$TMP/n.runs" | median)
r=$(ratio "$MC" "$NC")
echo "ROW|  server CPU per delivery (ns)|${MC:--}|${NC:--} ngircd|$r|<= 0.33|$(met "\"$r\" != \"-\" && $r <= 0.33")"

say "IRC, 10,000 idle registered clients: multid"
out=$(run multid -n 10000 -i)
echo "$out" | sed 's/^/multid: /' >&2
rss=$(echo "$out" | field rss_kb)
echo "ROW|irc 10,000 idle registered clients, RSS (kB)|${rss:--}|-|-|< 61,440|$(met "\"${rss:-x}\" != \"x\" && ${rss:-999999} < 61440")"
