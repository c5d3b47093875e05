#!/bin/bash
# Load-aware selection against a slow node, side by side in one run: one
# service, two nodes (testsrv), one answering at once and one taking
# SLOW_MS (default 20) a call; the gateway with micro_selector round_robin,
# least_inflight and peak_ewma. wrk POSTs JSON with 32 connections on core
# 0, NGINX and the nodes on core 1. Each row is the median of RUNS runs
# (default 3). A second table, from the access log of those runs: the
# share of calls the slow node got, and the p99 of $request_time (what the
# gateway saw, the node's time included). The last lines are each
# load-aware strategy's req/s and wrk p99 over round_robin's (p99: lower
# is better).
#
#   bash bench/slow.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all "$root/build/test/testsrv" >/dev/null
start_redis

fast=$(free_port 29290)
taskset -c 1 build/test/testsrv --name go.micro.srv.busy \
    --address 127.0.0.1:$fast --threads 1 2>/dev/null &
pids+=($!)
slow=$(free_port $((fast + 1)))
taskset -c 1 build/test/testsrv --name go.micro.srv.busy \
    --address 127.0.0.1:$slow --threads 1 --delay "${SLOW_MS:-20}" \
    2>/dev/null &
pids+=($!)

rr=$(free_port 29281)
least=$((rr + 1))
ewma=$((rr + 2))
cat > "$dir/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head $dir)
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    micro_proto $root/build/gen/proto/services.pb;
    micro_api_namespace go.micro.srv;
    log_format node '\$upstream_addr \$request_time';
    server { listen 127.0.0.1:$rr; access_log $dir/round_robin.log node;
             location / { micro_api; micro_selector round_robin; } }
    server { listen 127.0.0.1:$least; access_log $dir/least_inflight.log node;
             location / { micro_api; micro_selector least_inflight; } }
    server { listen 127.0.0.1:$ewma; access_log $dir/peak_ewma.log node;
             location / { micro_api; micro_selector peak_ewma; } }
}
CONF
nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
pids+=($!)
for p in $fast $slow $rr $least $ewma; do wait_port "$p"; done

# both nodes routable
for _ in $(seq 1 500); do
    n=$(for _ in 1 2 3 4 5 6; do
            curl -s -H 'Content-Type: application/json' -d '{}' \
                "http://127.0.0.1:$rr/busy/test/echo"; echo; done \
        | grep -o '"node":"[^"]*"' | sort -u | wc -l)
    [ "$n" = 2 ] && break
    sleep 0.02
done

url=/busy/test/echo
for f in round_robin least_inflight peak_ewma; do
    : > "$dir/$f.log"                      # only the measured runs count
done
a=$(median run_wrk -s bench/echo-json.lua "http://127.0.0.1:$rr$url")
b=$(median run_wrk -s bench/echo-json.lua "http://127.0.0.1:$least$url")
c=$(median run_wrk -s bench/echo-json.lua "http://127.0.0.1:$ewma$url")

table_head
row "round_robin, one node ${SLOW_MS:-20} ms slow" "$a"
row "least_inflight, one node ${SLOW_MS:-20} ms slow" "$b"
row "peak_ewma, one node ${SLOW_MS:-20} ms slow" "$c"
p99() { awk '{ v = $3; sub(/ms$/, "", v);
               if ($3 ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
               if ($3 ~ /[0-9]s$/ && $3 !~ /ms$/) { sub(/s$/, "", v); v *= 1000 }
               print v }' <<< "$1"; }
ratios() {
    awk -v n="$1" -v a="$(p99 "$a")" -v b="$(p99 "$2")" -v ra="${a%% *}" \
        -v rb="${2%% *}" \
        'BEGIN { printf "%s/round_robin req/s: %.2f\n", n, rb / ra;
                 printf "%s/round_robin p99: %.2f\n", n, b / a }'
}
echo
printf '| %-22s | %16s | %22s |\n' strategy "calls to slow" 'p99 $request_time'
printf '|%s|------------------|------------------------|\n' \
    "$(printf -- '-%.0s' {1..24})"
for f in round_robin least_inflight peak_ewma; do
    sort -k2 -n "$dir/$f.log" | awk -v s="127.0.0.1:$slow" -v n="$f" '
        { t[NR] = $2; if ($1 == s) slow++ }
        END { printf "| %-22s | %15.2f%% | %19.1f ms |\n", n,
                     100 * slow / NR, 1000 * t[int(NR * 0.99)] }'
done
echo
ratios least_inflight "$b"
ratios peak_ewma "$c"
