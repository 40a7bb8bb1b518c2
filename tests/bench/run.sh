#!/usr/bin/env bash
# run.sh - multid against real peers on this machine, as `make bench` runs it.
#
#   bash tests/bench/run.sh [--runs N] [--secs S] [--only LIST]
#
#   --runs N    runs of every figure for each side (default 3; median)
#   --secs S    measured seconds per run (default 5; plus 1 s warm-up)
#   --only LIST comma-separated groups: echo,course,udp,connrate,http,https,chat,
#               idle,log,bank,cluster,tftp,irc,mail,files (default: all)
#
# Every figure is measured back to back, multid then the peer, RUNS times
# (A B A B ...), and the medians are compared, because a shared machine is
# noisy.  The load generators are build/bench/* (make bench compiles them).
# multid gets a private configuration with ":0" ports; each peer gets a
# private configuration in the same temporary directory, on 127.0.0.1.
#
# Peers: mini_echo (tests/bench/mini_echo.c, the one-thread epoll limit
# for echo, and an accept-send-close daytime for the connection rate),
# xinetd (internal daytime), nginx (1 worker, sendfile, access_log off,
# autoindex), `ncat --broker --chat`, and, through tests/bench/log.sh,
# rsyslog.  A missing peer is skipped with a line saying so.
#
# tests/bench/bank.sh and tests/bench/log.sh, when present, are run RUNS
# times too: bank.sh's "multid clients=64 ... tx_per_s=N" and "baseline
# ... tx_per_s=N" lines and log.sh's "NAME rate=R/s ... loss=X%" lines
# become rows here, and any line of theirs of the form
#     ROW|workload|multid|peer|ratio|target|met
# becomes a row as it is.
#
# Output: progress on stderr, the table on stdout; the table (markdown)
# and every run's raw line go to build/bench/results.md and bench.log.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MULTID=${MULTID:-$ROOT/build/multid}
BIN=$ROOT/build/bench
RUNS=3
SECS=5
WARM=1
ONLY=all
PYTHON=${PYTHON:-python3}
LIMIT_S=${BENCH_LIMIT_S:-2700}  # stop starting workloads after 45 minutes
export PATH="$PATH:/usr/sbin:/sbin"

while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--secs) SECS=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	*) echo "usage: $0 [--runs N] [--secs S] [--only LIST]" >&2; exit 2 ;;
	esac
done

T_START=$(date +%s)
TMP=$(mktemp -d /tmp/multid-bench.XXXXXX)
chmod 755 "$TMP"                # nginx's worker runs as nobody
LOG=$BIN/bench.log
RESULTS=$BIN/results.md
PIDS=()
mkdir -p "$BIN"
: >"$LOG"

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; echo "# $*" >>"$LOG"; }
want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }
time_left() {
	if [ $(( $(date +%s) - T_START )) -ge "$LIMIT_S" ]; then
		say "time limit reached: skipping $1"
		return 1
	fi
}
free_port() {
	$PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits until a TCP port accepts connections (5 s at most).
wait_port() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
. tests/bench/lib.sh    # listen_port, wait_listen_port
# Value of KEY=... in a result line.
field() { sed -n "s/.*\\b$1=\\([-0-9.]*\\).*/\\1/p" <<<"$2" | head -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
	if (NR == 0) print "";
	else if (NR % 2) print v[(NR + 1) / 2];
	else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { print s + 0 }'; }
# Stops one process we started, by its PID.
stop_pid() {
	kill "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# --- the table ---------------------------------------------------------
ROWS=()
# row WORKLOAD MULTID PEER RATIO TARGET MET
row() {
	local IFS='|'
	ROWS+=("$*")
	printf '%s\n' "ROW $*" >>"$LOG"
}
fmt() {   # a number for the table: 1234567 -> 1,234,567; 0.1234 -> 0.123
	local v=$1
	[ -z "$v" ] && { echo "-"; return; }
	awk -v v="$v" 'BEGIN {
		if (v >= 1000) {
			s = sprintf("%.0f", v); o = "";
			while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
			print s o
		} else if (v >= 100) printf "%.0f\n", v;
		else if (v >= 10) printf "%.1f\n", v;
		else printf "%.3g\n", v }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f\n", a / b }'; }
# ge A B: whether A >= B (numbers); empty A is no.
ge() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
yesno() { if "$@"; then echo yes; else echo NO; fi; }

# ab KEY NAME CMD_1 [-- CMD_2 ...]: runs the commands in turn RUNS times,
# and sets MED_n to the median of KEY of command n, ALL_n to every run's
# result line, ERR_n to the sum of errors.
ab() {
	local key=$1 name=$2 i k out v e
	shift 2
	local -a cmds=() cur=()
	local arg
	for arg in "$@"; do
		if [ "$arg" = -- ]; then
			cmds+=("${cur[*]}")
			cur=()
		else
			cur+=("$arg")
		fi
	done
	cmds+=("${cur[*]}")
	local -a vals=()
	for k in "${!cmds[@]}"; do
		echo "$name [$((k + 1))] command: ${cmds[$k]}" >>"$LOG"
		declare -g "ALL_$((k + 1))=" "ERR_$((k + 1))=0"
		vals[k]=""
	done
	for i in $(seq "$RUNS"); do
		for k in "${!cmds[@]}"; do
			out=$(eval "${cmds[$k]}" 2>>"$LOG" | tail -1)
			echo "$name [$((k + 1))] run $i: $out" >>"$LOG"
			v=$(field "$key" "$out")
			e=$(field errors "$out")
			vals[k]+="$v "
			declare -g "ALL_$((k + 1))+=$out"$'\n'
			declare -g "ERR_$((k + 1))=$(( ERR_$((k + 1)) + ${e:-1} ))"
		done
	done
	for k in "${!cmds[@]}"; do
		# shellcheck disable=SC2086 # the runs' values, one word each
		declare -g "MED_$((k + 1))=$(median ${vals[k]})"
	done
}
# The median of KEY over the result lines in $1.
med_of() {
	local line
	local -a v=()
	while IFS= read -r line; do
		[ -n "$line" ] && v+=("$(field "$2" "$line")")
	done <<<"$1"
	median "${v[@]+"${v[@]}"}"
}
sum_of() {
	local line
	local -a v=()
	while IFS= read -r line; do
		[ -n "$line" ] && v+=("$(field "$2" "$line")")
	done <<<"$1"
	sum "${v[@]+"${v[@]}"}"
}
errnote() {   # " (N errors)" when a side had verification errors
	[ "${1:-0}" -gt 0 ] && echo " ($1 errors)"
}

# --- multid --------------------------------------------------------------
if [ ! -x "$MULTID" ]; then
	say "building multid"
	make -s all >&2 || { say "multid does not build"; exit 1; }
fi
for b in echo_bench connrate_bench chat_bench idle_bench mini_echo; do
	[ -x "$BIN/$b" ] || { say "$BIN/$b missing: run make bench"; exit 1; }
done

# Test files served by both multid and nginx.
WWW=$TMP/www
mkdir -p "$WWW/dir100"
chmod 755 "$WWW" "$WWW/dir100"
head -c 1024 /dev/urandom >"$WWW/1k.bin"
head -c 1048576 /dev/urandom >"$WWW/1m.bin"
printf 'Sun Nov 22 10:15:30 2026\r\n' >"$WWW/tiny.txt"
for i in $(seq -w 1 100); do echo "file $i" >"$WWW/dir100/file-$i.txt"; done
chmod 644 "$WWW"/*.* "$WWW"/dir100/*

# Services whose type this build knows (multid -t), added one by one.
MCONF=$TMP/multid.conf
svc_echo='{ name = "echo"; type = "echo"; listen = ( "tcp://127.0.0.1:0", "udp://127.0.0.1:0" ); }'
svc_daytime='{ name = "daytime"; type = "daytime"; listen = ( "tcp://127.0.0.1:0" ); }'
svc_time='{ name = "time"; type = "time"; listen = ( "tcp://127.0.0.1:0" ); }'
svc_chat='{ name = "chat"; type = "chat"; listen = ( "tcp://127.0.0.1:0" ); }'
# One ECDSA P-256 certificate for multid's and nginx's https.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 30 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 644 "$TMP/key.pem" "$TMP/cert.pem"
svc_http="{ name = \"http\"; type = \"http\"; listen = ( \"tcp://127.0.0.1:0\", \"tls://127.0.0.1:0\" ); root = \"$WWW\"; tls_certificate = \"$TMP/cert.pem\"; tls_key = \"$TMP/key.pem\"; }"
# The course protocols beside the default ones (a service each, so that
# listen_port tells their sockets apart).
svc_course='{ name = "echoc"; type = "echo"; listen = ( { address = "tcp://127.0.0.1:0"; protocol = "course"; } ); },
  { name = "upper"; type = "transform"; op = "upper"; listen = ( "tcp://127.0.0.1:0" ); },
  { name = "upperc"; type = "transform"; op = "upper"; listen = ( { address = "tcp://127.0.0.1:0"; protocol = "course"; } ); }'
write_conf() {   # write_conf FILE SERVICE...
	local f=$1 first=1 s
	shift
	{
		echo 'daemon = { max_connections = 20000; log_level = "warning"; };'
		echo 'services = ('
		for s in "$@"; do
			[ $first = 1 ] || echo ','
			first=0
			echo "  $s"
		done
		echo ');'
	} >"$f"
}
SERVICES=("$svc_echo" "$svc_daytime" "$svc_time")
for s in chat http course; do
	var=svc_$s
	write_conf "$TMP/probe.conf" "${!var}"
	if "$MULTID" -t -c "$TMP/probe.conf" >/dev/null 2>"$TMP/probe.err"; then
		SERVICES+=("${!var}")
	else
		say "multid has no usable $s service: $(head -1 "$TMP/probe.err")"
	fi
done
write_conf "$MCONF" "${SERVICES[@]}"
"$MULTID" -c "$MCONF" 2>"$TMP/multid.err" &
MPID=$!
PIDS+=("$MPID")
wait_listen_port "$TMP/multid.err" time tcp >/dev/null
M_ECHO=$(listen_port "$TMP/multid.err" echo tcp)
M_UECHO=$(listen_port "$TMP/multid.err" echo udp)
M_DAYTIME=$(listen_port "$TMP/multid.err" daytime tcp)
M_TIME=$(listen_port "$TMP/multid.err" time tcp)
M_CHAT=$(listen_port "$TMP/multid.err" chat tcp)
M_HTTP=$(listen_port "$TMP/multid.err" http tcp)
M_HTTPS=$(listen_port "$TMP/multid.err" http tls)
M_ECHOC=$(listen_port "$TMP/multid.err" echoc tcp)
M_UPPER=$(listen_port "$TMP/multid.err" upper tcp)
M_UPPERC=$(listen_port "$TMP/multid.err" upperc tcp)
if [ -z "$M_ECHO" ] || ! kill -0 "$MPID" 2>/dev/null; then
	cat "$TMP/multid.err" >&2
	say "multid did not start"
	exit 1
fi
say "multid $("$MULTID" -V 2>&1) pid $MPID: echo $M_ECHO/tcp $M_UECHO/udp, daytime $M_DAYTIME, time $M_TIME, chat ${M_CHAT:--}, http ${M_HTTP:--}"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# --- peers -----------------------------------------------------------------
"$BIN/mini_echo" -p 0 2>"$TMP/mini.err" &
EPID=$!
PIDS+=("$EPID")
wait_listen_port "$TMP/mini.err" mini_echo daytime >/dev/null   # its last line
E_ECHO=$(listen_port "$TMP/mini.err" mini_echo tcp)
E_UECHO=$(listen_port "$TMP/mini.err" mini_echo udp)
E_DAYTIME=$(listen_port "$TMP/mini.err" mini_echo daytime)

X_DAYTIME=""
if command -v xinetd >/dev/null 2>&1; then
	X_DAYTIME=$(free_port)
	cat >"$TMP/xinetd.conf" <<EOF
defaults
{
	instances      = UNLIMITED
	cps            = 1000000 1
	per_source     = UNLIMITED
	log_type       = FILE $TMP/xinetd.log
	log_on_success =
	log_on_failure =
}
service daytime
{
	type        = INTERNAL UNLISTED
	id          = daytime-stream
	socket_type = stream
	protocol    = tcp
	wait        = no
	user        = root
	bind        = 127.0.0.1
	port        = $X_DAYTIME
}
EOF
	xinetd -f "$TMP/xinetd.conf" -dontfork -pidfile "$TMP/xinetd.pid" \
	    2>"$TMP/xinetd.err" &
	XPID=$!
	PIDS+=("$XPID")
	wait_port "$X_DAYTIME" || { say "xinetd did not start: $(head -3 "$TMP/xinetd.err")"; X_DAYTIME=""; }
else
	say "xinetd not installed (make bench-deps): its rows are skipped"
fi

N_HTTP=""
N_HTTPS=""
if command -v nginx >/dev/null 2>&1; then
	N_HTTP=$(free_port)
	N_HTTPS=$(free_port)
	mkdir -p "$TMP/nginx"
	cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 16384; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	sendfile on;
	keepalive_requests 1000000;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen 127.0.0.1:$N_HTTP;
		root $WWW;
		autoindex on;
	}
	server {
		listen 127.0.0.1:$N_HTTPS ssl;
		ssl_certificate $TMP/cert.pem;
		ssl_certificate_key $TMP/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_session_tickets on;
		root $WWW;
	}
}
EOF
	nginx -c "$TMP/nginx.conf" -e "$TMP/nginx/error.log" 2>"$TMP/nginx.err" &
	NPID=$!
	PIDS+=("$NPID")
	wait_port "$N_HTTP" || { say "nginx did not start: $(head -3 "$TMP/nginx.err")"; N_HTTP=""; }
else
	say "nginx not installed (make bench-deps): its rows are skipped"
fi

HAVE_NCAT=0
command -v ncat >/dev/null 2>&1 && HAVE_NCAT=1
[ $HAVE_NCAT = 1 ] || say "ncat not installed (make bench-deps): chat has no peer"

# ncat's broker exits when many clients leave at once, so every run gets
# a fresh one.  Prints chat_bench's line.
NCAT_PORT=""
ncat_chat() {
	local port pid out
	port=$(free_port)
	timeout $((SECS * 3 + 60)) ncat --broker --chat --max-conns 2000 \
	    -l 127.0.0.1 "$port" \
	    </dev/null >/dev/null 2>>"$LOG" &
	pid=$!
	PIDS+=("$pid")
	if ! wait_port "$port"; then
		echo "errors=1"
		stop_pid "$pid"
		return
	fi
	sleep 0.2           # the probe connection's announcement passes
	out=$(timeout 60 "$BIN/chat_bench" -p ncat -a "127.0.0.1:$port" "$@")
	echo "$out"
	stop_pid "$pid"
}

TO="timeout $((SECS * 3 + 30))"
W="-t $SECS -w $WARM"

# --- TCP echo ------------------------------------------------------------
if want echo && time_left "TCP echo"; then
	for depth in 16 1; do
		say "TCP echo, 50 connections, pipeline $depth, 64 B: multid / mini_echo"
		ab msgs_s "echo-p$depth" \
		    $TO "$BIN/echo_bench" -a "127.0.0.1:$M_ECHO" -c 50 -d $depth -s 64 $W -- \
		    $TO "$BIN/echo_bench" -a "127.0.0.1:$E_ECHO" -c 50 -d $depth -s 64 $W
		r=$(ratio "$MED_1" "$MED_2")
		row "TCP echo 50 conns pipeline $depth 64 B (msg/s)$(errnote $ERR_1)" \
		    "$(fmt "$MED_1")" "$(fmt "$MED_2") mini_echo$(errnote $ERR_2)" "$r" \
		    ">= 0.9" "$(yesno ge "$r" 0.9)"
		row "  p99 latency (us)" "$(fmt "$(med_of "$ALL_1" p99_us)")" \
		    "$(fmt "$(med_of "$ALL_2" p99_us)")" \
		    "$(ratio "$(med_of "$ALL_1" p99_us)" "$(med_of "$ALL_2" p99_us)")" "-" "-"
	done
fi

# --- The course protocols against the default ones, both multid -----------
# Lines of 64 bytes, 50 connections, pipeline 16: the course's echo (lines
# split at LF, each echoed with its ending) against the plain byte echo,
# and transform upper in the course's framing against the line protocol.
if want course && [ -n "$M_ECHOC" ] && time_left "course protocols"; then
	say "course echo / echo, 50 connections, pipeline 16, 64 B lines"
	ab msgs_s "course-echo" \
	    $TO "$BIN/echo_bench" -a "127.0.0.1:$M_ECHOC" -L echo -c 50 -d 16 -s 64 $W -- \
	    $TO "$BIN/echo_bench" -a "127.0.0.1:$M_ECHO" -L echo -c 50 -d 16 -s 64 $W
	r=$(ratio "$MED_1" "$MED_2")
	row "course echo vs echo, 64 B lines, p16 (msg/s)$(errnote $ERR_1)" \
	    "$(fmt "$MED_1")" "$(fmt "$MED_2") echo$(errnote $ERR_2)" "$r" \
	    ">= 0.9" "$(yesno ge "$r" 0.9)"
	say "course transform upper / line transform upper, same load"
	ab msgs_s "course-upper" \
	    $TO "$BIN/echo_bench" -a "127.0.0.1:$M_UPPERC" -L upper -c 50 -d 16 -s 64 $W -- \
	    $TO "$BIN/echo_bench" -a "127.0.0.1:$M_UPPER" -L upper-crlf -c 50 -d 16 -s 64 $W
	r=$(ratio "$MED_1" "$MED_2")
	row "course transform vs line transform, 64 B lines, p16 (msg/s)$(errnote $ERR_1)" \
	    "$(fmt "$MED_1")" "$(fmt "$MED_2") line$(errnote $ERR_2)" "$r" \
	    ">= 0.9" "$(yesno ge "$r" 0.9)"
fi

# --- UDP echo ------------------------------------------------------------
if want udp && time_left "UDP echo"; then
	say "UDP echo, 50 sockets, pipeline 16, 64 B: multid / mini_echo"
	ab msgs_s "udp-echo" \
	    $TO "$BIN/echo_bench" -u -a "127.0.0.1:$M_UECHO" -c 50 -d 16 -s 64 $W -- \
	    $TO "$BIN/echo_bench" -u -a "127.0.0.1:$E_UECHO" -c 50 -d 16 -s 64 $W
	r=$(ratio "$MED_1" "$MED_2")
	row "UDP echo 50 sockets pipeline 16 64 B (msg/s)$(errnote $ERR_1)" \
	    "$(fmt "$MED_1")" "$(fmt "$MED_2") mini_echo$(errnote $ERR_2)" "$r" \
	    ">= 0.9" "$(yesno ge "$r" 0.9)"
	l1=$(med_of "$ALL_1" loss_pct)
	l2=$(med_of "$ALL_2" loss_pct)
	row "  loss (%)" "$(fmt "$l1")" "$(fmt "$l2")" "$(ratio "$l1" "$l2")" \
	    "<= peer" "$(yesno le "$l1" "$l2")"
fi

# --- connection rate -----------------------------------------------------
# CPU ticks a process and its children (nginx's worker) have used.
cpu_ticks() {
	local pid t=0 x
	for pid in "$1" $(pgrep -P "$1"); do
		x=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null)
		t=$((t + ${x:-0}))
	done
	echo "$t"
}
# with_cpu PID CMD...: CMD's line plus the server's CPU time per
# connection (all connections, the warm-up's too), srv_us.  The load
# generator fills one CPU by itself at these rates, so the connection
# rate alone says little about the server's own cost.
with_cpu() {
	local pid=$1 a b out
	shift
	a=$(cpu_ticks "$pid")
	out=$("$@" | tail -1)
	b=$(cpu_ticks "$pid")
	echo "$out $(awk -v t=$((b - a)) -v hz="$(getconf CLK_TCK)" -v n="$(field total "$out")" \
	    'BEGIN { if (n > 0) printf "srv_us=%.1f", t * 1e6 / hz / n }')"
}

if want connrate && time_left "connection rate"; then
	cmds=(with_cpu $MPID $TO "$BIN/connrate_bench" -a "127.0.0.1:$M_DAYTIME" -m daytime -c 10 $W)
	names="multid"
	if [ -n "$X_DAYTIME" ]; then
		cmds+=(-- with_cpu $XPID $TO "$BIN/connrate_bench" -a "127.0.0.1:$X_DAYTIME" -m daytime -c 10 $W)
		names+=" / xinetd"
	fi
	if [ -n "$N_HTTP" ]; then
		cmds+=(-- with_cpu $NPID $TO "$BIN/connrate_bench" -a "127.0.0.1:$N_HTTP" -m http -P /tiny.txt -c 10 $W)
		names+=" / nginx HTTP/1.0 tiny file"
	fi
	# The yardstick of the rate itself: accept, one send, close.
	cmds+=(-- with_cpu $EPID $TO "$BIN/connrate_bench" -a "127.0.0.1:$E_DAYTIME" -m daytime -c 10 $W)
	names+=" / mini_echo's daytime"
	say "daytime, 10 concurrent connections: $names"
	ab conn_s daytime "${cmds[@]}"
	kmin=$(( 2 + $([ -n "$X_DAYTIME" ] && echo 1 || echo 0) + $([ -n "$N_HTTP" ] && echo 1 || echo 0) ))
	k=2
	if [ -n "$X_DAYTIME" ]; then
		r=$(ratio "$MED_1" "$MED_2")
		met=$(yesno ge "$r" 1.3)
		# When even accept-send-close misses the ratio, the load
		# generator is the bound (its row follows).
		medmin=MED_$kmin
		[ "$met" = NO ] && ! ge "$(ratio "${!medmin}" "$MED_2")" 1.3 &&
			met="bound: mini_echo $(ratio "${!medmin}" "$MED_2")x"
		row "daytime 10 concurrent (conn/s)$(errnote $ERR_1)" "$(fmt "$MED_1")" \
		    "$(fmt "$MED_2") xinetd$(errnote $ERR_2)" "$r" ">= 1.3" "$met"
		s1=$(med_of "$ALL_1" srv_us)
		s2=$(med_of "$ALL_2" srv_us)
		row "  server CPU per connection (us)" "$(fmt "$s1")" "$(fmt "$s2") xinetd" \
		    "$(ratio "$s1" "$s2")" "-" "-"
		k=3
	else
		row "daytime 10 concurrent (conn/s)" "$(fmt "$MED_1")" "xinetd missing" "-" ">= 1.3" "skipped"
	fi
	if [ -n "$N_HTTP" ]; then
		med=MED_$k err=ERR_$k
		r=$(ratio "$MED_1" "${!med}")
		row "daytime vs HTTP/1.0 GET tiny file (conn/s)" "$(fmt "$MED_1")" \
		    "$(fmt "${!med}") nginx$(errnote ${!err})" "$r" ">= 1.05" "$(yesno ge "$r" 1.05)"
		all=ALL_$k
		s3=$(med_of "${!all}" srv_us)
		row "  server CPU per connection (us)" "$(fmt "$(med_of "$ALL_1" srv_us)")" "$(fmt "$s3") nginx" \
		    "$(ratio "$(med_of "$ALL_1" srv_us)" "$s3")" "-" "-"
	else
		row "daytime vs HTTP/1.0 GET tiny file (conn/s)" "$(fmt "$MED_1")" "nginx missing" "-" ">= 1.05" "skipped"
	fi
	med=MED_$kmin all=ALL_$kmin
	row "  accept-send-close server (conn/s)" "$(fmt "$MED_1")" "$(fmt "${!med}") mini_echo" \
	    "$(ratio "$MED_1" "${!med}")" "-" "-"
	row "  server CPU per connection (us)" "$(fmt "$(med_of "$ALL_1" srv_us)")" \
	    "$(fmt "$(med_of "${!all}" srv_us)") mini_echo" \
	    "$(ratio "$(med_of "$ALL_1" srv_us)" "$(med_of "${!all}" srv_us)")" "-" "-"
	say "time, 10 concurrent connections: multid"
	ab conn_s time $TO "$BIN/connrate_bench" -a "127.0.0.1:$M_TIME" -m time -c 10 $W
	row "time 10 concurrent (conn/s)$(errnote $ERR_1)" "$(fmt "$MED_1")" "-" "-" "-" "-"
fi

# --- HTTP (wrk) ----------------------------------------------------------
# Prints "req_s=... mb_s=... errors=..." from wrk's report; errors are
# socket errors plus non-2xx/3xx answers.
wrk_run() {
	local url=$1 out rps tr err=0 n
	out=$(timeout $((SECS + 20)) wrk -t1 -c50 -d"${SECS}s" "$url" 2>&1)
	echo "$out" | sed 's/^/    wrk: /' >>"$LOG"
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
	tr=$(sed -n 's/^Transfer\/sec: *\([0-9.]*\)\([KMG]\)B.*/\1 \2/p' <<<"$out" |
	    awk '{ m = $2 == "G" ? 1024 : $2 == "M" ? 1 : 1 / 1024; printf "%.1f", $1 * m }')
	n=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
	err=$((err + ${n:-0}))
	n=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' <<<"$out" |
	    awk '{ print $1 + $2 + $3 + $4 }')
	err=$((err + ${n:-0}))
	[ -z "$rps" ] && err=$((err + 1))
	echo "req_s=${rps:-0} mb_s=${tr:-0} errors=$err"
}
# Whether multid and nginx give the same bytes for a path.
same_body() {
	curl -sf -o "$TMP/a.body" "http://127.0.0.1:$M_HTTP$1" &&
	    curl -sf -o "$TMP/b.body" "http://127.0.0.1:$N_HTTP$1" &&
	    cmp -s "$TMP/a.body" "$TMP/b.body"
}
if want http && time_left "HTTP"; then
	if ! command -v wrk >/dev/null 2>&1; then
		say "wrk not installed (make bench-deps): HTTP rows skipped"
		row "HTTP (wrk)" "-" "wrk missing" "-" "-" "skipped"
	elif [ -z "$M_HTTP" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$M_HTTP/1k.bin")" != 200 ]; then
		say "multid's http service does not serve files: HTTP rows skipped"
		row "HTTP (wrk)" "no http service" "-" "-" "-" "skipped"
	elif [ -z "$N_HTTP" ]; then
		row "HTTP (wrk)" "-" "nginx missing" "-" "-" "skipped"
	else
		same_body /1k.bin || say "warning: multid and nginx serve different bytes for /1k.bin"
		same_body /1m.bin || say "warning: multid and nginx serve different bytes for /1m.bin"
		for spec in "1k.bin|1 KiB file|1.0" "1m.bin|1 MiB file|0.95" "dir100/|autoindex 100 entries|3"; do
			IFS='|' read -r path label target <<<"$spec"
			say "HTTP $label, wrk -t1 -c50: multid / nginx"
			ab req_s "http-$path" wrk_run "http://127.0.0.1:$M_HTTP/$path" -- \
			    wrk_run "http://127.0.0.1:$N_HTTP/$path"
			r=$(ratio "$MED_1" "$MED_2")
			row "HTTP $label wrk -t1 -c50 (req/s)$(errnote $ERR_1)" "$(fmt "$MED_1")" \
			    "$(fmt "$MED_2") nginx$(errnote $ERR_2)" "$r" ">= $target" "$(yesno ge "$r" "$target")"
			if [ "$path" = 1m.bin ]; then
				row "  MiB/s" "$(fmt "$(med_of "$ALL_1" mb_s)")" "$(fmt "$(med_of "$ALL_2" mb_s)")" \
				    "$(ratio "$(med_of "$ALL_1" mb_s)" "$(med_of "$ALL_2" mb_s)")" "-" "-"
			fi
		done
	fi
fi

# --- HTTPS (wrk, openssl s_time, idle TLS connections) --------------------
# Same files, key and certificate for both; nginx with 1 worker and its
# own TLS defaults.  kTLS: neither uses it unless the kernel has the tls
# module loaded (/proc/sys/net/ipv4/tcp_available_ulp lists "tls").
stime_run() {      # full handshakes (no resumption) per second
	local out n t
	out=$(timeout $((SECS + 20)) openssl s_time -connect "$1" -new \
	    -time "$SECS" -CAfile "$TMP/cert.pem" 2>&1)
	echo "$out" | sed 's/^/    s_time: /' >>"$LOG"
	read -r n t <<<"$(sed -n 's/^\([0-9]*\) connections in \([0-9.]*\)s;.*/\1 \2/p' <<<"$out" | head -1)"
	if [ -n "$n" ] && [ -n "$t" ]; then
		echo "conn_s=$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%.0f", n / t }') errors=0"
	else
		echo "conn_s=0 errors=1"
	fi
}
if want https && time_left "HTTPS"; then
	ktls=$(grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null && echo on || echo "off (no tls ULP)")
	if [ -z "$M_HTTPS" ] || [ -z "$N_HTTPS" ] || ! command -v wrk >/dev/null 2>&1; then
		row "HTTPS" "${M_HTTPS:-no tls listener}" "${N_HTTPS:-nginx missing}" "-" "-" "skipped"
	else
		for spec in "1k.bin|1 KiB file|1.0" "1m.bin|1 MiB file|0.95"; do
			IFS='|' read -r path label target <<<"$spec"
			say "HTTPS $label, wrk -t1 -c50 keep-alive: multid / nginx (kTLS $ktls)"
			ab req_s "https-$path" wrk_run "https://127.0.0.1:$M_HTTPS/$path" -- \
			    wrk_run "https://127.0.0.1:$N_HTTPS/$path"
			r=$(ratio "$MED_1" "$MED_2")
			row "HTTPS $label wrk -t1 -c50 (req/s, kTLS $ktls)$(errnote $ERR_1)" "$(fmt "$MED_1")" \
			    "$(fmt "$MED_2") nginx$(errnote $ERR_2)" "$r" ">= $target" "$(yesno ge "$r" "$target")"
		done
		say "TLS 1.3 full handshakes (ECDSA P-256), openssl s_time -new: multid / nginx"
		ab conn_s "tls-handshakes" stime_run "127.0.0.1:$M_HTTPS" -- stime_run "127.0.0.1:$N_HTTPS"
		r=$(ratio "$MED_1" "$MED_2")
		row "TLS 1.3 full handshakes/s, s_time -new$(errnote $ERR_1)" "$(fmt "$MED_1")" \
		    "$(fmt "$MED_2") nginx$(errnote $ERR_2)" "$r" ">= 0.95" "$(yesno ge "$r" 0.95)"
		say "10,000 idle TLS connections: memory per connection, multid / nginx"
		mi=$(timeout 300 $PYTHON tests/bench/tls_idle.py -a "127.0.0.1:$M_HTTPS" -p "$MPID" -n 10000 -c "$TMP/cert.pem" 2>>"$LOG")
		ni=$(timeout 300 $PYTHON tests/bench/tls_idle.py -a "127.0.0.1:$N_HTTPS" -p "$NPID" -n 10000 -c "$TMP/cert.pem" 2>>"$LOG")
		echo "tls-idle multid: $mi" >>"$LOG"
		echo "tls-idle nginx: $ni" >>"$LOG"
		mk=$(field kb_per_conn "$mi")
		nk=$(field kb_per_conn "$ni")
		r=$(ratio "$mk" "$nk")
		row "10,000 idle TLS connections, KiB each$(errnote "$(field errors "$mi")")" \
		    "$(fmt "$mk")" "$(fmt "$nk") nginx$(errnote "$(field errors "$ni")")" "$r" "<= 1.0" "$(yesno le "$r" 1.0)"
	fi
fi

# --- chat ----------------------------------------------------------------
if want chat && time_left "chat"; then
	if [ -z "$M_CHAT" ]; then
		row "chat" "no chat service" "-" "-" "-" "skipped"
	else
		CB="$TO $BIN/chat_bench -a 127.0.0.1:$M_CHAT -n 100 -S 10 $W"
		if [ $HAVE_NCAT = 1 ]; then
			say "chat, 100 clients, 10 senders, paced 10,000 msg/s: multid / ncat"
			ab p99_us chat-paced $CB -r 10000 -- ncat_chat -n 100 -S 10 -r 10000 $W
		else
			say "chat, 100 clients, 10 senders, paced 10,000 msg/s: multid"
			ab p99_us chat-paced $CB -r 10000
		fi
		lost=$(sum_of "$ALL_1" lost)
		garb=$(sum_of "$ALL_1" garbled)
		r=$(ratio "$MED_1" "$MED_2")
		met=NO
		if [ -n "$MED_2" ]; then
			le "$r" 0.25 && [ "$lost" = 0 ] && [ "$garb" = 0 ] && met=yes
		else
			met=skipped
		fi
		row "chat 100 clients 10 senders 10k msg/s p99 (us)$(errnote $ERR_1)" \
		    "$(fmt "$MED_1")" "$(fmt "$MED_2") ncat$(errnote $ERR_2)" "$r" "<= 0.25, 0 lost" "$met"
		row "  lost / garbled (all runs)" "$lost / $garb" \
		    "$( [ -n "$MED_2" ] && echo "$(sum_of "$ALL_2" lost) / $(sum_of "$ALL_2" garbled)")" "-" "0 / 0" \
		    "$(yesno [ "$lost$garb" = 00 ])"
		row "  p50 (us)" "$(fmt "$(med_of "$ALL_1" p50_us)")" "$(fmt "$(med_of "$ALL_2" p50_us)")" \
		    "$(ratio "$(med_of "$ALL_1" p50_us)" "$(med_of "$ALL_2" p50_us)")" "-" "-"

		if [ $HAVE_NCAT = 1 ]; then
			say "chat unpaced, 100 clients, 10 senders: multid / ncat"
			ab deliveries_s chat-unpaced $CB -r 0 -- ncat_chat -n 100 -S 10 -r 0 $W
		else
			say "chat unpaced, 100 clients, 10 senders: multid"
			ab deliveries_s chat-unpaced $CB -r 0
		fi
		lost=$(sum_of "$ALL_1" lost)
		garb=$(sum_of "$ALL_1" garbled)
		met=NO
		ge "$MED_1" 5000000 && [ "$lost" = 0 ] && [ "$garb" = 0 ] && [ "$ERR_1" = 0 ] && met=yes
		row "chat unpaced deliveries/s$(errnote $ERR_1)" "$(fmt "$MED_1")" \
		    "$(fmt "$MED_2")$( [ -n "$MED_2" ] && echo " ncat$(errnote $ERR_2)")" \
		    "$(ratio "$MED_1" "$MED_2")" ">= 5,000,000, 0 lost, 0 garbled" "$met"
		row "  lost / garbled (all runs)" "$lost / $garb" \
		    "$( [ -n "$MED_2" ] && echo "$(sum_of "$ALL_2" lost) / $(sum_of "$ALL_2" garbled)")" "-" "0 / 0" \
		    "$(yesno [ "$lost$garb" = 00 ])"

		# The parameters of an outside generator: a fixed 20,000 messages
		# of 40 bytes, every delivery counted from the first message sent
		# to the last one received (no warm-up left out).  The CPU seconds
		# of multid and of the generator show which of the two bounds it.
		say "chat 20,000 messages of 40 B, 100 clients, 10 senders, all counted: multid"
		ab deliveries_s chat-count $TO $BIN/chat_bench -a 127.0.0.1:$M_CHAT \
		    -n 100 -S 10 -N 20000 -L 40 -P $MPID
		lost=$(sum_of "$ALL_1" lost)
		garb=$(sum_of "$ALL_1" garbled)
		row "chat 20,000 msgs of 40 B, all counted (deliveries/s)$(errnote $ERR_1)" \
		    "$(fmt "$MED_1")" "-" "-" "0 lost, 0 garbled" \
		    "$(yesno [ "$lost$garb$ERR_1" = 000 ])"
		row "  CPU s, multid / generator" "$(med_of "$ALL_1" server_cpu_s) / $(med_of "$ALL_1" bench_cpu_s)" \
		    "-" "-" "-" "-"
	fi
fi

# --- chat, a room of both protocols -----------------------------------------
# A multid of its own, with a course listener and metrics: 55 line and 45
# course receivers in one room, and the chat's counters say how many
# renders each room event cost (one per protocol at most: 2).
svc_chat_mixed='{ name = "chat"; type = "chat"; listen = ( "tcp://127.0.0.1:0", { address = "tcp://127.0.0.2:0"; protocol = "course"; } ); }'
svc_metrics='{ name = "metrics"; type = "metrics"; listen = ( "tcp://127.0.0.1:0" ); }'
chat_counter() {   # chat_counter PORT NAME
	curl -s "http://127.0.0.1:$1/metrics" |
	    sed -n "s/^multid_chat_$2_total{service=\"chat\"} \([0-9]*\)\$/\1/p"
}
write_conf "$TMP/mixed.conf" "$svc_chat_mixed" "$svc_metrics"
if want chat && time_left "chat mixed room"; then
	if ! "$MULTID" -t -c "$TMP/mixed.conf" >/dev/null 2>&1; then
		row "chat mixed room (line + course)" "no course chat" "-" "-" "-" "skipped"
	else
		say "chat unpaced, one room of 55 line and 45 course receivers: multid"
		"$MULTID" -c "$TMP/mixed.conf" 2>"$TMP/mixed.err" &
		XPID=$!
		PIDS+=("$XPID")
		XP=$(wait_listen_port "$TMP/mixed.err" chat tcp)
		XC=$(sed -n 's|^chat listening on tcp://127\.0\.0\.2:\([0-9]*\)$|\1|p' "$TMP/mixed.err" | head -1)
		XM=$(wait_listen_port "$TMP/mixed.err" metrics tcp)
		e0=$(chat_counter "$XM" events)
		r0=$(chat_counter "$XM" renders)
		ab deliveries_s chat-mixed $TO $BIN/chat_bench -a 127.0.0.1:$XP \
		    -A 127.0.0.2:$XC -C 45 -n 100 -S 10 -r 0 $W
		e1=$(chat_counter "$XM" events)
		r1=$(chat_counter "$XM" renders)
		stop_pid "$XPID"
		lost=$(sum_of "$ALL_1" lost)
		garb=$(sum_of "$ALL_1" garbled)
		per=$(awk -v e="$((${e1:-0} - ${e0:-0}))" -v r="$((${r1:-0} - ${r0:-0}))" \
		    'BEGIN { if (e > 0) printf "%.3f\n", r / e }')
		row "chat mixed room 55 line + 45 course, unpaced deliveries/s$(errnote $ERR_1)" \
		    "$(fmt "$MED_1")" "-" "-" "0 lost, 0 garbled" \
		    "$(yesno [ "$lost$garb$ERR_1" = 000 ])"
		row "  renders per room event ($((${r1:-0} - ${r0:-0})) / $((${e1:-0} - ${e0:-0})))" \
		    "${per:--}" "-" "-" "<= 2 (one per protocol)" "$(yesno le "${per:-3}" 2)"
	fi
fi

# --- idle connections ----------------------------------------------------
# A multid of its own with only echo, so that the figure is not what the
# other workloads left behind.
if want idle && time_left "idle connections"; then
	say "10,000 idle TCP echo connections: VmRSS of a fresh multid (and of mini_echo)"
	write_conf "$TMP/idle.conf" "$svc_echo"
	"$MULTID" -c "$TMP/idle.conf" 2>"$TMP/idle.err" &
	IPID=$!
	PIDS+=("$IPID")
	out=$(timeout 90 "$BIN/idle_bench" -a "127.0.0.1:$(wait_listen_port "$TMP/idle.err" echo tcp)" \
	    -P "$IPID" -n 10000 2>>"$LOG")
	echo "idle multid: $out" >>"$LOG"
	stop_pid "$IPID"
	peer=$(timeout 90 "$BIN/idle_bench" -a "127.0.0.1:$E_ECHO" -P "$EPID" \
	    -n 10000 2>>"$LOG")
	echo "idle mini_echo: $peer" >>"$LOG"
	mb=$(awk -v k="$(field rss_kb "$out")" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }')
	pmb=$(awk -v k="$(field rss_kb "$peer")" 'BEGIN { if (k != "") printf "%.1f", k / 1024 }')
	met=NO
	[ "$(field open "$out")" = 10000 ] && le "$mb" 40 && met=yes
	row "10,000 idle TCP connections, RSS (MB)$(errnote "$(field errors "$out")")" \
	    "${mb:--}" "${pmb:--} mini_echo" "$(ratio "$mb" "$pmb")" "< 40" "$met"
	row "  bytes per connection" "$(field per_conn_b "$out")" "$(field per_conn_b "$peer")" "-" "-" "-"
fi

# --- log (tests/bench/log.sh) --------------------------------------------
if want log && [ -f tests/bench/log.sh ] && time_left "log"; then
	say "UDP log flood: tests/bench/log.sh, $RUNS times"
	declare -A LOSS=() SENT=()
	for i in $(seq "$RUNS"); do
		out=$(DURATION=$SECS timeout 300 sh tests/bench/log.sh 2>>"$LOG")
		echo "$out" | sed "s/^/log run $i: /" >>"$LOG"
		while read -r name rest; do
			r=$(sed -n 's/^rate=\([0-9]*\)\/s.*/\1/p' <<<"$rest")
			l=$(sed -n 's/.* loss=\([0-9.]*\)%.*/\1/p' <<<"$rest")
			[ -n "$r" ] && [ -n "$l" ] && LOSS[$name.$r]+="$l "
			a=$(sed -n 's/.* (\([0-9]*\)\/s).*/\1/p' <<<"$rest")
			[ -n "$r" ] && [ -n "$a" ] && SENT[$name.$r]+="$a "
		done <<<"$out"
		# The forwarding rows: every run's are in the log, the last
		# run's go in the table (one row each, not one per run).
		fwd_rows=$(grep '^ROW|' <<<"$out" || true)
	done
	[ -n "${fwd_rows:-}" ] && echo "$fwd_rows" >>"$TMP/extra.rows"
	[ ${#LOSS[@]} -eq 0 ] && say "log.sh printed no results (see $LOG)"
	m200=$(median ${LOSS[multid.200000]:-})
	r200=$(median ${LOSS[rsyslog.200000]:-})
	m400=$(median ${LOSS[multid.400000]:-})
	r400=$(median ${LOSS[rsyslog.400000]:-})
	row "log 100 B datagrams 200k/s ${SECS} s, loss (%)" "${m200:--}" "${r200:--} rsyslog" "-" "0" \
	    "$( [ -n "$m200" ] && yesno le "$m200" 0 || echo "failed: see bench.log")"
	if [ -n "$r400" ]; then
		met=$(yesno awk -v a="$m400" -v b="$r400" 'BEGIN { exit !(a != "" && (a < b || (a == 0 && b == 0))) }')
		[ "$met" = yes ] && [ "$m400" = "$r400" ] && met="yes (both lose nothing)"
	else
		met="no rsyslog figure"
	fi
	row "log 100 B datagrams 400k/s ${SECS} s, loss (%)" "${m400:--}" "${r400:--} rsyslog 4 MiB rcvbuf" \
	    "$(ratio "$m400" "$r400")" "< rsyslog" "$met"
	# One sending thread and the kernel's loopback delivery fill a CPU
	# below 400k/s: this row shows the rate the datagrams really came at.
	row "  datagrams/s the sender reached" "$(fmt "$(median ${SENT[multid.400000]:-})")" \
	    "$(fmt "$(median ${SENT[rsyslog.400000]:-})") rsyslog" "-" "-" "-"
elif want log && [ ! -f tests/bench/log.sh ]; then
	row "log flood" "-" "-" "-" "-" "skipped (no tests/bench/log.sh)"
fi

# --- bank (tests/bench/bank.sh) ------------------------------------------
# bank.sh prints "multid clients=64 ... tx_per_s=N ... errors=E" and
# "baseline mode=fsync-per-tx ... tx_per_s=N": run it RUNS times.
if want bank && [ -f tests/bench/bank.sh ] && time_left "bank"; then
	say "bank, 64 clients DEPOSIT: tests/bench/bank.sh, $RUNS times"
	BM=() BB=() berr=0
	for i in $(seq "$RUNS"); do
		out=$(CLIENTS=64 DURATION=$SECS timeout 300 sh tests/bench/bank.sh 2>>"$LOG")
		echo "$out" | sed "s/^/bank run $i: /" >>"$LOG"
		m=$(grep '^multid clients=64 ' <<<"$out" | tail -1)
		b=$(grep '^baseline ' <<<"$out" | tail -1)
		BM+=("$(field tx_per_s "$m")")
		BB+=("$(field tx_per_s "$b")")
		e=$(field errors "$m")
		berr=$((berr + ${e:-1}))
		grep '^ROW|' <<<"$out" >>"$TMP/extra.rows"
	done
	m=$(median "${BM[@]}")
	b=$(median "${BB[@]}")
	r=$(ratio "$m" "$b")
	met=NO
	ge "$m" 20000 && ge "$r" 5 && [ "$berr" = 0 ] && met=yes
	row "bank 64 clients DEPOSIT, acked durable tx/s$(errnote $berr)" "$(fmt "$m")" \
	    "$(fmt "$b") fsync per tx" "$r" ">= 20,000 and >= 5x" "$met"
elif want bank && [ ! -f tests/bench/bank.sh ]; then
	row "bank DEPOSIT 64 clients" "-" "-" "-" "-" "skipped (no tests/bench/bank.sh)"
fi
# --- the groups measured by scripts of their own ---------------------------
# Each starts its own servers and peers, measures multid and the peer back
# to back and prints its own "ROW|..." lines:
#   extra GROUP SCRIPT "what it measures" TIMEOUT [VAR=VALUE...]
extra() {
	local group=$1 name=$2 what=$3 limit=$4 out
	shift 4
	want "$group" && [ -f "tests/bench/$name.sh" ] && time_left "$name" ||
	    return 0
	say "$what: tests/bench/$name.sh"
	out=$(env "$@" timeout "$limit" sh "tests/bench/$name.sh" 2>>"$LOG")
	echo "$out" | sed "s/^/$name: /" >>"$LOG"
	grep '^ROW|' <<<"$out" >>"$TMP/extra.rows" ||
	    say "$name.sh printed no rows (see $LOG)"
}
# bank_pg.sh starts a PostgreSQL of its own and measures the bank with
# backend = "postgresql" against pgbench -N on that server, once (about a
# minute and a half).
extra bank bank_pg "bank on PostgreSQL, 64 clients DEPOSIT vs pgbench -N -c 64" \
    400 MULTID="$MULTID" CLIENTS=64 DURATION=10
# Two instances sharing a room through a Redis of its own against one
# instance, paced.
extra cluster chat_cluster "chat across two instances on Redis, $RUNS runs" \
    600 MULTID="$MULTID" BIN="$BIN" RUNS="$RUNS" SECS="$SECS"
extra tftp tftp "tftp reads, $RUNS runs" 600 RUNS="$RUNS"
# The chat over IRC against ngIRCd.
extra irc irc "irc, $RUNS runs" 900 MULTID="$MULTID" BIN="$BIN" \
    RUNS="$RUNS" SECS="$SECS"
# smtp against Postfix, pop3 against Dovecot.
extra mail mail "smtp and pop3, $RUNS runs" 600 RUNS="$RUNS" DURATION="$SECS"
# A 1 GiB upload and download against nc, and 100 concurrent uploads.
extra files files "files, $RUNS runs" 900 MULTID="$MULTID" RUNS="$RUNS"
if [ -s "$TMP/extra.rows" ]; then
	while IFS= read -r x; do
		x=${x#ROW|}
		ROWS+=("$x")
	done <"$TMP/extra.rows"
fi

# --- the table -------------------------------------------------------------
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); took $(( $(date +%s) - T_START )) s"
{
	echo "| workload | multid | peer | ratio | target | met? |"
	echo "|---|---:|---:|---:|---|---|"
	for r in "${ROWS[@]}"; do
		echo "| ${r//|/ | } |"
	done
} >"$RESULTS"
echo
echo "multid vs peers, median of $RUNS back-to-back runs of ${SECS} s each ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
awk -F'|' '
	{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; nf = NF }
	END {
		hdr[1] = "workload"; hdr[2] = "multid"; hdr[3] = "peer"; hdr[4] = "ratio"; hdr[5] = "target"; hdr[6] = "met?"
		for (i = 1; i <= 6; i++) if (length(hdr[i]) > w[i]) w[i] = length(hdr[i])
		line = ""
		for (i = 1; i <= 6; i++) line = line sprintf("%-" w[i] "s  ", hdr[i]); print line
		for (r = 1; r <= n; r++) {
			line = ""
			for (i = 1; i <= 6; i++)
				line = line sprintf("%" (i == 1 || i >= 5 ? "-" : "") w[i] "s  ", c[r, i])
			print line
		}
	}' < <(printf '%s\n' "${ROWS[@]}")
echo
echo "raw runs: $LOG; markdown table: $RESULTS"
