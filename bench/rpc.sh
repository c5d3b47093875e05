#!/bin/bash
# The libmicro server against its peer, side by side in one run:
#   - wrk (protobuf POST, bench/greeter-protobuf.lua) -> libmicro greeter,
#     handlers inline and on worker threads
#   - h2load (gRPC frames) -> grpc-go greeter (bench/grpc-go)
#   - wrk -> nginx "return 200": the ceiling of this machine and wrk
# Each server gets one core (taskset -c 1, one thread, GOMAXPROCS=1), the
# load generator the other (taskset -c 0), 32 connections, DURATION seconds
# (default 5), each row the median of RUNS runs (default 3) by req/s. The
# last line is the budget ratio.
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

# h2load on core 0: "req/s mean -" (h2load reports no percentiles)
run_h2load() {
    printf '\x00\x00\x00\x00\x06\x0a\x04John' > "$dir/body.bin"
    taskset -c 0 h2load -t1 -c32 -D "$duration" -d "$dir/body.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$grpc/greeter.Say/Hello" | awk '
        /^finished in/ { rps = $4 }
        /^time for request:/ { mean = $6 }
        END { printf "%d %s -\n", rps, mean }'
}

# warm-up, then measure
run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$inline/" >/dev/null

lib_inline=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$inline/")
lib_workers=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$workers/")
peer=$(median run_h2load)
top=$(median run_wrk "http://127.0.0.1:$ceiling/")

table_head
row "nginx return 200 (ceiling), wrk" "$top"
row "libmicro greeter, protobuf, handlers inline, wrk" "$lib_inline"
row "libmicro greeter, protobuf, worker threads, wrk" "$lib_workers"
row "grpc-go greeter, h2load (p50 column: mean)" "$peer"
awk -v a="${lib_inline%% *}" -v b="${peer%% *}" \
    'BEGIN { printf "libmicro/grpc-go req/s: %.2f\n", a / b }'
