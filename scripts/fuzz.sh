#!/usr/bin/env bash
# Usage: FUZZ_SECONDS=60 scripts/fuzz.sh
#
# With a nightly toolchain and cargo-fuzz: fuzzes the `stream_decoder` target (fuzz/) for
# FUZZ_SECONDS (default 60). libFuzzer writes new inputs into the first corpus folder only,
# so that is a scratch copy under build/fuzz-corpus/ (git-ignored) and the committed seeds
# in fuzz/seeds/stream_decoder are read-only. Crashes land in fuzz/artifacts/ (ignored).
# Without nightly, cargo-fuzz or fuzz/Cargo.toml: replays the seed corpus through the decoder as an
# ordinary test (`cargo test --test codec_fuzz_corpus`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

target=stream_decoder
seeds="$root/fuzz/seeds/$target"
corpus="$root/build/fuzz-corpus/$target"

if [ -f fuzz/Cargo.toml ] && cargo +nightly fuzz --version >/dev/null 2>&1; then
  mkdir -p "$corpus"
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$corpus/"
  else
    seeds=""
  fi
  echo "[fuzz] cargo +nightly fuzz run $target for ${FUZZ_SECONDS:-60} s (corpus $corpus)"
  cargo +nightly fuzz run "$target" "$corpus" ${seeds:+"$seeds"} -- \
    -max_total_time="${FUZZ_SECONDS:-60}"
else
  echo "[fuzz] no nightly toolchain with cargo-fuzz (or no fuzz/Cargo.toml): replaying the seed corpus instead"
  echo "[fuzz] cargo test --test codec_fuzz_corpus"
  cargo test --test codec_fuzz_corpus
fi
