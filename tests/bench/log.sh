#!/bin/sh
# log.sh - how many records the log service loses at 200k and 400k
# datagrams a second (5 s each), writing to a file; and, when rsyslogd is
# installed, the same for rsyslog's imudp writing a file with a private
# configuration on another port.
#
#   sh tests/bench/log.sh                    RATES="100000 300000" DURATION=3
#
# Every process started here is stopped by its PID; the files live in a
# temporary directory that is removed at the end.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
RATES=${RATES:-"200000 400000"}
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
