# imcore — build and test entry points. Every target installs what is missing first
# (scripts/install.sh: apt chromium/chromium-driver/mosquitto, the wasm32 target, rust-src,
# wasm-bindgen-cli, cargo-fuzz, twiggy, npm ci); a second run only checks.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
export PATH := $(HOME)/.cargo/bin:$(PATH)

CHROMEDRIVER ?= /usr/bin/chromedriver

.PHONY: install test demo size fuzz bench clean package

install:
	@scripts/install.sh

# fmt, clippy (native and wasm32; the library also as each shipped module is built: without
# its default `chat` feature (imcore/mqtt), with `chat,indexeddb` (web), `chat,kv,mqtt-client`
# (mini-program)), native tests of both crates (unit, proptest, Mosquitto
# integration, the reference server), fuzzing (or the seed corpus), wasm-bindgen browser
# tests in headless Chromium (the IndexedDB backend and the write path), the
# release package build, then on that package: imcore/mqtt's MqttClient in Node with
# scripted transports (the failure, re-entrancy and free() paths), the mini-program glue in
# Node against Mosquitto, ChatClient and imcore/mqtt through their JS API in Chromium (playwright-core),
# the npm tarball installed into a fresh Vite app, and the end-to-end tests of the whole product
# (the demo page built on it, served by imcore-server with Mosquitto, two users in
# Chromium, plus MQTT straight to the broker: scripts/test-e2e.sh), and again on a two-node
# RabbitMQ cluster with a node killed under load (E2E_BROKER=rabbitmq).
test: install
	@start=$$(date +%s)
	result=FAILED
	trap 'echo; echo "make test: $$result after $$(( $$(date +%s) - start )) s wall time"' EXIT
	step() {
	  local t=$$(date +%s)
	  echo; echo "==> $$*"
	  "$$@"
	  echo "<== $$(( $$(date +%s) - t )) s"
	}
	step cargo fmt --all -- --check
	step cargo clippy --workspace --all-targets -- -D warnings
	step cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	step cargo clippy --lib --no-default-features -- -D warnings
	step cargo clippy --lib --target wasm32-unknown-unknown --no-default-features -- -D warnings
	step cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features chat,indexeddb -- -D warnings
	step cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features chat,kv,mqtt-client -- -D warnings
	step cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings
	step cargo test --workspace
	step scripts/fuzz.sh
	step env CHROMEDRIVER=$(CHROMEDRIVER) WASM_BINDGEN_TEST_TIMEOUT=180 \
	  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --target wasm32-unknown-unknown
	step scripts/build-wasm.sh release
	step node --test tests/mqtt-shell/
	step scripts/test-miniprogram.sh
	step scripts/test-browser.sh
	step scripts/test-package.sh
	step scripts/test-e2e.sh
	step env E2E_BROKER=rabbitmq scripts/test-e2e.sh
	result=passed

# The demo chat: release package, the page (www/dist), Mosquitto (WebSocket listener,
# passwords and ACLs) and imcore-server serving the page on free 127.0.0.1 ports (the stack
# of scripts/stack.sh, in build/demo-run); prints the URLs to open as user 1 and user 2.
# Ctrl-C stops everything it started.
demo: install
	@scripts/demo.sh

# The release package (scripts/build-wasm.sh release) packed by `npm pack` into build/;
# prints the tarball's path and size.
package: install
	@scripts/package.sh

# Release wasm + JS glue sizes (raw, gzip -9) of imcore and imcore/mqtt beside MQTT.js's
# bundle and other SDKs, then each module's ten largest functions and crates (twiggy) and
# what each crate's and imcore module's code costs gzip -9 (leave-one-out).
size: install
	@scripts/size.sh

# Benchmarks with their baselines side by side (not part of make test): QoS 1 replay beside
# MQTT.js, the chat store's ingest rate, peak heap and insert cost, the ordered index
# beside a sorted Vec, IndexedDB in headless Chromium beside plain JS, then the in-page
# benchmarks of scripts/bench-browser.sh (the MQTT decoder beside mqtt-packet, the 10,000-
# message backlog through ChatClient and the cold start, each beside plain JS).
bench: install
	@cargo bench --bench store_ingest
	cargo bench --bench ordered_insert
	cargo bench --bench replay
	CHROMEDRIVER=$(CHROMEDRIVER) WASM_BINDGEN_TEST_TIMEOUT=300 \
	  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test --release --target wasm32-unknown-unknown --features browser-bench \
	  --test web_storage_bench -- --nocapture
	scripts/build-wasm.sh release
	scripts/bench-browser.sh

# cargo-fuzz on nightly for FUZZ_SECONDS (default 60), else the seed corpus as a test.
fuzz: install
	@scripts/fuzz.sh

clean:
	@rm -rf pkg build fuzz/target
	cargo clean
