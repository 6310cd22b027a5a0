# Process helpers of the scripts that start services (stack.sh, rabbitmq.sh, the test
# scripts): sourced, not run. Everything started runs detached (or as a child the script
# waits for) and is ended by PID, and only if that PID is still the process that was
# started. Needs `root` (the checkout), and `die` for server_bin.

# The server binary: $IMCORE_SERVER_BIN, else `cargo build -p imcore-server --release`
# (into $CARGO_TARGET_DIR or target/).
server_bin() {
  if [ -n "${IMCORE_SERVER_BIN:-}" ]; then
    [ -x "$IMCORE_SERVER_BIN" ] || die "IMCORE_SERVER_BIN=$IMCORE_SERVER_BIN is not executable"
    echo "$IMCORE_SERVER_BIN"
    return
  fi
  (cd "$root" && cargo build -p imcore-server --release >&2) || die "cargo build failed"
  local target="${CARGO_TARGET_DIR:-target}"
  case "$target" in /*) ;; *) target="$root/$target" ;; esac
  echo "$target/release/imcore-server"
}

# detach LOG CMD…: runs CMD in its own session (no terminal, no process group of the
# caller), output appended to LOG; prints the PID.
detach() {
  local log=$1
  shift
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" >>"$log" 2>&1 </dev/null &
  else
    nohup "$@" >>"$log" 2>&1 </dev/null &
  fi
  echo $!
}

# A zombie (ended, not yet reaped by whoever inherited it) counts as gone.
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$state" != Z ]
}

# is_ours PID NAME: PID is alive and still the process we started (a reused PID is left
# alone).
is_ours() {
  local pid=$1 name=$2
  alive "$pid" || return 1
  [ -r "/proc/$pid/comm" ] || return 0
  [ "$(cat "/proc/$pid/comm")" = "$name" ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for PID TENTHS CHECK ARGS...: until CHECK succeeds (for at most TENTHS tenths of a
# second), failing early if PID dies.
wait_for() {
  local pid=$1 tenths=$2
  shift 2
  for _ in $(seq 1 "$tenths"); do
    "$@" && return 0
    alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

# wait_ready FILE PID NAME [SECONDS]: the port of the `READY <port>` line a helper
# (tools/broker-control.mjs, a test server) prints to FILE, within 15 s (or SECONDS),
# failing early if PID dies; if none comes, FILE and its .err twin go to stderr.
wait_ready() {
  local port=""
  for _ in $(seq 1 $((${4:-15} * 10))); do
    port=$(awk '$1 == "READY" { print $2; exit }' "$1")
    [ -n "$port" ] && { echo "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "[$(basename "$0")] $3 did not start:" >&2
  cat "$1" "${1%.out}.err" >&2 2>/dev/null || true
  return 1
}

# wait_gone PID [TENTHS]: until PID is gone (default 10 s).
wait_gone() {
  local i
  for i in $(seq 1 "${2:-100}"); do
    alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# stop_pid PID NAME [TENTHS]: SIGTERM, then SIGKILL if still there after TENTHS (default
# 5 s); nothing if PID is not ours.
stop_pid() {
  local pid=$1 name=$2 tenths=${3:-50}
  is_ours "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_gone "$pid" "$tenths" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 50 || true
}

# stop_started: what a test or bench script started, by PID, at its end: Chromium first
# (its PID written by the JS side to $work/chromium.pid), then the script's own children
# in the array `pids`, newest first. Uses the caller's `work` and `pids`.
stop_started() {
  if [ -s "$work/chromium.pid" ]; then
    local cp
    cp=$(cat "$work/chromium.pid")
    kill -0 "$cp" 2>/dev/null && kill -KILL "$cp" 2>/dev/null || true
  fi
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    if kill -0 "${pids[i]}" 2>/dev/null; then
      kill -TERM "${pids[i]}" 2>/dev/null || true
      wait "${pids[i]}" 2>/dev/null || true
    fi
  done
}
