#!/usr/bin/env bash
# Usage: scripts/size.sh
# Builds the release package (scripts/build-wasm.sh release) and prints what a browser
# downloads: imcore's wasm + JS glue, raw and gzip -9, for the full package (`imcore`) and the
# MQTT-only entry (`imcore/mqtt`, pkg/mqtt/: the crate without its `chat` feature), beside
# MQTT.js 5.16.0's bundle (node_modules/mqtt/dist/mqtt.min.js, a devDependency kept only as
# this baseline); then the WeChat mini-program build (`imcore/miniprogram`, pkg/miniprogram/:
# the crate with `chat,kv,mqtt-client`), as a code package holds it: imcore_bg.wasm.br and the glue's .js
# files, raw and brotli (the .wasm.br as it ships, the glue at quality 11); then the other
# SDKs users compare a chat client with: Paho (MQTT only),
# Tencent Cloud Chat and OpenIM's wasm SDK (chat SDKs). Those are fetched with `npm pack` at
# pinned versions into build/size-baselines/ (git-ignored) on first use; a registry that
# cannot be reached leaves them out of the table, not the run.
#
# Last, where the bytes go in each module, from twiggy (scripts/install.sh installs it): the
# ten largest functions and the ten largest crates (scripts/size-twiggy.mjs over `twiggy
# top`), then what the code of each crate and of each of imcore's modules costs gzip -9,
# leave-one-out (the module without that group's function bodies: raw bytes mislead where
# code repeats and compresses well), and an estimate of what the module weighs without its
# shell (the `web` module and the JS binding crates), gzip -9 and brotli: what moving the
# shell alone (into JS, say) would leave. twiggy reads
# build/size-names/{imcore,mqtt,miniprogram}.wasm:
# the same wasm-opt run as the shipped module with `-g`, so the same code with its function
# names, within ~0.2 % (-g keeps a few more bytes; WASM_NAMES_DIR of build-wasm.sh, which
# also takes the rank prefixes of scripts/similar-order.cjs off the names when that order
# won; the name section itself is left out of the shares). The mini-program's shares are of
# its module unpacked from imcore_bg.wasm.br (build/size-names/miniprogram.shipped.wasm);
# its leave-one-out costs are gzip's too, though it ships brotli.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

names="$root/build/size-names"
rm -rf "$names"
WASM_NAMES_DIR="$names" scripts/build-wasm.sh release >&2

raw() { wc -c <"$1" | tr -d ' '; }
gz() { gzip -9 -c "$1" | wc -c | tr -d ' '; }
# br FILE: its size brotli-compressed at quality 11 (as build-wasm.sh packs the module).
br() {
  node -e '
    const { brotli } = require("./scripts/lib/compress.cjs");
    console.log(brotli(require("fs").readFileSync(process.argv[1])).length);
  ' "$1"
}

wasm=pkg/imcore_bg.wasm
glue=pkg/imcore.js
# The web entry around the module (the tabs of a user sharing one client): downloaded too.
entry=pkg/index.js
mwasm=pkg/mqtt/imcore_bg.wasm
# The MQTT-only entry is the MqttClient class (mqtt/imcore.js), which loads the module
# itself: no other glue.
mglue=pkg/mqtt/imcore.js
# The mini-program: the packed module (its raw size is the module unpacked) and every .js
# file of miniprogram/ (imcore_wx.js, generated, and the hand-written glue around it).
mpbr=pkg/miniprogram/imcore_bg.wasm.br
mpwasm="$names/miniprogram.shipped.wasm"
node -e 'const fs = require("fs"), zlib = require("zlib");
  fs.writeFileSync(process.argv[2], zlib.brotliDecompressSync(fs.readFileSync(process.argv[1])));' \
  "$mpbr" "$mpwasm"
mpglue=(pkg/miniprogram/*.js)
mqttjs=node_modules/mqtt/dist/mqtt.min.js
[ -f "$mqttjs" ] || { echo "missing $mqttjs: run scripts/install.sh (npm ci)" >&2; exit 1; }
mqtt_version=$(node -p 'require("./node_modules/mqtt/package.json").version')

wasm_raw=$(raw $wasm); wasm_gz=$(gz $wasm)
glue_raw=$(( $(raw $glue) + $(raw $entry) )); glue_gz=$(( $(gz $glue) + $(gz $entry) ))
mwasm_raw=$(raw $mwasm); mwasm_gz=$(gz $mwasm)
mglue_raw=$(raw $mglue); mglue_gz=$(gz $mglue)
mq_raw=$(raw $mqttjs); mq_gz=$(gz $mqttjs)
total_gz=$((wasm_gz + glue_gz)); mtotal_gz=$((mwasm_gz + mglue_gz))
mpwasm_raw=$(raw "$mpwasm"); mpwasm_br=$(raw $mpbr)
mpglue_raw=0; mpglue_br=0
for f in "${mpglue[@]}"; do
  mpglue_raw=$((mpglue_raw + $(raw "$f"))); mpglue_br=$((mpglue_br + $(br "$f")))
done

line() { printf '%-46s %10s %10s\n' "$@"; }
echo
line "what a browser downloads (release)" "raw B" "gzip -9 B"
line "----------------------------------------------" "----------" "----------"
line "imcore (ChatClient)" "" ""
line "  wasm  $wasm" "$wasm_raw" "$wasm_gz"
line "  glue  $glue + $(basename $entry)" "$glue_raw" "$glue_gz"
line "  total" "$((wasm_raw + glue_raw))" "$total_gz"
line "imcore/mqtt (MqttClient only)" "" ""
line "  wasm  $mwasm" "$mwasm_raw" "$mwasm_gz"
line "  class $mglue (its loader and glue)" "$mglue_raw" "$mglue_gz"
line "  total" "$((mwasm_raw + mglue_raw))" "$mtotal_gz"
line "MQTT.js $mqtt_version" "" ""
line "  dist/mqtt.min.js" "$mq_raw" "$mq_gz"
echo
line "what a mini-program code package holds" "raw B" "brotli B"
line "----------------------------------------------" "----------" "----------"
line "imcore/miniprogram (.wasm.br + glue, brotli)" "" ""
line "  wasm  $mpbr" "$mpwasm_raw" "$mpwasm_br"
line "  glue  pkg/miniprogram/*.js (${#mpglue[@]} files)" "$mpglue_raw" "$mpglue_br"
line "  total" "$((mpwasm_raw + mpglue_raw))" "$((mpwasm_br + mpglue_br))"
echo
echo "gzip -9 totals: imcore is $(( total_gz * 100 / mq_gz ))% of MQTT.js's, imcore/mqtt $(( mtotal_gz * 100 / mq_gz ))%" \
  "(imcore/mqtt is $(( mtotal_gz * 100 / total_gz ))% of imcore)."

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
printf '%-34s %12d %12d %7s%%   %s\n' "imcore/mqtt 0.1.0 (this build)" "$((mwasm_raw + mglue_raw))" "$mtotal_gz" "$(( mtotal_gz * 100 / total_gz ))" "MQTT only"
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

# ---- where the bytes go (twiggy) ----------------------------------------------------------
if ! command -v twiggy >/dev/null 2>&1; then
  echo; echo "twiggy is missing (scripts/install.sh installs it): no attribution" >&2
  exit 0
fi
for m in imcore:"$wasm" mqtt:"$mwasm" miniprogram:"$mpwasm"; do
  name=${m%%:*} shipped=${m#*:}
  what=$shipped
  [ "$name" = miniprogram ] && what="$mpbr (unpacked)"
  echo
  echo "== where the bytes of $what go (twiggy top on build/size-names/$name.wasm)"
  node scripts/size-twiggy.mjs "$names/$name.wasm" "$shipped"
done
