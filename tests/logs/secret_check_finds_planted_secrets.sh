#!/bin/bash
# The secret check is only worth its pass if it can fail: plant a key from the tests' text, a
# key made up at run time (in a kept registry) and a minted signature in logs of a folder of our
# own, and expect it to name each of them by file and line.
set -u
check=$1 tests=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
printf 'devices:\n  - {id: a, primary_key: cnVudGltZS1rZXktZm9yLWEtdGVzdA==}\n' >"$dir/Hub.t.iotgw-hub.1.yaml"
printf '%s\n' 'clean line' \
  'warn [bridge] refused SharedAccessSignature sr=h%2Fdevices%2Fa&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D&se=1' \
  'info [hub] key ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE= in a line' \
  'info [hub] made up cnVudGltZS1rZXktZm9yLWEtdGVzdA== in a line' >"$dir/T.iotgw.1.log"
out=$(/usr/bin/python3 "$check" "$dir" "$tests")
rc=$?
echo "$out"
[ $rc -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
for where in "T.iotgw.1.log:2: a SharedAccessSignature sig=" \
             "T.iotgw.1.log:3: secret from $tests/support/hub_under_test.cpp" \
             "T.iotgw.1.log:4: secret from $dir/Hub.t.iotgw-hub.1.yaml"; do
  grep -qF "$where" <<<"$out" || { echo "not reported: $where"; exit 1; }
done
grep -q "T.iotgw.1.log:1:" <<<"$out" && { echo "a clean line was reported"; exit 1; }
echo "every planted secret was found"
