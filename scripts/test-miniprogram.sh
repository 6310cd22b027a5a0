#!/usr/bin/env bash
# Usage: scripts/test-miniprogram.sh
#
# Tests the WeChat mini-program glue ($PKG_DIR/miniprogram/, default pkg/) in Node with a
# simulated `wx` / `WXWebAssembly` (tests/miniprogram/) against a fresh Mosquitto with a
# WebSocket listener on a free 127.0.0.1 port. Builds the release package first only if
# it is missing (make test builds it before calling this). Exits non-zero on failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

pkg="$(cd "${PKG_DIR:-pkg}" 2>/dev/null && pwd || true)"
if [ -z "$pkg" ] || [ ! -f "$pkg/miniprogram/imcore_wx.js" ] || [ ! -f "$pkg/miniprogram/imcore_bg.wasm.br" ]; then
  echo "[test-miniprogram] no mini-program build in ${PKG_DIR:-pkg}/: building it"
  scripts/build-wasm.sh release
  pkg="$(cd "${PKG_DIR:-pkg}" && pwd)"
fi

command -v mosquitto >/dev/null 2>&1 || PATH="$PATH:/usr/sbin"
command -v mosquitto >/dev/null 2>&1 || { echo "[test-miniprogram] mosquitto is not installed (scripts/install.sh)" >&2; exit 1; }

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

work="$(mktemp -d)"
broker_pid=""
cleanup() {
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Mosquitto 2.0.11's WebSocket listener ignores the bind address (it listens on every
# interface): the port is still picked free on 127.0.0.1, and the test only uses that.
ready=""
for attempt in 1 2 3; do
  tcp_port="$(free_port)"
  ws_port="$(free_port)"
  cat >"$work/mosquitto.conf" <<CONF
listener $tcp_port 127.0.0.1
listener $ws_port 127.0.0.1
protocol websockets
allow_anonymous true
persistence false
log_dest stderr
CONF
  mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
  broker_pid=$!
  for _ in $(seq 50); do
    if ! kill -0 "$broker_pid" 2>/dev/null; then break; fi
    if node -e 'require("net").connect(+process.argv[1], "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))' "$ws_port"; then
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] && break
  echo "[test-miniprogram] mosquitto did not start (attempt $attempt):" >&2
  cat "$work/mosquitto.log" >&2
  kill "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
done
[ -n "$ready" ] || exit 1
echo "[test-miniprogram] mosquitto (pid $broker_pid) on ws://127.0.0.1:$ws_port"

# --test-force-exit: a client the test could not close must not keep the run alive.
IMCORE_PKG_DIR="$pkg" IMCORE_MQTT_WS_URL="ws://127.0.0.1:$ws_port" \
  node --experimental-websocket --test --test-force-exit --test-reporter=spec \
  tests/miniprogram/text.test.cjs tests/miniprogram/miniprogram.test.cjs
