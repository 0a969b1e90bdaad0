#!/usr/bin/env bash
# docs/configuration.md must be what the generator writes from this build: regenerate it into a
# temporary file and diff. Arguments: the source folder, the iotgw binary, the plugins folder.
set -euo pipefail
source_dir=$1 iotgw=$2 plugins_dir=$3
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
/usr/bin/python3 "$source_dir/tools/gen-config-reference" --iotgw "$iotgw" \
  --plugins-dir "$plugins_dir" --output "$fresh"
if ! diff -u "$source_dir/docs/configuration.md" "$fresh"; then
  echo "docs/configuration.md is out of date (above: what the build says, with +). Regenerate it:"
  echo "  tools/gen-config-reference --iotgw $iotgw --plugins-dir $plugins_dir"
  exit 1
fi
