# Shared by the drivers of the Node tests (run_amqp_test.sh, run_gateway_test.sh,
# run_websocket_test.sh, run_coap_test.sh); sourced.
#
# IOTGW_NODE_TEST_KEEP=1 keeps the temp folder. After `node_test_init`: $here (tests/node), $work (a temp folder removed at exit) and
# `node_test_spawn LOG CMD...` (a background process stopped at exit, its pid in $spawned_pid).

node_test_init() {
  here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
  work=$(mktemp -d -t iotgw-node-test-XXXXXX)
  node_test_pids=()
  trap node_test_cleanup EXIT
  # Missing, or older than the lock file (a package was added): npm ci, once at a time, since
  # ctest runs these scripts side by side.
  (
    flock 9
    if [ ! -d "$here/node_modules" ] ||
      [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
      echo "npm ci in $here"
      cd "$here" && npm ci --no-audit --no-fund
    fi
  ) 9> "${TMPDIR:-/tmp}/iotgw-npm-ci.lock"
}

node_test_cleanup() {
  local i pid
  # Last started first: the gateway goes before the hub it talks to.
  for ((i = ${#node_test_pids[@]} - 1; i >= 0; i--)); do
    pid=${node_test_pids[$i]}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  node_test_keep_logs
  if [ -n "${IOTGW_NODE_TEST_KEEP:-}" ]; then
    echo "kept: $work"  # logs, registry, topology: for a look afterwards
  else
    rm -rf "$work"
  fi
}

# The logs (and, as the secrets to look for, the registries and topologies) go to
# $IOTGW_TEST_LOG_DIR, where ctest's last test searches every log of the run for secrets.
node_test_keep_logs() {
  [ -n "${IOTGW_TEST_LOG_DIR:-}" ] || return 0
  mkdir -p "$IOTGW_TEST_LOG_DIR"
  local f test
  test=NodeSdk.$(basename "$0" .sh)
  for f in "$work"/*.log "$work"/*.yaml; do
    [ -f "$f" ] && cp "$f" "$IOTGW_TEST_LOG_DIR/$test.$$.$(basename "$f")"
  done
  return 0
}

node_test_spawn() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  spawned_pid=$!
  node_test_pids+=("$spawned_pid")
}

# node_test_port LOG PID SED_REGEX: the port a started process logged (the regex's \1), waiting
# up to 15 s; empty if it died or never said.
node_test_port() {
  local log=$1 pid=$2 regex=$3 port=
  for _ in $(seq 150); do
    port=$(sed -n "s/$regex/\\1/p" "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$port"
}

# node_test_pki NAME: a test CA ($work/ca.pem) and a server certificate $work/NAME.pem (key
# $work/NAME.key) for the hub's name $hostname, localhost and 127.0.0.1.
node_test_pki() {
  local name=$1
  if [ ! -f "$work/ca.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=iotgw node test CA" \
      -keyout "$work/ca.key" -out "$work/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
  fi
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$hostname" \
    -keyout "$work/$name.key" -out "$work/$name.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
    "$hostname" >"$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
    -CAcreateserial -days 2 -extfile "$work/$name.ext" -out "$work/$name.pem" 2>/dev/null
}

# node_test_registry HUB DEVICE: $work/registry.yaml for the hub's name $hostname with DEVICE and
# a `service` policy (the hub's registry and service rights: IoT Hub's registryRead,
# registryWrite and serviceConnect); sets $device_cs and $service_cs.
node_test_registry() {
  local hub=$1 device=$2 policy_key
  policy_key=$(head -c 32 /dev/urandom | base64)
  cat > "$work/registry.yaml" <<YAML
hostname: $hostname
devices: []
policies:
  - name: service
    key: $policy_key
    rights: [registry, service]
YAML
  "$hub" registry add-device "$work/registry.yaml" "$device" >/dev/null
  device_cs=$("$hub" registry connection-string "$work/registry.yaml" "$device")
  service_cs="HostName=$hostname;SharedAccessKeyName=service;SharedAccessKey=$policy_key"
}

# node_test_gateway_args IOTGW IOTGW_HUB PLUGINS_DIR: checks the gateway tests' arguments (exit 2
# when one is missing) and sets $gw, $hub and $plugins, absolute: the topology and the test's
# subprocesses work from other folders.
node_test_gateway_args() {
  gw=$1 hub=$2 plugins=$3
  local f
  for f in "$gw" "$hub"; do
    [ -n "$f" ] && [ -x "$f" ] || { echo "FAIL - binary not given or not executable: '$f'" >&2; exit 2; }
  done
  [ -f "$plugins/iotgw-mqtt.so" ] || { echo "FAIL - no iotgw-mqtt.so in plugins dir '$plugins'" >&2; exit 2; }
  plugins=$(cd "$plugins" && pwd)
  hub=$(cd "$(dirname "$hub")" && pwd)/$(basename "$hub")
}

# node_test_show_logs: the hub's log and, once it has one, the gateway's.
node_test_show_logs() {
  echo "--- iotgw-hub log ---"
  cat "$work/hub.log"
  if [ -f "$work/gw.log" ]; then
    echo "--- iotgw log ---"
    cat "$work/gw.log"
  fi
}
