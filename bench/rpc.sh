#!/bin/bash
# The libmicro server against its peer, side by side in one run:
#   - libmicro greeter (protobuf POSTs over the micro transport), handlers
#     inline (--workers 0) and on worker threads (the default)
#   - grpc-go greeter (bench/grpc-go), gRPC frames
#   - nginx "return 200": the ceiling of this machine and the generator
# The same load generator for both sides where it can be: h2load (HTTP/1.1
# with --h1 for libmicro and NGINX, h2c for grpc-go); wrk rows too, with
# percentiles. Each server gets one core (taskset -c 1, one thread,
# GOMAXPROCS=1), the load generator the other (taskset -c 0), 32
# connections, DURATION seconds (default 5), each row the median of RUNS
# runs (default 3) by req/s after a warm-up run. The last lines are the
# budget ratios, h2load against h2load, for each libmicro mode (budget:
# at least 1.5x grpc-go, design.md section 7); a failed request or a
# missed budget fails the script.
#
#   bash bench/rpc.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all >/dev/null

build_grpc_peers

start_redis

inline=$(free_port 29090)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$inline --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)
workers=$(free_port $((inline + 1)))
taskset -c 1 build/bin/greeter --address 127.0.0.1:$workers --threads 1 \
    2>/dev/null &
pids+=($!)
grpc=$(free_port 29051)
GOMAXPROCS=1 taskset -c 1 "$out/gserver" -address 127.0.0.1:$grpc \
    2>/dev/null &
pids+=($!)
ceiling=$(free_port 29080)
cat > "$dir/nginx.conf" <<CONF
$(nginx_head $dir)
    server { listen 127.0.0.1:$ceiling; location / { return 200 "ok"; } }
}
CONF
nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
for p in $inline $workers $grpc $ceiling; do wait_port "$p"; done

printf '\x00\x00\x00\x00\x06\x0a\x04John' > "$dir/grpc.bin"
printf '\x0a\x04John' > "$dir/hello.bin"
grpc_h2load() {
    run_h2load -d "$dir/grpc.bin" -H 'content-type: application/grpc' \
        -H 'te: trailers' "http://127.0.0.1:$grpc/greeter.Say/Hello"
}
micro_h2load() {
    run_h2load --h1 -d "$dir/hello.bin" \
        -H 'content-type: application/protobuf' \
        -H 'micro-service: go.micro.srv.greeter' \
        -H 'micro-endpoint: Say.Hello' "http://127.0.0.1:$1/"
}

top=$(median run_wrk "http://127.0.0.1:$ceiling/")
top_h2=$(median run_h2load --h1 "http://127.0.0.1:$ceiling/")
lib_inline=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$inline/")
lib_inline_h2=$(median micro_h2load "$inline")
lib_workers=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$workers/")
lib_workers_h2=$(median micro_h2load "$workers")
peer=$(median grpc_h2load)

table_head
row "nginx return 200 (ceiling), wrk" "$top"
row "nginx return 200 (ceiling), h2load --h1 (p50: mean)" "$top_h2"
row "libmicro greeter, handlers inline, wrk" "$lib_inline"
row "libmicro greeter, handlers inline, h2load --h1" "$lib_inline_h2"
row "libmicro greeter, worker threads (default), wrk" "$lib_workers"
row "libmicro greeter, worker threads (default), h2load --h1" \
    "$lib_workers_h2"
row "grpc-go greeter, h2load (p50 column: mean)" "$peer"
budget "libmicro (inline)/grpc-go req/s, h2load" \
    "$(ratio "${lib_inline_h2%% *}" "${peer%% *}")" ">=" 1.5
budget "libmicro (worker threads)/grpc-go req/s, h2load" \
    "$(ratio "${lib_workers_h2%% *}" "${peer%% *}")" ">=" 1.5
budgets_verdict
