#!/bin/bash
# The broker beside raw Redis and NATS JetStream, in one run: Redis and
# nats-server (-js, memory storage) on core 1, the clients on core 0,
# 1 KB messages:
#   (a) raw XADD at the same pipelining as a publish (redis-benchmark, one
#       connection, one command in flight), the same header and body
#   (a') the same XADD sent by hiredis alone (broker_bench raw): what a
#       publish is without libmicro's work, on the same client library
#   (b) libmicro's micro_broker_publish, one after another (each waits
#       for Redis)
#   (c) NATS JetStream js.Publish, each waiting for its ack
#       (bench/nats, built against Debian's Go packages)
#   (d)-(g) publish to delivery at 10,000 messages/s for DURATION seconds
#       (libmicro: two publishing threads, each waiting for its replies):
#       libmicro with one subscriber and with a queue of three, NATS
#       JetStream the same (one publisher: its rate is what it reached;
#       durable queue, explicit acks)
#   (h) micro_api (rpc) -> greeter beside (i) micro_api handler=event
#       (the gateway's XADD on its own Redis connection), wrk POST, one
#       NGINX worker on core 1
# Budgets: (b)/(a) at least 0.8 ((b)/(a') printed too); delivery p99 under 2 ms at 10,000/s
# ((d) and (e)); (i)/(h) at least 0.8. Publish rows are the median of
# RUNS runs of N messages (default 20000).
#
#   bash bench/broker.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

N=${N:-20000}
tools/setup-deps bench >/dev/null
make -s all "$root/build/bench/broker_bench" >/dev/null

# the NATS client, once, in GOPATH mode against /usr/share/gocode
out=$root/build/bench
if [ ! -x "$out/natsbench" ]; then
    mkdir -p "$out/gopath/src/natsbench"
    cp bench/nats/main.go "$out/gopath/src/natsbench/"
    GOPATH=$out/gopath:/usr/share/gocode GO111MODULE=off \
        GOCACHE=$out/gocache go build -o "$out/natsbench" natsbench
fi

redis=$(free_port 26390)
taskset -c 1 redis-server --port "$redis" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$dir" >/dev/null &
pids+=($!)
nats=$(free_port 24222)
mkdir -p "$dir/js"
taskset -c 1 nats-server -js -a 127.0.0.1 -p "$nats" -sd "$dir/js" \
    >"$dir/nats.log" 2>&1 &
pids+=($!)
wait_port "$redis"
wait_port "$nats"
export MICRO_REGISTRY=redis://127.0.0.1:$redis/0
nurl=nats://127.0.0.1:$nats

body=$(head -c 1024 /dev/zero | tr '\0' x)
raw_xadd() {
    taskset -c 0 redis-benchmark -p "$redis" -c 1 -n "$N" -q XADD rawbench \
        MAXLEN '~' 100000 '*' header \
        '{"Micro-Id":"5f0c3a1e-6b1d-4c1e-9a57-3d2b8c0f4e21","Micro-Topic":"bench.raw"}' \
        body "$body" | tr '\r' '\n' \
        | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1 - -/p' \
        | tail -1 | awk '{ printf "%d - -\n", $1 }'
}
hiredis_xadd() {
    echo "$(taskset -c 0 build/bench/broker_bench "$MICRO_REGISTRY" raw \
            "$N" 1024) - -"
}
lib_publish() {
    echo "$(taskset -c 0 build/bench/broker_bench "$MICRO_REGISTRY" publish \
            "$N" 1024) - -"
}
nats_publish() {
    echo "$(taskset -c 0 "$out/natsbench" "$nurl" publish "$N" 1024) - -"
}
lib_latency() {
    taskset -c 0 build/bench/broker_bench "$MICRO_REGISTRY" latency 10000 \
        "$duration" 1024 "$1"
}
nats_latency() {
    taskset -c 0 "$out/natsbench" "$nurl" latency 10000 "$duration" 1024 "$1"
}

a=$(median raw_xadd)
a2=$(median hiredis_xadd)
b=$(median lib_publish)
c=$(median nats_publish)
d=$(median lib_latency 1)
e=$(median lib_latency 3)
f=$(median nats_latency 1)
g=$(median nats_latency 3)

# the gateway: rpc to the greeter beside the event handler
greeter=$(free_port 29490)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)
gw=$(free_port 28490)
mkdir -p "$dir/gw"
cat > "$dir/gw/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir/gw)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    server {
        listen 127.0.0.1:$gw;
        location /greeter/ { micro_api; micro_api_namespace go.micro.srv; }
        location /events/ { micro_api handler=event; }
    }
}
CONF
nginx -p "$dir/gw/" -c "$dir/gw/nginx.conf" -e "$dir/gw/error.log" &
pids+=($!)
wait_port "$greeter"
wait_port "$gw"
for url in "http://127.0.0.1:$gw/greeter/say/hello" \
           "http://127.0.0.1:$gw/events/customer/login"; do
    wait_answer "$url" -H 'Content-Type: application/json' -d '{"name":"John"}'
done
h=$(median run_wrk -s bench/greeter-json.lua \
        "http://127.0.0.1:$gw/greeter/say/hello")
i=$(median run_wrk -s bench/greeter-json.lua \
        "http://127.0.0.1:$gw/events/customer/login")

echo "| messages of 1 KB (publish: messages/s; delivery: at 10,000/s) | messages/s | p50 | p99 |"
echo "|---|---:|---:|---:|"
trow() { set -- "$1" $2; echo "| $1 | $2 | $3 | $4 |"; }
trow "(a) raw XADD, one in flight (redis-benchmark -c 1)" "$a"
trow "(a') raw XADD, one in flight (hiredis alone)" "$a2"
trow "(b) libmicro micro_broker_publish" "$b"
trow "(c) NATS JetStream js.Publish" "$c"
trow "(d) libmicro, publish to handler, one subscriber" "$d"
trow "(e) libmicro, publish to handler, a queue of three" "$e"
trow "(f) NATS JetStream, one subscriber" "$f"
trow "(g) NATS JetStream, a queue of three" "$g"
echo
table_head
row "(h) micro_api (rpc) -> greeter, POST" "$h"
row "(i) micro_api handler=event -> Redis, POST" "$i"
echo
budget "libmicro publish/raw XADD (b)/(a)" \
    "$(ratio "${b%% *}" "${a%% *}")" ">=" 0.8
echo "libmicro publish/hiredis XADD (b)/(a'): $(ratio "${b%% *}" "${a2%% *}")"
echo "libmicro/NATS JetStream publish (b)/(c): $(ratio "${b%% *}" "${c%% *}")"
budget "delivery p99 at 10,000/s, one subscriber (d), ms" \
    "$(ms "${d##* }")" "<=" 2
budget "delivery p99 at 10,000/s, a queue of three (e), ms" \
    "$(ms "${e##* }")" "<=" 2
budget "event handler/rpc req/s (i)/(h)" \
    "$(ratio "${i%% *}" "${h%% *}")" ">=" 0.8
budgets_verdict
