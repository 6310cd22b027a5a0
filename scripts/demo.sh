#!/usr/bin/env bash
# Usage: scripts/demo.sh        (or `make demo`, which runs scripts/install.sh first); stop
# with Ctrl-C.
#
# The demo chat: builds the release package (scripts/build-wasm.sh release) and the page
# (scripts/build-www.sh -> www/dist), then starts the reference stack in build/demo-run/
# with scripts/stack.sh (Mosquitto with its WebSocket listener, passwords and ACLs, and
# imcore-server serving the page and the HTTP API, on free 127.0.0.1 ports; no test hooks).
# It prints the page's URL and one URL per demo user (`?user=N` logs straight in), then
# waits. On Ctrl-C, TERM or any exit it stops the stack by PID.
#
# build/demo-run/ keeps the server's database and the broker's persistence between runs, so
# the chats are still there next time; `make clean` (or rm -rf build/demo-run) starts afresh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

run="$root/build/demo-run"

scripts/build-wasm.sh release
scripts/build-www.sh

started=0
nap=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "$nap" ] && kill "$nap" 2>/dev/null
  if [ "$started" = 1 ]; then
    echo
    scripts/stack.sh stop "$run" | sed 's/^/[demo] /' || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$run"
started=1
scripts/stack.sh start "$run" --www www/dist >/dev/null
# shellcheck disable=SC1091
. "$run/stack.env"

cat <<MSG

  imcore demo chat
    page              $HTTP_URL/
    as alice (1)      $HTTP_URL/?user=1
    as bob (2)        $HTTP_URL/?user=2
    (carol, dave and erin are ?user=3, 4 and 5)

    MQTT over WebSocket  $WS_URL   (Mosquitto; passwords and ACLs managed by the server)
    logs                 $run/server.log, $run/mosquitto.log

  Open the two user URLs in two windows (or one in a private window) and chat.
  Ctrl-C stops everything.

MSG

# Until Ctrl-C, or until one of the two ends on its own.
alive() { kill -0 "$1" 2>/dev/null; }
while alive "$BROKER_PID" && alive "$SERVER_PID"; do
  sleep 1 &
  nap=$!
  wait "$nap" || true
  nap=""
done
echo "[demo] the $(alive "$BROKER_PID" && echo server || echo broker) stopped on its own; see $run/" >&2
exit 1
