#!/usr/bin/env bash
# Usage: scripts/with-broker-control.sh CMD [ARGS...]
#
# Starts tools/broker-control.mjs (a Mosquitto with a WebSocket listener on a free
# 127.0.0.1 port, restartable over HTTP), exports
#   IMCORE_BROKER_CONTROL=http://127.0.0.1:<port>
# runs CMD with it, stops broker-control by PID (which kills its Mosquitto) and exits with
# CMD's exit code.
#
# The wasm browser tests read the URL at *compile* time:
#   option_env!("IMCORE_BROKER_CONTROL")
# (the code runs inside Chromium, which has no environment); cargo rebuilds the test crate
# when the value changes. Then `GET $IMCORE_BROKER_CONTROL/info` → {"ws_url": …}.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/imcore-bc.XXXXXX")"
bc_pid=""
stop_bc() {
  if [ -n "$bc_pid" ] && kill -0 "$bc_pid" 2>/dev/null; then
    kill -TERM "$bc_pid" 2>/dev/null || true
    wait "$bc_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_bc EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

node "$root/tools/broker-control.mjs" --exit-with $$ >"$work/out" 2>"$work/err" &
bc_pid=$!

port=""
for _ in $(seq 1 150); do # up to 15 s
  if port=$(awk '$1 == "READY" { print $2; exit }' "$work/out") && [ -n "$port" ]; then
    break
  fi
  if ! kill -0 "$bc_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "with-broker-control: broker-control did not start:" >&2
  cat "$work/out" "$work/err" >&2
  exit 1
fi

export IMCORE_BROKER_CONTROL="http://127.0.0.1:$port"
echo "with-broker-control: IMCORE_BROKER_CONTROL=$IMCORE_BROKER_CONTROL" >&2
status=0
"$@" || status=$?
if [ -s "$work/err" ]; then
  echo "with-broker-control: broker-control stderr:" >&2
  cat "$work/err" >&2
fi
exit "$status"
