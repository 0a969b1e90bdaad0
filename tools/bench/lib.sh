# Shared by the benchmark scripts (sourced): background processes stopped on exit, waiting for a
# log line, and the release build. BENCH_KEEP=1 keeps the work folder (logs) for a look after.
bench_pids=()
bench_work=$(mktemp -d)
bench_cleanup() {
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n ${BENCH_KEEP:-} ]]; then echo "logs kept in $bench_work" >&2; else rm -rf "$bench_work"; fi
}
trap bench_cleanup EXIT

# wait_log FILE REGEX [TENTHS]: until a line matches, or fail showing the file.
wait_log() {
  for _ in $(seq 1 "${3:-100}"); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1" >&2
  echo "not ready: $1 (waited for '$2')" >&2
  exit 1
}

# field NAME LINE: the number after NAME in a report line ("... msgs/s 1234 ...").
field() { sed -n "s|.* $1 \([0-9.]*\).*|\1|p" <<<"$2"; }

# bench_registry FILE DEVICES KEY: an iotgw-hub registry of devices d0.. sharing KEY, with a
# device-only `gateway` policy (the bridge mints tokens from it) and a `service` policy.
bench_registry() {
  {
    echo "hostname: bench.azure-devices.net"
    echo "devices:"
    for ((i = 0; i < $2; i++)); do echo "  - {id: d$i, primary_key: $3}"; done
    echo "policies:"
    echo "  - {name: gateway, key: $3, rights: [device]}"
    echo "  - {name: service, key: $3, rights: [service, registry]}"
  } > "$1"
}

# listener_port LOG NAME: the port iotgw's listener NAME bound, from its log.
listener_port() { sed -n "s/.*listener $2\] listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$1"; }

# start_hub REGISTRY LOG [ARGS...]: iotgw-hub on a free port; sets hub_pid and hub_port.
start_hub() {
  build/release/tools/hub/iotgw-hub --registry "$1" --listen 127.0.0.1:0 "${@:3}" > "$2" 2>&1 &
  hub_pid=$!
  bench_pids+=("$hub_pid")
  wait_log "$2" "\] listening on" "${HUB_WAIT_TENTHS:-100}"  # a large registry takes a while
  # The AMQP listener's line ("[hub] listening on"), not "https listening on" or "TLS ...".
  hub_port=$(sed -n 's/.*\] listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -1)
}
