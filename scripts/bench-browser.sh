#!/usr/bin/env bash
# Usage: scripts/bench-browser.sh [bench/browser/run.mjs args…]
#
# The in-page benchmarks of `make bench` (bench/browser/), each beside its plain-JS baseline
# in the same headless Chromium run: the MQTT decoder (imcore's StreamDecoder vs
# mqtt-packet), the 10,000-message backlog through ChatClient (to the page, persisted) and
# the cold start to the conversation list. Builds what they need when missing:
#   $PKG_DIR (default pkg/)      the release package (scripts/build-wasm.sh release)
#   build/bench-pkg/             the web module with the bench-only exports of
#                                src/web/bench.rs (scripts/build-wasm.sh bench; rebuilt
#                                every run, it is never shipped)
#   build/mqtt-packet.js         mqtt-packet (from node_modules, as MQTT.js has it) bundled
#                                for the browser by esbuild ($ESBUILD, else
#                                node_modules/.bin/esbuild, a devDependency)
# With --profile FILE (a CPU profile of the imcore backlog, bench/browser/run.mjs), the package
# is build/profile-pkg/ instead, rebuilt every run: the release package with its wasm
# module as wasm-opt makes it but keeping the function names (WASM_NAMES_DIR), so the
# profile names Rust functions. Same code as pkg/; never shipped.
# then runs node bench/browser/run.mjs (its own static server, Chromium through
# playwright-core) and stops it and its Chromium by PID at the end, also on failure or Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/proc.sh
. "$root/scripts/lib/proc.sh"
cd "$root"

pkg="${PKG_DIR:-pkg}"
if printf '%s\n' "$@" | grep -qx -- --profile; then
  pkg=build/profile-pkg
  WASM_NAMES_DIR=build/profile-names PKG_DIR="$pkg" scripts/build-wasm.sh release
  cp build/profile-names/imcore.wasm "$pkg"/imcore_bg.wasm
elif [ ! -f "$pkg/index.js" ]; then
  echo "[bench-browser] no $pkg/index.js: building the package"
  PKG_DIR="$pkg" scripts/build-wasm.sh release
fi
PKG_DIR=build/bench-pkg scripts/build-wasm.sh bench

esbuild="${ESBUILD:-node_modules/.bin/esbuild}"
if [ ! -x "$esbuild" ]; then
  echo "[bench-browser] no esbuild at $esbuild (npm ci, or ESBUILD=/path/to/esbuild)" >&2
  exit 1
fi
mkdir -p build
"$esbuild" bench/browser/mqtt-packet-entry.mjs --bundle --format=esm --platform=browser \
  --inject:bench/browser/mqtt-packet-shim.mjs --define:global=globalThis --minify \
  --log-level=warning --outfile=build/mqtt-packet.js
echo "[bench-browser] build/mqtt-packet.js: mqtt-packet $(node -p 'require("mqtt-packet/package.json").version'), $(wc -c <build/mqtt-packet.js) bytes"

work="$(mktemp -d "${TMPDIR:-/tmp}/imcore-bench.XXXXXX")"
pids=()
stop_all() {
  local status=$?
  stop_started
  rm -rf "$work"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

IMCORE_CHROMIUM_PID_FILE="$work/chromium.pid" node bench/browser/run.mjs --pkg "$pkg" "$@" &
pids+=($!)
wait "${pids[-1]}"
