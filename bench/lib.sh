# Shared by the bench scripts: ports, processes, wrk and h2load runs,
# budgets. A run with any failed request, or a budget missed, fails the
# script (non-zero exit, a line saying which).

set -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-5}
runs=${RUNS:-3}
dir=$(mktemp -d)
chmod 755 "$dir"
pids=()

# KEEP_BENCH=1 keeps the run's directory (logs, configs) as
# /tmp/benchkeep.
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP_BENCH:-}" ] && cp -r "$dir" /tmp/benchkeep; rm -rf "$dir"
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

# wait_answer URL [curl options]: waits (bounded) until URL answers 2xx,
# a gateway having loaded its registry; fails the script otherwise.
wait_answer() {
    local url=$1
    shift
    for _ in $(seq 1 500); do
        curl -sf "$@" "$url" >/dev/null && return 0
        sleep 0.02
    done
    echo "no 2xx answer from $url" >&2
    exit 1
}

start_redis() {
    redis=$(free_port 26379)
    redis-server --port "$redis" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir" >/dev/null &
    pids+=($!)
    wait_port "$redis"
    export MICRO_REGISTRY=redis://127.0.0.1:$redis/0
}

# The start of an nginx.conf for prefix $1: one worker on core 1, logs and
# temp paths under the prefix, the http block opened.
nginx_head() {
    local t
    cat <<CONF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
    access_log off;
CONF
    for t in client_body proxy fastcgi uwsgi scgi; do
        echo "    ${t}_temp_path $1/$t;"
    done
}

# The baselines' upstream: an NGINX on core 1 answering every request with
# the greeter's reply, as cheaply as an HTTP server can.
start_trivial() {
    mkdir -p "$dir/up"
    cat > "$dir/up/nginx.conf" <<CONF
$(nginx_head $dir/up)
    server {
        listen 127.0.0.1:$1;
        keepalive_requests 1000000;
        location / { default_type application/json;
                     return 200 '{"msg":"Hello John"}'; }
    }
}
CONF
    nginx -p "$dir/up/" -c "$dir/up/nginx.conf" -e "$dir/up/error.log" &
    pids+=($!)
}

# wrk on core 0: "req/s p50 p99". Fast errors are not throughput: any
# non-2xx/3xx answer or socket error fails the run.
run_wrk() {
    taskset -c 0 wrk -t1 -c32 -d"${duration}s" --latency "$@" | awk -v \
        url="${*: -1}" '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        /Non-2xx or 3xx responses/ { bad = bad " " $NF " non-2xx answers" }
        /Socket errors/ { bad = bad " socket errors (" $0 ")" }
        END { if (bad != "" || rps == 0) {
                  printf "bench: %s failed:%s\n", url, bad > "/dev/stderr"
                  exit 1 }
              printf "%d %s %s\n", rps, p50, p99 }'
}

# h2load on core 0: "req/s mean -" (h2load reports no percentiles); any
# request that did not succeed fails the run. Arguments: h2load's own.
run_h2load() {
    taskset -c 0 h2load -t1 -c32 -D "$duration" "$@" | awk -v \
        url="${*: -1}" '
        /^finished in/ { rps = $4 }
        /^requests:/ { failed = $10; errored = $12 + $14 }
        /^status codes:/ { other = $7 + $9 }
        /^time for request:/ { mean = $6 }
        END { if (failed + errored + other > 0 || rps == 0) {
                  printf "bench: %s failed: %d failed, %d errored or " \
                         "timed out, %d 4xx/5xx\n", url, failed, errored, \
                         other \
                         > "/dev/stderr"
                  exit 1 }
              printf "%d %s -\n", rps, mean }'
}

# stream_rate URL N: POSTs {"name":"John","count":N} to URL, a server
# stream, on core 0 and reads the reply's lines: "messages/s ms -". Fewer
# lines than N, or a line that is not a message, fails the run.
stream_rate() {
    local start end lines
    start=$(mono_ms)
    lines=$(taskset -c 0 curl -sfN -H 'Content-Type: application/json' \
        -d "{\"name\":\"John\",\"count\":$2}" "$1" \
        | grep -c '^{"result":{"msg":"Hello John"}}$')
    end=$(mono_ms)
    if [ "$lines" -ne "$2" ]; then
        echo "bench: $1 streamed $lines of $2 messages" >&2
        return 1
    fi
    echo "$(( $2 * 1000 / (end - start + 1) )) $((end - start))ms -"
}

# The median of RUNS runs of a measurement, by req/s, after one run
# thrown away (connections made, peers dialled, caches warm).
median() {
    local i
    "$@" >/dev/null || exit 1
    for i in $(seq 1 "$runs"); do "$@" || exit 1; done | sort -n \
        | sed -n "$(( (runs + 1) / 2 ))p"
}

# budget NAME VALUE OP LIMIT: prints whether VALUE OP LIMIT holds (OP is
# >= or <=); a miss is remembered and fails the script at its end.
budget_missed=0
budget() {
    if awk -v v="$2" -v l="$4" -v op="$3" \
        'BEGIN { exit !(op == ">=" ? v >= l : v <= l) }'; then
        printf 'budget %s: %s %s %s: met\n' "$1" "$2" "$3" "$4"
    else
        printf 'budget %s: %s %s %s: MISSED\n' "$1" "$2" "$3" "$4"
        budget_missed=1
    fi
}

# A wrk or h2load row's p99 (or mean) in ms.
ms() {
    awk '{ v = $0; n = v + 0
           if (v ~ /us$/) n /= 1000; else if (v !~ /ms$/ && v ~ /s$/) n *= 1000
           printf "%.3f\n", n }' <<< "$1"
}

# Milliseconds on the monotonic clock (the wall clock of this VM has been
# seen to step by minutes in the middle of a run).
mono_ms() {
    perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC \
        -e 'printf "%d\n", clock_gettime(CLOCK_MONOTONIC) * 1000'
}

# The ratio a/b of two numbers, two decimals.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'
}

# Ends a script: non-zero when a budget was missed.
budgets_verdict() {
    if [ "$budget_missed" -ne 0 ]; then
        echo "bench: a budget was missed" >&2
        exit 1
    fi
}

row() {
    set -- "$1" $2
    printf '| %-56s | %8s | %9s | %9s |\n' "$1" "$2" "$3" "$4"
}

table_head() {
    printf '| %-56s | %8s | %9s | %9s |\n' path req/s p50 p99
    printf '|%s|----------|-----------|-----------|\n' \
        "$(printf -- '-%.0s' {1..58})"
}

# The Go peers (bench/grpc-go), built once into build/bench against Debian's
# Go packages (GOPATH, no network): $out/gserver, the grpc-go greeter, and
# $out/ggateway, grpc-gateway in front of it.
build_grpc_peers() {
    out=$root/build/bench
    local gopath=$out/gopath
    mkdir -p "$out"
    # built again when a source is newer than the binaries
    if [ -x "$out/gserver" ] && [ -x "$out/ggateway" ] && [ -z "$(find \
        "$root/bench/grpc-go" -newer "$out/ggateway" -type f \
        ! -path '*/streamclient/*')" ]; then
        return 0
    fi
    mkdir -p "$gopath/src/greeter" "$gopath/src/gserver" "$gopath/src/ggateway"
    cp "$root/bench/grpc-go/server/main.go" "$gopath/src/gserver/"
    cp "$root/bench/grpc-go/gateway/main.go" "$gopath/src/ggateway/"
    protoc -I"$root/bench/grpc-go" --go_out=plugins=grpc:"$gopath/src/greeter" \
        --grpc-gateway_out=logtostderr=true,grpc_api_configuration=$root/bench/grpc-go/gateway.yaml:"$gopath/src/greeter" \
        "$root/bench/grpc-go/greeter.proto"
    for b in gserver ggateway; do
        GOPATH=$gopath:/usr/share/gocode GO111MODULE=off \
            GOCACHE=$out/gocache go build -o "$out/$b" "$b"
    done
}

# The streaming peers: grpc-go's Shapes server (t/peers/grpcgo) and the
# one-stream client (bench/grpc-go/streamclient), as $out/gshapes and
# $out/gstream.
build_stream_peers() {
    out=$root/build/bench
    local gopath=$out/gopath
    [ -x "$out/gshapes" ] && [ -x "$out/gstream" ] && return 0
    mkdir -p "$gopath/src/shapes" "$gopath/src/gshapes" "$gopath/src/gstream"
    cp "$root/t/peers/grpcgo/main.go" "$gopath/src/gshapes/"
    cp "$root/bench/grpc-go/streamclient/main.go" "$gopath/src/gstream/"
    protoc -I"$root/libmicro/test/proto" --go_out=plugins=grpc:"$gopath/src/shapes" \
        "$root/libmicro/test/proto/shapes.proto"
    for b in gshapes gstream; do
        GOPATH=$gopath:/usr/share/gocode GO111MODULE=off \
            GOCACHE=$out/gocache go build -o "$out/$b" "$b"
    done
}
