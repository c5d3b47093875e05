#!/bin/bash
# Registry scale: the greeter through the gateway with a small registry,
# then with 10,000 more services of 10 nodes each (written straight into
# Redis in the registry format), side by side. Prints the rows, the time a
# worker took to load the big registry and its RSS, and as the last line
# the p99 ratio (budget: at most 1.10; a missed budget or a failed
# request fails the script).
#
#   bash bench/scale.sh

set -eu
. "$(dirname "$0")/lib.sh"
cd "$root"

tools/setup-deps bench >/dev/null
make -s all >/dev/null
start_redis

greeter=$(free_port 29290)
taskset -c 1 build/bin/greeter --address 127.0.0.1:$greeter --threads 1 \
    --workers 0 2>/dev/null &
pids+=($!)

api=$(free_port 29281)
cat > "$dir/nginx.conf" <<CONF
load_module $root/build/nginx/ngx_micro_core_module.so;
load_module $root/build/nginx/ngx_micro_api_module.so;
$(nginx_head "$dir")
    micro_registry $MICRO_REGISTRY;
    server { listen 127.0.0.1:$api;
             location = /registry { micro_registry_status; }
             location / { micro_api; micro_api_namespace go.micro.srv; } }
}
CONF

start_nginx() {
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
    nginx_pid=$!
    wait_port "$api"
}

stop_nginx() {
    kill -QUIT "$nginx_pid"
    wait "$nginx_pid" 2>/dev/null || true
}

loaded() {
    curl -s "http://127.0.0.1:$api/registry" | head -c 120 \
        | grep -q '"loads":[1-9]'
}

wait_routable() {
    for _ in $(seq 1 1000); do
        curl -s -H 'Content-Type: application/json' -d '{"name":"J"}' \
            "http://127.0.0.1:$api/greeter/say/hello" | grep -q Hello && return
        sleep 0.02
    done
    echo "the greeter never became routable" >&2
    exit 1
}

start_nginx
wait_routable
small=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api/greeter/say/hello")
stop_nginx

redis-cli -p "$redis" EVAL "
for s = 1, 10000 do
  local name = 'go.micro.srv.bulk' .. s
  redis.call('SADD', 'micro:registry:services', name)
  for n = 1, 10 do
    local id = name .. '-' .. n
    redis.call('HSET', 'micro:registry:svc:' .. name, id,
      '{\"name\":\"' .. name .. '\",\"version\":\"1\",\"metadata\":{},'
      .. '\"endpoints\":[],\"nodes\":[{\"id\":\"' .. id .. '\",'
      .. '\"address\":\"127.0.0.1:' .. (20000 + n) .. '\",\"metadata\":{}}]}')
    redis.call('ZADD', 'micro:registry:expiry', '+inf', name .. ' ' .. id)
  end
end
return 1" 0 >/dev/null

t0=$(mono_ms)
start_nginx
for _ in $(seq 1 1000); do loaded && break; sleep 0.01; done
t1=$(mono_ms)
wait_routable
rss=$(ps -o rss= --ppid "$nginx_pid" | head -1)
big=$(median run_wrk -s bench/greeter-json.lua \
    "http://127.0.0.1:$api/greeter/say/hello")
stop_nginx

table_head
row "greeter via micro_api, registry: 1 service" "$small"
row "greeter via micro_api, registry: 10,001 services" "$big"
echo "load of 100,000 nodes: $(( t1 - t0 )) ms," \
     "worker RSS $(( rss / 1024 )) MB"
budget "p99 big/small registry" \
    "$(ratio "$(ms "${big##* }")" "$(ms "${small##* }")")" "<=" 1.10
budgets_verdict
