#!/bin/bash
# The gateway against plain NGINX, side by side in one run, one NGINX
# worker, the same load generator (wrk, 32 connections, POST JSON):
#   (a) micro_api with descriptors: JSON -> protobuf -> libmicro greeter
#   (b) micro_api without: JSON passed through to the greeter
#   (c) proxy_pass with keepalive to a trivial upstream (the baseline)
#   (d) return 200 (the ceiling)
#   (e) grpc-gateway -> grpc-go greeter, the peer (bench/grpc-go)
# NGINX and its upstream share core 1, as do grpc-gateway and grpc-go
# (GOMAXPROCS=1 each); wrk has core 0. Each row is the median of RUNS runs
# (default 3) of DURATION seconds (default 5). Then registration-to-routable
# latency (bench/routable.pl), the budget ratio (a)/(c), and last (a)/(e).
#
#   bash bench/gateway.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all >/dev/null
build_grpc_peers
start_redis

grpc=$(free_port 29051)
GOMAXPROCS=1 taskset -c 1 "$out/gserver" -address 127.0.0.1:$grpc \
    2>/dev/null &
pids+=($!)
wait_port "$grpc"
ggw=$(free_port 29060)
GOMAXPROCS=1 taskset -c 1 "$out/ggateway" -address 127.0.0.1:$ggw \
    -backend 127.0.0.1:$grpc 2>/dev/null &
pids+=($!)

greeter=$(free_port 29190)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)

trivial=$(free_port 29180)
start_trivial "$trivial"

api=$(free_port 29181)
pass=$((api + 1))
proxy=$((api + 2))
ceiling=$((api + 3))
cat > "$dir/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    micro_proto $root/build/gen/proto/services.pb;
    upstream trivial { server 127.0.0.1:$trivial; keepalive 32; }
    server { listen 127.0.0.1:$api;
             location / { micro_api; micro_api_namespace go.micro.srv; } }
    server { listen 127.0.0.1:$proxy;
             location / { proxy_pass http://trivial;
                          proxy_http_version 1.1;
                          proxy_set_header Connection ""; } }
    server { listen 127.0.0.1:$ceiling; location / { return 200 "ok"; } }
}
CONF
nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)

# (b): another NGINX, the same but without micro_proto
mkdir -p "$dir/pass"
sed -e "/micro_proto/d" -e "s|$dir/nginx.pid|$dir/pass/nginx.pid|" \
    -e "s|listen 127.0.0.1:$api;|listen 127.0.0.1:$pass;|" \
    -e "/listen 127.0.0.1:$proxy;/,+3d" -e "/listen 127.0.0.1:$ceiling;/d" \
    -e "/upstream trivial/d" "$dir/nginx.conf" > "$dir/pass/nginx.conf"
nginx -p "$dir/pass/" -c "$dir/pass/nginx.conf" -e "$dir/pass/error.log" &
pids+=($!)
for p in $greeter $trivial $api $pass $proxy $ceiling $ggw; do
    wait_port "$p"
done

for _ in $(seq 1 500); do
    curl -s -d '{"name":"John"}' "http://127.0.0.1:$api/greeter/say/hello" \
        | grep -q Hello && break
    sleep 0.02
done

run_wrk -s bench/greeter-json.lua "http://127.0.0.1:$api/greeter/say/hello" \
    >/dev/null

a=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api/greeter/say/hello")
b=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$pass/greeter/say/hello")
c=$(median run_wrk -s bench/greeter-json.lua "http://127.0.0.1:$proxy/")
d=$(median run_wrk "http://127.0.0.1:$ceiling/")
e=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$ggw/greeter/say/hello")

routable=$(perl bench/routable.pl "http://127.0.0.1:$api" "127.0.0.1:$greeter" 100)
table_head
row "(a) micro_api, descriptors: JSON -> protobuf -> greeter" "$a"
row "(b) micro_api, JSON passed through -> greeter" "$b"
row "(c) proxy_pass + keepalive -> trivial upstream" "$c"
row "(d) return 200 (ceiling)" "$d"
row "(e) grpc-gateway -> grpc-go greeter (the peer)" "$e"
echo "$routable"
awk -v a="${a%% *}" -v c="${c%% *}" \
    'BEGIN { printf "micro_api/proxy_pass req/s: %.2f\n", a / c }'
awk -v a="${a%% *}" -v e="${e%% *}" \
    'BEGIN { printf "micro_api/grpc-gateway req/s: %.2f\n", a / e }'
