#!/usr/bin/env bash
# Runs coap_through_gateway.js: the npm `coap` package through iotgw's coap adapter (udp, auth-sas
# passthrough with the device's own SAS token) to iotgw-hub: telemetry read at the hub, and a C2D
# message sent with `iotgw-hub send` received by Observe.
# usage: run_coap_test.sh IOTGW IOTGW_HUB PLUGINS_DIR
#
#   node coap --udp, ?d=&p=--> iotgw --AMQP--> iotgw-hub
#   the test reads the hub's telemetry and sends C2D with iotgw-hub's own CLI (monitor, send)
set -euo pipefail

source "$(dirname "$0")/lib.sh"
node_test_gateway_args "${1:-${IOTGW:-}}" "${2:-${IOTGW_HUB:-}}" "${3:-${IOTGW_PLUGINS:-}}"
hostname=localhub.azure-devices.net
device=node-coap-dev1
node_test_init

node_test_registry "$hub" "$device"
node_test_spawn "$work/hub.log" "$hub" --registry "$work/registry.yaml" --listen 127.0.0.1:0
amqp_port=$(node_test_port "$work/hub.log" "$spawned_pid" '.*] listening on 127\.0\.0\.1:\([0-9]*\).*')
if [ -z "$amqp_port" ]; then
  echo "FAIL - iotgw-hub did not log its listener" >&2
  node_test_show_logs >&2
  exit 1
fi

cat > "$work/gateway.yaml" <<YAML
gateway: {plugins_dir: $plugins, threads: 1}
bridge: {flavour: iothub, url: 'amqp://127.0.0.1:$amqp_port', hostname: $hostname, attach_timeout: 10s}
stages:
  - {name: sas, plugin: auth-sas, config: {mode: passthrough, hostname: $hostname}}
listeners:
  - {name: coap, adapter: coap, transport: udp, bind: '127.0.0.1:0', auth: [sas]}
YAML
node_test_spawn "$work/gw.log" "$gw" --config "$work/gateway.yaml"
coap_port=$(node_test_port "$work/gw.log" "$spawned_pid" '.*\[listener coap\] listening on 127\.0\.0\.1:\([0-9]*\) .*')
if [ -z "$coap_port" ]; then
  echo "FAIL - iotgw did not log its coap listener" >&2
  node_test_show_logs >&2
  exit 1
fi

rc=0
(
  cd "$here"
  export IOTGW_HUB="$hub" IOTGW_HUB_URL="amqp://127.0.0.1:$amqp_port"
  export IOTGW_HUB_REGISTRY="$work/registry.yaml" IOTGW_HUB_LOG="$work/hub.log"
  export IOTGW_DEVICE="$device" IOTGW_COAP_PORT="$coap_port" NODE_NO_WARNINGS=1
  timeout 120 node coap_through_gateway.js
) || rc=$?
if [ "$rc" -ne 0 ]; then node_test_show_logs; fi
exit "$rc"
