#!/usr/bin/env bash
# The reference backend stack: Mosquitto (or a RabbitMQ cluster) + imcore-server on free
# 127.0.0.1 ports.
#
#   scripts/stack.sh start RUNDIR [--test-hooks] [--www DIR] [--broker mosquitto|rabbitmq] [--nodes N]
#   scripts/stack.sh stop RUNDIR
#   scripts/stack.sh restart-broker RUNDIR     # kill -9 the broker, start it again (same ports/config)
#   scripts/stack.sh kill-node RUNDIR I        # rabbitmq: SIGKILL node I of the cluster
#   scripts/stack.sh start-node RUNDIR I       # rabbitmq: start node I again (~100 s until MQTT listens)
#   scripts/stack.sh stop-server RUNDIR        # stop only the server (the backend is down)
#   scripts/stack.sh start-server RUNDIR       # start it again: same port, flags, secrets, chat.db
#   scripts/stack.sh status RUNDIR
#
# `start` writes into RUNDIR: mosquitto.conf, passwd and acl (via `imcore-server
# broker-config`; the server owns passwd/acl from then on), mosquitto.db (persistence),
# chat.db (SQLite), mosquitto.log, server.log, secrets.env (0600: the server's MQTT password
# and token secret) and stack.env, a sourceable file:
#
#   RUNDIR BROKER HTTP_PORT HTTP_URL WS_PORT WS_URL MQTT_PORT WS_URLS MQTT_ADDRS NODE_COUNT
#   BROKER_PID SERVER_PID SERVER_BIN MOSQUITTO_BIN TEST_HOOKS WWW
#
# It returns once the broker listens on both ports and GET /time answers 200. Both
# processes run detached (setsid) until `stop`, which ends them by PID.
#
# --broker rabbitmq (default nodes: 2): the HTTP port is picked first, then
# scripts/rabbitmq.sh starts the cluster (RUNDIR/rabbitmq/, RUNDIR/rabbitmq.env) with its
# auth backend pointed at the server's http://127.0.0.1:HTTP_PORT/broker/auth, then the
# server starts with --broker rabbitmq --mqtt-addrs (every node) --broker-urls (every
# node's WebSocket URL). WS_PORT, WS_URL and MQTT_PORT are node 1's, WS_URLS and MQTT_ADDRS
# list every node's, BROKER_PID is empty. `stop` stops the server, then the cluster.
#
# The server binary: $IMCORE_SERVER_BIN, else `cargo build -p imcore-server --release`
# (into $CARGO_TARGET_DIR or target/). Mosquitto: $MOSQUITTO, else `mosquitto` on PATH or
# /usr/sbin/mosquitto (scripts/install.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/usr/local/sbin"

die() {
  echo "stack.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# shellcheck source=lib/proc.sh
. "$root/scripts/lib/proc.sh"

mosquitto_bin() {
  if [ -n "${MOSQUITTO:-}" ]; then
    echo "$MOSQUITTO"
  elif command -v mosquitto >/dev/null 2>&1; then
    command -v mosquitto
  elif [ -x /usr/sbin/mosquitto ]; then
    echo /usr/sbin/mosquitto
  else
    die "mosquitto not found (run scripts/install.sh, or set MOSQUITTO)"
  fi
}

http_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /time HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 3 line <&3 || exit 1
    [[ $line == *" 200 "* ]]
  ) 2>/dev/null
}

write_env() {
  local f="$RUNDIR/stack.env"
  {
    printf 'RUNDIR=%q\n' "$RUNDIR"
    printf 'BROKER=%s\n' "$BROKER"
    printf 'HTTP_PORT=%s\nHTTP_URL=%s\n' "$HTTP_PORT" "http://127.0.0.1:$HTTP_PORT"
    printf 'WS_PORT=%s\nWS_URL=%s\n' "$WS_PORT" "ws://127.0.0.1:$WS_PORT/mqtt"
    printf 'MQTT_PORT=%s\n' "$MQTT_PORT"
    printf 'WS_URLS=%s\nMQTT_ADDRS=%s\nNODE_COUNT=%s\n' "$WS_URLS" "$MQTT_ADDRS" "$NODE_COUNT"
    printf 'BROKER_PID=%s\nSERVER_PID=%s\n' "$BROKER_PID" "$SERVER_PID"
    printf 'SERVER_BIN=%q\nMOSQUITTO_BIN=%q\n' "$SERVER_BIN" "$MOSQUITTO_BIN"
    printf 'TEST_HOOKS=%s\n' "$TEST_HOOKS"
    printf 'WWW=%q\n' "$WWW"
  } >"$f.tmp"
  mv "$f.tmp" "$f"
}

load_env() {
  RUNDIR="$(cd "$1" 2>/dev/null && pwd)" || die "no folder $1"
  [ -f "$RUNDIR/stack.env" ] || die "no $RUNDIR/stack.env (not started?)"
  # shellcheck disable=SC1091
  . "$RUNDIR/stack.env"
  # Files of stacks started before --broker existed.
  BROKER=${BROKER:-mosquitto}
  WS_URLS=${WS_URLS:-ws://127.0.0.1:$WS_PORT/mqtt}
  MQTT_ADDRS=${MQTT_ADDRS:-127.0.0.1:$MQTT_PORT}
  NODE_COUNT=${NODE_COUNT:-1}
}

rabbitmq_sh() {
  IMCORE_SERVER_BIN="$SERVER_BIN" "$root/scripts/rabbitmq.sh" "$@"
}

# Whether the broker of this stack (any node of a cluster) still runs.
broker_alive() {
  if [ "$BROKER" = rabbitmq ]; then
    [ -f "$RUNDIR/rabbitmq.env" ] && "$root/scripts/rabbitmq.sh" running "$RUNDIR"
  else
    is_ours "$BROKER_PID" mosquitto
  fi
}

stop_broker() {
  if [ "$BROKER" = rabbitmq ]; then
    if [ -f "$RUNDIR/rabbitmq.env" ]; then rabbitmq_sh stop "$RUNDIR"; fi
  else
    stop_pid "$BROKER_PID" mosquitto
  fi
}

# Starts mosquitto on the config in RUNDIR; sets BROKER_PID once both ports listen.
start_broker() {
  rm -f "$RUNDIR/mosquitto.pid"
  local pid
  pid=$(detach "$RUNDIR/mosquitto.log" "$MOSQUITTO_BIN" -c "$RUNDIR/mosquitto.conf")
  BROKER_PID=$pid
  if ! wait_for "$pid" 150 port_open "$MQTT_PORT" || ! wait_for "$pid" 150 port_open "$WS_PORT"; then
    tail -n 20 "$RUNDIR/mosquitto.log" >&2 || true
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    BROKER_PID=""
    return 1
  fi
  BROKER_PID=$(cat "$RUNDIR/mosquitto.pid" 2>/dev/null || echo "$pid")
}

# Starts the server on HTTP_PORT with the flags of this stack and the secrets of
# RUNDIR/secrets.env (the same token secret: tokens issued before stay valid); sets
# SERVER_PID once GET /time answers.
start_server() {
  local args=(--http "127.0.0.1:$HTTP_PORT" --db "$RUNDIR/chat.db"
    --mqtt-host 127.0.0.1 --mqtt-port "$MQTT_PORT" --ws-port "$WS_PORT"
    --broker-admin-user imcore-server)
  if [ "$BROKER" = rabbitmq ]; then
    args+=(--broker rabbitmq --mqtt-addrs "$MQTT_ADDRS" --broker-urls "$WS_URLS")
  else
    args+=(--broker-dir "$RUNDIR")
  fi
  [ "$TEST_HOOKS" = 1 ] && args+=(--test-hooks)
  [ -n "${WWW:-}" ] && args+=(--www "$WWW")
  local pid
  pid=$(
    # shellcheck disable=SC1091
    . "$RUNDIR/secrets.env"
    IMCORE_BROKER_ADMIN_PASSWORD="$BROKER_ADMIN_PASSWORD" IMCORE_SECRET="$SECRET" \
      detach "$RUNDIR/server.log" "$SERVER_BIN" "${args[@]}"
  )
  SERVER_PID=$pid
  wait_for "$pid" 150 http_ok "$HTTP_PORT" && return 0
  stop_pid "$pid" imcore-server
  SERVER_PID=""
  return 1
}

abort_start() {
  local status=$?
  [ -n "${SERVER_PID:-}" ] && stop_pid "$SERVER_PID" imcore-server
  # The start refused a broker already running here: what stop_broker finds is ours.
  stop_broker >&2 || true
  exit "$status"
}

cmd_start() {
  [ $# -ge 1 ] || usage
  mkdir -p "$1"
  RUNDIR="$(cd "$1" && pwd)"
  shift
  TEST_HOOKS=0
  WWW=""
  BROKER=mosquitto
  NODE_COUNT=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --test-hooks) TEST_HOOKS=1 ;;
      --broker)
        [ $# -ge 2 ] || die "--broker needs mosquitto or rabbitmq"
        case "$2" in mosquitto | rabbitmq) BROKER=$2 ;; *) die "--broker: mosquitto or rabbitmq" ;; esac
        shift
        ;;
      --nodes)
        [ $# -ge 2 ] || die "--nodes needs a number"
        NODE_COUNT=$2
        shift
        ;;
      --www)
        [ $# -ge 2 ] || die "--www needs a folder"
        WWW="$(cd "$2" && pwd)" || die "no folder $2"
        shift
        ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  if [ "$BROKER" = mosquitto ]; then
    [ -z "$NODE_COUNT" ] || die "--nodes is for --broker rabbitmq"
    NODE_COUNT=1
  fi
  NODE_COUNT=${NODE_COUNT:-2}
  if [ -f "$RUNDIR/stack.env" ]; then
    (load_env "$RUNDIR" && { broker_alive || is_ours "$SERVER_PID" imcore-server; }) &&
      die "a stack already runs in $RUNDIR (scripts/stack.sh stop $RUNDIR)"
  fi
  if [ "$BROKER" = rabbitmq ] && [ -f "$RUNDIR/rabbitmq.env" ]; then
    (BROKER=rabbitmq && broker_alive) &&
      die "a RabbitMQ cluster already runs in $RUNDIR (scripts/rabbitmq.sh stop $RUNDIR)"
  fi
  MOSQUITTO_BIN=""
  [ "$BROKER" = mosquitto ] && MOSQUITTO_BIN="$(mosquitto_bin)"
  SERVER_BIN="$(server_bin)"
  [ -x "$SERVER_BIN" ] || die "no server binary at $SERVER_BIN"
  # Until stack.env is written nobody else can stop what this starts: a failure or a
  # signal on the way stops it here.
  BROKER_PID="" SERVER_PID=""
  trap 'abort_start' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local admin_password secret
  admin_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 077 && printf 'BROKER_ADMIN_USER=imcore-server\nBROKER_ADMIN_PASSWORD=%s\nSECRET=%s\n' \
    "$admin_password" "$secret" >"$RUNDIR/secrets.env")

  if [ "$BROKER" = rabbitmq ]; then
    start_rabbitmq_stack
    return
  fi

  # Free ports are found by binding and letting go, so another process may take one first:
  # then start again on new ones.
  WS_URLS="" MQTT_ADDRS=""
  local attempt
  for attempt in 1 2 3; do
    read -r HTTP_PORT WS_PORT MQTT_PORT < <("$SERVER_BIN" free-port 3)
    IMCORE_BROKER_ADMIN_PASSWORD="$admin_password" "$SERVER_BIN" broker-config \
      --dir "$RUNDIR" --mqtt-port "$MQTT_PORT" --ws-port "$WS_PORT" \
      --broker-admin-user imcore-server
    start_broker && break
    [ "$attempt" = 3 ] && die "mosquitto did not start (see $RUNDIR/mosquitto.log)"
  done

  for attempt in 1 2 3; do
    start_server && break
    if [ "$attempt" = 3 ]; then
      tail -n 20 "$RUNDIR/server.log" >&2 || true
      stop_pid "$BROKER_PID" mosquitto
      die "imcore-server did not answer (see $RUNDIR/server.log)"
    fi
    read -r HTTP_PORT < <("$SERVER_BIN" free-port 1)
  done
  WS_URLS="ws://127.0.0.1:$WS_PORT/mqtt" MQTT_ADDRS="127.0.0.1:$MQTT_PORT"
  write_env
  trap - EXIT INT TERM
  echo "stack.sh: running in $RUNDIR"
  cat "$RUNDIR/stack.env"
}

# The rest of `start` for --broker rabbitmq: the server's port first (the cluster's auth
# backend points at it), the cluster, then the server.
start_rabbitmq_stack() {
  read -r HTTP_PORT < <("$SERVER_BIN" free-port 1)
  rabbitmq_sh start "$RUNDIR" --nodes "$NODE_COUNT" \
    --auth-http-url "http://127.0.0.1:$HTTP_PORT/broker/auth" >&2 ||
    die "the RabbitMQ cluster did not start (see $RUNDIR/rabbitmq/)"
  # shellcheck disable=SC1091
  . "$RUNDIR/rabbitmq.env"
  WS_PORT=$WS_PORT_1 MQTT_PORT=$MQTT_PORT_1
  local attempt
  # The cluster asks this port: retry on it, not on another.
  for attempt in 1 2 3; do
    start_server && break
    if [ "$attempt" = 3 ]; then
      tail -n 20 "$RUNDIR/server.log" >&2 || true
      die "imcore-server did not answer on port $HTTP_PORT (see $RUNDIR/server.log)"
    fi
    sleep 0.5
  done
  write_env
  trap - EXIT INT TERM
  echo "stack.sh: running in $RUNDIR (RabbitMQ, $NODE_COUNT nodes)"
  cat "$RUNDIR/stack.env"
}

cmd_stop() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  stop_pid "$SERVER_PID" imcore-server
  stop_broker
  echo "stack.sh: stopped ($RUNDIR)"
}

cmd_kill_node() {
  [ $# -ge 2 ] || usage
  load_env "$1"
  [ "$BROKER" = rabbitmq ] || die "kill-node is for --broker rabbitmq (Mosquitto: restart-broker)"
  rabbitmq_sh kill-node "$RUNDIR" "$2"
}

cmd_start_node() {
  [ $# -ge 2 ] || usage
  load_env "$1"
  [ "$BROKER" = rabbitmq ] || die "start-node is for --broker rabbitmq (Mosquitto: restart-broker)"
  rabbitmq_sh start-node "$RUNDIR" "$2"
}

cmd_restart_broker() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  [ "$BROKER" = mosquitto ] || die "restart-broker is for Mosquitto (RabbitMQ: kill-node)"
  if is_ours "$BROKER_PID" mosquitto; then
    kill -KILL "$BROKER_PID"
    wait_gone "$BROKER_PID" 50 || true
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    start_broker && break
    [ "$attempt" = 5 ] && die "mosquitto did not restart (see $RUNDIR/mosquitto.log)"
    sleep 0.5
  done
  write_env
  echo "stack.sh: broker restarted, BROKER_PID=$BROKER_PID"
}

cmd_stop_server() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  stop_pid "$SERVER_PID" imcore-server
  echo "stack.sh: server stopped ($RUNDIR)"
}

cmd_start_server() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  WWW="${WWW:-}"
  if is_ours "$SERVER_PID" imcore-server; then
    echo "stack.sh: the server runs already, SERVER_PID=$SERVER_PID"
    return 0
  fi
  # The port was ours a moment ago; if something else took it, the pages' origin is gone.
  start_server || {
    tail -n 20 "$RUNDIR/server.log" >&2 || true
    die "imcore-server did not start again on port $HTTP_PORT (see $RUNDIR/server.log)"
  }
  write_env
  echo "stack.sh: server started, SERVER_PID=$SERVER_PID"
}

cmd_status() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  cat "$RUNDIR/stack.env"
  if [ "$BROKER" = rabbitmq ]; then
    rabbitmq_sh status "$RUNDIR" | grep -E '^(epmd|node [0-9]+|running nodes)' || true
  else
    is_ours "$BROKER_PID" mosquitto && echo "broker: running" || echo "broker: not running"
  fi
  if is_ours "$SERVER_PID" imcore-server && http_ok "$HTTP_PORT"; then
    echo "server: running"
  else
    echo "server: not running"
  fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  restart-broker) cmd_restart_broker "$@" ;;
  kill-node) cmd_kill_node "$@" ;;
  start-node) cmd_start_node "$@" ;;
  stop-server) cmd_stop_server "$@" ;;
  start-server) cmd_start_server "$@" ;;
  status) cmd_status "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
