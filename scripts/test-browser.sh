#!/usr/bin/env bash
# Usage: scripts/test-browser.sh [node --test args...]
#
# Browser acceptance tests through the package's JS API: ChatClient (tests/browser/chat.test.mjs,
# tabs.test.mjs) and the MQTT-only entry `imcore/mqtt` (tests/browser/mqtt.test.mjs):
# starts tools/broker-control.mjs (a throwaway Mosquitto with a WebSocket listener on free
# 127.0.0.1 ports), tests/browser/server.mjs (serves $PKG_DIR at /pkg/ and the test page),
# then `node --test`, which drives headless Chromium (/usr/bin/chromium, or $CHROMIUM)
# through playwright-core. Then mqtt.test.mjs once more against one RabbitMQ 3.10 node
# (broker-control --broker rabbitmq). Everything started here is stopped by PID at the end,
# also on failure or Ctrl-C.
#
# The package is $PKG_DIR (default pkg/); if it has no imcore.js or mqtt/imcore.js it is built
# first (scripts/build-wasm.sh release). The test files run one at a time: they share the
# broker, and some stop or freeze it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/proc.sh
. "$root/scripts/lib/proc.sh"
cd "$root"

pkg="${PKG_DIR:-pkg}"
case "$pkg" in /*) ;; *) pkg="$root/$pkg" ;; esac
if [ ! -f "$pkg/imcore.js" ] || [ ! -f "$pkg/mqtt/imcore.js" ]; then
  echo "[test-browser] no $pkg/imcore.js or $pkg/mqtt/imcore.js: building the package"
  PKG_DIR="$pkg" scripts/build-wasm.sh release
fi
if [ ! -d node_modules/playwright-core ]; then
  scripts/install.sh
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/imcore-browser.XXXXXX")"
pids=()
stop_all() {
  local status=$?
  stop_started
  if [ "$status" -ne 0 ] && [ -s "$work/broker.err" ]; then
    echo "[test-browser] broker-control stderr:" >&2
    cat "$work/broker.err" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node tools/broker-control.mjs --exit-with $$ >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
bc_port=$(wait_ready "$work/broker.out" "${pids[-1]}" broker-control)

node tests/browser/server.mjs --pkg "$pkg" >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
srv_port=$(wait_ready "$work/server.out" "${pids[-1]}" "the static server")

export IMCORE_BROKER_CONTROL="http://127.0.0.1:$bc_port"
export IMCORE_TEST_BASE_URL="http://127.0.0.1:$srv_port"
export IMCORE_CHROMIUM_PID_FILE="$work/chromium.pid"
echo "[test-browser] package $pkg, broker-control $IMCORE_BROKER_CONTROL, pages $IMCORE_TEST_BASE_URL"

start=$(date +%s)
node --test --test-concurrency=1 --test-reporter=spec "$@" tests/browser/ &
pids+=($!)
status=0
wait "${pids[-1]}" || status=$?
echo "[test-browser] node --test exited $status after $(( $(date +%s) - start )) s"
[ "$status" -eq 0 ] || exit "$status"

# The MqttClient suite again, against one RabbitMQ 3.10 node (MQTT 3.1.1 over WebSocket),
# the second broker implementation (scripts/rabbitmq.sh; its log goes to broker.err).
# rabbitmq.sh takes its free ports from imcore-server: built here (a clean checkout has no
# release build yet), not inside broker-control's start-up wait.
die() {
  echo "[test-browser] $*" >&2
  exit 1
}
IMCORE_SERVER_BIN="$(server_bin)"
export IMCORE_SERVER_BIN
node tools/broker-control.mjs --broker rabbitmq --exit-with $$ >"$work/rabbit.out" 2>"$work/broker.err" &
pids+=($!)
rc_port=$(wait_ready "$work/rabbit.out" "${pids[-1]}" "broker-control --broker rabbitmq" 120)
start=$(date +%s)
IMCORE_BROKER=rabbitmq IMCORE_BROKER_CONTROL="http://127.0.0.1:$rc_port" \
  node --test --test-concurrency=1 --test-reporter=spec "$@" tests/browser/mqtt.test.mjs &
pids+=($!)
wait "${pids[-1]}" || status=$?
echo "[test-browser] node --test (MqttClient on RabbitMQ) exited $status after $(( $(date +%s) - start )) s"
exit "$status"
