# Shared by the bench scripts: ports, processes, wrk and h2load runs.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-5}
runs=${RUNS:-3}
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

# wrk on core 0: "req/s p50 p99"
run_wrk() {
    taskset -c 0 wrk -t1 -c32 -d"${duration}s" --latency "$@" | awk '
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = $2 }
        /^ +99%/ { p99 = $2 }
        END { printf "%d %s %s\n", rps, p50, p99 }'
}

# The median of RUNS runs of a measurement, by req/s.
median() {
    local i
    for i in $(seq 1 "$runs"); do "$@"; done | sort -n \
        | sed -n "$(( (runs + 1) / 2 ))p"
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
    [ -x "$out/gserver" ] && [ -x "$out/ggateway" ] && return 0
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
