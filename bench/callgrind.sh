#!/bin/bash
# Instructions per request in the NGINX worker, counted by callgrind, so
# the figure holds on a noisy machine: one NGINX (master_process off)
# under valgrind --tool=callgrind, three locations side by side:
#   (a) micro_api with descriptors: JSON -> protobuf -> libmicro greeter
#   (b) micro_api without descriptors: JSON passed through -> greeter
#   (c) proxy_pass with keepalive to a trivial upstream (the baseline)
#   (d) (a) again in an NGINX with micro_stats_zone: every request counted
# For each: a warm-up of WARM requests (connections kept, descriptors
# and snapshot hot), the counters zeroed, then N requests on one kept
# connection (h2load --h1), the counters dumped. Prints the instructions a
# request for each and the ratios; budgets: (a) at most 1.2x (c) (issue
# 10), (d) at most 1.03x (a): counting costs under 3% (issue 11).
# Then the functions that cost (a) most, inclusive, from the dump.
#
#   bash bench/callgrind.sh          N=2000 WARM=200 by default

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

N=${N:-2000}
WARM=${WARM:-200}

tools/setup-deps bench >/dev/null
make -s all >/dev/null
start_redis

greeter=$(free_port 29390)
build/bin/greeter --address 127.0.0.1:$greeter --threads 1 --workers 0 \
    2>/dev/null &
pids+=($!)
trivial=$(free_port 29380)
start_trivial "$trivial"

api=$(free_port 29381)
pass=$((api + 1))

# cg_nginx NAME PORT [micro_proto line]: an NGINX of its own under
# callgrind (a single process), micro_api on PORT, proxy_pass on PORT+10
cg_nginx() {
    mkdir -p "$dir/$1"
    cat > "$dir/$1/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
master_process off;
$(nginx_head $dir/$1 | sed '/worker_cpu_affinity/d')
    keepalive_requests 1000000;
    micro_registry $MICRO_REGISTRY;
    ${3:-}
    upstream trivial { server 127.0.0.1:$trivial; keepalive 8; }
    server { listen 127.0.0.1:$2;
             location / { micro_api; micro_api_namespace go.micro.srv; } }
    server { listen 127.0.0.1:$(( $2 + 10 ));
             location / { proxy_pass http://trivial;
                          proxy_http_version 1.1;
                          proxy_set_header Connection ""; } }
}
CONF
    valgrind --tool=callgrind --callgrind-out-file="$dir/$1/out.%p" \
        nginx -p "$dir/$1/" -c "$dir/$1/nginx.conf" -e "$dir/$1/error.log" \
        2>"$dir/$1/valgrind.log" &
    pids+=($!)
    eval "pid_$1=$!"
}
cg_nginx a "$api" "micro_proto $root/build/gen/proto/services.pb;"
cg_nginx b "$pass"
counted=$((api + 2))
cg_nginx d "$counted" "micro_proto $root/build/gen/proto/services.pb;
    micro_stats_zone stats 1m;"
proxy=$((api + 10))
for p in $greeter $trivial $api $pass $counted $proxy; do
    wait_port "$p"
done
echo '{"name":"John"}' > "$dir/body.json"
for port in $api $pass $counted; do
    for _ in $(seq 1 600); do
        curl -s -H 'Content-Type: application/json' -d @"$dir/body.json" \
            "http://127.0.0.1:$port/greeter/say/hello" | grep -q Hello \
            && break
        sleep 0.05
    done
done

# requests a run: h2load's HTTP/1.1 mode, one kept connection
load() {
    h2load --h1 -n "$1" -c 1 -m 1 -d "$dir/body.json" \
        -H 'Content-Type: application/json' "$2" > "$dir/h2load.log" 2>&1
    grep -q "$1 succeeded, 0 failed" "$dir/h2load.log" || {
        echo "requests failed: $2"; cat "$dir/h2load.log"; exit 1; }
}

# Instructions in the worker for N requests to url, after a warm-up.
count() {
    local label=$1 url=$2 f
    load "$WARM" "$url"
    local pid=$3
    callgrind_control -z "$pid" >/dev/null
    load "$N" "$url"
    callgrind_control -d "$label" "$pid" >/dev/null
    f=$(ls -t "$dir"/*/out.$pid.* | head -1)
    cp "$f" "$dir/$label.out"
    sed -n 's/^summary: *\([0-9]*\).*/\1/p;s/^totals: *\([0-9]*\).*/\1/p' "$f" \
        | head -1
}

ia=$(count a "http://127.0.0.1:$api/greeter/say/hello" "$pid_a")
ib=$(count b "http://127.0.0.1:$pass/greeter/say/hello" "$pid_b")
ic=$(count c "http://127.0.0.1:$proxy/" "$pid_a")
id=$(count d "http://127.0.0.1:$counted/greeter/say/hello" "$pid_d")

per() { echo $(( $1 / N )); }
echo "| request (instructions in the NGINX worker, $N requests) | instr/req | vs proxy_pass |"
echo "|---|---:|---:|"
echo "| (a) micro_api, descriptors -> greeter | $(per $ia) | $(ratio $ia $ic) |"
echo "| (b) micro_api, JSON passed through -> greeter | $(per $ib) | $(ratio $ib $ic) |"
echo "| (c) proxy_pass + keepalive -> trivial upstream | $(per $ic) | 1.00 |"
echo "| (d) (a) with micro_stats_zone | $(per $id) | $(ratio $id $ic) |"
echo
# self cost by function, of the code in this tree (nginx's own binary
# has no symbols); the dumps stay in build/bench for callgrind_annotate
mkdir -p build/bench
cp "$dir/a.out" "$dir/b.out" "$dir/c.out" build/bench/
echo "(a): instructions a request by function of this tree (self), top 20"
echo "(the rest is NGINX's own HTTP work, as for (c), and libc):"
callgrind_annotate --threshold=100 --auto=no "$dir/a.out" > "$dir/a.txt" \
    2>/dev/null || true
{ grep -E "^ *[0-9,]+ .*(ngx_micro|libmicro|micro_)" "$dir/a.txt" || true; } \
    | head -20 \
    | awk -v n="$N" '{ c = $1; gsub(",", "", c)
                       f = $0; sub(/^ *[0-9,]+ \([^)]*\) */, "", f)
                       sub(/ \[.*$/, "", f); sub(/^.*\//, "", f)
                       printf "%8d  %s\n", c / n, f }'
echo
budget "(a) micro_api/proxy_pass instructions" "$(ratio $ia $ic)" "<=" 1.2
budget "(d)/(a) stats on/off instructions" "$(ratio $id $ia)" "<=" 1.03
budgets_verdict
