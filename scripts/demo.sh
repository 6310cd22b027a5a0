#!/usr/bin/env bash
# Usage: scripts/demo.sh        (or `make demo`); stop with Ctrl-C.
#
# Builds the release package, starts a Mosquitto with a WebSocket listener (through
# tools/broker-control.mjs, the same broker the browser tests use) and serves the demo page
# with `python3 -m http.server` on free 127.0.0.1 ports.
#
# Served folder: build/demo-site/ (generated, git-ignored):
#   /              -> every entry of www/ is symlinked here (index.html, main.js, …;
#                     edits show on reload, new files need a restart of the demo)
#   /pkg/          -> symlink to pkg/ (scripts/build-wasm.sh output)
#   /config.json   -> {"ws_url": "ws://127.0.0.1:PORT/mqtt", …} written for this run
# so www/index.html (and www/main.js, which sit next to it) use relative URLs:
#   import init, { MqttClient } from "./pkg/imcore.js";
#   const { ws_url } = await (await fetch("./config.json")).json();
#
# On Ctrl-C / TERM / exit it stops everything it started, by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

scripts/build-wasm.sh release

site="$root/build/demo-site"
rm -rf "$site"
mkdir -p "$site"
if [ -d www ] && [ -n "$(ls -A www)" ]; then
  for entry in www/* www/.[!.]*; do
    [ -e "$entry" ] || continue
    name=$(basename "$entry")
    case "$name" in pkg | config.json) continue ;; esac
    ln -s "$root/$entry" "$site/$name"
  done
else
  echo "[demo] warning: www/ is empty; only /pkg/ and /config.json will be served" >&2
fi
ln -s "$root/pkg" "$site/pkg"

bc_pid=""
http_pid=""
logs="$(mktemp -d "${TMPDIR:-/tmp}/imcore-demo.XXXXXX")"
cleanup() {
  trap - EXIT INT TERM
  for pid in $http_pid $bc_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$logs"
  echo "[demo] stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_line FILE REGEX PID: prints the first matching line, fails if PID dies / 15 s.
wait_for_line() {
  local file=$1 regex=$2 pid=$3 line
  for _ in $(seq 1 150); do
    line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
    if [ -n "$line" ]; then
      echo "$line"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

node tools/broker-control.mjs --info-file "$site/config.json" --exit-with $$ \
  >"$logs/bc.out" 2>"$logs/bc.err" &
bc_pid=$!
if ! line=$(wait_for_line "$logs/bc.out" '^READY [0-9]+$' "$bc_pid"); then
  echo "[demo] broker-control did not start:" >&2
  cat "$logs/bc.out" "$logs/bc.err" >&2
  exit 1
fi
bc_url="http://127.0.0.1:${line#READY }"

# Port 0: the server binds a free port itself and prints it.
python3 -u -m http.server --bind 127.0.0.1 --directory "$site" 0 >"$logs/http.out" &
http_pid=$!
if ! line=$(wait_for_line "$logs/http.out" 'port [0-9]+' "$http_pid"); then
  echo "[demo] http.server did not start:" >&2
  cat "$logs/http.out" >&2
  exit 1
fi
http_port=$(sed -E 's/.* port ([0-9]+).*/\1/' <<<"$line")
ws_url=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).ws_url' "$site/config.json")

cat <<MSG

  imcore demo
    page             http://127.0.0.1:$http_port/
    MQTT broker      $ws_url   (Mosquitto, anonymous)
    broker control   $bc_url   (POST /restart, /stop, /start)
    serving          $site
  Ctrl-C stops everything.

MSG

# Run until Ctrl-C or until one of the two dies.
set +e
wait -n "$bc_pid" "$http_pid"
echo "[demo] a server exited on its own" >&2
exit 1
