# lib.sh - what run.sh, bank.sh and log.sh share; sourced (POSIX sh).

# The port of "NAME listening on PROTO://127.0.0.1:PORT" in FILE (empty
# when the line is not there).
listen_port() {
	sed -n "s|^$2 listening on $3://127\.0\.0\.1:\([0-9]*\)\$|\1|p" "$1" | head -1
}

# Like listen_port, but waits up to 5 s for the line; fails without it.
wait_listen_port() {
	for _ in $(seq 100); do
		lp_port=$(listen_port "$@")
		[ -n "$lp_port" ] && { echo "$lp_port"; return 0; }
		sleep 0.05
	done
	return 1
}
