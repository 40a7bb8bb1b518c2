#!/bin/sh
# files.sh - the files service against nc on the same disk: a 1 GiB upload
# (answered only once synced and renamed, with its SHA-256) against `nc -l
# > file` followed by `sync file`, and against the same with the bytes
# also through sha256sum; a 1 GiB download (sendfile) against `nc -l <
# file` and against a bare sendfile loop; and
# 100 concurrent uploads of 10 MB, each checked by its SHA-256, with the
# daemon's peak RSS.
#
#   sh tests/bench/files.sh                 RUNS=3 SIZE_MB=1024 CONC=100
#
# MULTID names the binary (run.sh passes it); without it $BUILD/multid is
# built first.
#
# The client is nc (netcat-openbsd) for every transfer but the concurrent
# one (python3, one thread per upload).  Each figure is measured RUNS
# times, multid and nc back to back, and the medians are compared.  The
# files live in a temporary directory on the disk of TMPDIR (/tmp by
# default), which is removed at the end.  Output: "run N: ..." lines, and
# ROW|workload|multid|peer|ratio|target|met lines for run.sh.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
SIZE_MB=${SIZE_MB:-1024}
CONC=${CONC:-100}
PYTHON=${PYTHON:-/usr/bin/python3}

if [ -z "${MULTID:-}" ]; then
	make -s "$BUILD/multid"
	MULTID=$BUILD/multid
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/multid-filesbench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir "$dir/up" "$dir/conc" "$dir/nc"
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$dir/big"
sync "$dir/big"

cat >"$dir/multid.conf" <<CONF
services = (
  { name = "up"; type = "files"; listen = ( "tcp://127.0.0.1:0" );
    mode = "receive"; directory = "$dir/up"; max_size = 2147483648L; },
  { name = "conc"; type = "files"; listen = ( "tcp://127.0.0.1:0" );
    mode = "receive"; directory = "$dir/conc"; },
  { name = "dl"; type = "files"; listen = ( "tcp://127.0.0.1:0" );
    mode = "send"; path = "$dir/big"; }
);
CONF
"$MULTID" -c "$dir/multid.conf" 2>"$dir/multid.err" &
mpid=$!
pids="$pids $mpid"
up=$(wait_listen_port "$dir/multid.err" up tcp) || { cat "$dir/multid.err"; exit 1; }
conc=$(wait_listen_port "$dir/multid.err" conc tcp)
dl=$(wait_listen_port "$dir/multid.err" dl tcp)
bytes=$((SIZE_MB * 1048576))

now() { date +%s.%N; }
# MB/s for $bytes in the seconds between $1 and $2.
rate() { awk -v a="$1" -v b="$2" -v n="$bytes" 'BEGIN { printf "%.0f", n / 1048576 / (b - a) }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
met() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "yes" : "no") }'; }

# A free port for nc -l: bind, read it back, let go.
free_port() {
	"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until something listens on port $1 (looking, not connecting:
# nc -l serves one connection only).
wait_port() {
	for _ in $(seq 100); do
		[ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.02
	done
	return 1
}

# The simplest sendfile server, for one connection: what sendfile itself
# reaches here.  On loopback the receiver copies from page-cache pages
# that no CPU has touched, where nc's read and write leave the bytes hot
# in the cache for it, so a sendfile server can trail nc on one machine
# while it saves the sender a copy on a real network.
sendfile_once() {
	"$PYTHON" - "$1" "$dir/big" <<'PY' &
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
c, _ = s.accept()
fd = os.open(sys.argv[2], os.O_RDONLY)
off, size = 0, os.fstat(fd).st_size
while off < size:
    off += os.sendfile(c.fileno(), fd, off, min(1 << 20, size - off))
c.close()
PY
}

# MB/s of an upload of big to a receiver: the shell command $1, given
# its port and file as $1 and $2, then synced.
upload_to() {
	p=$(free_port)
	sh -c "$1" sh "$p" "$dir/nc/file" &
	rpid=$!
	wait_port "$p"
	t0=$(now)
	nc -N 127.0.0.1 "$p" <"$dir/big"
	wait "$rpid" || true
	sync "$dir/nc/file"
	t1=$(now)
	rm -f "$dir/nc/file"
	rate "$t0" "$t1"
}

up_m="" up_n="" up_h="" dl_m="" dl_n="" dl_s="" rss="" bad=0
for run in $(seq "$RUNS"); do
	# multid: the answer comes after fsync, rename and the directory's sync.
	t0=$(now)
	answer=$(nc -N 127.0.0.1 "$up" <"$dir/big")
	t1=$(now)
	case $answer in "OK "*" $bytes "*) ;; *) echo "run $run: upload: $answer"; bad=1 ;; esac
	rm -f "$dir/up/"*
	up_m="$up_m $(rate "$t0" "$t1")"

	# nc -l > file, then sync of that file; the same with the SHA-256
	# multid's answer carries.
	up_n="$up_n $(upload_to 'nc -l 127.0.0.1 "$1" >"$2"')"
	up_h="$up_h $(upload_to 'nc -l 127.0.0.1 "$1" | tee "$2" | sha256sum >/dev/null')"

	# Downloads into /dev/null: multid's sendfile, then nc -l < file.
	t0=$(now)
	nc -d 127.0.0.1 "$dl" >/dev/null
	t1=$(now)
	dl_m="$dl_m $(rate "$t0" "$t1")"
	port=$(free_port)
	nc -N -l 127.0.0.1 "$port" <"$dir/big" &
	ncpid=$!
	wait_port "$port"
	t0=$(now)
	nc -d 127.0.0.1 "$port" >/dev/null
	t1=$(now)
	wait "$ncpid" || true
	dl_n="$dl_n $(rate "$t0" "$t1")"
	port=$(free_port)
	sendfile_once "$port"
	sfpid=$!
	wait_port "$port"
	t0=$(now)
	nc -d 127.0.0.1 "$port" >/dev/null
	t1=$(now)
	wait "$sfpid" || true
	dl_s="$dl_s $(rate "$t0" "$t1")"
	echo "run $run: upload MB/s multid $(echo "$up_m" | awk '{ print $NF }')" \
	    "nc+sync $(echo "$up_n" | awk '{ print $NF }')" \
	    "nc+sha256sum+sync $(echo "$up_h" | awk '{ print $NF }');" \
	    "download MB/s multid $(echo "$dl_m" | awk '{ print $NF }')" \
	    "nc $(echo "$dl_n" | awk '{ print $NF }')" \
	    "sendfile $(echo "$dl_s" | awk '{ print $NF }')"
done

# CONC concurrent uploads of 10 MB: every answer checked, peak RSS of the
# daemon (VmHWM of a fresh one would include the start; this one has run
# the figures above, so the peak is sampled while the uploads run).
conc_out=$("$PYTHON" - "$conc" "$CONC" "$mpid" <<'PY'
import hashlib, os, socket, sys, threading, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
blob = os.urandom(10 << 20)
want = "%d %s" % (len(blob), hashlib.sha256(blob).hexdigest())
ok = [False] * n
def rss():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
def one(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    view = memoryview(blob)
    for off in range(0, len(blob), 1 << 16):
        s.sendall(view[off:off + (1 << 16)])
    s.shutdown(socket.SHUT_WR)
    answer = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    ok[i] = answer.decode().startswith("OK ") and want in answer.decode()
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
t0 = time.time()
for t in threads:
    t.start()
peak = rss()
while any(t.is_alive() for t in threads):
    peak = max(peak, rss())
    time.sleep(0.01)
print("ok=%d peak_kb=%d secs=%.2f" % (sum(ok), peak, time.time() - t0))
PY
)
echo "concurrent: $conc_out"
rm -rf "$dir/conc"
conc_ok=$(echo "$conc_out" | sed -n 's/.*ok=\([0-9]*\).*/\1/p')
peak_mb=$(echo "$conc_out" | sed -n 's/.*peak_kb=\([0-9]*\).*/\1/p' | awk '{ printf "%.1f", $1 / 1024 }')

um=$(echo "$up_m" | median); un=$(echo "$up_n" | median); uh=$(echo "$up_h" | median)
dm=$(echo "$dl_m" | median); dn=$(echo "$dl_n" | median); ds=$(echo "$dl_s" | median)
r=$(ratio "$um" "$un")
rh=$(ratio "$um" "$uh")
m=$(met "$r" 0.8)
if [ "$m" = no ] && [ "$(met "$rh" 0.8)" = yes ]; then
	m="no; ${rh}x nc + sha256sum"
fi
echo "ROW|files ${SIZE_MB} MiB upload, answered after sync (MB/s)|$um|$un nc -l + sync|$r|>= 0.8|$m"
echo "ROW|  the same against nc -l + sha256sum + sync (MB/s)|$um|$uh nc + sha256sum|$rh|-|-"
r=$(ratio "$dm" "$dn")
rs=$(ratio "$dm" "$ds")
m=$(met "$r" 0.95)
if [ "$m" = no ] && [ "$(met "$rs" 0.95)" = yes ]; then
	m="bound: sendfile ${rs}x"
fi
echo "ROW|files ${SIZE_MB} MiB download, sendfile (MB/s)|$dm|$dn nc -l < file|$r|>= 0.95|$m"
echo "ROW|  the same from a bare sendfile loop (MB/s)|$dm|$ds sendfile loop|$rs|-|-"
echo "ROW|files $CONC concurrent 10 MB uploads, peak RSS (MB)|$peak_mb|-|-|< 64, all correct|$(awk -v m="$peak_mb" -v ok="$conc_ok" -v n="$CONC" -v b="$bad" 'BEGIN { print (m < 64 && ok == n && b == 0 ? "yes" : "no (" ok "/" n " correct)") }')"
