#!/bin/sh
# Prints, for each service in a multid configuration, a command that
# connects to each of its listen entries: plain strings ("tcp://...") and
# groups ({ address = "..."; protocol = "..."; }), on one line or several.
# Used by `make run`.
conf=${1:-conf/multid.conf}
awk '
# The line without its comment (a # outside a string).
function uncomment(s,    i, c, q) {
    q = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"") q = !q
        else if (c == "#" && !q) return substr(s, 1, i - 1)
    }
    return s
}
function value(s, key,    v) {
    if (!match(s, key "[ \t]*=[ \t]*\"[^\"]*\"")) return ""
    v = substr(s, RSTART, RLENGTH); sub(/^[^"]*"/, "", v); sub(/"$/, "", v)
    return v
}
function bracket(h) { return h ~ /:/ ? "[" h "]" : h }
# One command for one listen entry.
function show(uri, protocol,    scheme, hp, host, port, cmd) {
    scheme = uri; sub(/:\/\/.*/, "", scheme)
    hp = uri; sub(/^[a-z]+:\/\//, "", hp)
    port = hp; sub(/.*:/, "", port)
    host = hp; sub(/:[0-9]+$/, "", host)
    gsub(/[][]/, "", host)
    if (host == "*" || host == "0.0.0.0") host = "127.0.0.1"
    if (host == "::") host = "::1"
    cmd = "nc " host " " port
    if (scheme == "udp" && type == "tftp")
        cmd = "tftp " host " " port " -c get index.html"
    else if (scheme == "udp" && type == "log")
        cmd = "logger --udp -n " host " -P " port " hello"
    else if (scheme == "udp" && type == "transform")
        cmd = "echo 12345 | nc -u -w1 " host " " port
    else if (scheme == "udp")
        cmd = "echo hello | nc -u -w1 " host " " port
    else if (type == "files" && mode == "receive")
        cmd = "nc -N " host " " port " < FILE"
    else if (type == "files")
        cmd = "nc " host " " port " | tar t"
    else if (type == "smtp")
        cmd = "swaks --server " bracket(host) ":" port " --to alice@example.org --from me@example.org"
    else if (type == "pop3")
        cmd = "curl pop3://alice:secret@" bracket(host) ":" port "/"
    else if (type == "http" || type == "metrics")
        cmd = "curl " (scheme == "tls" ? "-k https://" : "http://") bracket(host) ":" port \
              (type == "metrics" ? "/metrics" : "/")
    else if (protocol == "irc")
        cmd = "irssi -c " host " -p " port (scheme == "tls" ? " --tls" : "")
    else if (scheme == "tls")
        cmd = "openssl s_client -quiet -connect " bracket(host) ":" port
    else if (protocol == "course" && type == "chat")
        cmd = "(printf \"/login guest\\0/users\\0\"; sleep 1) | nc " host " " port " | tr \"\\0\" \"\\n\""
    else if (protocol == "course")
        cmd = "nc " host " " port
    else if (type == "chat" || type == "guess" || type == "bank")
        cmd = "telnet " host " " port
    printf "  %-10s %-9s %-7s %s\n", name, type, (protocol == "" ? "" : protocol), cmd
}
# Every entry of a whole listen list (the text between its parentheses).
function entries(s,    group) {
    while (match(s, /\{[^}]*\}|"[a-z]+:\/\/[^"]*"/)) {
        group = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        if (substr(group, 1, 1) == "{")
            show(value(group, "address"), value(group, "protocol"))
        else
            show(substr(group, 2, length(group) - 2), "")
    }
}
{ line = uncomment($0) }
collecting {
    list = list " " line
    if (index(line, ")")) { entries(list); collecting = 0 }
    next
}
line ~ /accounts[ \t]*=/ { inaccounts = !index(line, ")") ; next }
line ~ /(^|[{;[:space:]])name[ \t]*=/ && !inaccounts { name = value(line, "name") }
line ~ /type[ \t]*=/    { type = value(line, "type"); mode = "" }
line ~ /mode[ \t]*=/    { mode = value(line, "mode") }
inaccounts { if (index(line, ")")) inaccounts = 0; next }
line ~ /listen[ \t]*=/ {
    list = line; sub(/.*listen[ \t]*=/, "", list)
    if (index(list, ")")) entries(list); else collecting = 1
}
' "$conf" | { echo "multid: how to connect to each service:"; cat; }
