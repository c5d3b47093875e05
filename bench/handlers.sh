#!/bin/bash
# The api and proxy handlers, each beside its baseline in one run, one NGINX
# worker, wrk GET with 32 connections:
#   (a) micro_api (handler=rpc) -> greeter, the query as JSON
#   (b) micro_api handler=api -> examples/example, go.api.Request/Response
#   (a'), (b') the same with both services in their default mode (worker
#       threads; (a) and (b) run handlers inline)
#   (c) proxy_pass + keepalive -> a trivial HTTP upstream (NGINX, return
#       200), with the headers handler=proxy sends written by hand (Host,
#       X-Forwarded-For, Upgrade and Connection for WebSockets)
#   (d) micro_api handler=proxy -> the same upstream, found in the registry
# NGINX and the services share core 1; wrk has core 0. Each row is the
# median of RUNS runs (default 3) of DURATION seconds (default 5), after a
# warm-up run. The budgets: (b)/(a), (b')/(a') and (d)/(c) at least 0.85,
# with a p99 within 1.25x. A failed request or a missed budget fails the
# script.
#
#   bash bench/handlers.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all >/dev/null
start_redis

greeter=$(free_port 29290)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)
example=$(free_port $((greeter + 1)))
taskset -c 1 build/bin/example --address 127.0.0.1:$example --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)

# (a'), (b'): in their default mode, in a registry of their own (db 1)
greeter_w=$(free_port $((greeter + 2)))
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter_w --threads 1 \
    --registry "${MICRO_REGISTRY%/0}/1" 2>/dev/null &
pids+=($!)
example_w=$(free_port $((greeter + 3)))
taskset -c 1 build/bin/example --address 127.0.0.1:$example_w --threads 1 \
    --registry "${MICRO_REGISTRY%/0}/1" 2>/dev/null &
pids+=($!)

trivial=$(free_port 29280)
start_trivial "$trivial"
build/bin/micro register service "{\"name\":\"go.micro.api.trivial\",
    \"nodes\":[{\"id\":\"trivial-1\",\"address\":\"127.0.0.1:$trivial\"}]}"

gw=$(free_port 29281)
pass=$((gw + 1))
cat > "$dir/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    upstream trivial { server 127.0.0.1:$trivial; keepalive 32; }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    server {
        listen 127.0.0.1:$gw;
        location /greeter/ { micro_api; micro_api_namespace go.micro.srv; }
        location /example/ { micro_api handler=api; }
        location /trivial/ { micro_api handler=proxy; }
    }
    server {
        listen 127.0.0.1:$pass;
        location / { proxy_pass http://trivial;
                     proxy_http_version 1.1;
                     proxy_set_header Host \$http_host;
                     proxy_set_header X-Forwarded-For
                                      \$proxy_add_x_forwarded_for;
                     proxy_set_header Upgrade \$http_upgrade;
                     proxy_set_header Connection \$connection_upgrade; }
    }
}
CONF
nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
# (a'), (b'): the same gateway on the registry of db 1
gw_w=$(free_port $((gw + 2)))
mkdir -p "$dir/workers"
sed -e "s|$dir/nginx.pid|$dir/workers/nginx.pid|" \
    -e "s|listen 127.0.0.1:$gw;|listen 127.0.0.1:$gw_w;|" \
    -e "s|micro_registry $MICRO_REGISTRY;|micro_registry ${MICRO_REGISTRY%/0}/1;|" \
    -e "s|listen 127.0.0.1:$pass;|listen 127.0.0.1:$((gw + 3));|" \
    "$dir/nginx.conf" > "$dir/workers/nginx.conf"
nginx -p "$dir/workers/" -c "$dir/workers/nginx.conf" \
    -e "$dir/workers/error.log" &
pids+=($!)
for p in $greeter $example $greeter_w $example_w $trivial $gw $gw_w $pass; do
    wait_port "$p"
done

rpc="http://127.0.0.1:$gw/greeter/say/hello?name=John"
api="http://127.0.0.1:$gw/example/call?name=John"
rpc_w="http://127.0.0.1:$gw_w/greeter/say/hello?name=John"
api_w="http://127.0.0.1:$gw_w/example/call?name=John"
for url in "$rpc" "$api" "$rpc_w" "$api_w" "http://127.0.0.1:$gw/trivial/x"; do
    for _ in $(seq 1 500); do
        curl -sf "$url" >/dev/null && break
        sleep 0.02
    done
done

a=$(median run_wrk "$rpc")
b=$(median run_wrk "$api")
a_w=$(median run_wrk "$rpc_w")
b_w=$(median run_wrk "$api_w")
c=$(median run_wrk "http://127.0.0.1:$pass/trivial/x")
d=$(median run_wrk "http://127.0.0.1:$gw/trivial/x")

table_head
row "(a) micro_api (rpc) -> greeter, query as JSON" "$a"
row "(b) micro_api handler=api -> example (go.api)" "$b"
row "(a') (a), services on worker threads" "$a_w"
row "(b') (b), services on worker threads" "$b_w"
row "(c) proxy_pass + keepalive, same headers -> trivial" "$c"
row "(d) micro_api handler=proxy -> the same, via registry" "$d"
# pair NAME X Y: the budgets of row Y against row X
pair() {
    budget "$1 req/s" "$(ratio "${3%% *}" "${2%% *}")" ">=" 0.85
    budget "$1 p99" "$(ratio "$(ms "${3##* }")" "$(ms "${2##* }")")" "<=" 1.25
}
pair "handler=api/handler=rpc (b)/(a), inline" "$a" "$b"
pair "handler=api/handler=rpc (b')/(a'), worker threads" "$a_w" "$b_w"
pair "handler=proxy/proxy_pass (d)/(c)" "$c" "$d"
budgets_verdict
