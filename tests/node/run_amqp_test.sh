#!/usr/bin/env bash
# Runs amqp_device_and_service.js (Azure's Node SDKs) against a fresh iotgw-hub.
# usage: run_amqp_test.sh [IOTGW_HUB]   (or IOTGW_HUB in the environment)
#
# A temp folder gets a registry (one device, a `service` policy with the service and registry
# rights), a test CA and a certificate for the hub (the SDKs speak AMQP only over TLS), then the hub
# starts on free ports (port 0: it logs the ones it got). npm ci runs if node_modules is missing.
set -euo pipefail

source "$(dirname "$0")/lib.sh"
hub=${1:-${IOTGW_HUB:-}}
[ -n "$hub" ] && [ -x "$hub" ] || { echo "FAIL - iotgw-hub binary not given or not executable: '$hub'" >&2; exit 2; }
hostname=localhub.azure-devices.net
device=node-dev1
node_test_init

node_test_registry "$hub" "$device"

node_test_pki hub
node_test_spawn "$work/hub.log" "$hub" --registry "$work/registry.yaml" --listen 127.0.0.1:0 \
  --tls-listen 127.0.0.1:0 --https-listen 127.0.0.1:0 --cert "$work/hub.pem" --key "$work/hub.key"
hub_pid=$spawned_pid
tls_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*TLS listening on 127\.0\.0\.1:\([0-9]*\).*')
https_port=$(node_test_port "$work/hub.log" "$hub_pid" '.*https listening on 127\.0\.0\.1:\([0-9]*\).*')
if [ -z "$tls_port" ] || [ -z "$https_port" ]; then
  echo "FAIL - iotgw-hub did not start its TLS listener; its log:" >&2
  cat "$work/hub.log" >&2
  exit 1
fi

rc=0
(
  cd "$here"
  export IOTGW_HUB_DEVICE_CS="$device_cs" IOTGW_HUB_SERVICE_CS="$service_cs"
  export IOTGW_HUB_TLS_ADDRESS="127.0.0.1:$tls_port" IOTGW_HUB_HTTPS_PORT="$https_port"
  export NODE_EXTRA_CA_CERTS="$work/ca.pem"
  # The SDKs connect by IP address (GatewayHostName): Node warns that SNI cannot carry one.
  export NODE_NO_WARNINGS=1
  timeout 120 node amqp_device_and_service.js
) || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- iotgw-hub log ---"
  cat "$work/hub.log"
fi
exit "$rc"
