#!/usr/bin/env bash
# Builds the FuzzICE libFuzzer target (Fuzz/Package.swift) and fuzzes ICEAgent: SDP candidate
# lines, the shared-port router, and the ICE agent's and TURN client's receive paths.
#
# Usage: bash Fuzz/fuzz-ice.sh [extra libFuzzer flags...]      (from any directory)
#
# Environment:
#   FUZZ_SECONDS   how long to fuzz (default 600)
#   FUZZ_CONFIG    release (default: -O, preconditions and bounds checks kept, ~4x faster)
#                  or debug (-Onone, also keeps assert())
#   FUZZ_BUILD     0 to skip the build and use the existing binary (default 1)
#
# Layout (all under Fuzz/):
#   seeds-ice/    committed seed inputs: candidate lines from real peers, STUN checks, TURN answers
#   corpus-ice/   the working corpus libFuzzer grows (git-ignored)
#   artifacts/    ice-crash-*, ice-leak-*, ice-timeout-*, ice-oom-* inputs and the last run's
#                 log (fuzz-ice-last.log), next to FuzzSTUN's
#   .build-fuzz/  SwiftPM scratch path shared with FuzzSTUN, separate from the main .build
#                 (git-ignored)
#
# Exits non-zero when the build fails, when libFuzzer fails, or when the run left a new artifact.
# Reproduce an artifact with: Fuzz/.build-fuzz/<config>/FuzzICE Fuzz/artifacts/ice-crash-…

set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$FUZZ_DIR")"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
FUZZ_CONFIG="${FUZZ_CONFIG:-release}"
FUZZ_BUILD="${FUZZ_BUILD:-1}"
SCRATCH="$FUZZ_DIR/.build-fuzz"
SEEDS="$FUZZ_DIR/seeds-ice"
CORPUS="$FUZZ_DIR/corpus-ice"
ARTIFACTS="$FUZZ_DIR/artifacts"
BINARY="$SCRATCH/$FUZZ_CONFIG/FuzzICE"
LOG="$ARTIFACTS/fuzz-ice-last.log"
PREFIX="$ARTIFACTS/ice-"

case "$FUZZ_CONFIG" in
    debug | release) ;;
    *) echo "fuzz-ice: FUZZ_CONFIG must be debug or release, not '$FUZZ_CONFIG'" >&2; exit 2 ;;
esac
if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]]; then
    echo "fuzz-ice: FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'" >&2
    exit 2
fi

if [[ "$FUZZ_BUILD" != 0 ]]; then
    echo "fuzz-ice: building FuzzICE ($FUZZ_CONFIG) in ${SCRATCH#"$REPO_DIR"/}"
    # The linker warns once per ASan symbol ("Cannot export local symbol"); those are harmless.
    set +e
    swift build -c "$FUZZ_CONFIG" \
        --package-path "$FUZZ_DIR" --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        --product FuzzICE 2>&1 | grep -v "warning: Cannot export local symbol"
    build_status="${PIPESTATUS[0]}"
    set -e
    if [[ "$build_status" != 0 ]]; then
        echo "fuzz-ice: build failed (swift build exited with $build_status)" >&2
        exit 1
    fi
fi
if [[ ! -x "$BINARY" ]]; then
    echo "fuzz-ice: $BINARY is missing; run without FUZZ_BUILD=0" >&2
    exit 1
fi

mkdir -p "$CORPUS" "$ARTIFACTS"
cp -n "$SEEDS"/* "$CORPUS"/ 2>/dev/null || true

# Let libFuzzer and ASan report crashes. Swift's own backtracer (swift-backtrace) reads the
# crashed process's memory with ASan-instrumented memcpy, trips ASan and then hangs.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"
if [[ -z "${ASAN_SYMBOLIZER_PATH:-}" ]]; then
    symbolizer="$(dirname "$(command -v swift)")/llvm-symbolizer"
    if [[ -x "$symbolizer" ]]; then export ASAN_SYMBOLIZER_PATH="$symbolizer"; fi
fi

before="$(mktemp)"
trap 'rm -f "$before"' EXIT
find "$ARTIFACTS" -maxdepth 1 -type f \( -name 'ice-crash-*' -o -name 'ice-leak-*' -o -name 'ice-timeout-*' -o -name 'ice-oom-*' \) | sort > "$before"

echo "fuzz-ice: fuzzing for ${FUZZ_SECONDS}s; corpus ${CORPUS#"$REPO_DIR"/}/ ($(find "$CORPUS" -type f | wc -l) inputs), artifacts go to ${ARTIFACTS#"$REPO_DIR"/}/, log ${LOG#"$REPO_DIR"/}"
set +e
"$BINARY" "$CORPUS" \
    -max_total_time="$FUZZ_SECONDS" \
    -max_len=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$PREFIX" \
    "$@" 2>&1 | tee "$LOG"
status="${PIPESTATUS[0]}"
set -e

new_artifacts="$(find "$ARTIFACTS" -maxdepth 1 -type f \( -name 'ice-crash-*' -o -name 'ice-leak-*' -o -name 'ice-timeout-*' -o -name 'ice-oom-*' \) | sort | comm -13 "$before" -)"
echo "fuzz-ice: corpus now $(find "$CORPUS" -type f | wc -l) inputs; libFuzzer exit status $status"
if [[ -n "$new_artifacts" ]]; then
    echo "fuzz-ice: FAILED, new artifacts:" >&2
    while IFS= read -r artifact; do
        echo "  $artifact  (reproduce: $BINARY $artifact)" >&2
        echo "  hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')" >&2
    done <<< "$new_artifacts"
    exit 1
fi
if [[ "$status" != 0 ]]; then
    echo "fuzz-ice: FAILED, libFuzzer exited with $status (see $LOG)" >&2
    exit 1
fi
echo "fuzz-ice: OK, no crashes in ${FUZZ_SECONDS}s"
