#!/bin/bash
# A throwaway RabbitMQ (Debian's rabbitmq-server, with rabbitmq_amqp1_0) for the bridge's `amqp`
# flavour tests, everything inside DIR and on 127.0.0.1 only.
#   rabbitmq.sh start DIR PORT   returns once AMQP 1.0 is served on PORT
#   rabbitmq.sh stop DIR         stops it and its private epmd; nothing is left running
#   rabbitmq.sh kill DIR         SIGKILL, as a crash: no flush, no goodbye; `start DIR PORT`
#                                again brings it back on what it had written to DIR
# PORT+1 is the private epmd, PORT+2 Erlang distribution, PORT+3..5 the CLI tools'.
set -eu
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2; exit 2; }
# /usr/sbin/rabbitmq-server switches to the rabbitmq user (another HOME, another cookie).
bin=/usr/lib/rabbitmq/bin

alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The live processes of the pid files named (and their children).
pids_of() {
  local pids="" p f
  for f in "$@"; do
    p=$(cat "$dir/$f.pid" 2>/dev/null || true)
    alive "$p" && pids="$pids $p $(pgrep -P "$p" || true)"
  done
  echo "$pids"
}

# Waits up to TENTHS tenths of a second for the pids to be gone; false if some are not.
gone_within() {
  local tenths=$1 p left; shift
  for _ in $(seq 1 "$tenths"); do
    left=""; for p in "$@"; do alive "$p" && left=1; done
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  return 1
}

stop() {
  local pids p
  pids=$(pids_of rabbit beam)
  if [ -n "${pids// /}" ]; then
    kill -TERM $pids 2>/dev/null || true
    gone_within 150 $pids || for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  fi
  p=$(cat "$dir/epmd.pid" 2>/dev/null || true)
  alive "$p" && kill -KILL "$p" 2>/dev/null
  rm -f "$dir/rabbit.pid" "$dir/beam.pid" "$dir/epmd.pid"
}

crash() {
  local pids
  pids=$(pids_of rabbit beam epmd)
  [ -n "${pids// /}" ] && kill -KILL $pids 2>/dev/null
  gone_within 100 $pids || true
  rm -f "$dir/rabbit.pid" "$dir/beam.pid" "$dir/epmd.pid"
}

start() {
  local port=$1
  [ -x "$bin/rabbitmq-server" ] || { echo "rabbitmq-server is not installed (packaging/install-deps.sh test)" >&2; exit 1; }
  for p in "$port" $((port + 1)) $((port + 2)); do
    port_open "$p" && { echo "port $p on 127.0.0.1 is in use" >&2; exit 1; }
  done
  mkdir -p "$dir/mnesia" "$dir/log"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users.guest = true\ndisk_free_limit.absolute = 1MB\n' \
    "$port" > "$dir/rabbitmq.conf"
  echo '[rabbitmq_amqp1_0].' > "$dir/enabled_plugins"
  : > "$dir/rabbitmq-env.conf"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/.erlang.cookie"
  chmod 400 "$dir/.erlang.cookie"
  export HOME="$dir" RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
    RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_MNESIA_BASE="$dir/mnesia" \
    RABBITMQ_LOG_BASE="$dir/log" RABBITMQ_LOGS="$dir/log/rabbit.log" \
    RABBITMQ_NODENAME="iotgwtest$port@localhost" RABBITMQ_USE_LONGNAME=false \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT=$((port + 2)) \
    RABBITMQ_CTL_DIST_PORT_MIN=$((port + 3)) RABBITMQ_CTL_DIST_PORT_MAX=$((port + 5)) \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
    ERL_EPMD_PORT=$((port + 1)) ERL_EPMD_ADDRESS=127.0.0.1 ERL_FLAGS='-start_epmd false'
  # Our own epmd in the foreground, so it is ours to stop (erl would leave a daemon behind).
  setsid epmd -port $((port + 1)) -address 127.0.0.1 >> "$dir/log/epmd.log" 2>&1 < /dev/null &
  echo $! > "$dir/epmd.pid"
  setsid "$bin/rabbitmq-server" > "$dir/log/stdout.log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$dir/rabbit.pid"
  # Listeners open only after the plugins have started: an open port means AMQP 1.0 is served.
  for _ in $(seq 1 600); do
    if ! alive "$pid"; then
      tail -n 30 "$dir/log/stdout.log" "$dir/log/rabbit.log" >&2 2>/dev/null || true
      stop; echo "rabbitmq-server exited while starting" >&2; exit 1
    fi
    if port_open "$port"; then
      pgrep -P "$pid" -x beam.smp > "$dir/beam.pid" || true
      exit 0
    fi
    sleep 0.1
  done
  tail -n 30 "$dir/log/rabbit.log" >&2 2>/dev/null || true
  stop; echo "rabbitmq-server not ready after 60 s" >&2; exit 1
}

case "$cmd" in
  start) start "${3:?port}" ;;
  stop) stop ;;
  kill) crash ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2; exit 2 ;;
esac
