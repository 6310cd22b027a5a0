#!/usr/bin/env bash
# Installs what `make test` / `make demo` / `make size` (and the RabbitMQ stack) need and is
# missing; a second run only checks.
# Everything comes from the registries this machine reaches (apt, crates.io, npm).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[install] $*"; }
export PATH="$HOME/.cargo/bin:$PATH"

# --- Debian packages: the broker, the browser and its driver -------------------------
need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto mosquitto-clients)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
# RabbitMQ 3.10 (Debian 12) for `scripts/stack.sh start RUNDIR --broker rabbitmq`; its
# MQTT, Web MQTT and HTTP auth plugins ship in the package.
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # scripts/rabbitmq.sh runs its own nodes: the package's system service must not start.
  # invoke-rc.d asks /usr/sbin/policy-rc.d; 101 = "action not allowed". Use the machine's
  # if it has one, else put a temporary one in place for the install.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Temporary, by imcore scripts/install.sh: no service starts.\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    policy_created=1
    trap '[ "$policy_created" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  if [ "$policy_created" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    policy_created=0
    trap - EXIT
  fi
  # With systemd the package may still enable the unit: keep it off.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now rabbitmq-server.service >/dev/null 2>&1 || true
  fi
else
  log "apt packages present"
fi
# Nothing of the system RabbitMQ may run (the system node would hold epmd's default port
# and the node name rabbit@HOST): a node of user `rabbitmq` left by the install is stopped.
if id rabbitmq >/dev/null 2>&1; then
  for pid in $(pgrep -u rabbitmq 2>/dev/null || true); do
    log "stopping the system RabbitMQ process $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo '?'))"
    kill -TERM "$pid" 2>/dev/null || true
  done
fi

# --- Rust targets and tools -------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
else
  log "wasm32 target present"
fi

# The standard library's source: the release modules rebuild it for size (scripts/build-wasm.sh).
if ! rustup component list --installed 2>/dev/null | grep -qx rust-src; then
  log "rustup component add rust-src"
  rustup component add rust-src
else
  log "rust-src present"
fi

# wasm-bindgen-cli must match the crate's wasm-bindgen exactly (the schema is versioned).
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock 2>/dev/null || true)
wb_version=${wb_version:-0.2.130}
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "cargo install wasm-bindgen-cli $wb_version (about 4 minutes)"
  # Not --locked: the registry mirror lacks one pinned transitive version.
  cargo install -q wasm-bindgen-cli --version "$wb_version" --force
else
  log "wasm-bindgen-cli $wb_version present"
fi

if [ "${IMCORE_SKIP_FUZZ_INSTALL:-0}" != 1 ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "cargo install cargo-fuzz"
    cargo install -q cargo-fuzz || log "cargo-fuzz could not be built; make test will replay the seed corpus"
  else
    log "cargo-fuzz present"
  fi
fi

# twiggy: where the bytes of the wasm go, for scripts/size.sh (make size).
twiggy_version=0.8.0
if [ "$(twiggy --version 2>/dev/null | awk '{print $2}')" != "$twiggy_version" ]; then
  log "cargo install twiggy $twiggy_version (about 2 minutes)"
  cargo install -q twiggy --version "$twiggy_version" --locked --force \
    || log "twiggy could not be built; make size will print no attribution"
else
  log "twiggy $twiggy_version present"
fi

# --- npm packages from the committed lockfile ------------------------------------------
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  else
    log "node_modules up to date"
  fi
fi
log "done"
