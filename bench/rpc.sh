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
cd "$(dirname "$0")/.."
root=$PWD
duration=${DURATION:-5}
runs=${RUNS:-3}

tools/setup-deps bench >/dev/null
make -s all >/dev/null

out=$root/build/bench
mkdir -p "$out"
gopath=$out/gopath
if [ ! -x "$out/gserver" ]; then
    mkdir -p "$gopath/src/greeter" "$gopath/src/gserver"
    cp bench/grpc-go/server/main.go "$gopath/src/gserver/"
    protoc -Ibench/grpc-go --go_out=plugins=grpc:"$gopath/src/greeter" \
        bench/grpc-go/greeter.proto
    GOPATH=$gopath:/usr/share/gocode GO111MODULE=off GOCACHE=$out/gocache \
        go build -o "$out/gserver" gserver
fi

dir=$(mktemp -d)
chmod 755 "$dir"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
    local p=$1
    while (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
wait_port() {
    for _ in $(seq 1 500); do
        (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
        sleep 0.02
    done
    echo "nothing on port $1" >&2
    exit 1
}

redis=$(free_port 26379)
redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" >/dev/null &
pids+=($!)
wait_port "$redis"
export MICRO_REGISTRY=redis://127.0.0.1:$redis/0

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
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server { listen 127.0.0.1:$ceiling; location / { return 200 "ok"; } }
}
CONF
nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
for p in $inline $workers $grpc $ceiling; do wait_port "$p"; done

# wrk: "req/s p50 p99"
run_wrk() {
    taskset -c 0 wrk -t1 -c32 -d"${duration}s" --latency "$@" | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        END { printf "%d %s %s\n", rps, p50, p99 }'
}

# h2load: "req/s mean -" (h2load reports no percentiles)
run_h2load() {
    printf '\x00\x00\x00\x00\x06\x0a\x04John' > "$dir/body.bin"
    taskset -c 0 h2load -t1 -c32 -D "$duration" -d "$dir/body.bin" \
        -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$grpc/greeter.Say/Hello" | awk '
        /^finished in/ { rps = $4 }
        /^time for request:/ { mean = $6 }
        END { printf "%d %s -\n", rps, mean }'
}

# the median run of a measurement, by req/s
median() {
    local i
    for i in $(seq 1 "$runs"); do "$@"; done | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}

# warm-up, then measure
run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$inline/" >/dev/null

lib_inline=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$inline/")
lib_workers=$(median run_wrk -s bench/greeter-protobuf.lua "http://127.0.0.1:$workers/")
peer=$(median run_h2load)
top=$(median run_wrk "http://127.0.0.1:$ceiling/")

printf '| %-52s | %8s | %9s | %9s |\n' path req/s p50 p99
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" ----------- \
    ----------- -----------
row() {
    set -- "$1" $2
    printf '| %-52s | %8s | %9s | %9s |\n' "$1" "$2" "$3" "$4"
}
row "nginx return 200 (ceiling), wrk" "$top"
row "libmicro greeter, protobuf, handlers inline, wrk" "$lib_inline"
row "libmicro greeter, protobuf, worker threads, wrk" "$lib_workers"
row "grpc-go greeter, h2load (p50 column: mean)" "$peer"
awk -v a="${lib_inline%% *}" -v b="${peer%% *}" \
    'BEGIN { printf "libmicro/grpc-go req/s: %.2f\n", a / b }'
