#!/usr/bin/env bash
# Installs what iotgw needs to build and test on Debian 12, and nothing that is already there.
# Idempotent: a second run does no apt work at all. Needs root (or sudo) only when something is missing.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-filesystem-dev
  libqpid-proton-cpp12-dev libssl-dev libzstd-dev libyaml-cpp-dev
  libgtest-dev googletest libbenchmark-dev
  nlohmann-json3-dev  # twin documents and the hub's HTTPS service surface (one JSON library)
  libsystemd-dev      # sd_notify: READY, RELOADING, STOPPING and watchdog pings (optional)
  clang libclang-rt-14-dev clang-format clang-tidy
  mosquitto-clients  # the quickstart's MQTT device
  openssl            # the quickstart hub's HTTPS certificate
)
test_pkgs=(
  mosquitto mosquitto-clients python3-paho-mqtt python3-qpid-proton openssl
  rabbitmq-server  # the bridge's `amqp` flavour is tested against it (its own broker per test)
  python3-cryptography python3-zstandard  # a back end that reads the stages' output, not ours
  nodejs npm  # Azure's own Node SDKs against iotgw-hub (tests/node)
  libcoap3-bin  # libcoap's coap-server and coap-client: the CoAP reference peer and a device
  python3-prometheus-client  # Prometheus's own text-format parser reads /metrics in the tests
  lintian file systemd  # the .deb files checked by lintian, stripped binaries, the unit verified
  haproxy  # a real load balancer sending PROXY protocol v2 in front of the listeners
  nftables iproute2  # tools/faults: a hub path dropping packets silently, in a network namespace
  python3-yaml kubernetes-client  # packaging/kubernetes rendered by kubectl kustomize
  mmdebstrap podman runc  # the container image: built from the mirror, run (crun refuses here)
)

want=("${build_pkgs[@]}")
case "${1:-all}" in
  build) ;;
  all|test) want+=("${test_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac

# What installed packages provide counts as present: NodeSource's nodejs provides npm (and
# conflicts with Debian's npm, so asking apt for npm there would fail the whole install).
provided=$(dpkg-query -W -f='${db:Status-Status} ${Provides}\n' 2>/dev/null |
  sed -n 's/^installed //p' | tr ',' '\n' | sed 's/([^)]*)//; s/^ *//; s/ *$//' | sort -u)
missing=()
for p in "${want[@]}"; do
  # A kubectl from elsewhere (a cloud SDK) renders the manifests as well; Debian's would
  # replace it.
  [ "$p" = kubernetes-client ] && command -v kubectl >/dev/null && continue
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || grep -qxF "$p" <<<"$provided" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The mosquitto and rabbitmq-server packages start system brokers on 1883 and 5672; tests bring
# their own on other ports, but the quickstart's 1883 and 5672 must not collide with them.
for service in mosquitto rabbitmq-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
done
