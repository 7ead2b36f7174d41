#!/usr/bin/env bash
# Builds one libFuzzer target of Fuzz/Package.swift and fuzzes it; fuzz-stun.sh, fuzz-mqtt.sh
# and fuzz-ice.sh call this with their target's names.
#
# Usage: bash Fuzz/fuzz-run.sh NAME TARGET SEEDS CORPUS PREFIX DICT [extra libFuzzer flags...]
#   NAME     short name for messages and the log (stun, mqtt, ice)
#   TARGET   the executable product (FuzzSTUN, FuzzMQTT, FuzzICE)
#   SEEDS    committed seed folder under Fuzz/ (seeds, seeds-mqtt, seeds-ice)
#   CORPUS   working corpus folder under Fuzz/, git-ignored (corpus, corpus-mqtt, corpus-ice)
#   PREFIX   artifact name prefix under Fuzz/artifacts/ ("" for STUN, "mqtt-", "ice-")
#   DICT     libFuzzer dictionary under Fuzz/, or "" for none
#
# Environment:
#   FUZZ_SECONDS   how long to fuzz (default 600)
#   FUZZ_CONFIG    release (default: -O, preconditions and bounds checks kept, ~4x faster)
#                  or debug (-Onone, also keeps assert())
#   FUZZ_BUILD     0 to skip the build and use the existing binary (default 1)
#
# All targets share the SwiftPM scratch path Fuzz/.build-fuzz/ (git-ignored) and the artifact
# folder Fuzz/artifacts/ (crash-*, leak-*, timeout-*, oom-* with the target's prefix, and each
# target's last log). Exits non-zero when the build fails, when libFuzzer fails, or when the run
# left a new artifact. Reproduce an artifact with: Fuzz/.build-fuzz/<config>/TARGET Fuzz/artifacts/…

set -euo pipefail

if [[ $# -lt 6 ]]; then
    echo "usage: bash Fuzz/fuzz-run.sh NAME TARGET SEEDS CORPUS PREFIX DICT [libFuzzer flags...]" >&2
    exit 2
fi
NAME="$1" TARGET="$2" SEEDS_NAME="$3" CORPUS_NAME="$4" ARTIFACT_PREFIX="$5" DICT_NAME="$6"
shift 6
FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$FUZZ_DIR")"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
FUZZ_CONFIG="${FUZZ_CONFIG:-release}"
FUZZ_BUILD="${FUZZ_BUILD:-1}"
SCRATCH="$FUZZ_DIR/.build-fuzz"
SEEDS="$FUZZ_DIR/$SEEDS_NAME"
CORPUS="$FUZZ_DIR/$CORPUS_NAME"
ARTIFACTS="$FUZZ_DIR/artifacts"
BINARY="$SCRATCH/$FUZZ_CONFIG/$TARGET"
LOG="$ARTIFACTS/fuzz-$NAME-last.log"
PREFIX="$ARTIFACTS/$ARTIFACT_PREFIX"
DICT_FLAGS=()
if [[ -n "$DICT_NAME" ]]; then DICT_FLAGS=(-dict="$FUZZ_DIR/$DICT_NAME"); fi

case "$FUZZ_CONFIG" in
    debug | release) ;;
    *) echo "fuzz-$NAME: FUZZ_CONFIG must be debug or release, not '$FUZZ_CONFIG'" >&2; exit 2 ;;
esac
if ! [[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]]; then
    echo "fuzz-$NAME: FUZZ_SECONDS must be a whole number of seconds, not '$FUZZ_SECONDS'" >&2
    exit 2
fi

if [[ "$FUZZ_BUILD" != 0 ]]; then
    echo "fuzz-$NAME: building $TARGET ($FUZZ_CONFIG) in ${SCRATCH#"$REPO_DIR"/}"
    # The linker warns once per ASan symbol ("Cannot export local symbol"); those are harmless.
    set +e
    swift build -c "$FUZZ_CONFIG" \
        --package-path "$FUZZ_DIR" --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        --product "$TARGET" 2>&1 | grep -v "warning: Cannot export local symbol"
    build_status="${PIPESTATUS[0]}"
    set -e
    if [[ "$build_status" != 0 ]]; then
        echo "fuzz-$NAME: build failed (swift build exited with $build_status)" >&2
        exit 1
    fi
fi
if [[ ! -x "$BINARY" ]]; then
    echo "fuzz-$NAME: $BINARY is missing; run without FUZZ_BUILD=0" >&2
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
find "$ARTIFACTS" -maxdepth 1 -type f \( -name "${ARTIFACT_PREFIX}crash-*" -o -name "${ARTIFACT_PREFIX}leak-*" -o -name "${ARTIFACT_PREFIX}timeout-*" -o -name "${ARTIFACT_PREFIX}oom-*" \) | sort > "$before"

echo "fuzz-$NAME: fuzzing for ${FUZZ_SECONDS}s; corpus ${CORPUS#"$REPO_DIR"/}/ ($(find "$CORPUS" -type f | wc -l) inputs), artifacts go to ${ARTIFACTS#"$REPO_DIR"/}/, log ${LOG#"$REPO_DIR"/}"
set +e
"$BINARY" "$CORPUS" \
    "${DICT_FLAGS[@]}" \
    -max_total_time="$FUZZ_SECONDS" \
    -max_len=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$PREFIX" \
    "$@" 2>&1 | tee "$LOG"
status="${PIPESTATUS[0]}"
set -e

new_artifacts="$(find "$ARTIFACTS" -maxdepth 1 -type f \( -name "${ARTIFACT_PREFIX}crash-*" -o -name "${ARTIFACT_PREFIX}leak-*" -o -name "${ARTIFACT_PREFIX}timeout-*" -o -name "${ARTIFACT_PREFIX}oom-*" \) | sort | comm -13 "$before" -)"
echo "fuzz-$NAME: corpus now $(find "$CORPUS" -type f | wc -l) inputs; libFuzzer exit status $status"
if [[ -n "$new_artifacts" ]]; then
    echo "fuzz-$NAME: FAILED, new artifacts:" >&2
    while IFS= read -r artifact; do
        echo "  $artifact  (reproduce: $BINARY $artifact)" >&2
        echo "  hex: $(od -An -v -tx1 "$artifact" | tr -d ' \n')" >&2
    done <<< "$new_artifacts"
    exit 1
fi
if [[ "$status" != 0 ]]; then
    echo "fuzz-$NAME: FAILED, libFuzzer exited with $status (see $LOG)" >&2
    exit 1
fi
echo "fuzz-$NAME: OK, no crashes in ${FUZZ_SECONDS}s"
