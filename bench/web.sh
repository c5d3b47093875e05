#!/bin/bash
# micro web and the stats zone, each beside its baseline in one run, one
# NGINX worker on core 1 (with the upstreams), wrk GET with 32
# connections on core 0:
#   (a) proxy_pass + keepalive -> a trivial HTTP upstream (NGINX, return
#       200), /demo/x sent as /x with the headers micro_web sends written
#       by hand (Host, X-Forwarded-*, Upgrade, Connection, the base path)
#   (b) micro_web -> the same upstream, found in the registry as
#       go.micro.web.demo
#   (c) micro_api -> greeter, no stats zone
#   (d) the same with micro_stats_zone (every request counted)
#   (e) WebSocket echo (bench/ws_echo.py, python3-websockets, 8
#       connections, one message in flight each) straight to the example
#       web service, and (f) through micro_web
# Each row is the median of RUNS runs (default 3) of DURATION seconds
# (default 5), after a warm-up run ((c) and (d) alternating). The stats
# zone's cost is also counted in instructions by bench/callgrind.sh. The budgets: (b)/(a) at least 0.95
# with a p99 within 1.1x; (d)/(c) at least 0.97; (f)/(e) at least 0.75
# (one more hop for every message; the client is the same Python). A
# failed request or a missed budget fails the script.
#
#   bash bench/web.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all >/dev/null
start_redis

trivial=$(free_port 29380)
start_trivial "$trivial"
build/bin/micro register service "{\"name\":\"go.micro.web.demo\",
    \"nodes\":[{\"id\":\"demo-1\",\"address\":\"127.0.0.1:$trivial\"}]}"
greeter=$(free_port $((trivial + 1)))
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)
echo_port=$(free_port $((trivial + 2)))
taskset -c 1 build/bin/web --name echo --address 127.0.0.1:$echo_port \
    2>/dev/null &
pids+=($!)

# gateway $name $port "directives for the http block": one NGINX each
gateway() {
    mkdir -p "$dir/$1"
    cat > "$dir/$1/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
load_module $root/build/nginx/ngx_micro_web_module.so;
$(nginx_head $dir/$1)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    $3
    upstream trivial { server 127.0.0.1:$trivial; keepalive 32; }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    server {
        listen 127.0.0.1:$2;
        location /greeter/ { micro_api; micro_api_namespace go.micro.srv; }
        location /pass/demo/ {
            proxy_pass http://trivial/;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$http_host;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header X-Micro-Web-Base-Path /demo;
        }
        location / { micro_web; proxy_read_timeout 1h; }
    }
}
CONF
    nginx -p "$dir/$1/" -c "$dir/$1/nginx.conf" -e "$dir/$1/error.log" &
    pids+=($!)
}

plain=$(free_port $((trivial + 3)))
counted=$(free_port $((plain + 1)))
gateway plain "$plain" ""
gateway counted "$counted" "micro_stats_zone stats 1m;"
for p in $trivial $greeter $echo_port $plain $counted; do
    wait_port "$p"
done
hello="/greeter/say/hello?name=John"
for url in "http://127.0.0.1:$plain/demo/x" "http://127.0.0.1:$plain$hello" \
           "http://127.0.0.1:$counted$hello" \
           "http://127.0.0.1:$plain/echo/info"; do
    wait_answer "$url"
done

# WebSocket echo on core 0, as wrk's rows: "messages/s p50 p99"
run_ws() {
    taskset -c 0 /usr/bin/python3 bench/ws_echo.py "$1" 8 "$duration"
}

a=$(median run_wrk "http://127.0.0.1:$plain/pass/demo/x")
b=$(median run_wrk "http://127.0.0.1:$plain/demo/x")
# (c) and (d) share the greeter: their runs alternate, so a drift of the
# machine falls on both
pairs=$(for i in $(seq 0 "$runs"); do
            run_wrk "http://127.0.0.1:$plain$hello" | sed "s/^/$i c /"
            run_wrk "http://127.0.0.1:$counted$hello" | sed "s/^/$i d /"
        done) || exit 1
pick() {
    awk -v k="$1" '$1 > 0 && $2 == k { $1 = $2 = ""; print substr($0, 3) }' \
        <<< "$pairs" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
c=$(pick c)
d=$(pick d)
e=$(median run_ws "ws://127.0.0.1:$echo_port/ws")
f=$(median run_ws "ws://127.0.0.1:$plain/echo/ws")

table_head
row "(a) proxy_pass + keepalive, same headers -> trivial" "$a"
row "(b) micro_web -> the same, via registry" "$b"
row "(c) micro_api -> greeter, no stats zone" "$c"
row "(d) micro_api -> greeter, micro_stats_zone" "$d"
row "(e) WebSocket echo, straight to the web service" "$e"
row "(f) WebSocket echo through micro_web (messages/s)" "$f"
budget "micro_web/proxy_pass (b)/(a) req/s" \
    "$(ratio "${b%% *}" "${a%% *}")" ">=" 0.95
budget "micro_web/proxy_pass (b)/(a) p99" \
    "$(ratio "$(ms "${b##* }")" "$(ms "${a##* }")")" "<=" 1.1
budget "stats on/off (d)/(c) req/s" "$(ratio "${d%% *}" "${c%% *}")" ">=" 0.97
budget "WebSocket micro_web/direct (f)/(e) messages/s" \
    "$(ratio "${f%% *}" "${e%% *}")" ">=" 0.75
budgets_verdict
