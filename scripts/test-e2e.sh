#!/usr/bin/env bash
# Usage: scripts/test-e2e.sh [node --test args...]     (e.g. --test-name-pattern=revoke)
#        E2E_BROKER=rabbitmq scripts/test-e2e.sh [node --test args...]
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
# With E2E_BROKER=rabbitmq the stack runs on a two-node RabbitMQ 3.10 cluster instead
# (scripts/stack.sh start --broker rabbitmq: scripts/rabbitmq.sh, the server answering its
# HTTP auth), and the tests are the conversation and security files of tests/e2e/ (the same
# tests, on a cluster: user 1 on node 1, user 2 on node 2) and then tests/e2e-cluster/ (node 1
# killed under load).
#
# Screenshots of the users' pages go to build/e2e-screenshots/ (git-ignored), replaced on
# every Mosquitto run (the cluster run adds its own).
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
    for log in "$run"/server.log "$run"/mosquitto.log "$run"/rabbitmq/*/node.log; do
      if [ -s "$log" ]; then
        echo "[test-e2e] ---- last lines of ${log#"$run"/} ----" >&2
        tail -n 60 "$log" >&2
      fi
    done
  fi
  rm -rf "$run"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

broker="${E2E_BROKER:-mosquitto}"
# The test files, in runs of `node --test` one after the other (a run that kills a node
# comes last).
case "$broker" in
  mosquitto) stack_args=(); runs=("tests/e2e/") ;;
  rabbitmq)
    stack_args=(--broker rabbitmq --nodes 2)
    runs=("tests/e2e/chat.test.mjs tests/e2e/security.test.mjs" "tests/e2e-cluster/")
    ;;
  *) echo "[test-e2e] E2E_BROKER must be mosquitto or rabbitmq" >&2; exit 2 ;;
esac
scripts/stack.sh start "$run" --test-hooks --www www/dist "${stack_args[@]}" >/dev/null
set -a
# shellcheck disable=SC1091
. "$run/stack.env"
set +a
echo "[test-e2e] $broker stack in $run: page $HTTP_URL, broker ${WS_URLS:-$WS_URL} (server PID $SERVER_PID)"

# (The cluster run adds its screenshots to the Mosquitto run's.)
if [ "$broker" = mosquitto ]; then rm -rf build/e2e-screenshots; fi
start=$(date +%s)
status=0
for files in "${runs[@]}"; do
  # shellcheck disable=SC2086 # a run is a space-separated list of paths
  node --test --test-concurrency=1 --test-reporter=spec "$@" $files &
  tests_pid=$!
  wait "$tests_pid" || status=$?
  tests_pid=""
  [ "$status" -eq 0 ] || break
done
echo "[test-e2e] node --test exited $status after $(($(date +%s) - start)) s; screenshots in build/e2e-screenshots/"
exit "$status"
