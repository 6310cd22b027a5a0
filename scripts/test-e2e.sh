#!/usr/bin/env bash
# Usage: scripts/test-e2e.sh [node --test args...]     (e.g. --test-name-pattern=revoke)
#
# End-to-end tests of the whole product (tests/e2e/*.test.mjs): the demo page (www/dist on
# the release package) served by imcore-server, with Mosquitto, driven in headless Chromium
# (/usr/bin/chromium, or $CHROMIUM) through playwright-core, plus MQTT straight to the
# broker from Node for the security tests.
#
#   1. builds pkg/ if it has no imcore.js (scripts/build-wasm.sh release), then www/dist
#      (scripts/build-www.sh);
#   2. starts a stack in a temporary folder: scripts/stack.sh start RUNDIR --test-hooks
#      --www www/dist (Mosquitto + server on free 127.0.0.1 ports);
#   3. runs `node --test` on tests/e2e/, one file at a time, with RUNDIR/stack.env in the
#      environment (HTTP_URL, WS_URL, RUNDIR, …);
#   4. always stops the stack by PID (scripts/stack.sh stop), also on failure or Ctrl-C,
#      and prints the server and broker logs when something failed.
#
# Screenshots of the users' pages go to build/e2e-screenshots/ (git-ignored), replaced on
# every run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

if [ ! -f pkg/imcore.js ]; then
  echo "[test-e2e] no pkg/imcore.js: building it"
  scripts/build-wasm.sh release
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/mqtt ]; then
  scripts/install.sh
fi
scripts/build-www.sh

run="$(mktemp -d "${TMPDIR:-/tmp}/imcore-e2e.XXXXXX")"
tests_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$tests_pid" ] && kill -0 "$tests_pid" 2>/dev/null; then
    # node --test passes the signal on; playwright-core closes Chromium on SIGTERM.
    kill -TERM "$tests_pid" 2>/dev/null || true
    wait "$tests_pid" 2>/dev/null || true
  fi
  if [ -f "$run/stack.env" ]; then
    scripts/stack.sh stop "$run" >/dev/null || echo "[test-e2e] stopping the stack failed" >&2
  fi
  if [ "$status" -ne 0 ]; then
    for log in server.log mosquitto.log; do
      if [ -s "$run/$log" ]; then
        echo "[test-e2e] ---- last lines of $log ----" >&2
        tail -n 60 "$run/$log" >&2
      fi
    done
  fi
  rm -rf "$run"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

scripts/stack.sh start "$run" --test-hooks --www www/dist >/dev/null
set -a
# shellcheck disable=SC1091
. "$run/stack.env"
set +a
echo "[test-e2e] stack in $run: page $HTTP_URL, broker $WS_URL (PIDs: broker $BROKER_PID, server $SERVER_PID)"

rm -rf build/e2e-screenshots
start=$(date +%s)
node --test --test-concurrency=1 --test-reporter=spec "$@" tests/e2e/ &
tests_pid=$!
status=0
wait "$tests_pid" || status=$?
tests_pid=""
echo "[test-e2e] node --test exited $status after $(($(date +%s) - start)) s; screenshots in build/e2e-screenshots/"
exit "$status"
