#!/usr/bin/env bash
# Runs mqtt_over_websockets.js: MQTT over WebSockets through iotgw to iotgw-hub, with Azure's Node
# device SDK (azure-iot-device-mqtt's MqttWs, MQTT 3.1.1 over wss) and the npm `mqtt` package
# (MQTT 5 over ws and over wss).
# usage: run_websocket_test.sh IOTGW IOTGW_HUB PLUGINS_DIR
#
#   MqttWs    --wss 127.0.0.1:443 (the SDK always dials 443)--> iotgw --AMQP--> iotgw-hub
#   mqtt.js 5 --ws and wss, IoT Hub's path /$iothub/websocket-->  iotgw
#   the test reads the hub's telemetry and sends C2D with iotgw-hub's own CLI (monitor, send)
set -euo pipefail

source "$(dirname "$0")/lib.sh"
node_test_gateway_args "${1:-${IOTGW:-}}" "${2:-${IOTGW_HUB:-}}" "${3:-${IOTGW_PLUGINS:-}}"
hostname=localhub.azure-devices.net
device=node-ws-dev1
node_test_init

node_test_registry "$hub" "$device"
node_test_pki server

node_test_spawn "$work/hub.log" "$hub" --registry "$work/registry.yaml" --log-level debug \
  --listen 127.0.0.1:0
hub_pid=$spawned_pid
amqp_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*] listening on 127\.0\.0\.1:\([0-9]*\).*')
if [ -z "$amqp_port" ]; then
  echo "FAIL - iotgw-hub did not log its listener" >&2
  node_test_show_logs >&2
  exit 1
fi

# The gateway: MQTT over ws and wss on IoT Hub's path and subprotocol (the defaults), each
# device's own SAS token checked by auth-sas and passed through to the hub's CBS. Azure's MqttWs
# transport dials {GatewayHostName}:443, so one wss listener is there.
tls="{cert_file: $work/server.pem, key_file: $work/server.key}"
cat > "$work/gateway.yaml" <<YAML
gateway: {plugins_dir: $plugins, threads: 1, log_level: debug}
bridge: {flavour: iothub, url: 'amqp://127.0.0.1:$amqp_port', hostname: $hostname, attach_timeout: 10s}
stages:
  - {name: sas, plugin: auth-sas, config: {mode: passthrough, hostname: $hostname}}
listeners:
  - {name: ws, adapter: mqtt, transport: ws, bind: '127.0.0.1:0', auth: [sas], options: {hostname: $hostname}}
  - {name: wss, adapter: mqtt, transport: wss, bind: '127.0.0.1:0', tls: $tls, auth: [sas], options: {hostname: $hostname}}
  - {name: wss443, adapter: mqtt, transport: wss, bind: '127.0.0.1:443', tls: $tls, auth: [sas], options: {hostname: $hostname}}
YAML
node_test_spawn "$work/gw.log" "$gw" --config "$work/gateway.yaml"
gw_pid=$spawned_pid
ws_port=$(node_test_port "$work/gw.log" "$gw_pid" '.*\[listener ws\] listening on 127\.0\.0\.1:\([0-9]*\) .*')
wss_port=$(node_test_port "$work/gw.log" "$gw_pid" '.*\[listener wss\] listening on 127\.0\.0\.1:\([0-9]*\) .*')
wss443=$(node_test_port "$work/gw.log" "$gw_pid" '.*\[listener wss443\] listening on 127\.0\.0\.1:\([0-9]*\) .*')
if [ -z "$ws_port" ] || [ -z "$wss_port" ] || [ "$wss443" != 443 ]; then
  echo "FAIL - iotgw did not log its three WebSocket listeners (ws '$ws_port', wss '$wss_port', 443 '$wss443')" >&2
  node_test_show_logs >&2
  exit 1
fi

rc=0
(
  cd "$here"
  export IOTGW_HUB_DEVICE_CS="$device_cs" IOTGW_HUB_REGISTRY="$work/registry.yaml"
  export IOTGW_HUB="$hub" IOTGW_HUB_URL="amqp://127.0.0.1:$amqp_port"
  export IOTGW_WS_PORT="$ws_port" IOTGW_WSS_PORT="$wss_port"
  export NODE_EXTRA_CA_CERTS="$work/ca.pem" NODE_NO_WARNINGS=1
  timeout 180 node mqtt_over_websockets.js
) || rc=$?
if [ "$rc" -ne 0 ]; then node_test_show_logs; fi
exit "$rc"
