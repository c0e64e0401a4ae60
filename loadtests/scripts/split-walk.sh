#!/usr/bin/env bash
# The split deployment's USSD hop path (issue 15): `seedgate run store|sessions|flows|http-channels`
# over the machine's RabbitMQ, Redis and PostgreSQL, walked by at-walk; prints at-walk's report
# and what each hop cost the backends (Redis commands and round trips, RabbitMQ publishes,
# confirms and acks), from Redis' INFO commandstats and RabbitMQ's global counters.
# usage: split-walk.sh BIN_DIR LABEL [at-walk options...]   (BIN_DIR holds seedgate and at-walk)
# Everything it makes is its own (exchange, queue prefix, Redis key prefix, PostgreSQL schema
# named after LABEL and the PID), removed afterwards. Ports 17081-17084.
set -u
BIN=$(realpath "$1"); LABEL=$2; shift 2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ID="walk_${LABEL//[^A-Za-z0-9]/_}_$$"
D=$(mktemp -d "/tmp/seedgate-split-$LABEL-XXXX")
export SEEDGATE_CONFIG=$ROOT/deploy/seedgate.split.toml
export SEEDGATE_BUS__EXCHANGE=$ID SEEDGATE_BUS__QUEUE_PREFIX="$ID." SEEDGATE_BUS__QUEUE_EXPIRES_MS=60000
export SEEDGATE_SESSION_STORE__KEY_PREFIX="$ID:" SEEDGATE_STORE__SCHEMA=$ID
export SEEDGATE_FLOWS__DIR=$ROOT/flows SEEDGATE_LOG__LEVEL=${LOG_LEVEL:-warn}
export SEEDGATE_STORE__ARCHIVE_DIR=$D/archive
PIDS=()
port=17081
for svc in store sessions flows http-channels; do
  SEEDGATE_HTTP__LISTEN=127.0.0.1:$port "$BIN/seedgate" run "$svc" > "$D/$svc.log" 2>&1 &
  PIDS+=($!); eval "PORT_${svc//-/_}=$port"; port=$((port + 1))
done
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  psql -q -h 127.0.0.1 -U postgres test -c "DROP SCHEMA IF EXISTS \"$ID\" CASCADE" >/dev/null 2>&1
  redis-cli --scan --pattern "$ID:*" | xargs -r -n 500 redis-cli del >/dev/null
  rabbitmqctl eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$ID\">>), false, <<\"split-walk\">>)." >/dev/null 2>&1 || true
}
trap cleanup EXIT
for p in $PORT_store $PORT_sessions $PORT_flows $PORT_http_channels; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.2; done
done

redis_stats() { redis-cli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p'; }
rabbit_stats() {
  rabbitmqctl eval 'C = rabbit_global_counters:overview(),
    P = maps:get([{protocol,amqp091}], C),
    Q = maps:get([{protocol,amqp091},{queue_type,rabbit_quorum_queue}], C),
    K = maps:get([{protocol,amqp091},{queue_type,rabbit_classic_queue}], C),
    io:format("published ~p~nconfirmed ~p~nrouted ~p~nacked ~p~n",
      [maps:get(messages_received_total, P), maps:get(messages_confirmed_total, P),
       maps:get(messages_routed_total, P),
       maps:get(messages_acknowledged_total, Q) + maps:get(messages_acknowledged_total, K)]).' 2>/dev/null | grep -v '^ok$'
}
redis_stats > "$D/redis.before"; rabbit_stats > "$D/rabbit.before"
"$BIN/at-walk" --url "http://127.0.0.1:$PORT_http_channels" --metrics-url "http://127.0.0.1:$PORT_sessions/metrics" \
  --verify-store postgres://postgres@127.0.0.1:5432/test --verify-schema "$ID" "$@" 2> "$D/at-walk.err" | tee "$D/at-walk.out"
sleep 2 # the last events and records reach their queues
redis_stats > "$D/redis.after"; rabbit_stats > "$D/rabbit.after"
HOPS=$(sed -n 's/^ *hops  *\([0-9][0-9]*\) in.*/\1/p' "$D/at-walk.out" | head -1)
echo "== backend work per hop ($HOPS hops; logs in $D)"
join -a2 -e0 -o 0,1.2,2.2 <(sort "$D/redis.before") <(sort "$D/redis.after") |
  awk -v h="$HOPS" '{d=$3-$2; if (d>0 && h>0) {printf "redis %-10s %8d  %.2f/hop\n", $1, d, d/h; t+=d; if ($1!="multi" && $1!="exec") c+=d}}
    END {if (h>0) printf "redis total      %8d  %.2f/hop (%.2f without MULTI/EXEC)\n", t, t/h, c/h}'
join <(sort "$D/rabbit.before") <(sort "$D/rabbit.after") |
  awk -v h="$HOPS" '{d=$3-$2; if (h>0) printf "rabbitmq %-9s %8d  %.2f/hop\n", $1, d, d/h}'
grep -ciE "error|panick" "$D"/*.log | sed 's/^/log lines with error: /'
