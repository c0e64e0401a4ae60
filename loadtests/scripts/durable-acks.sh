#!/usr/bin/env bash
# The durable acknowledgement paths of `seedgate up` (issue 14): SMPP server submits at
# window 10 and 100, and API accepts. usage: durable-acks.sh SEEDGATE_BINARY LABEL
# (smpp-bench and api-send from $BENCH, default target/release).
set -u
BIN=$(realpath "$1"); LABEL=$2; ROOT=$(cd "$(dirname "$0")/../.." && pwd); BENCH=${BENCH:-$ROOT/target/release}
D=$(mktemp -d "/tmp/seedgate-bench-$LABEL-XXXX"); cd "$D"
HTTP=18080; SMPP=12775
cat > seedgate.toml <<TOML
[http]
listen = "127.0.0.1:$HTTP"
[api]
rate_per_sec = 0
[smpp_server]
listen = "127.0.0.1:$SMPP"
[channels.demo-at]
type = "africastalking-ussd"
flow = "demo"
[channels.demo-sms]
type = "simulated-carrier"
sim_dlr_delay_ms = 20
[[smpp_server.accounts]]
system_id = "demo"
password_hash = "\$argon2id\$v=19\$m=19456,t=2,p=1\$0do57pWTnlDyIWDVTk7NEQ\$7TtWw/OPUeptuWNXynd/59gPC3ykKjdHf6Ny046Hd80"
tps = 0
route = "demo-sms"
TOML
TOKEN=$($BIN --config seedgate.toml token create --scopes send,read --name bench)
$BIN --config seedgate.toml up > log 2>&1 &
PID=$!
for i in $(seq 50); do curl -sf http://127.0.0.1:$HTTP/readyz >/dev/null && break; sleep 0.2; done
for W in 10 100; do
  echo "== $LABEL smpp window $W"; $BENCH/smpp-bench --target 127.0.0.1:$SMPP --system-id demo --password demo --window $W --messages 60000 --max-seconds 20 2>/dev/null | tail -4
done
echo "== $LABEL api"; $BENCH/api-send --url http://127.0.0.1:$HTTP --token $TOKEN --channel demo-sms --messages 20000 --concurrency 32 2>/dev/null | tail -4
kill -TERM $PID; wait $PID
