#!/bin/sh
# mail.sh - smtp and pop3 against Postfix and Dovecot on the same disk,
# each figure RUNS times, multid and its peer back to back; prints one
#     ROW|workload|multid|peer|ratio|target|met
# line per figure (tests/bench/run.sh makes them rows of its table).
#
#   sh tests/bench/mail.sh                  RUNS=3 DURATION=5 MESSAGES=2000
#
# smtp: Postfix's own load generator smtp-source, 20 sessions of 4 KiB
# messages; multid acknowledges a message once it is synced in new/, and
# the peer is a private Postfix instance whose smtpd puts every message on
# hold (check_client_access static:HOLD), so it measures smtpd and cleanup
# writing and syncing the queue file, without delivery.
# pop3: tests/bench/pop3_bench.c, 100 clients, each logging in to its own
# mailbox of 10 messages of 100 KiB and RETRieving all 10, again and again
# for DURATION seconds; the peer is Dovecot's pop3 on the same Maildir
# with the same yescrypt hashes (passwd-file, {CRYPT}).
#
# Everything lives in a temporary directory (TMPDIR, default /tmp) that is
# removed at the end; every process started here is stopped by its PID
# (Postfix by `postfix stop` of its private configuration).
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/lib.sh    # wait_listen_port
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
MESSAGES=${MESSAGES:-2000}
CLIENTS=100
PER_BOX=10
export PATH="$PATH:/usr/sbin:/sbin"

make -s "$BUILD/multid"
mkdir -p "$BUILD/bench"
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -pthread \
    -o "$BUILD/bench/pop3_bench" tests/bench/pop3_bench.c
BENCH=$BUILD/bench/pop3_bench

dir=$(mktemp -d "${TMPDIR:-/tmp}/multid-mailbench.XXXXXX")
chmod 755 "$dir"
pid="" dpid="" pf=""
cleanup() {
	[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
	[ -n "$dpid" ] && { kill "$dpid" 2>/dev/null; sleep 0.5; }
	[ -n "$pf" ] && postfix -c "$pf/etc" stop >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A free port on 127.0.0.1, for the peers' configurations.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" | head -1; }

# Messages per second of one smtp-source run against port $1.
smtp_rate() {
	t0=$(date +%s.%N)
	smtp-source -s 20 -l 4096 -m "$MESSAGES" -f bench@x.test \
	    -t alice@x.test "127.0.0.1:$1" >/dev/null 2>&1 || return 1
	t1=$(date +%s.%N)
	awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}

echo "disk: $(df -P "$dir" | awk 'NR == 2 { print $1 " " $6 }')"
hash=$(python3 -c '
import ctypes
c = ctypes.CDLL("libcrypt.so.1")
c.crypt_gensalt.restype = c.crypt.restype = ctypes.c_char_p
print(c.crypt(b"benchsecret", c.crypt_gensalt(b"$y$", 0, None, 0)).decode())')

# --- multid: smtp and pop3 on two maildirs --------------------------------
accounts=$(awk -v n=$CLIENTS -v h="$hash" 'BEGIN {
	for (i = 0; i < n; i++) printf "%s{ name = \"u%d\"; secret = \"%s\"; }", i ? ", " : "", i, h }')
cat > "$dir/multid.conf" <<CONF
services = (
  { name = "smtp"; type = "smtp"; listen = ( "tcp://127.0.0.1:0" );
    maildir = "$dir/smtp"; },
  { name = "pop3"; type = "pop3"; listen = ( "tcp://127.0.0.1:0" );
    maildir = "$dir/pop"; accounts = ( $accounts ); }
);
CONF
"$BUILD/multid" -c "$dir/multid.conf" 2>"$dir/multid.err" &
pid=$!
sport=$(wait_listen_port "$dir/multid.err" smtp tcp) &&
pport=$(wait_listen_port "$dir/multid.err" pop3 tcp) ||
	{ cat "$dir/multid.err"; exit 1; }

# --- smtp ------------------------------------------------------------------
if command -v smtp-source >/dev/null && command -v postfix >/dev/null; then
	pf=$dir/postfix
	fport=$(free_port)
	mkdir -p "$pf/etc" "$pf/spool" "$pf/data"
	chown postfix "$pf/data"
	sed "s/^smtp \{1,\}inet .*/127.0.0.1:$fport inet n - n - - smtpd/" \
	    /etc/postfix/master.cf >"$pf/etc/master.cf"
	cat >"$pf/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $pf/spool
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = bench.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_client_access static:HOLD, permit
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
default_process_limit = 200
CF
	postfix -c "$pf/etc" start >/dev/null 2>&1 ||
		{ echo "postfix does not start"; cat "$pf/maillog" 2>/dev/null; pf=""; }
fi
if [ -n "$pf" ]; then
	sleep 1
	M="" P="" err=0
	for i in $(seq "$RUNS"); do
		rm -rf "$dir/smtp/alice"
		m=$(smtp_rate "$sport") || m=0
		n=$(ls "$dir/smtp/alice/new" 2>/dev/null | wc -l)
		[ "$n" = "$MESSAGES" ] || err=$((err + 1))
		p=$(smtp_rate "$fport") || p=0
		echo "smtp run $i: multid $m/s ($n stored), postfix $p/s"
		M="$M $m" P="$P $p"
	done
	m=$(median $M)
	p=$(median $P)
	r=$(ratio "$m" "$p")
	met=NO
	ge "$r" 2 && [ "$err" = 0 ] && met=yes
	note=""
	[ "$err" = 0 ] || note=" ($err runs lost messages)"
	echo "ROW|smtp-source 20 sessions x 4 KiB, durable msgs/s$note|$m|$p postfix smtpd (hold queue)|$r|>= 2x|$met"
else
	echo "ROW|smtp-source 20 sessions x 4 KiB|-|-|-|-|skipped (no postfix/smtp-source)"
fi

# --- pop3 ------------------------------------------------------------------
# 100 mailboxes of 10 messages of 100 KiB (lines of 78 bytes), named as
# multid names them, owned by the user Dovecot reads them as.
python3 - "$dir/pop" $CLIENTS $PER_BOX <<'PY'
import os, sys
root, boxes, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
line = (b"0123456789" * 8)[:77] + b"\n"
body = b"Subject: bench\n\n" + line * (102400 // len(line))
for b in range(boxes):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(root, "u%d" % b, sub), exist_ok=True)
    for m in range(per):
        name = "%d.M%dP1Q%d.bench,S=%d,W=%d" % (1700000000 + m, m, m,
            len(body), len(body) + body.count(b"\n"))
        with open(os.path.join(root, "u%d" % b, "new", name), "wb") as f:
            f.write(body)
PY
chown -R nobody:nogroup "$dir/pop"

D=""
if command -v dovecot >/dev/null; then
	dport=$(free_port)
	mkdir -p "$dir/dovecot-run"
	awk -v n=$CLIENTS -v h="$hash" 'BEGIN {
		for (i = 0; i < n; i++) printf "u%d:{CRYPT}%s\n", i, h }' \
	    >"$dir/dovecot-users"
	cat >"$dir/dovecot.conf" <<CF
base_dir = $dir/dovecot-run
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = $dir/dovecot.log
mail_location = maildir:$dir/pop/%u
first_valid_uid = 65534
passdb {
  driver = passwd-file
  args = scheme=CRYPT $dir/dovecot-users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$dir/pop/%u
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $dport
  }
  process_min_avail = 4
}
CF
	dovecot -F -c "$dir/dovecot.conf" 2>"$dir/dovecot.err" &
	dpid=$!
	sleep 1
	kill -0 "$dpid" 2>/dev/null && D=$dport ||
		{ echo "dovecot does not start"; cat "$dir/dovecot.err"; dpid=""; }
fi
M="" P="" err=0
for i in $(seq "$RUNS"); do
	out=$("$BENCH" "127.0.0.1:$pport" $CLIENTS $PER_BOX "$DURATION" u benchsecret)
	echo "pop3 run $i: multid $out"
	M="$M $(echo "$out" | field retr_per_s)"
	e=$(echo "$out" | field errors)
	err=$((err + ${e:-1}))
	if [ -n "$D" ]; then
		out=$("$BENCH" "127.0.0.1:$D" $CLIENTS $PER_BOX "$DURATION" u benchsecret)
		echo "pop3 run $i: dovecot $out"
		P="$P $(echo "$out" | field retr_per_s)"
	fi
done
[ -n "$D" ] && grep -i 'error\|fatal\|warning' "$dir/dovecot.log" | tail -5 >&2
m=$(median $M)
note=""
[ "$err" = 0 ] || note=" ($err failed sessions)"
if [ -n "$D" ]; then
	p=$(median $P)
	r=$(ratio "$m" "$p")
	met=NO
	ge "$r" 1 && [ "$err" = 0 ] && met=yes
	echo "ROW|pop3 100 clients x 10 RETR of 100 KiB, RETR/s$note|$m|$p dovecot pop3|$r|>= 1.0x|$met"
else
	echo "ROW|pop3 100 clients x 10 RETR of 100 KiB, RETR/s$note|$m|-|-|>= 1.0x|skipped (no dovecot)"
fi
