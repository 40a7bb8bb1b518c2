#!/bin/sh
# tftp.sh - TFTP reads: a 50 MB file at blksize 1428 from multid and from
# tftpd-hpa (Debian's has no windowsize), the same with windowsize 16 from
# multid and from atftpd, multid's windowsize 16 against its windowsize 1,
# and 50 concurrent reads of a 2 MB file, each checked byte for byte.
#
#   sh tests/bench/tftp.sh                 RUNS=3 SIZE_MB=50 CONC=50
#
# The client is tests/bench/tftp_bench.c (one thread, poll, one ACK per
# window), the same for every server.  Each figure is measured RUNS times,
# multid and its peer back to back, and the medians are compared.  The
# peers are looked up in TFTP_PEERS (a directory with in.tftpd and atftpd),
# then in build/bench/tftp-peers/usr/sbin, where `make bench-deps` unpacks
# both packages (they conflict, and installed they would be system servers
# on port 69), then in /usr/sbin and PATH; a missing one gives a row that
# says so.  Each runs in the foreground on a free port, stopped by PID.  Output: "run N: ..." lines, and
# ROW|workload|multid|peer|ratio|target|met lines for run.sh.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-50}
CONC=${CONC:-50}

make -s "$BUILD/multid"
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra \
    -o "$BUILD/bench/tftp_bench" tests/bench/tftp_bench.c
BENCH=$BUILD/bench/tftp_bench

dir=$(mktemp -d "${TMPDIR:-/tmp}/multid-tftpbench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir "$dir/root"
chmod 755 "$dir" "$dir/root"
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$dir/root/big"
head -c 2097152 /dev/urandom >"$dir/root/small"
chmod 644 "$dir/root/big" "$dir/root/small"

cat >"$dir/multid.conf" <<CONF
services = (
  { name = "tftp"; type = "tftp"; listen = ( "udp://127.0.0.1:0" );
    root = "$dir/root"; }
);
CONF
"$BUILD/multid" -c "$dir/multid.conf" 2>"$dir/multid.err" &
pids="$pids $!"
port=$(wait_listen_port "$dir/multid.err" tftp udp) ||
	{ cat "$dir/multid.err"; exit 1; }

peer() {
	for d in ${TFTP_PEERS:-} build/bench/tftp-peers/usr/sbin /usr/sbin /sbin; do
		[ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	command -v "$1" || true
}
user=$(id -un)
group=$(id -gn)
free_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
hpa_port=$(free_port)
at_port=$(free_port)
hpa=$(peer in.tftpd)
at=$(peer atftpd)
if [ -n "$hpa" ]; then
	"$hpa" -L -u "$user" -s "$dir/root" -a "127.0.0.1:$hpa_port" &
	pids="$pids $!"
fi
if [ -n "$at" ]; then
	"$at" --daemon --no-fork --port "$at_port" --bind-address 127.0.0.1 \
	    --user "$user.$group" --logfile /dev/null "$dir/root" &
	pids="$pids $!"
fi
sleep 0.5

# One read: "mb_per_s ok corrupted failed" of tftp_bench's line.
read_once() {
	"$BENCH" "127.0.0.1:$1" "$2" "$dir/root/$2" "$3" "$4" "$5" 2>/dev/null |
	    sed -n 's/.*mb_per_s=\([0-9.]*\) ok=\([0-9]*\) corrupted=\([0-9]*\) failed=\([0-9]*\).*/\1 \2 \3 \4/p'
}
rate() { read_once "$@" | cut -d' ' -f1; }
median() { tr ' ' '\n' | grep . | sort -n |
	awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "-") printf "%.2f", a / b; else print "-" }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a + 0 >= b + 0) }'; }

M1="" H1="" M16="" A16="" CR="" bad=0
for i in $(seq "$RUNS"); do
	m1=$(rate "$port" big 1428 1 1)
	h1=$([ -n "$hpa" ] && rate "$hpa_port" big 1428 1 1 || echo -)
	m16=$(rate "$port" big 1428 16 1)
	a16=$([ -n "$at" ] && rate "$at_port" big 1428 16 1 || echo -)
	c=$(read_once "$port" small 1428 1 "$CONC")
	echo "run $i: w1 multid=$m1 tftpd-hpa=$h1 w16 multid=$m16 atftpd=$a16 concurrent=$c"
	M1="$M1 $m1" H1="$H1 $h1" M16="$M16 $m16" A16="$A16 $a16"
	CR="$CR $(echo "$c" | cut -d' ' -f1)"
	set -- $c
	bad=$((bad + ${3:-1} + ${4:-1} + (${2:-0} != CONC)))
done
m1=$(echo "$M1" | median)
h1=$(echo "$H1" | tr -d '-' | median)
m16=$(echo "$M16" | median)
a16=$(echo "$A16" | tr -d '-' | median)
cr=$(echo "$CR" | median)

row() { echo "ROW|$1|$2|$3|$4|$5|$6"; }
met() { if ge "$1" "$2"; then echo yes; else echo NO; fi; }
r=$(ratio "$m1" "$h1")
if [ -n "$hpa" ]; then
	row "tftp ${SIZE_MB} MB read blksize 1428 (MB/s)" "$m1" "$h1 tftpd-hpa" "$r" ">= 1.0" "$(met "$r" 1)"
else
	row "tftp ${SIZE_MB} MB read blksize 1428 (MB/s)" "$m1" "-" "-" ">= 1.0" "skipped (no in.tftpd)"
fi
r=$(ratio "$m16" "$a16")
if [ -n "$at" ]; then
	row "tftp ${SIZE_MB} MB read windowsize 16 (MB/s)" "$m16" "$a16 atftpd" "$r" ">= 1.0" "$(met "$r" 1)"
else
	row "tftp ${SIZE_MB} MB read windowsize 16 (MB/s)" "$m16" "-" "-" ">= 1.0" "skipped (no atftpd)"
fi
r=$(ratio "$m16" "$m1")
row "  windowsize 16 / windowsize 1, multid" "$m16" "$m1 multid w1" "$r" ">= 5" "$(met "$r" 5)"
row "tftp $CONC concurrent 2 MB reads (MB/s, all runs checked)" "$cr" "-" "-" "0 corrupted or failed" \
    "$([ "$bad" = 0 ] && echo yes || echo "NO ($bad)")"
