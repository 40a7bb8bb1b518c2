#!/bin/sh
# log.sh - how many records the log service loses at 200k and 400k
# datagrams a second (5 s each), writing to a file; and, when rsyslogd is
# installed, the same for rsyslog's imudp writing a file with a private
# configuration on another port.  Then forwarding: multid with forward
# and no output, and an rsyslog relay (imudp in, omfwd octet-counted TCP
# out), each sending to one rsyslog sink (imtcp) at FWD_RATE datagrams a
# second; the loss is counted in the sink's file, the CPU is the
# forwarder's.
#
#   sh tests/bench/log.sh                    RATES="100000 300000" DURATION=3
#
# Output: "NAME rate=R/s ... loss=X% ... cpu=Ncs" lines, and for run.sh
# ROW|workload|multid|peer|ratio|target|met lines for forwarding.
#
# Every process started here is stopped by its PID; the files live in a
# temporary directory that is removed at the end.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
RATES=${RATES:-"200000 400000"}
FWD_RATE=${FWD_RATE:-100000}
DURATION=${DURATION:-5}
PYTHON=${PYTHON:-/usr/bin/python3}

make -s "$BUILD/multid"
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
    -o "$BUILD/bench/log_bench" tests/bench/log_bench.c
BENCH=$BUILD/bench/log_bench

dir=$(mktemp -d /tmp/multid-logbench.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# CPU seconds (user + system, all threads) a process has used so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs the bench at every rate against port $2, output file $3, process $1.
run_rates() {
	name=$1 pid=$2 port=$3 file=$4
	hz=$(getconf CLK_TCK)
	for rate in $RATES; do
		before=$(cpu_ticks "$pid")
		result=$("$BENCH" 127.0.0.1 "$port" "$rate" "$DURATION" "$file")
		after=$(cpu_ticks "$pid")
		echo "$name $result cpu=$(( (after - before) * 100 / hz ))cs"
	done
}

# --- multid ------------------------------------------------------------
cat > "$dir/multid.conf" <<EOF
services = (
  { name = "log"; type = "log"; listen = ( "udp://127.0.0.1:0" );
    output = "$dir/multid.log"; }
);
EOF
"$BUILD/multid" -c "$dir/multid.conf" 2>"$dir/multid.err" &
mpid=$!
pids="$mpid"
port=$(wait_listen_port "$dir/multid.err" log udp) ||
	{ cat "$dir/multid.err"; exit 1; }
grep -i "rcvbuf" "$dir/multid.err" || true
run_rates multid "$mpid" "$port" "$dir/multid.log"
kill "$mpid"
wait "$mpid" || true
pids=""

# --- rsyslog, for comparison ------------------------------------------------
if ! command -v rsyslogd >/dev/null 2>&1; then
	echo "rsyslogd is not installed; no comparison"
	exit 0
fi
rport=$($PYTHON -c 'import socket; s = socket.socket(socket.AF_INET,
    socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$dir/rsyslog"
cat > "$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/rsyslog")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$rport" rcvbufSize="4m")
template(name="line" type="string"
    string="%timegenerated:::date-rfc3339% %fromhost-ip% %syslogseverity-text% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
action(type="omfile" file="$dir/rsyslog.log" template="line")
EOF
rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" 2>"$dir/rsyslog.err" &
rpid=$!
pids="$rpid"
# Ready once a probe datagram comes out in the file.
for _ in $(seq 50); do
	logger --udp -n 127.0.0.1 -P "$rport" "probe" 2>/dev/null || true
	[ -s "$dir/rsyslog.log" ] && break
	sleep 0.1
done
[ -s "$dir/rsyslog.log" ] || { cat "$dir/rsyslog.err"; exit 1; }
run_rates rsyslog "$rpid" "$rport" "$dir/rsyslog.log"

# --- forwarding to an rsyslog sink over TCP --------------------------------
free_port() {
	$PYTHON -c 'import socket, sys; s = socket.socket(socket.AF_INET,
    socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
sport=$(free_port tcp)
mkdir -p "$dir/sink"
cat > "$dir/sink.conf" <<EOF
global(workDirectory="$dir/sink")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$sport")
template(name="app" type="string"
    string="%app-name%:%msg:::sp-if-no-1st-sp%%msg%\n")
action(type="omfile" file="$dir/sink.log" template="app")
EOF
rsyslogd -n -f "$dir/sink.conf" -i "$dir/sink.pid" 2>"$dir/sink.err" &
pids="$pids $!"
for _ in $(seq 100); do
	nc -z 127.0.0.1 "$sport" 2>/dev/null && break
	sleep 0.05
done

# Sends probes to UDP port $1 until the sink's file grows.
wait_forwarding() {
	size=$(stat -c %s "$dir/sink.log" 2>/dev/null || echo 0)
	for _ in $(seq 100); do
		logger --udp -n 127.0.0.1 -P "$1" -t probe "probe" 2>/dev/null || true
		[ "$(stat -c %s "$dir/sink.log" 2>/dev/null || echo 0)" -gt "$size" ] &&
			return 0
		sleep 0.1
	done
	return 1
}

cat > "$dir/forward.conf" <<EOF
services = (
  { name = "log"; type = "log"; listen = ( "udp://127.0.0.1:0" );
    forward = "tcp://127.0.0.1:$sport"; }
);
EOF
"$BUILD/multid" -c "$dir/forward.conf" 2>"$dir/forward.err" &
fpid=$!
pids="$pids $fpid"
port=$(wait_listen_port "$dir/forward.err" log udp) ||
	{ cat "$dir/forward.err"; exit 1; }
wait_forwarding "$port" || { cat "$dir/forward.err"; exit 1; }
mres=$(RATES=$FWD_RATE run_rates multid-forward "$fpid" "$port" "$dir/sink.log")
echo "$mres"
kill "$fpid"
wait "$fpid" || true

relay_port=$(free_port udp)
mkdir -p "$dir/relay"
cat > "$dir/relay.conf" <<EOF
global(workDirectory="$dir/relay")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="$relay_port" rcvbufSize="4m")
action(type="omfwd" target="127.0.0.1" port="$sport" protocol="tcp"
       TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
EOF
rsyslogd -n -f "$dir/relay.conf" -i "$dir/relay.pid" 2>"$dir/relay.err" &
lpid=$!
pids="$pids $lpid"
wait_forwarding "$relay_port" || { cat "$dir/relay.err"; exit 1; }
rres=$(RATES=$FWD_RATE run_rates rsyslog-relay "$lpid" "$relay_port" "$dir/sink.log")
echo "$rres"

ml=$(echo "$mres" | sed -n 's/.* loss=\([0-9.]*\)%.*/\1/p')
rl=$(echo "$rres" | sed -n 's/.* loss=\([0-9.]*\)%.*/\1/p')
mc=$(echo "$mres" | sed -n 's/.* cpu=\([0-9]*\)cs.*/\1/p')
rc=$(echo "$rres" | sed -n 's/.* cpu=\([0-9]*\)cs.*/\1/p')
echo "ROW|log forwarded over TCP to rsyslog, $((FWD_RATE / 1000))k/s ${DURATION} s, loss (%)|${ml:--}|${rl:--} rsyslog relay (omfwd)|-|<= rsyslog|$(awk -v a="$ml" -v b="$rl" 'BEGIN { print (a != "" && b != "" && a <= b ? "yes" : "no") }')"
echo "ROW|  forwarder CPU (s)|$(awk -v c="${mc:-0}" 'BEGIN { printf "%.2f", c / 100 }')|$(awk -v c="${rc:-0}" 'BEGIN { printf "%.2f", c / 100 }') rsyslog relay|$(awk -v a="${mc:-0}" -v b="${rc:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')|<= 1|$(awk -v a="${mc:-0}" -v b="${rc:-0}" 'BEGIN { print (b > 0 && a <= b ? "yes" : "no") }')"
