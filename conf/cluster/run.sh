#!/bin/bash
# The two-instance example of the README ("More than one machine") on one
# machine: PostgreSQL on 15432, Redis on 16379, rsyslog on 10514, multid
# instances a and b (a.conf, b.conf) and HAProxy in front (haproxy.cfg).
# Everything runs from a fresh directory (default /tmp/multid-cluster)
# in the foreground; Ctrl-C or SIGTERM stops what this script started.
#
#   bash conf/cluster/run.sh [MULTID_BINARY]
set -u
here=$(cd "$(dirname "$0")" && pwd)
multid=${1:-$here/../../build/multid}
dir=${CLUSTER_DIR:-/tmp/multid-cluster}
pgbin=/usr/lib/postgresql/15/bin
pids=()
pgdir=$dir/pg

stop() {
    local rc=${1:-$?}
    trap - INT TERM EXIT
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[i]}" 2>/dev/null
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
    done
    [ "$pgdir" != "$dir/pg" ] && rm -rf "$pgdir"
    echo "cluster: stopped" >&2
    exit "$rc"
}
trap 'stop 0' INT TERM
trap stop EXIT

die() { echo "cluster: $*" >&2; exit 1; }

# Waits until something accepts connections on 127.0.0.1:$1.
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "nothing listens on port $1 after 10 s (see $dir/*.log)"
}

[ -x "$multid" ] || die "no multid at $multid (run make first)"
for p in 7200 6667 7400 15432 16379 10514 17200 27200 17400 27400; do
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && die "port $p is in use"
done
rm -rf "$dir" && mkdir -p "$dir" || die "cannot make $dir"

# PostgreSQL, as its own unprivileged user when we are root: its data
# then goes where that user can reach it, since $dir may lie beneath a
# directory only root may enter.
as_pg=()
pgdir=$dir/pg
if [ "$(id -u)" = 0 ]; then
    as_pg=(runuser -u postgres --)
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/multid-cluster-pg.XXXXXX") || die "mktemp"
    chown postgres "$pgdir"
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust >"$dir/initdb.log" 2>&1 ||
    die "initdb failed (see $dir/initdb.log)"
"${as_pg[@]}" "$pgbin/postgres" -D "$pgdir/data" -p 15432 -k "$pgdir" \
    -c listen_addresses=127.0.0.1 >"$dir/postgres.log" 2>&1 &
pids+=($!)
wait_port 15432
for _ in $(seq 100); do
    psql -h 127.0.0.1 -p 15432 -U postgres -qc 'select 1' >/dev/null 2>&1 && break
    sleep 0.1
done
psql -h 127.0.0.1 -p 15432 -U postgres -qc 'create user multid' \
    -c 'create database multid owner multid' >/dev/null || die "cannot create the database"

# Redis, in memory only.
redis-server --bind 127.0.0.1 --port 16379 --save '' --appendonly no \
    --dir "$dir" >"$dir/redis.log" 2>&1 &
pids+=($!)
wait_port 16379

# rsyslog, the collector: octet-counted RFC 5424 over TCP into one file.
mkdir -p "$dir/rsyslog"
cat >"$dir/rsyslog.conf" <<EOF
global(workDirectory="$dir/rsyslog")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="10514")
template(name="line" type="string" string="%timegenerated:::date-rfc3339% %hostname% %app-name% %syslogseverity-text%: %msg%\n")
action(type="omfile" file="$dir/forwarded.log" template="line")
EOF
/usr/sbin/rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" >"$dir/rsyslog.log" 2>&1 &
pids+=($!)
wait_port 10514

for i in a b; do
    "$multid" -c "$here/$i.conf" >"$dir/multid-$i.log" 2>&1 &
    pids+=($!)
done
wait_port 17200; wait_port 27200

haproxy -f "$here/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids+=($!)
wait_port 7200; wait_port 6667; wait_port 7400

cat <<EOF
cluster: ready, logs in $dir
  chat through HAProxy:  telnet 127.0.0.1 7200   (IRC: irssi -c 127.0.0.1 -p 6667)
  bank through HAProxy:  nc 127.0.0.1 7400
  instance a directly:   telnet 127.0.0.1 17200, metrics: curl http://127.0.0.1:19100/metrics
  instance b directly:   telnet 127.0.0.1 27200, metrics: curl http://127.0.0.1:29100/metrics
  logs to a, then rsyslog: logger -d -n 127.0.0.1 -P 17514 hello; tail $dir/forwarded.log
  the database:          psql -h 127.0.0.1 -p 15432 -U multid multid
  the shared chat keys:  redis-cli -p 16379 keys '*'
EOF
# Whichever of them ends first ends the example.
wait -n "${pids[@]}"
echo "cluster: a process ended; stopping the rest" >&2
stop 1
