#!/bin/sh
# bank.sh - acknowledged deposits per second of the bank service with 1, 16
# and 64 clients (each client one command in flight, every reply checked),
# and, for comparison, the rate of one fsync per transaction on the same
# disk.
#
#   sh tests/bench/bank.sh                  CLIENTS="1 16 64" DURATION=5
#
# The database lives in a temporary directory (TMPDIR, default /tmp) that
# is removed at the end; every process started here is stopped by its PID.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
CLIENTS=${CLIENTS:-"1 16 64"}
DURATION=${DURATION:-5}

make -s "$BUILD/multid"
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
    -o "$BUILD/bench/bank_bench" tests/bench/bank_bench.c
BENCH=$BUILD/bench/bank_bench

dir=$(mktemp -d "${TMPDIR:-/tmp}/multid-bankbench.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat > "$dir/multid.conf" <<CONF
services = (
  { name = "bank"; type = "bank"; listen = ( "tcp://127.0.0.1:0" );
    database = "$dir/bank.db"; }
);
CONF
"$BUILD/multid" -c "$dir/multid.conf" 2>"$dir/multid.err" &
pid=$!
port=$(wait_listen_port "$dir/multid.err" bank tcp) ||
	{ cat "$dir/multid.err"; exit 1; }

echo "disk: $(df -P "$dir" | awk 'NR == 2 { print $1 " " $6 }')"
for n in $CLIENTS; do
	echo "multid $("$BENCH" "127.0.0.1:$port" "$n" "$DURATION" "r$n")"
done
kill "$pid"
wait "$pid" || { echo "multid did not stop cleanly"; exit 1; }
pid=""
echo "baseline $("$BENCH" --fsync-per-tx "$dir" "$DURATION")"
