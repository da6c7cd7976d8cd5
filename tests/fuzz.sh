#!/usr/bin/env bash
# fuzz.sh - builds the cargo-fuzz targets in fuzz/ and runs each one briefly.
#
#   bash tests/fuzz.sh [TARGET...]       (default: every target in fuzz/Cargo.toml)
#
# FUZZ_SECONDS sets the run time per target (default 30). The toolchain is stable Rust,
# so cargo-fuzz runs with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only flags) and
# `--sanitizer none` (the sanitizers need a nightly standard library). libFuzzer's own
# coverage instrumentation still works, and a panic aborts the process, which libFuzzer
# reports as a crash: the crashing input is saved under fuzz/artifacts/TARGET/ and this
# script exits non-zero.
#
# The fixtures in tests/fixtures/e2e seed every target; the corpus that libFuzzer grows
# is kept under target/fuzz-corpus/TARGET, outside the repository.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}

die() { echo "fuzz: $*" >&2; exit 1; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --version 0.13.2 --locked || die "cargo install cargo-fuzz failed"
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || die "no fuzz targets found in fuzz/Cargo.toml"

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="${RUSTFLAGS:-} -Coverflow-checks=on"
FUZZ_FLAGS=(--sanitizer none -O)
cd fuzz
cargo fuzz build "${FUZZ_FLAGS[@]}"
for target in "${targets[@]}"; do
    corpus=$REPO/target/fuzz-corpus/$target
    mkdir -p "$corpus"
    echo "fuzz: running $target for ${SECONDS_PER_TARGET} s"
    cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "$corpus" "$REPO/tests/fixtures/e2e" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=20 \
        || die "$target failed: the crashing input is in fuzz/artifacts/$target/"
done
echo "fuzz: ${#targets[@]} target(s) ran without a crash"
