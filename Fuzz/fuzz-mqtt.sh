#!/usr/bin/env bash
# Builds the FuzzMQTT libFuzzer target (Fuzz/Package.swift) and fuzzes the SignalingMQTT packet
# codec (MQTT 3.1.1 and 5.0 stream decoder, encoder round trips).
#
# Usage: bash Fuzz/fuzz-mqtt.sh [extra libFuzzer flags...]      (from any directory)
#
# Environment:
#   FUZZ_SECONDS   how long to fuzz (default 600)
#   FUZZ_CONFIG    release (default: -O, preconditions and bounds checks kept, ~4x faster)
#                  or debug (-Onone, also keeps assert())
#   FUZZ_BUILD     0 to skip the build and use the existing binary (default 1)
#   FUZZ_MQTT_VERBOSE=1: see Fuzz/Sources/FuzzMQTT/FuzzMQTT.swift
#
# Layout (all under Fuzz/):
#   seeds-mqtt/   committed seed inputs (regenerate with python3 Fuzz/make-seeds-mqtt.py)
#   corpus-mqtt/  the working corpus libFuzzer grows (git-ignored)
#   artifacts/    mqtt-crash-*, mqtt-leak-*, mqtt-timeout-*, mqtt-oom-* inputs and the last run's
#                 log (fuzz-mqtt-last.log), next to FuzzSTUN's
#   .build-fuzz/  SwiftPM scratch path shared with FuzzSTUN, separate from the main .build
#                 (git-ignored)
#
# Exits non-zero when the build fails, when libFuzzer fails, or when the run left a new artifact.
# Reproduce an artifact with: Fuzz/.build-fuzz/<config>/FuzzMQTT Fuzz/artifacts/mqtt-crash-…

set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$FUZZ_DIR")"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
FUZZ_CONFIG="${FUZZ_CONFIG:-release}"
FUZZ_BUILD="${FUZZ_BUILD:-1}"
SCRATCH="$FUZZ_DIR/.build-fuzz"
SEEDS="$FUZZ_DIR/seeds-mqtt"
CORPUS="$FUZZ_DIR/corpus-mqtt"
ARTIFACTS="$FUZZ_DIR/artifacts"
BINARY="$SCRATCH/$FUZZ_CONFIG/FuzzMQTT"
LOG="$ARTIFACTS/fuzz-mqtt-last.log"
PREFIX="$ARTIFACTS/mqtt-"

case "$FUZZ_CONFIG" in
    debug | release) ;;
    *) echo "fuzz-mqtt: FUZZ_CONFIG must be debug or release, not '$FUZZ_CONFIG'" >&2; exit 2 ;;
esac
if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]]; then
    echo "fuzz-mqtt: FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'" >&2
    exit 2
fi

if [[ "$FUZZ_BUILD" != 0 ]]; then
    echo "fuzz-mqtt: building FuzzMQTT ($FUZZ_CONFIG) in ${SCRATCH#"$REPO_DIR"/}"
    # The linker warns once per ASan symbol ("Cannot export local symbol"); those are harmless.
    set +e
    swift build -c "$FUZZ_CONFIG" \
        --package-path "$FUZZ_DIR" --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        --product FuzzMQTT 2>&1 | grep -v "warning: Cannot export local symbol"
    build_status="${PIPESTATUS[0]}"
    set -e
    if [[ "$build_status" != 0 ]]; then
        echo "fuzz-mqtt: build failed (swift build exited with $build_status)" >&2
        exit 1
    fi
fi
if [[ ! -x "$BINARY" ]]; then
    echo "fuzz-mqtt: $BINARY is missing; run without FUZZ_BUILD=0" >&2
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
find "$ARTIFACTS" -maxdepth 1 -type f \( -name 'mqtt-crash-*' -o -name 'mqtt-leak-*' -o -name 'mqtt-timeout-*' -o -name 'mqtt-oom-*' \) | sort > "$before"

echo "fuzz-mqtt: fuzzing for ${FUZZ_SECONDS}s; corpus ${CORPUS#"$REPO_DIR"/}/ ($(find "$CORPUS" -type f | wc -l) inputs), artifacts go to ${ARTIFACTS#"$REPO_DIR"/}/, log ${LOG#"$REPO_DIR"/}"
set +e
"$BINARY" "$CORPUS" \
    -dict="$FUZZ_DIR/mqtt.dict" \
    -max_total_time="$FUZZ_SECONDS" \
    -max_len=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$PREFIX" \
    "$@" 2>&1 | tee "$LOG"
status="${PIPESTATUS[0]}"
set -e

new_artifacts="$(find "$ARTIFACTS" -maxdepth 1 -type f \( -name 'mqtt-crash-*' -o -name 'mqtt-leak-*' -o -name 'mqtt-timeout-*' -o -name 'mqtt-oom-*' \) | sort | comm -13 "$before" -)"
echo "fuzz-mqtt: corpus now $(find "$CORPUS" -type f | wc -l) inputs; libFuzzer exit status $status"
if [[ -n "$new_artifacts" ]]; then
    echo "fuzz-mqtt: FAILED, new artifacts:" >&2
    while IFS= read -r artifact; do
        echo "  $artifact  (reproduce: $BINARY $artifact)" >&2
        echo "  hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')" >&2
    done <<< "$new_artifacts"
    exit 1
fi
if [[ "$status" != 0 ]]; then
    echo "fuzz-mqtt: FAILED, libFuzzer exited with $status (see $LOG)" >&2
    exit 1
fi
echo "fuzz-mqtt: OK, no crashes in ${FUZZ_SECONDS}s"
