#!/bin/bash
# The gateway against plain NGINX and against grpc-gateway, side by side in
# one run, one NGINX worker, the same load generator (wrk, 32 connections,
# POST JSON):
#   (a) micro_api with descriptors: JSON -> protobuf -> libmicro greeter,
#       handlers inline (--workers 0)
#   (a') the same, the greeter in its default mode (worker threads)
#   (b) micro_api without descriptors: JSON passed through -> greeter
#   (c) proxy_pass with keepalive to a trivial upstream (the baseline)
#   (d) return 200 (the ceiling)
#   (e) grpc-gateway -> grpc-go greeter, the peer (bench/grpc-go)
#   (f) micro_api over gRPC -> the same grpc-go greeter (registered with
#       protocol=grpc, its descriptor set in micro_proto)
#   (g) h2load (HTTP/2, 10 streams a connection) -> NGINX grpc_pass ->
#       the same grpc-go greeter
#   (h) wrk (HTTP/1.1) -> NGINX grpc_pass -> the same (README, "The
#       gateway in front of gRPC servers": why each request waits)
#   streams: one server stream of 200,000 messages read as NDJSON by curl,
#       (s1) through micro_api and (s2) through grpc-gateway, from grpc-go
# NGINX and its upstream share core 1, as do grpc-gateway and grpc-go
# (GOMAXPROCS=1 each); wrk has core 0. Each row is the median of RUNS runs
# (default 3) of DURATION seconds (default 5), after a warm-up run (which
# also makes grpc-gateway dial its backend). Then registration-to-routable
# latency (bench/routable.pl) and the budgets (design.md section 7):
# (a) and (a') at least 0.8x (c), and 2x (e); (f) at least 3x (e) with a
# lower p99 and 0.8x (a); routable p99 within 100 ms.
# A failed request or a missed budget fails the script.
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
# (a'): the greeter in its default mode, in a registry of its own (db 1)
greeter_w=$(free_port $((greeter + 1)))
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter_w --threads 1 \
    --registry "${MICRO_REGISTRY%/0}/1" 2>/dev/null &
pids+=($!)

trivial=$(free_port 29180)
start_trivial "$trivial"

api=$(free_port 29181)
pass=$((api + 1))
proxy=$((api + 2))
ceiling=$((api + 3))
cat > "$dir/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    micro_proto $root/build/gen/proto/services.pb;
    upstream trivial { server 127.0.0.1:$trivial; keepalive 32; }
    server { listen 127.0.0.1:$api;
             location / { micro_api; micro_api_namespace go.micro.srv;
                          micro_api_label_header X-Micro-Label; } }
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
# (a'): another, with the registry of the worker-threads greeter
api_w=$((api + 4))
mkdir -p "$dir/workers"
sed -e "s|$dir/nginx.pid|$dir/workers/nginx.pid|" \
    -e "s|listen 127.0.0.1:$api;|listen 127.0.0.1:$api_w;|" \
    -e "s|micro_registry $MICRO_REGISTRY;|micro_registry ${MICRO_REGISTRY%/0}/1;|" \
    -e "/listen 127.0.0.1:$proxy;/,+3d" -e "/listen 127.0.0.1:$ceiling;/d" \
    -e "/upstream trivial/d" "$dir/nginx.conf" > "$dir/workers/nginx.conf"
nginx -p "$dir/workers/" -c "$dir/workers/nginx.conf" \
    -e "$dir/workers/error.log" &
pids+=($!)
# (f), (g), (h): micro_api over gRPC and grpc_pass, in front of grpc-go,
# the greeter registered in a registry of its own (db 2)
api_g=$((api + 5))
gpass=$((api + 6))
gpass2=$((api + 7))
protoc -Ibench/grpc-go --include_imports \
    --descriptor_set_out="$dir/ggreeter.pb" bench/grpc-go/greeter.proto
build/bin/micro --registry "${MICRO_REGISTRY%/0}/2" register service \
    "{\"name\":\"go.micro.srv.greeter\",\"version\":\"1\",\"nodes\":[{\"id\":\"g1\",\"address\":\"127.0.0.1:$grpc\",\"metadata\":{\"protocol\":\"grpc\"}}]}" \
    --ttl 1h >/dev/null
mkdir -p "$dir/grpc"
cat > "$dir/grpc/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir/grpc)
    keepalive_requests 1000000;
    micro_registry ${MICRO_REGISTRY%/0}/2;
    micro_proto $dir/ggreeter.pb;
    upstream ggo { server 127.0.0.1:$grpc; keepalive 32; }
    server { listen 127.0.0.1:$api_g;
             location / { micro_api; micro_api_namespace go.micro.srv; } }
    server { listen 127.0.0.1:$gpass http2; listen 127.0.0.1:$gpass2;
             location / { grpc_pass grpc://ggo;
                          grpc_set_header TE trailers; } }
}
CONF
nginx -p "$dir/grpc/" -c "$dir/grpc/nginx.conf" -e "$dir/grpc/error.log" &
pids+=($!)
printf '\x00\x00\x00\x00\x06\x0a\x04John' > "$dir/hello.bin"

for p in $greeter $greeter_w $trivial $api $api_w $pass $proxy $ceiling \
         $ggw $api_g $gpass $gpass2; do
    wait_port "$p"
done

for url in "http://127.0.0.1:$api/greeter/say/hello" \
           "http://127.0.0.1:$api_w/greeter/say/hello" \
           "http://127.0.0.1:$api_g/greeter/say/hello"; do
    for _ in $(seq 1 500); do
        curl -s -H 'Content-Type: application/json' -d '{"name":"John"}' \
            "$url" | grep -q Hello && break
        sleep 0.02
    done
done

a=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api/greeter/say/hello")
a_w=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api_w/greeter/say/hello")
b=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$pass/greeter/say/hello")
c=$(median run_wrk -s bench/greeter-json.lua "http://127.0.0.1:$proxy/")
d=$(median run_wrk "http://127.0.0.1:$ceiling/")
e=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$ggw/greeter/say/hello")
f=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api_g/greeter/say/hello")
g=$(median run_h2load -m 10 -d "$dir/hello.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$gpass/greeter.Say/Hello")
h=$(median run_wrk -s bench/greeter-grpc.lua \
    "http://127.0.0.1:$gpass2/greeter.Say/Hello")
s1=$(median stream_rate "http://127.0.0.1:$api_g/greeter/say/stream" 200000)
s2=$(median stream_rate "http://127.0.0.1:$ggw/greeter/say/stream" 200000)

routable=$(perl bench/routable.pl "http://127.0.0.1:$api" "127.0.0.1:$greeter" 100)
table_head
row "(a) micro_api, descriptors -> greeter, inline" "$a"
row "(a') micro_api, descriptors -> greeter, worker threads" "$a_w"
row "(b) micro_api, JSON passed through -> greeter, inline" "$b"
row "(c) proxy_pass + keepalive -> trivial upstream" "$c"
row "(d) return 200 (ceiling)" "$d"
row "(e) grpc-gateway -> grpc-go greeter (the peer)" "$e"
row "(f) micro_api over gRPC -> grpc-go greeter" "$f"
row "(g) h2load -> grpc_pass -> grpc-go greeter (mean)" "$g"
row "(h) wrk HTTP/1.1 -> grpc_pass -> grpc-go greeter" "$h"
printf '| %-56s | %8s | %9s |\n' "stream of 200,000 messages, NDJSON" msgs/s time
row "(s1) micro_api over gRPC <- grpc-go stream" "$s1"
row "(s2) grpc-gateway <- grpc-go stream" "$s2"
echo "$routable"
budget "micro_api/proxy_pass req/s (a)/(c), inline" \
    "$(ratio "${a%% *}" "${c%% *}")" ">=" 0.80
budget "micro_api/proxy_pass req/s (a')/(c), worker threads" \
    "$(ratio "${a_w%% *}" "${c%% *}")" ">=" 0.80
budget "micro_api/grpc-gateway req/s (a)/(e), inline" \
    "$(ratio "${a%% *}" "${e%% *}")" ">=" 2
budget "micro_api/grpc-gateway req/s (a')/(e), worker threads" \
    "$(ratio "${a_w%% *}" "${e%% *}")" ">=" 2
budget "micro_api/grpc-gateway p99 (a)/(e)" \
    "$(ratio "$(ms "${a##* }")" "$(ms "${e##* }")")" "<=" 1
budget "micro_api over gRPC/grpc-gateway req/s (f)/(e)" \
    "$(ratio "${f%% *}" "${e%% *}")" ">=" 3
budget "micro_api over gRPC/grpc-gateway p99 (f)/(e)" \
    "$(ratio "$(ms "${f##* }")" "$(ms "${e##* }")")" "<=" 1
budget "micro_api over gRPC/over the micro transport req/s (f)/(a)" \
    "$(ratio "${f%% *}" "${a%% *}")" ">=" 0.80
echo "micro_api over gRPC/grpc_pass (h2) req/s (f)/(g): $(ratio "${f%% *}" "${g%% *}")"
budget "micro_api/grpc-gateway streamed messages/s (s1)/(s2)" \
    "$(ratio "${s1%% *}" "${s2%% *}")" ">=" 1
budget "registration to routable p99, ms" \
    "$(sed 's/.*p99 \([0-9.]*\) ms/\1/' <<< "$routable")" "<=" 100
budgets_verdict
