#!/usr/bin/env bash
# Usage: scripts/size.sh
# Builds the release package (scripts/build-wasm.sh release) and prints what a browser
# downloads: imcore's wasm + JS glue, raw and gzip -9, beside MQTT.js 5.16.0's bundle
# (node_modules/mqtt/dist/mqtt.min.js, a devDependency kept only as this baseline), then
# the other SDKs users compare a chat client with: Paho (MQTT only), Tencent Cloud Chat and
# OpenIM's wasm SDK (chat SDKs). Those are fetched with `npm pack` at pinned versions into
# build/size-baselines/ (git-ignored) on first use; a registry that cannot be reached
# leaves them out of the table, not the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

scripts/build-wasm.sh release >&2

raw() { wc -c <"$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }

wasm=pkg/imcore_bg.wasm
glue=pkg/imcore.js
# The web entry around the module (the tabs of a user sharing one client): downloaded too.
entry=pkg/index.js
mqttjs=node_modules/mqtt/dist/mqtt.min.js
[ -f "$mqttjs" ] || { echo "missing $mqttjs: run scripts/install.sh (npm ci)" >&2; exit 1; }
mqtt_version=$(node -p 'require("./node_modules/mqtt/package.json").version')

wasm_raw=$(raw $wasm); wasm_gz=$(gz $wasm)
glue_raw=$(( $(raw $glue) + $(raw $entry) )); glue_gz=$(( $(gz $glue) + $(gz $entry) ))
mq_raw=$(raw $mqttjs); mq_gz=$(gz $mqttjs)

echo
printf '%-28s %10s %10s   | %-26s %10s %10s\n' "imcore (release)" "raw B" "gzip -9 B" "MQTT.js $mqtt_version" "raw B" "gzip -9 B"
printf '%-28s %10s %10s   | %-26s %10s %10s\n' "----------------------------" "----------" "----------" "--------------------------" "----------" "----------"
printf '%-28s %10d %10d   | %-26s %10d %10d\n' "wasm  $wasm" "$wasm_raw" "$wasm_gz" "dist/mqtt.min.js" "$mq_raw" "$mq_gz"
printf '%-28s %10d %10d   | %-26s %10s %10s\n' "glue  $glue + $(basename $entry)" "$glue_raw" "$glue_gz" "" "" ""
printf '%-28s %10d %10d   | %-26s %10d %10d\n' "total" "$((wasm_raw + glue_raw))" "$((wasm_gz + glue_gz))" "total" "$mq_raw" "$mq_gz"
echo
echo "imcore total gzip is $(( (wasm_gz + glue_gz) * 100 / mq_gz ))% of MQTT.js's."

# ---- other SDKs -------------------------------------------------------------------------
base="$root/build/size-baselines"
# fetch NAME@VERSION: the package unpacked in $base/NAME@VERSION/package (npm pack, once).
fetch() {
  local dir="$base/$1"
  if [ ! -d "$dir/package" ]; then
    mkdir -p "$dir"
    local tgz
    tgz=$(cd "$dir" && npm pack "$1" --silent 2>/dev/null | tail -n 1) || return 1
    [ -n "$tgz" ] && [ -f "$dir/$tgz" ] || return 1
    tar -xzf "$dir/$tgz" -C "$dir" && rm -f "$dir/$tgz"
  fi
  echo "$dir/package"
}
# row LABEL WHAT FILES...: the files' raw and gzip -9 sums.
row() {
  local label=$1 what=$2 r=0 g=0 f
  shift 2
  for f in "$@"; do
    [ -f "$f" ] || { printf '%-34s %s\n' "$label" "(missing $(basename "$f"))"; return; }
    r=$((r + $(raw "$f"))); g=$((g + $(gz "$f")))
  done
  printf '%-34s %12d %12d %7s%%   %s\n' "$label" "$r" "$g" "$(( g * 100 / (wasm_gz + glue_gz) ))" "$what"
}
echo
printf '%-34s %12s %12s %8s   %s\n' "what a page downloads" "raw B" "gzip -9 B" "/imcore" "holds"
printf '%-34s %12d %12d %7s%%   %s\n' "imcore 0.1.0 (this build)" "$((wasm_raw + glue_raw))" "$((wasm_gz + glue_gz))" 100 "MQTT + chat state + local history"
row "MQTT.js $mqtt_version" "MQTT only" "$mqttjs"
if p=$(fetch paho-mqtt@1.1.0); then
  row "Paho JavaScript 1.1.0" "MQTT only" "$p/paho-mqtt-min.js"
fi
if p=$(fetch @tencentcloud/chat@3.6.6); then
  row "Tencent Cloud Chat 3.6.6" "chat SDK, core (index.es.js)" "$p/index.es.js"
fi
if p=$(fetch @openim/wasm-client-sdk@3.8.5); then
  row "OpenIM wasm SDK 3.8.5" "chat SDK (Go wasm + sql.js + JS)" "$p/assets/openIM.wasm" \
    "$p/assets/sql-wasm.wasm" "$p/assets/wasm_exec.js" "$p/lib/index.es.js" "$p/lib/worker.js"
fi
