#!/usr/bin/env bash
# Runs the Swift test suite (`swift test --skip-build`) with a deadline. A test that hangs
# fails the run after UNIT_TEST_TIMEOUT seconds (default 1500) with the tests that started but
# never finished and a backtrace of every thread, instead of running into CI's time limit.
set -u
SWIFT=${SWIFT:-swift}
LIMIT=${UNIT_TEST_TIMEOUT:-1500}
log=$(mktemp /tmp/unit-tests.XXXXXX.log)
# Line-buffered, so the log (and CI's output) shows the last tests that ran.
setsid stdbuf -oL -eL "$SWIFT" test --skip-build "$@" >"$log" 2>&1 &
runner=$!
tail -n +1 -f --pid="$runner" "$log" &
tailer=$!
start=$SECONDS
while kill -0 "$runner" 2>/dev/null; do
    if (( SECONDS - start > LIMIT )); then
        echo "run-unit: the tests did not finish in ${LIMIT} s" >&2
        echo "run-unit: tests started but not finished:" >&2
        grep -a 'started\.$' "$log" | sed -E 's/.*Test (.*) started\.$/\1/' | sort -u >/tmp/run-unit-started.$$
        grep -aE '(passed|failed|skipped)' "$log" | sed -E 's/.*Test ([^ ]+( with [0-9]+ test cases)?).*/\1/' >/tmp/run-unit-ended.$$
        while IFS= read -r name; do
            grep -qF -- "${name%%(*}" /tmp/run-unit-ended.$$ || echo "  $name" >&2
        done </tmp/run-unit-started.$$
        rm -f /tmp/run-unit-started.$$ /tmp/run-unit-ended.$$
        for pid in $(pgrep -s "$runner" -f 'xctest|PackageTests'); do
            echo "run-unit: threads of $pid:" >&2
            timeout 60 gdb -p "$pid" -batch -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^(Thread|#)' | head -400 >&2
        done
        pkill -KILL -s "$runner" 2>/dev/null
        echo "run-unit: children left running:" >&2
        ps -eo pid,ppid,etimes,args | grep -E 'python|chrom|openssl|coturn|turnserver|mosquitto' | grep -v grep >&2
        wait "$runner" 2>/dev/null
        kill "$tailer" 2>/dev/null
        exit 1
    fi
    sleep 2
done
wait "$runner"
status=$?
wait "$tailer" 2>/dev/null
rm -f "$log"
exit $status
