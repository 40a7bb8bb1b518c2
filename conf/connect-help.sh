#!/bin/sh
# Prints, for each enabled service in a multid configuration, a command
# that connects to it.  Used by `make run`.
conf=${1:-conf/multid.conf}
awk '
function value(key,    v) {
    if (!match($0, key "[ \t]*=[ \t]*\"[^\"]*\"")) return ""
    v = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", v); sub(/"$/, "", v)
    return v
}
/name[ \t]*=/    { name = value("name") }
/type[ \t]*=/    { type = value("type") }
/listen[ \t]*=/  { line = $0
                   while (match(line, /"(tcp|udp):\/\/[^"]*"/)) {
                       uri = substr(line, RSTART + 1, RLENGTH - 2)
                       line = substr(line, RSTART + RLENGTH)
                       proto = substr(uri, 1, 3); hp = substr(uri, 7)
                       port = hp; sub(/.*:/, "", port)
                       host = hp; sub(/:[0-9]+$/, "", host)
                       gsub(/[][]/, "", host); if (host == "*" || host == "0.0.0.0") host = "127.0.0.1"
                       if (host == "::") host = "::1"
                       cmd = "nc " host " " port
                       if (proto == "udp" && type == "log")
                           cmd = "logger --udp -n " host " -P " port " hello"
                       else if (proto == "udp" && type == "transform")
                           cmd = "echo 12345 | nc -u -w1 " host " " port
                       else if (proto == "udp")
                           cmd = "echo hello | nc -u -w1 " host " " port
                       else if (type == "chat" || type == "guess" || type == "bank")
                           cmd = "telnet " host " " port
                       else if (type == "http")
                           cmd = "curl http://" (host ~ /:/ ? "[" host "]" : host) ":" port "/"
                       else if (type == "metrics")
                           cmd = "curl http://" (host ~ /:/ ? "[" host "]" : host) ":" port "/metrics"
                       printf "  %-10s %-9s %s\n", name, type, cmd
                   } }
' "$conf" | { echo "multid: how to connect to each service:"; cat; }
