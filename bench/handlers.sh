#!/bin/bash
# The api and proxy handlers, each beside its baseline in one run, one NGINX
# worker, wrk GET with 32 connections:
#   (a) micro_api (handler=rpc) -> greeter, the query as JSON
#   (b) micro_api handler=api -> examples/example, go.api.Request/Response
#   (c) proxy_pass + keepalive -> a trivial HTTP upstream (NGINX, return
#       200), with the headers handler=proxy sends written by hand (Host,
#       X-Forwarded-For, Upgrade and Connection for WebSockets)
#   (d) micro_api handler=proxy -> the same upstream, found in the registry
# NGINX and the services share core 1; wrk has core 0. Each row is the
# median of RUNS runs (default 3) of DURATION seconds (default 5). The last
# lines are the budget ratios (b)/(a) and (d)/(c); the budget is at least
# 0.85 for each, with a p99 within 1.25x.
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

trivial=$(free_port 29280)
start_trivial "$trivial"
build/bin/micro register service "{\"name\":\"go.micro.api.trivial\",
    \"nodes\":[{\"id\":\"trivial-1\",\"address\":\"127.0.0.1:$trivial\"}]}"

gw=$(free_port 29281)
pass=$((gw + 1))
cat > "$dir/nginx.conf" <<CONF
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
for p in $greeter $example $trivial $gw $pass; do
    wait_port "$p"
done

rpc="http://127.0.0.1:$gw/greeter/say/hello?name=John"
api="http://127.0.0.1:$gw/example/call?name=John"
for url in "$rpc" "$api" "http://127.0.0.1:$gw/trivial/x"; do
    for _ in $(seq 1 500); do
        curl -sf "$url" >/dev/null && break
        sleep 0.02
    done
done
run_wrk "$rpc" >/dev/null

a=$(median run_wrk "$rpc")
b=$(median run_wrk "$api")
c=$(median run_wrk "http://127.0.0.1:$pass/trivial/x")
d=$(median run_wrk "http://127.0.0.1:$gw/trivial/x")

table_head
row "(a) micro_api (rpc) -> greeter, query as JSON" "$a"
row "(b) micro_api handler=api -> example (go.api)" "$b"
row "(c) proxy_pass + keepalive, same headers -> trivial" "$c"
row "(d) micro_api handler=proxy -> the same, via registry" "$d"
awk -v a="${a%% *}" -v b="${b%% *}" \
    'BEGIN { printf "handler=api/handler=rpc req/s: %.2f\n", b / a }'
awk -v c="${c%% *}" -v d="${d%% *}" \
    'BEGIN { printf "handler=proxy/proxy_pass req/s: %.2f\n", d / c }'
