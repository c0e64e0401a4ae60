# Sourced by vs-kannel.sh and mt-ab.sh: the `seedgate up` config both benchmark.
#
# bench_config DIR HTTP_PORT SMPP_PORT SMSC_PORT WINDOW: writes DIR/seedgate.toml (SQLite in
# DIR/data, the demo channels idle beside an `smpp-esme` channel `bench` to the SMSC).
bench_config() {
  local d=$1 http=$2 smpp=$3 smsc=$4 window=$5
  cat > "$d/seedgate.toml" <<TOML
[http]
listen = "127.0.0.1:$http"
[api]
rate_per_sec = 0
[store]
url = "sqlite://$d/data/seedgate.db"
[smpp_server]
listen = "127.0.0.1:$smpp"
# the default demo channels (the default SMPP server account routes to demo-sms); idle here
[channels.demo-at]
type = "africastalking-ussd"
flow = "demo"
[channels.demo-sms]
type = "simulated-carrier"
[channels.bench]
type = "smpp-esme"
[channels.bench.smpp]
address = "127.0.0.1:$smsc"
system_id = "seedgate"
password = "x"
window = $window
source_addr = "Bench"
TOML
}
