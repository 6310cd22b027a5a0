#!/usr/bin/env bash
# Usage: scripts/size.sh
# Builds the release package (scripts/build-wasm.sh release) and prints what a browser
# downloads: imcore's wasm + JS glue, raw and gzip -9, beside MQTT.js 5.16.0's bundle
# (node_modules/mqtt/dist/mqtt.min.js, a devDependency kept only as this baseline).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/build-wasm.sh release >&2

raw() { wc -c <"$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }

wasm=pkg/imcore_bg.wasm
glue=pkg/imcore.js
mqttjs=node_modules/mqtt/dist/mqtt.min.js
[ -f "$mqttjs" ] || { echo "missing $mqttjs: run scripts/install.sh (npm ci)" >&2; exit 1; }
mqtt_version=$(node -p 'require("./node_modules/mqtt/package.json").version')

wasm_raw=$(raw $wasm); wasm_gz=$(gz $wasm)
glue_raw=$(raw $glue); glue_gz=$(gz $glue)
mq_raw=$(raw $mqttjs); mq_gz=$(gz $mqttjs)

echo
printf '%-28s %10s %10s   | %-26s %10s %10s\n' "imcore (release)" "raw B" "gzip -9 B" "MQTT.js $mqtt_version" "raw B" "gzip -9 B"
printf '%-28s %10s %10s   | %-26s %10s %10s\n' "----------------------------" "----------" "----------" "--------------------------" "----------" "----------"
printf '%-28s %10d %10d   | %-26s %10d %10d\n' "wasm  $wasm" "$wasm_raw" "$wasm_gz" "dist/mqtt.min.js" "$mq_raw" "$mq_gz"
printf '%-28s %10d %10d   | %-26s %10s %10s\n' "glue  $glue" "$glue_raw" "$glue_gz" "" "" ""
printf '%-28s %10d %10d   | %-26s %10d %10d\n' "total" "$((wasm_raw + glue_raw))" "$((wasm_gz + glue_gz))" "total" "$mq_raw" "$mq_gz"
echo
echo "imcore total gzip is $(( (wasm_gz + glue_gz) * 100 / mq_gz ))% of MQTT.js's."
