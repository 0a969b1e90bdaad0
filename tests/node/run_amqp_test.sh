#!/usr/bin/env bash
# Runs amqp_device_and_service.js (Azure's Node SDKs) against a fresh iotgw-hub.
# usage: run_amqp_test.sh [IOTGW_HUB]   (or IOTGW_HUB in the environment)
#
# A temp folder gets a registry (one device, a `service` policy with the service and registry
# rights), a test CA and a certificate for the hub (the SDKs speak AMQP only over TLS), then the hub
# starts on free ports (port 0: it logs the ones it got). npm ci runs if node_modules is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
hub=${1:-${IOTGW_HUB:-}}
[ -n "$hub" ] && [ -x "$hub" ] || { echo "FAIL - iotgw-hub binary not given or not executable: '$hub'" >&2; exit 2; }
hostname=localhub.azure-devices.net
device=node-dev1

work=$(mktemp -d -t iotgw-node-test-XXXXXX)
hub_pid=
cleanup() {
  if [ -n "$hub_pid" ] && kill -0 "$hub_pid" 2>/dev/null; then
    kill -TERM "$hub_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$hub_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$hub_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ ! -d "$here/node_modules" ]; then
  echo "npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund)
fi

# Registry: the hub's own rights are device, registry and service (IoT Hub's registryRead,
# registryWrite and serviceConnect map onto registry and service).
policy_key=$(head -c 32 /dev/urandom | base64)
cat > "$work/registry.yaml" <<EOF
hostname: $hostname
devices: []
policies:
  - name: service
    key: $policy_key
    rights: [registry, service]
EOF
"$hub" registry add-device "$work/registry.yaml" "$device" >/dev/null
device_cs=$("$hub" registry connection-string "$work/registry.yaml" "$device")
service_cs="HostName=$hostname;SharedAccessKeyName=service;SharedAccessKey=$policy_key"

# A CA and a server certificate for the hub's name, localhost and 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=iotgw node test CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$hostname" \
  -keyout "$work/hub.key" -out "$work/hub.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' "$hostname" \
  > "$work/ext.cnf"
openssl x509 -req -in "$work/hub.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -days 2 -extfile "$work/ext.cnf" -out "$work/hub.pem" 2>/dev/null

"$hub" --registry "$work/registry.yaml" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
  --cert "$work/hub.pem" --key "$work/hub.key" >"$work/hub.log" 2>&1 &
hub_pid=$!
tls_port=
for _ in $(seq 150); do
  tls_port=$(sed -n 's/.*TLS listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/hub.log" | head -1)
  [ -n "$tls_port" ] && break
  kill -0 "$hub_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$tls_port" ]; then
  echo "FAIL - iotgw-hub did not start its TLS listener; its log:" >&2
  cat "$work/hub.log" >&2
  exit 1
fi

rc=0
(
  cd "$here"
  export IOTGW_HUB_DEVICE_CS="$device_cs" IOTGW_HUB_SERVICE_CS="$service_cs"
  export IOTGW_HUB_TLS_ADDRESS="127.0.0.1:$tls_port" NODE_EXTRA_CA_CERTS="$work/ca.pem"
  # The SDKs connect by IP address (GatewayHostName): Node warns that SNI cannot carry one.
  export NODE_NO_WARNINGS=1
  timeout 120 node amqp_device_and_service.js
) || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- iotgw-hub log ---"
  cat "$work/hub.log"
fi
exit "$rc"
