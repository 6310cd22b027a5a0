#!/usr/bin/env bash
# Installs what `make test` / `make demo` / `make size` need and is missing; a second run only checks.
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
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
else
  log "apt packages present"
fi

# --- Rust targets and tools -------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
else
  log "wasm32 target present"
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
