#!/usr/bin/env bash
# Usage: scripts/test-package.sh
#
# The npm package as an app would use it: a fresh Vite app (tests/package/app/: index.html,
# src/main.ts using the typed ChatClient API and imcore/mqtt's MqttClient, tsconfig.json
# with strict: true) in a temp folder, with the package tarball installed by
# `npm install <tarball>`. Then:
#   tsc --noEmit with bundler resolution, including the mini-program entry
#     `imcore/miniprogram` when the package has miniprogram/index.d.ts and the MQTT-only
#     entry `imcore/mqtt` (mqtt-check/) when it has mqtt/imcore.d.ts; then src/ (and
#     mqtt-check/) with NodeNext resolution
#   vite build
#   tests/package/check-app.mjs: both wasm assets and the JS are in dist/; the built app,
#     and the same app under the Vite dev server, run in headless Chromium against a real
#     Mosquitto (tools/broker-control.mjs, on free 127.0.0.1 ports, stopped by PID at the
#     end): a ChatClient text is sent, and an MqttClient QoS 1 message goes round
# tsc and vite are the repo's pinned devDependencies (node_modules/.bin, after npm ci).
#
# The tarball: $IMCORE_TARBALL if set; else $PKG_DIR (default pkg/) packed into the temp
# folder (built first with scripts/build-wasm.sh release if it has no imcore.js).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/proc.sh
. "$root/scripts/lib/proc.sh"
cd "$root"
[ -x node_modules/.bin/vite ] && [ -x node_modules/.bin/tsc ] || scripts/install.sh

work="$(mktemp -d "${TMPDIR:-/tmp}/imcore-package.XXXXXX")"
pids=()
cleanup() {
  stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start=$(date +%s)
step() { echo "[test-package] $*"; }

tarball="${IMCORE_TARBALL:-}"
if [ -z "$tarball" ]; then
  pkg="${PKG_DIR:-pkg}"
  skip=1
  [ -f "$pkg/imcore.js" ] || skip=0
  tarball=$(IMCORE_SKIP_BUILD=$skip PKG_DIR="$pkg" IMCORE_PACK_DIR="$work" scripts/package.sh | tail -n 1 | cut -d' ' -f1)
fi
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
[ -f "$tarball" ] || { echo "[test-package] no tarball $tarball" >&2; exit 1; }
step "tarball $tarball ($(wc -c <"$tarball") bytes)"

app="$work/app"
cp -R tests/package/app "$app"
cd "$app"
step "npm install <tarball>"
npm install --no-audit --no-fund --loglevel=error "$tarball"
[ -f node_modules/imcore/package.json ] || { echo "[test-package] imcore did not install" >&2; exit 1; }

include='"src"'
# miniprogram/index.d.ts takes MqttClient's types from the MQTT-only entry's declarations.
if [ -f node_modules/imcore/miniprogram/index.d.ts ] && [ ! -f node_modules/imcore/mqtt/imcore.d.ts ]; then
  echo "[test-package] the package has miniprogram/index.d.ts but not mqtt/imcore.d.ts, which it imports" >&2
  exit 1
fi
if [ -f node_modules/imcore/miniprogram/index.d.ts ]; then
  include='"src", "miniprogram-check"'
  step "the package has miniprogram/index.d.ts: type-checking imcore/miniprogram too"
else
  rm -rf miniprogram-check
fi
mqtt_check=''
if [ -f node_modules/imcore/mqtt/imcore.d.ts ]; then
  mqtt_check=', "mqtt-check"'
  include="$include$mqtt_check"
  step "the package has mqtt/imcore.d.ts: type-checking imcore/mqtt too"
else
  rm -rf mqtt-check
fi
# NodeNext only for the web entries: miniprogram/ is CommonJS for the WeChat devtools (whose
# "build npm" copies it out of the package), not an ES module for Node.
tsc_check() {
  printf '{ "extends": "./%s", "include": [%s] }\n' "$1" "$2" >"check.$1"
  step "tsc --noEmit -p check.$1 [$2] ($("$root"/node_modules/.bin/tsc --version))"
  "$root"/node_modules/.bin/tsc --noEmit -p "check.$1"
}
tsc_check tsconfig.json "$include"
tsc_check tsconfig.nodenext.json "\"src\"$mqtt_check"

step "vite build ($("$root"/node_modules/.bin/vite --version))"
"$root"/node_modules/.bin/vite build --logLevel warn
cd "$root"
# The broker the app talks to: broker-control's Mosquitto (its info file is written before
# its READY line).
node tools/broker-control.mjs --exit-with $$ --info-file "$work/broker.json" \
  >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
wait_ready "$work/broker.out" "${pids[-1]}" "Mosquitto (tools/broker-control.mjs)" 60 >/dev/null
broker_url=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).ws_url' "$work/broker.json")
step "checking dist/ and running the app (built, then dev server) against Mosquitto at $broker_url"
IMCORE_BROKER_URL="$broker_url" node tests/package/check-app.mjs "$app"
step "passed in $(( $(date +%s) - start )) s"
