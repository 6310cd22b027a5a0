#!/usr/bin/env bash
# A RabbitMQ 3.10 cluster (MQTT + Web MQTT, auth over HTTP) on free 127.0.0.1 ports.
#
#   scripts/rabbitmq.sh start RUNDIR --auth-http-url URL [--nodes N] [--allow-anonymous]
#                                                  # N nodes (default 2)
#   scripts/rabbitmq.sh stop RUNDIR
#   scripts/rabbitmq.sh kill-node RUNDIR I      # SIGKILL node I (1..N), wait until it is gone
#   scripts/rabbitmq.sh start-node RUNDIR I     # start node I again (same ports, data); slow, see below
#   scripts/rabbitmq.sh status RUNDIR
#
# `start` runs its own epmd (own port, 127.0.0.1) and N nodes imcore-I@localhost, each with
# its own AMQP, distribution, MQTT and WebSocket ports, one Erlang cookie, data and logs
# under RUNDIR/rabbitmq/nodeI. Every node authenticates and authorizes with
# rabbitmq_auth_backend_http against URL/{user,vhost,resource,topic} (POST); anonymous MQTT
# is off unless --allow-anonymous (test brokers: tools/broker-control.mjs --broker rabbitmq;
# an anonymous client then asks the backend as `guest`). Nodes 2..N join node 1, and the policy `mqtt-ha` mirrors the MQTT subscription
# queues on every node (classic mirroring), so a persistent session survives the loss of
# its node. A start wipes RUNDIR/rabbitmq (a fresh cluster). It returns once every node's
# MQTT and WebSocket ports accept connections and `rabbitmqctl cluster_status` lists all
# nodes running, and writes RUNDIR/rabbitmq.env, a sourceable file:
#
#   NODE_COUNT EPMD_PID EPMD_PORT WS_URLS MQTT_ADDRS COOKIE_HOME
#   and per node I: NODE_NAME_I NODE_PID_I (beam.smp) WRAPPER_PID_I WS_PORT_I WS_URL_I
#   MQTT_PORT_I AMQP_PORT_I DIST_PORT_I NODE_DIR_I
#
# A killed node that starts again rejoins the cluster by itself, but RabbitMQ 3.10's MQTT
# plugin waits about 100 s (its Raft client-id tracker) before it listens: start-node
# waits up to 240 s for the MQTT and WebSocket ports.
#
# Everything runs detached (setsid) and is ended by PID. Needs Debian's rabbitmq-server
# (scripts/install.sh), run as root like the prototype (the data folders are ours). The
# free ports come from `imcore-server free-port` ($IMCORE_SERVER_BIN, else cargo build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH:/usr/sbin:/usr/local/sbin"

RABBIT_BIN=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
PLUGINS=rabbitmq_mqtt,rabbitmq_web_mqtt,rabbitmq_auth_backend_http
DIST_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# The path Mosquitto's clients use (imcore builds ws://server:port/mqtt from conn-config).
WS_PATH=/mqtt

die() {
  echo "rabbitmq.sh: $*" >&2
  exit 1
}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

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

# Runs "$@" in its own session; prints the PID.
detach() {
  local log=$1
  shift
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo $!
}

# A zombie counts as gone.
alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local state
  state=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$state" != Z ]
}

# Only PIDs that are still the process we started (a reused PID is left alone).
is_ours() {
  local pid=$1 name=$2
  alive "$pid" || return 1
  [ -r "/proc/$pid/comm" ] || return 0
  [ "$(cat "/proc/$pid/comm")" = "$name" ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_gone PID [TENTHS]: until PID is gone (default 10 s).
wait_gone() {
  local i
  for i in $(seq 1 "${2:-100}"); do
    alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

stop_pid() {
  local pid=$1 name=$2 tenths=${3:-100}
  is_ours "$pid" "$name" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_gone "$pid" "$tenths" && return 0
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid" 50 || true
}

# The environment of node I (for the server and for rabbitmqctl).
node_env() {
  local i=$1 d="$RUNDIR/rabbitmq/node$i"
  local amqp_var="AMQP_PORT_$i" dist_var="DIST_PORT_$i"
  export HOME="$RUNDIR/rabbitmq/home"
  export ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_NODENAME="imcore-$i@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="${!amqp_var}" RABBITMQ_DIST_PORT="${!dist_var}"
  export RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_MNESIA_BASE="$d/mnesia"
  export RABBITMQ_LOG_BASE="$d/log" RABBITMQ_LOGS="$d/node.log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_PLUGINS_EXPAND_DIR="$d/plugins-expand"
  export RABBITMQ_ENABLED_PLUGINS="$PLUGINS" RABBITMQ_PID_FILE="$d/pid"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$DIST_ARGS" RABBITMQ_CTL_ERL_ARGS="$DIST_ARGS"
}

# ctl I ARGS...: rabbitmqctl against node I.
ctl() {
  local i=$1
  shift
  (
    export HOME="$RUNDIR/rabbitmq/home" ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_CTL_ERL_ARGS="$DIST_ARGS"
    "$RABBIT_BIN/rabbitmqctl" -q -n "imcore-$i@localhost" "$@"
  )
}

write_conf() {
  local i=$1 d="$RUNDIR/rabbitmq/node$i"
  local amqp_var="AMQP_PORT_$i" mqtt_var="MQTT_PORT_$i" ws_var="WS_PORT_$i"
  mkdir -p "$d/log"
  cat >"$d/rabbitmq.conf" <<EOF
# Generated by scripts/rabbitmq.sh: node $i of the imcore reference cluster.
listeners.tcp.default = 127.0.0.1:${!amqp_var}
mqtt.listeners.tcp.default = 127.0.0.1:${!mqtt_var}
web_mqtt.tcp.ip = 127.0.0.1
web_mqtt.tcp.port = ${!ws_var}
web_mqtt.ws_path = $WS_PATH
mqtt.allow_anonymous = $ALLOW_ANONYMOUS
loopback_users = none
# imcore-server answers every authentication and authorization question.
auth_backends.1 = http
auth_http.http_method = post
auth_http.user_path = $AUTH_URL/user
auth_http.vhost_path = $AUTH_URL/vhost
auth_http.resource_path = $AUTH_URL/resource
auth_http.topic_path = $AUTH_URL/topic
EOF
}

# Starts node I detached; sets WRAPPER_PID_I.
start_node() {
  local i=$1 d="$RUNDIR/rabbitmq/node$i" pid
  pid=$(
    node_env "$i"
    detach "$d/stdout.log" "$RABBIT_BIN/rabbitmq-server"
  )
  printf -v "WRAPPER_PID_$i" '%s' "$pid"
}

# wait_node I SECONDS: until node I's MQTT and WebSocket ports accept connections; sets
# NODE_PID_I from the pid file.
wait_node() {
  local i=$1 secs=$2 d="$RUNDIR/rabbitmq/node$i"
  local mqtt_var="MQTT_PORT_$i" ws_var="WS_PORT_$i" wrapper_var="WRAPPER_PID_$i"
  local n
  for n in $(seq 1 $((secs * 10))); do
    if port_open "${!mqtt_var}" && port_open "${!ws_var}"; then
      printf -v "NODE_PID_$i" '%s' "$(cat "$d/pid" 2>/dev/null || true)"
      return 0
    fi
    alive "${!wrapper_var}" || return 1
    sleep 0.1
  done
  return 1
}

running_nodes() {
  ctl 1 cluster_status --formatter json 2>/dev/null |
    grep -o '"running_nodes":\[[^]]*\]' | grep -o 'imcore-[0-9]*@localhost' | sort -u
}

write_env() {
  local f="$RUNDIR/rabbitmq.env" i ws_urls="" mqtt_addrs=""
  {
    printf 'NODE_COUNT=%s\n' "$NODE_COUNT"
    printf 'EPMD_PID=%s\nEPMD_PORT=%s\n' "$EPMD_PID" "$EPMD_PORT"
    printf 'COOKIE_HOME=%q\nAUTH_URL=%q\n' "$RUNDIR/rabbitmq/home" "$AUTH_URL"
    for i in $(seq 1 "$NODE_COUNT"); do
      local name="imcore-$i@localhost" pid_var="NODE_PID_$i" wrapper_var="WRAPPER_PID_$i"
      local ws_var="WS_PORT_$i" mqtt_var="MQTT_PORT_$i" amqp_var="AMQP_PORT_$i"
      local dist_var="DIST_PORT_$i" url="ws://127.0.0.1:${!ws_var}$WS_PATH"
      printf 'NODE_NAME_%s=%s\nNODE_PID_%s=%s\nWRAPPER_PID_%s=%s\n' \
        "$i" "$name" "$i" "${!pid_var:-}" "$i" "${!wrapper_var:-}"
      printf 'WS_PORT_%s=%s\nWS_URL_%s=%s\nMQTT_PORT_%s=%s\nAMQP_PORT_%s=%s\nDIST_PORT_%s=%s\n' \
        "$i" "${!ws_var}" "$i" "$url" "$i" "${!mqtt_var}" "$i" "${!amqp_var}" "$i" "${!dist_var}"
      printf 'NODE_DIR_%s=%q\n' "$i" "$RUNDIR/rabbitmq/node$i"
      ws_urls="${ws_urls:+$ws_urls,}$url"
      mqtt_addrs="${mqtt_addrs:+$mqtt_addrs,}127.0.0.1:${!mqtt_var}"
    done
    printf 'WS_URLS=%s\nMQTT_ADDRS=%s\n' "$ws_urls" "$mqtt_addrs"
  } >"$f.tmp"
  mv "$f.tmp" "$f"
}

load_env() {
  RUNDIR="$(cd "$1" 2>/dev/null && pwd)" || die "no folder $1"
  [ -f "$RUNDIR/rabbitmq.env" ] || die "no $RUNDIR/rabbitmq.env (not started?)"
  # shellcheck disable=SC1091
  . "$RUNDIR/rabbitmq.env"
}

# Stops every node (rabbitmqctl stop, then TERM, then KILL) and epmd.
stop_all() {
  local i pid_var wrapper_var
  for i in $(seq "$NODE_COUNT" -1 1); do
    pid_var="NODE_PID_$i"
    wrapper_var="WRAPPER_PID_$i"
    if is_ours "${!pid_var:-}" beam.smp; then
      # TERM makes the VM stop the node gracefully (init:stop).
      stop_pid "${!pid_var}" beam.smp 300
    fi
    stop_pid "${!wrapper_var:-}" rabbitmq-server 50
  done
  stop_pid "${EPMD_PID:-}" epmd 50
}

abort_start() {
  local status=$?
  stop_all 2>/dev/null || true
  exit "$status"
}

cmd_start() {
  [ $# -ge 1 ] || usage
  mkdir -p "$1"
  RUNDIR="$(cd "$1" && pwd)"
  shift
  NODE_COUNT=2
  AUTH_URL=""
  ALLOW_ANONYMOUS=false
  while [ $# -gt 0 ]; do
    case "$1" in
      --allow-anonymous) ALLOW_ANONYMOUS=true ;;
      --nodes)
        [ $# -ge 2 ] || die "--nodes needs a number"
        NODE_COUNT=$2
        shift
        ;;
      --auth-http-url)
        [ $# -ge 2 ] || die "--auth-http-url needs a URL"
        AUTH_URL=${2%/}
        shift
        ;;
      *) die "unknown option $1" ;;
    esac
    shift
  done
  [[ $NODE_COUNT =~ ^[1-9]$ ]] || die "--nodes: 1..9"
  [ -n "$AUTH_URL" ] || die "--auth-http-url is required (imcore-server's /broker/auth)"
  [ -x "$RABBIT_BIN/rabbitmq-server" ] || die "no $RABBIT_BIN/rabbitmq-server (scripts/install.sh)"
  command -v epmd >/dev/null 2>&1 || die "no epmd on PATH (erlang-base)"
  if [ -f "$RUNDIR/rabbitmq.env" ]; then
    (
      # shellcheck disable=SC1091
      . "$RUNDIR/rabbitmq.env"
      is_ours "$EPMD_PID" epmd && exit 0
      for i in $(seq 1 "$NODE_COUNT"); do
        v="NODE_PID_$i"
        is_ours "${!v:-}" beam.smp && exit 0
      done
      exit 1
    ) && die "a cluster already runs in $RUNDIR (scripts/rabbitmq.sh stop $RUNDIR)"
  fi
  rm -f "$RUNDIR/rabbitmq.env"
  local bin
  bin="$(server_bin)"

  EPMD_PID=""
  local i
  for i in $(seq 1 "$NODE_COUNT"); do
    printf -v "NODE_PID_$i" '%s' ""
    printf -v "WRAPPER_PID_$i" '%s' ""
  done
  trap 'abort_start' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  rm -rf "$RUNDIR/rabbitmq"
  mkdir -p "$RUNDIR/rabbitmq/home"
  # One cookie for the nodes and rabbitmqctl.
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F \
    >"$RUNDIR/rabbitmq/home/.erlang.cookie")
  chmod 400 "$RUNDIR/rabbitmq/home/.erlang.cookie"

  # 1 + 4 per node distinct free ports (bound at once, in batches of up to 16).
  local ports=() batch
  while [ ${#ports[@]} -lt $((1 + 4 * NODE_COUNT)) ]; do
    read -r -a batch < <("$bin" free-port 16)
    ports+=("${batch[@]}")
    mapfile -t ports < <(printf '%s\n' "${ports[@]}" | awk '!seen[$0]++')
  done
  EPMD_PORT=${ports[0]}
  for i in $(seq 1 "$NODE_COUNT"); do
    local base=$((1 + 4 * (i - 1)))
    printf -v "AMQP_PORT_$i" '%s' "${ports[$base]}"
    printf -v "DIST_PORT_$i" '%s' "${ports[$((base + 1))]}"
    printf -v "MQTT_PORT_$i" '%s' "${ports[$((base + 2))]}"
    printf -v "WS_PORT_$i" '%s' "${ports[$((base + 3))]}"
    write_conf "$i"
  done

  local t0=$SECONDS
  EPMD_PID=$(detach "$RUNDIR/rabbitmq/epmd.log" epmd -port "$EPMD_PORT" -address 127.0.0.1)
  for _ in $(seq 1 50); do
    port_open "$EPMD_PORT" && break
    alive "$EPMD_PID" || die "epmd did not start (see $RUNDIR/rabbitmq/epmd.log)"
    sleep 0.1
  done
  port_open "$EPMD_PORT" || die "epmd does not listen on $EPMD_PORT"

  # Boot every node at once (each takes ~10 s), then join 2..N to node 1.
  for i in $(seq 1 "$NODE_COUNT"); do
    start_node "$i"
  done
  for i in $(seq 1 "$NODE_COUNT"); do
    wait_node "$i" 90 || {
      tail -n 30 "$RUNDIR/rabbitmq/node$i/node.log" "$RUNDIR/rabbitmq/node$i/stdout.log" >&2 || true
      die "node $i did not start (see $RUNDIR/rabbitmq/node$i)"
    }
  done
  echo "rabbitmq.sh: $NODE_COUNT node(s) up after $((SECONDS - t0)) s" >&2
  for i in $(seq 2 "$NODE_COUNT"); do
    ctl "$i" stop_app >/dev/null
    ctl "$i" join_cluster imcore-1@localhost >/dev/null
    ctl "$i" start_app >/dev/null
    wait_node "$i" 60 || die "node $i did not come back after joining (see $RUNDIR/rabbitmq/node$i)"
  done
  # Persistent MQTT sessions live in classic queues: mirror them on every node.
  ctl 1 set_policy mqtt-ha '^mqtt-subscription-' \
    '{"ha-mode":"all","ha-sync-mode":"automatic"}' --apply-to queues >/dev/null
  local want got
  want=$(for i in $(seq 1 "$NODE_COUNT"); do echo "imcore-$i@localhost"; done | sort)
  for _ in $(seq 1 60); do
    got=$(running_nodes || true)
    [ "$got" = "$want" ] && break
    sleep 0.5
  done
  [ "$got" = "$want" ] || die "cluster_status lists running: $(echo "$got" | tr '\n' ' ')"
  write_env
  trap - EXIT INT TERM
  echo "rabbitmq.sh: cluster of $NODE_COUNT running in $RUNDIR after $((SECONDS - t0)) s"
}

cmd_stop() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  stop_all
  echo "rabbitmq.sh: stopped ($RUNDIR)"
}

cmd_kill_node() {
  [ $# -ge 2 ] || usage
  load_env "$1"
  local i=$2
  [[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$NODE_COUNT" ] || die "no node $i (1..$NODE_COUNT)"
  local pid_var="NODE_PID_$i" wrapper_var="WRAPPER_PID_$i"
  local pid=${!pid_var:-}
  if is_ours "$pid" beam.smp; then
    kill -KILL "$pid"
    wait_gone "$pid" 100 || die "node $i (PID $pid) still there after SIGKILL"
  else
    echo "rabbitmq.sh: node $i was not running" >&2
  fi
  # The wrapper script ends with its VM.
  wait_gone "${!wrapper_var:-}" 50 || stop_pid "${!wrapper_var:-}" rabbitmq-server 50
  echo "rabbitmq.sh: node $i (imcore-$i@localhost) killed"
}

cmd_start_node() {
  [ $# -ge 2 ] || usage
  load_env "$1"
  local i=$2
  [[ $i =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$NODE_COUNT" ] || die "no node $i (1..$NODE_COUNT)"
  local pid_var="NODE_PID_$i"
  is_ours "${!pid_var:-}" beam.smp && die "node $i runs already (PID ${!pid_var})"
  is_ours "$EPMD_PID" epmd || die "our epmd (PID $EPMD_PID) is gone: stop and start the cluster"
  local t0=$SECONDS
  rm -f "$RUNDIR/rabbitmq/node$i/pid"
  start_node "$i"
  wait_node "$i" 240 || die "node $i did not come back (see $RUNDIR/rabbitmq/node$i)"
  write_env
  echo "rabbitmq.sh: node $i (imcore-$i@localhost) listening again after $((SECONDS - t0)) s"
}

cmd_status() {
  [ $# -ge 1 ] || usage
  load_env "$1"
  cat "$RUNDIR/rabbitmq.env"
  is_ours "$EPMD_PID" epmd && echo "epmd: running" || echo "epmd: not running"
  local i pid_var mqtt_var ws_var first=""
  for i in $(seq 1 "$NODE_COUNT"); do
    pid_var="NODE_PID_$i" mqtt_var="MQTT_PORT_$i" ws_var="WS_PORT_$i"
    if is_ours "${!pid_var:-}" beam.smp; then
      local ports="mqtt ${!mqtt_var} $(port_open "${!mqtt_var}" && echo open || echo closed)"
      ports="$ports, ws ${!ws_var} $(port_open "${!ws_var}" && echo open || echo closed)"
      echo "node $i: running ($ports)"
      first=${first:-$i}
    else
      echo "node $i: not running"
    fi
  done
  if [ -n "$first" ]; then
    echo "running nodes (seen by node $first): $(
      ctl "$first" cluster_status --formatter json 2>/dev/null |
        grep -o '"running_nodes":\[[^]]*\]' | grep -o 'imcore-[0-9]*@localhost' | tr '\n' ' '
    )"
  fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  kill-node) cmd_kill_node "$@" ;;
  start-node) cmd_start_node "$@" ;;
  status) cmd_status "$@" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
