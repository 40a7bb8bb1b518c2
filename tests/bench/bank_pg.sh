#!/bin/sh
# bank_pg.sh - the bank with backend = "postgresql" against PostgreSQL's
# own pgbench, on one PostgreSQL server of its own.
#
#   sh tests/bench/bank_pg.sh               CLIENTS=64 DURATION=10
#                                           MULTID=build/multid
#
# PostgreSQL 15 runs as the user postgres in a temporary directory (TMPDIR,
# default /tmp), on a free loopback port, with its defaults (fsync on,
# synchronous_commit on).  Then, on that server:
#   - multid's bank with 64 clients, each with its own account, each
#     looping DEPOSIT 1.00 with one command in flight (bank_bench: every
#     reply checked, acknowledged deposits per second);
#   - `pgbench -N -c 64 -j 2 -T 10` (after `pgbench -i`): TPC-B without
#     the tellers' and branches' updates, i.e. one account UPDATE, one
#     SELECT and one history INSERT per transaction, from 64 connections.
# Output: "multid-pg clients=64 ... tx_per_s=N", "pgbench clients=64
# tps=N", and a line "ROW|...|ratio|..." for run.sh's table.  Every process
# started here is stopped by its PID; the directory is removed at the end.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-10}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-python3}

for p in "$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/pgbench"; do
	[ -x "$p" ] || { echo "bank_pg: $p missing (postgresql-15)" >&2; exit 1; }
done
if [ -z "${MULTID:-}" ]; then
	make -s "$BUILD/multid"
	MULTID=$BUILD/multid
fi
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
    -o "$BUILD/bench/bank_bench" tests/bench/bank_bench.c
BENCH=$BUILD/bench/bank_bench

dir=$(mktemp -d "${TMPDIR:-/tmp}/multid-bankpg.XXXXXX")
pid=""
pgpid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ -n "$pgpid" ]; then
		kill -INT "$pgpid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pgpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pgpid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

as_pg() { runuser -u postgres -- "$@"; }
chmod 755 "$dir"
chown postgres: "$dir"
port=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
as_pg "$PGBIN/postgres" -D "$dir/data" -p "$port" -k "$dir" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 \
    >"$dir/postgres.log" 2>&1 &
for _ in $(seq 300); do
	"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" && break
	sleep 0.1
done
"$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" ||
	{ cat "$dir/postgres.log" >&2; exit 1; }
pgpid=$(head -1 "$dir/data/postmaster.pid")
psql_pg() { as_pg "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres "$@"; }
psql_pg -d postgres -c "CREATE ROLE multid LOGIN" \
    -c "CREATE DATABASE multid OWNER multid" \
    -c "CREATE DATABASE pgbench OWNER multid"

echo "disk: $(df -P "$dir" | awk 'NR == 2 { print $1 " " $6 }')"

cat > "$dir/multid.conf" <<CONF
services = (
  { name = "bank"; type = "bank"; listen = ( "tcp://127.0.0.1:0" );
    backend = "postgresql";
    conninfo = "host=127.0.0.1 port=$port dbname=multid user=multid"; }
);
CONF
"$MULTID" -c "$dir/multid.conf" 2>"$dir/multid.err" &
pid=$!
mport=$(wait_listen_port "$dir/multid.err" bank tcp) ||
	{ cat "$dir/multid.err"; exit 1; }
m=$("$BENCH" "127.0.0.1:$mport" "$CLIENTS" "$DURATION" "pg")
echo "multid-pg $m"
kill "$pid"
wait "$pid" || { echo "multid did not stop cleanly"; exit 1; }
pid=""

as_pg "$PGBIN/pgbench" -i -q -h "$dir" -p "$port" -U multid pgbench \
    >"$dir/pgbench-init.log" 2>&1 ||
	{ cat "$dir/pgbench-init.log" >&2; exit 1; }
out=$(as_pg "$PGBIN/pgbench" -N -c "$CLIENTS" -j 2 -T "$DURATION" \
    -h "$dir" -p "$port" -U multid pgbench 2>&1) ||
	{ echo "$out" >&2; exit 1; }
tps=$(echo "$out" | sed -n 's/^tps = \([0-9]*\)[0-9.]* (without initial.*/\1/p')
fails=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
echo "pgbench clients=$CLIENTS tps=$tps failed=${fails:-0}"

mtx=$(echo "$m" | sed -n 's/.*tx_per_s=\([0-9.]*\).*/\1/p')
merr=$(echo "$m" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
ratio=$(awk -v a="$mtx" -v b="$tps" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
echo "ratio multid/pgbench=$ratio"
echo "ROW|bank postgresql $CLIENTS clients DEPOSIT, tx/s (errors ${merr:-?})|$mtx|$tps pgbench -N|$ratio|-|-"
