#!/usr/bin/env bash
# An out-of-tree plugin, built the way a plugin author would: install the SDK from this build,
# configure the installed template with find_package(iotgw), build it, and have the real iotgw
# load it and run a message through it.
# usage: out_of_tree_plugin.sh BUILD_DIR IOTGW_BINARY LINE_PLUGIN
set -euo pipefail
build=$1 iotgw=$2 line=$3
work=$(mktemp -d)
gw_pid=""
cleanup() { [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" --component dev >/dev/null
template="$work/prefix/share/iotgw/plugin-template"
test -f "$work/prefix/include/iotgw/abi.h"
test -f "$work/prefix/share/cmake/iotgw/iotgwConfigVersion.cmake"

# The author's own compiler choice: clang when present, to cross the compiler boundary again.
cxx=$(command -v clang++ || command -v g++)
cmake -S "$template" -B "$work/plugin" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin" >/dev/null
test -f "$work/plugin/iotgw-stamp.so"

mkdir "$work/plugins"
cp "$work/plugin/iotgw-stamp.so" "$line" "$work/plugins/"
# Built for the ABI the installed header declares.
abi_h="$work/prefix/include/iotgw/abi.h"
abi="$(sed -n 's/^#define IOTGW_ABI_MAJOR //p' "$abi_h")\\.$(sed -n 's/^#define IOTGW_ABI_MINOR //p' "$abi_h")"
"$iotgw" --list-plugins --plugins-dir "$work/plugins" | grep -E "^stamp +stage +1\\.0\\.0 +$abi "
"$iotgw" --describe stamp --plugins-dir "$work/plugins" | grep -q "value (string, required)"

cat > "$work/gateway.yaml" <<YAML
gateway: {plugins_dir: plugins, threads: 1}
stages:
  - {name: stamp, plugin: stamp, config: {value: out-of-tree, max_bytes: 10}}
listeners:
  - {name: lines, adapter: line, bind: '127.0.0.1:0', pipeline: [stamp]}
YAML
"$iotgw" --config "$work/gateway.yaml" --check
"$iotgw" --config "$work/gateway.yaml" > "$work/iotgw.log" 2>&1 &
gw_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/iotgw.log" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/iotgw.log")
/usr/bin/python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
s.sendall(b"HELLO dev-9\nsmall\nthis one is too long\n")
got = [f.readline().decode().rstrip("\n") for _ in range(4)]
want = ["WELCOME dev-9", "ACK 1", "MSG small [stamped-by=out-of-tree]",
        "NACK 2 stage 'stamp': payload of 20 bytes is over 10"]
assert got == want, f"got {got!r}, want {want!r}"
print("out-of-tree plugin ran:", got[2])
PY
