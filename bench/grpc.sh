#!/bin/bash
# libmicro's gRPC server against grpc-go's, side by side in one run, each
# server on one core (taskset -c 1; one I/O thread, GOMAXPROCS=1), the
# load on the other:
#   - unary: h2load (32 connections, 10 streams each) to the greeter's
#     Say.Hello: libmicro with handlers inline and on worker threads, and
#     grpc-go (bench/grpc-go). Budget: libmicro at least 1.5x grpc-go's
#     req/s, with a lower mean latency.
#   - one bidirectional stream (Shapes/Chat): messages echoed per second,
#     libmicro's test server against grpc-go's, the same grpc-go client
#     (bench/grpc-go/streamclient). Budget: at least 1x.
#   - memory per idle HTTP/2 connection: RSS before and after 500
#     (bench/h2_idle.py), for each server.
# Rows are the median of RUNS runs (default 3) after a warm-up; a failed
# request or a missed budget fails the script.
#
#   bash bench/grpc.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all build/test/grpcsrv >/dev/null

build_grpc_peers
build_stream_peers
start_redis

inline=$(free_port 29190)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$inline --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)
workers=$(free_port $((inline + 1)))
taskset -c 1 build/bin/greeter --address 127.0.0.1:$workers --threads 1 \
    2>/dev/null &
pids+=($!)
peer=$(free_port 29151)
GOMAXPROCS=1 taskset -c 1 "$out/gserver" -address 127.0.0.1:$peer \
    2>/dev/null &
pids+=($!)
shapes=$(free_port 29160)
taskset -c 1 build/test/grpcsrv --address 127.0.0.1:$shapes --threads 1 \
    2>/dev/null &
pids+=($!)
goshapes=$(free_port $((shapes + 1)))
GOMAXPROCS=1 taskset -c 1 "$out/gshapes" -address 127.0.0.1:$goshapes \
    2>/dev/null &
pids+=($!)
for p in $inline $workers $peer $shapes $goshapes; do wait_port "$p"; done

printf '\x00\x00\x00\x00\x06\x0a\x04John' > "$dir/hello.bin"
unary() {
    run_h2load -m 10 -d "$dir/hello.bin" -H 'content-type: application/grpc' \
        -H 'te: trailers' "http://127.0.0.1:$1$2"
}
lib_inline=$(median unary "$inline" /go.micro.srv.greeter.Say/Hello)
lib_workers=$(median unary "$workers" /go.micro.srv.greeter.Say/Hello)
go_unary=$(median unary "$peer" /greeter.Say/Hello)

stream() {
    taskset -c 0 "$out/gstream" -address "127.0.0.1:$1" \
        -duration "${duration}s"
}
lib_stream=$(median stream "$shapes")
go_stream=$(median stream "$goshapes")

# kB of RSS a connection: the server's VmRSS with 500 idle ones open,
# less before
idle_kb() {
    local before after fifo=$dir/hold.$1
    before=$(awk '/VmRSS/ { print $2 }' "/proc/$2/status")
    mkfifo "$fifo"
    python3 bench/h2_idle.py "$1" 500 < "$fifo" > "$dir/idle.out" &
    local py=$!
    exec 7> "$fifo"
    for _ in $(seq 1 1500); do
        grep -q open "$dir/idle.out" 2>/dev/null && break
        sleep 0.02
    done
    grep -q open "$dir/idle.out" || { echo "bench: idle connections" \
        "did not open" >&2; exit 1; }
    after=$(awk '/VmRSS/ { print $2 }' "/proc/$2/status")
    exec 7>&-
    wait "$py" || true
    rm -f "$fifo"
    awk -v a="$after" -v b="$before" 'BEGIN { printf "%.1f\n", (a - b) / 500 }'
}
lib_idle=$(idle_kb "$inline" "${pids[1]}")
go_idle=$(idle_kb "$peer" "${pids[3]}")

table_head
row "libmicro greeter over gRPC, handlers inline (p50: mean)" "$lib_inline"
row "libmicro greeter over gRPC, worker threads (p50: mean)" "$lib_workers"
row "grpc-go greeter (p50: mean)" "$go_unary"
echo
printf '| %-56s | %10s |\n' "one bidirectional stream, same grpc-go client" \
    "messages/s"
printf '|%s|------------|\n' "$(printf -- '-%.0s' {1..58})"
printf '| %-56s | %10s |\n' "libmicro server (Shapes/Chat)" "$lib_stream"
printf '| %-56s | %10s |\n' "grpc-go server (Shapes/Chat)" "$go_stream"
echo
printf '| %-56s | %10s |\n' "memory per idle HTTP/2 connection" "kB (RSS)"
printf '|%s|------------|\n' "$(printf -- '-%.0s' {1..58})"
printf '| %-56s | %10s |\n' "libmicro greeter" "$lib_idle"
printf '| %-56s | %10s |\n' "grpc-go greeter" "$go_idle"
echo
budget "libmicro (inline)/grpc-go unary req/s" \
    "$(ratio "${lib_inline%% *}" "${go_unary%% *}")" ">=" 1.5
budget "libmicro (inline)/grpc-go mean latency" \
    "$(ratio "$(ms "$(echo "$lib_inline" | cut -d' ' -f2)")" \
             "$(ms "$(echo "$go_unary" | cut -d' ' -f2)")")" "<=" 1
budget "libmicro (worker threads)/grpc-go unary req/s" \
    "$(ratio "${lib_workers%% *}" "${go_unary%% *}")" ">=" 1.5
budget "libmicro/grpc-go messages/s on one stream" \
    "$(ratio "$lib_stream" "$go_stream")" ">=" 1
budgets_verdict
