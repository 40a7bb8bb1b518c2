#!/bin/sh
# chat_cluster.sh - multid's chat across two instances that share their
# rooms through one Redis (SPEC 7, chat's cluster), against one instance.
#
#   MULTID=build/multid BIN=build/bench RUNS=3 SECS=5 sh tests/bench/chat_cluster.sh
#
# One room of 100 clients, 10 senders paced at 10,000 messages a second
# (build/bench/chat_bench -r 10000): 55 line clients (the senders among
# them) on instance A and 45 course clients on instance B, so that every
# message reaches B through Redis; the reference is the same room on one
# instance (line and course listeners of one chat).  RUNS runs of each,
# medians compared; every run starts fresh daemons and a fresh Redis.
#
# Output: progress on stderr; ROW|workload|multid|peer|ratio|target|met
# lines on stdout for run.sh (p99 and p50 latency in microseconds, lost
# and garbled messages), the two instances as multid, one as the peer.
set -u
MULTID=${MULTID:-build/multid}
BIN=${BIN:-build/bench}
RUNS=${RUNS:-3}
SECS=${SECS:-5}
TMP=$(mktemp -d /tmp/multid-chatcl.XXXXXX)
PIDS=""
REDIS=$(command -v redis-server)
. "$(dirname "$0")/lib.sh"

say() { echo "chat_cluster.sh: $*" >&2; }
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
stop_all() {
	for p in $PIDS; do stop "$p"; done
	PIDS=""
}
cleanup() {
	stop_all
	rm -rf "$TMP"
}
trap cleanup EXIT

[ -n "$REDIS" ] || { say "redis-server missing (make deps-test)"; exit 1; }
[ -x "$BIN/chat_bench" ] || { say "$BIN/chat_bench missing: run make bench"; exit 1; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# The value of the first sample of a metrics family ($2) at port $1.
metric() {
	curl -s "http://127.0.0.1:$1/metrics" | sed -n "s/^$2{[^}]*} \\([0-9]*\\)\$/\\1/p" | head -1
}

# A chat instance ($1: a name); $2 the cluster keys.  Sets LP (line),
# CP (course) and MP (metrics) ports.
instance() {
	cat >"$TMP/$1.conf" <<-EOF
	daemon = { max_connections = 2000; log_level = "notice"; };
	services = (
	  { name = "chat"; type = "chat"; max_queue = 4194304; $2
	    listen = ( "tcp://127.0.0.1:0",
	      { address = "tcp://127.0.0.2:0"; protocol = "course"; } ); },
	  { name = "m"; type = "metrics"; listen = ( "tcp://127.0.0.1:0" ); } );
	EOF
	"$MULTID" -c "$TMP/$1.conf" 2>"$TMP/$1.err" &
	PIDS="$PIDS $!"
	LP=$(wait_listen_port "$TMP/$1.err" chat tcp) || { say "$1 did not start"; cat "$TMP/$1.err" >&2; exit 1; }
	CP=$(sed -n 's|^chat listening on tcp://127\.0\.0\.2:\([0-9]*\)$|\1|p' "$TMP/$1.err" | head -1)
	MP=$(wait_listen_port "$TMP/$1.err" m tcp)
}

# Waits until the instance with metrics at $1 has Redis.
wait_up() {
	for _ in $(seq 100); do
		[ "$(metric "$1" multid_backend_up)" = 1 ] && return 0
		sleep 0.05
	done
	say "instance did not reach Redis"
	exit 1
}

bench() {
	timeout 60 "$BIN/chat_bench" -a "127.0.0.1:$1" -A "127.0.0.2:$2" -C 45 \
	    -n 100 -S 10 -r 10000 -t "$SECS"
}

# One run, cluster: line clients on A, course clients on B.
run_cluster() {
	RPORT=$(free_port)
	mkdir -p "$TMP/redis"
	"$REDIS" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
	    --dir "$TMP/redis" --logfile "$TMP/redis.log" &
	PIDS="$PIDS $!"
	sleep 0.3
	keys="cluster = \"redis://127.0.0.1:$RPORT\";"
	instance a "$keys"; A_LP=$LP; A_MP=$MP
	instance b "$keys"; B_CP=$CP; B_MP=$MP
	wait_up "$A_MP"
	wait_up "$B_MP"
	out=$(bench "$A_LP" "$B_CP")
	stop_all
	echo "$out"
}

run_single() {
	instance s ""
	out=$(bench "$LP" "$CP")
	stop_all
	echo "$out"
}

: >"$TMP/cluster"
: >"$TMP/single"
for i in $(seq "$RUNS"); do
	say "run $i/$RUNS: two instances on one Redis"
	r=$(run_cluster)
	say "  $r"
	echo "$r" >>"$TMP/cluster"
	say "run $i/$RUNS: one instance"
	r=$(run_single)
	say "  $r"
	echo "$r" >>"$TMP/single"
done

# ROW|workload|multid|peer|ratio|target|met, as run.sh prints them: the
# two instances are "multid", the one instance the "peer".
med() { tr ' ' '\n' <"$TMP/$1" | sed -n "s/^$2=//p" | median; }
sum() { tr ' ' '\n' <"$TMP/$1" | sed -n "s/^$2=//p" | awk '{ s += $1 } END { print s + 0 }'; }
c=$(med cluster p99_us)
s=$(med single p99_us)
r=$(ratio "$c" "$s")
lost=$(( $(sum cluster lost) + $(sum cluster garbled) ))
met=$(awk -v r="$r" -v l="$lost" 'BEGIN { print (r != "-" && r <= 2 && l == 0) ? "yes" : "NO" }')
echo "ROW|chat across 2 instances on Redis, 100 clients 10 senders 10k msg/s p99 (us)|$c|$s one instance|$r|<= 2, 0 lost|$met"
echo "ROW|  p50 (us)|$(med cluster p50_us)|$(med single p50_us)|$(ratio "$(med cluster p50_us)" "$(med single p50_us)")|-|-"
echo "ROW|  lost / garbled (all runs)|$(sum cluster lost) / $(sum cluster garbled)|$(sum single lost) / $(sum single garbled)|-|0 / 0|$( [ "$lost" = 0 ] && echo yes || echo NO)"
