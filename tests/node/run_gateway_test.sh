#!/usr/bin/env bash
# Runs mqtt_through_gateway.js: Azure's Node device SDK over MQTT with TLS through iotgw, and the
# Node service SDK against the iotgw-hub behind it.
# usage: run_gateway_test.sh IOTGW IOTGW_HUB PLUGINS_DIR
#
#   device SDK --MQTT/TLS--> iotgw (mqtt adapter, auth-sas passthrough) --AMQP--> iotgw-hub
#   service SDK --HTTPS (registry, twins, methods) and AMQPS (C2D, telemetry)--> iotgw-hub
#
# A temp folder gets a registry (one device, a `service` policy with the registry and service
# rights), a test CA and one server certificate (the hub's name, localhost, 127.0.0.1) that both
# the hub's TLS listeners and iotgw's MQTT listener use. Everything listens on port 0 and the
# ports are read from the logs. npm ci runs if node_modules is missing.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
node_test_gateway_args "${1:-${IOTGW:-}}" "${2:-${IOTGW_HUB:-}}" "${3:-${IOTGW_PLUGINS:-}}"
hostname=localhub.azure-devices.net
device=node-gw-dev1
node_test_init

node_test_registry "$hub" "$device"
node_test_pki server

# The hub: plain AMQP for the gateway's bridge, AMQPS for the service SDK's C2D sender and the
# telemetry consumer, HTTPS for the service SDK's registry, twin and method calls.
node_test_spawn "$work/hub.log" "$hub" --registry "$work/registry.yaml" --log-level debug \
  --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 \
  --cert "$work/server.pem" --key "$work/server.key"
hub_pid=$spawned_pid
amqp_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*] listening on 127\.0\.0\.1:\([0-9]*\).*')
tls_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*TLS listening on 127\.0\.0\.1:\([0-9]*\).*')
https_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*https listening on 127\.0\.0\.1:\([0-9]*\).*')
if [ -z "$amqp_port" ] || [ -z "$tls_port" ] || [ -z "$https_port" ]; then
  echo "FAIL - iotgw-hub did not log its three listeners (amqp '$amqp_port', amqps '$tls_port', https '$https_port')" >&2
  node_test_show_logs >&2
  exit 1
fi

# The gateway: MQTT over TLS, each device's own SAS token (the MQTT password) checked for form,
# expiry and audience by auth-sas and passed through to the hub's CBS.
cat > "$work/gateway.yaml" <<YAML
gateway: {plugins_dir: $plugins, threads: 1, log_level: debug}
bridge: {flavour: iothub, url: 'amqp://127.0.0.1:$amqp_port', hostname: $hostname, attach_timeout: 10s}
stages:
  - {name: sas, plugin: auth-sas, config: {mode: passthrough, hostname: $hostname}}
listeners:
  - name: mqtts
    adapter: mqtt
    transport: tls
    bind: '127.0.0.1:0'
    tls: {cert_file: $work/server.pem, key_file: $work/server.key}
    auth: [sas]
    options: {hostname: $hostname}
YAML
node_test_spawn "$work/gw.log" "$gw" --config "$work/gateway.yaml"
gw_pid=$spawned_pid
mqtt_port=$(node_test_port "$work/gw.log" "$gw_pid" '.*\[listener mqtts\] listening on 127\.0\.0\.1:\([0-9]*\) .*')
if [ -z "$mqtt_port" ]; then
  echo "FAIL - iotgw did not log its MQTT listener's port" >&2
  node_test_show_logs >&2
  exit 1
fi

rc=0
(
  cd "$here"
  export IOTGW_HUB_DEVICE_CS="$device_cs" IOTGW_HUB_SERVICE_CS="$service_cs"
  export IOTGW_GATEWAY_MQTT_ADDRESS="localhost:$mqtt_port"
  export IOTGW_HUB_TLS_ADDRESS="127.0.0.1:$tls_port" IOTGW_HUB_HTTPS_PORT="$https_port"
  export IOTGW_HUB_REGISTRY="$work/registry.yaml"
  export NODE_EXTRA_CA_CERTS="$work/ca.pem" NODE_NO_WARNINGS=1
  timeout 180 node "${IOTGW_NODE_TEST_SCRIPT:-mqtt_through_gateway.js}"
) || rc=$?
if [ "$rc" -ne 0 ]; then node_test_show_logs; fi
exit "$rc"
