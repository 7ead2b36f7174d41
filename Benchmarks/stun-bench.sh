#!/usr/bin/env bash
# STUN binding flood, issue 2: our server against coturn's STUN in one run.
#
# For each server, one after the other (never both under load at once):
#   1. start it on a free loopback UDP port,
#   2. wait until it answers a slow probe,
#   3. warm up (saturating, unmeasured),
#   4. a saturating run:  answered req/s, latency, loss, CPU of both sides,
#   5. a fixed-rate run at BENCH_FIXED_FRACTION (default 70 %) of the rate
#      measured in 4, which must lose nothing ("no loss below saturation"),
# then print a table and the ratio ours / coturn of the saturated rates.
#
# Environment (all optional):
#   POD_ARCADE_SERVER     server binary (default .build/release/pod-arcade-server)
#   BENCH_DURATION        seconds per measured run (default 10)
#   BENCH_WARMUP          seconds of warm-up per server (default 3)
#   BENCH_INFLIGHT        requests in flight (default 256)
#   BENCH_SOCKETS         generator source sockets (default 4)
#   BENCH_BATCH           sendmmsg/recvmmsg batch (default 32)
#   BENCH_FIXED_FRACTION  fixed-rate run as a fraction of saturation (default 0.7)
#   BENCH_FINGERPRINT=1   add FINGERPRINT to requests
#   BENCH_ONLY=coturn|ours  run one server only
#   BENCH_STRICT=1        exit 1 if ours < 1.5 x coturn or a fixed-rate run lost requests
#
# Only loopback addresses are used. Artifacts go to .build-bench/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/.build-bench
SERVER=${POD_ARCADE_SERVER:-$ROOT/.build/release/pod-arcade-server}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-3}
INFLIGHT=${BENCH_INFLIGHT:-256}
SOCKETS=${BENCH_SOCKETS:-4}
BATCH=${BENCH_BATCH:-32}
FIXED_FRACTION=${BENCH_FIXED_FRACTION:-0.7}
ONLY=${BENCH_ONLY:-}
TARGET_RATIO=1.5

FLOOD=$OUT/stun_flood
RESULTS=$OUT/stun-bench-$(date +%Y%m%d-%H%M%S).jsonl
CLK_TCK=$(getconf CLK_TCK)

mkdir -p "$OUT"

# ---- the load generator ----------------------------------------------------
SRC=$ROOT/Benchmarks/stun-flood/stun_flood.c
if [[ ! -x $FLOOD || $SRC -nt $FLOOD ]]; then
    cc -O2 -Wall -Wextra -o "$FLOOD" "$SRC"
fi
FLOOD_ARGS=(--inflight "$INFLIGHT" --sockets "$SOCKETS" --batch "$BATCH")
[[ ${BENCH_FINGERPRINT:-0} == 1 ]] && FLOOD_ARGS+=(--fingerprint)

# ---- process bookkeeping: stop only what we started ------------------------
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    STARTED=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # pid
    local keep=() p
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]+"${keep[@]}"}")
}

# ---- small helpers -----------------------------------------------------------
# A port free for UDP and TCP on loopback (coturn also opens TCP).
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if [[ -z $(ss -Htuan "sport = :$p") ]]; then echo "$p"; return; fi
    done
    echo "no free port found" >&2
    return 1
}

# Field of a flat JSON object: json_get '{"a":1}' a -> 1
json_get() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

proc_cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime+stime, all threads
host_busy_idle() { awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=NF;i++) t+=$i; print t-idle, t}' /proc/stat; }
udp_rcvbuf_errors() { awk '/^Udp:/{ if (!h) {for(i=1;i<=NF;i++) if ($i=="RcvbufErrors") c=i; h=1} else print $c }' /proc/net/snmp; }

wait_ready() { # name pid target
    local name=$1 pid=$2 target=$3
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited before answering; see its log in $OUT" >&2
            return 1
        fi
        if "$FLOOD" --target "$target" --duration 0.1 --rate 200 --inflight 4 --sockets 1 \
            --timeout 0.1 --drain 0.1 >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not answer a Binding request on $target within 10 s" >&2
    return 1
}

# One measured invocation of the flood tool; prints the tool's JSON extended
# with server CPU, host busy and UDP receive-buffer drops over the same wall.
measure() { # pid target extra-args...
    local pid=$1 target=$2
    shift 2
    local s0 s1 h0b h0t h1b h1t u0 u1 t0 t1 json
    s0=$(proc_cpu_ticks "$pid"); read -r h0b h0t < <(host_busy_idle); u0=$(udp_rcvbuf_errors)
    t0=$(date +%s%N)
    json=$("$FLOOD" --target "$target" --duration "$DURATION" "${FLOOD_ARGS[@]}" --json "$@") || true
    t1=$(date +%s%N)
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "server (pid $pid) exited during the run; see its log in $OUT" >&2
        return 1
    fi
    s1=$(proc_cpu_ticks "$pid"); read -r h1b h1t < <(host_busy_idle); u1=$(udp_rcvbuf_errors)
    [[ -n $json ]] || { echo "flood tool produced no result" >&2; return 1; }
    local server_cpu host_busy
    server_cpu=$(awk -v d=$((s1 - s0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
        'BEGIN{printf "%.1f", 100 * d / hz / (ns / 1e9)}')
    # In % of the whole machine (100 = every core busy), everything included.
    host_busy=$(awk -v b=$((h1b - h0b)) -v t=$((h1t - h0t)) 'BEGIN{printf "%.1f", t ? 100 * b / t : 0}')
    echo "${json%\}},\"server_cpu_pct\":$server_cpu,\"host_busy_pct\":$host_busy,\"udp_rcvbuf_errors\":$((u1 - u0))}"
}

ROWS=()      # label|run|threads|json
SAT_RATE=    # saturated answered req/s of the last bench
SAT_COTURN=
SAT_OURS=
FAILED=0

# Runs in the main shell (not in $(...)): it appends to ROWS and sets
# SAT_RATE and FAILED.
bench() { # name label pid target
    local name=$1 label=$2 pid=$3 target=$4 sat fixed rate threads
    wait_ready "$name" "$pid" "$target"
    threads=$(awk '/^Threads:/{print $2}' "/proc/$pid/status")
    echo "== $name ($target, $threads threads): warm-up ${WARMUP}s" >&2
    "$FLOOD" --target "$target" --duration "$WARMUP" "${FLOOD_ARGS[@]}" >/dev/null || true

    echo "== $name: saturating run ${DURATION}s" >&2
    sat=$(measure "$pid" "$target")
    echo "{\"server\":\"$label\",\"run\":\"saturate\",\"threads\":$threads,${sat#\{}" >>"$RESULTS"
    ROWS+=("$label|saturate|$threads|$sat")
    rate=$(awk -v r="$(json_get "$sat" answered_per_s)" -v f="$FIXED_FRACTION" 'BEGIN{printf "%d", r * f}')

    if ((rate > 0)); then
        echo "== $name: fixed rate $rate req/s ${DURATION}s" >&2
        fixed=$(measure "$pid" "$target" --rate "$rate")
        echo "{\"server\":\"$label\",\"run\":\"fixed\",\"threads\":$threads,${fixed#\{}" >>"$RESULTS"
        ROWS+=("$label|fixed $rate|$threads|$fixed")
        if awk -v s="$(json_get "$fixed" sent_per_s)" -v r="$rate" 'BEGIN{exit !(s < 0.97 * r)}'; then
            echo "!! only $(json_get "$fixed" sent_per_s) of $rate req/s offered to $name" \
                 "(window full or generator short of CPU)" >&2
        fi
        if [[ $(json_get "$fixed" lost) != 0 || $(json_get "$fixed" bad) != 0 ||
              $(json_get "$fixed" duplicates) != 0 ]]; then
            echo "!! $name lost, duplicated or garbled requests at $rate req/s (below saturation)" >&2
            [[ $name == pod-arcade-server ]] && FAILED=1
        fi
    fi
    local gen
    gen=$(json_get "$sat" gen_cpu_pct)
    if awk -v g="$gen" 'BEGIN{exit !(g >= 90)}'; then
        echo "!! generator at $gen % of a core while flooding $name: its rate is a lower bound" >&2
    fi
    SAT_RATE=$(json_get "$sat" answered_per_s)
}

read -r b0 t0 < <(host_busy_idle); sleep 1; read -r b1 t1 < <(host_busy_idle)
IDLE_BUSY=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.0f", t ? 100 * b / t : 0}')
echo "stun-bench: ${DURATION}s runs, inflight $INFLIGHT, $SOCKETS sockets, batch $BATCH," \
     "$(nproc) CPUs, machine ${IDLE_BUSY} % busy before start" >&2
if ((IDLE_BUSY > 10)); then
    echo "!! the machine is busy before the benchmark starts: not a quiet run" >&2
fi

# ---- (a) coturn --------------------------------------------------------------
if [[ $ONLY != ours ]]; then
    if ! command -v turnserver >/dev/null; then
        echo "turnserver not found: apt-get install coturn" >&2
        exit 1
    fi
    COTURN_VERSION=$(turnserver --version 2>/dev/null | head -n1 || true)
    port=$(free_port)
    # coturn defaults except what a STUN-only loopback benchmark needs: no
    # config file (-n), no CLI/TLS/DTLS listeners, logs and db under
    # .build-bench. Relay threads (-m) left at the default, one per CPU;
    # on Linux >= 3.9 each has its own SO_REUSEPORT UDP socket.
    turnserver -n --stun-only --no-cli --no-tls --no-dtls \
        --listening-ip 127.0.0.1 --listening-port "$port" \
        --log-file stdout --simple-log --pidfile "$OUT/turnserver.pid" \
        --db "$OUT/turndb" >"$OUT/coturn.log" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    bench coturn "coturn ${COTURN_VERSION:-?}" "$pid" "127.0.0.1:$port"
    SAT_COTURN=$SAT_RATE
    stop "$pid"
fi

# ---- (b) pod-arcade-server ---------------------------------------------------
if [[ $ONLY != coturn ]]; then
    if [[ ! -x $SERVER ]]; then
        echo "pod-arcade-server not found at $SERVER" \
             "(swift build -c release, or set POD_ARCADE_SERVER): skipped" >&2
    else
        port=$(free_port)
        STUN_PORT=$port HTTP_PORT=-1 MQTT_PORT=-1 "$SERVER" >"$OUT/pod-arcade-server.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        bench pod-arcade-server pod-arcade-server "$pid" "127.0.0.1:$port"
        SAT_OURS=$SAT_RATE
        stop "$pid"
    fi
fi

# ---- report ------------------------------------------------------------------
echo
printf '%-22s %-14s %4s %10s %8s %8s %6s %8s %8s %8s %6s\n' \
    server run thr "req/s" "p50 us" "p99 us" lost "gen cpu%" "srv cpu%" "host %" rcvbuf
for row in "${ROWS[@]}"; do
    IFS='|' read -r label run threads json <<<"$row"
    printf '%-22s %-14s %4s %10s %8s %8s %6s %8s %8s %8s %6s\n' \
        "${label:0:22}" "$run" "$threads" "$(json_get "$json" answered_per_s)" \
        "$(json_get "$json" p50_us)" "$(json_get "$json" p99_us)" "$(json_get "$json" lost)" \
        "$(json_get "$json" gen_cpu_pct)" "$(json_get "$json" server_cpu_pct)" \
        "$(json_get "$json" host_busy_pct)" "$(json_get "$json" udp_rcvbuf_errors)"
done
echo "(cpu% in % of one core; host % = whole machine busy incl. everything; rcvbuf = UDP drops)"
if [[ -n $SAT_COTURN && -n $SAT_OURS ]]; then
    ratio=$(awk -v a="$SAT_OURS" -v b="$SAT_COTURN" 'BEGIN{printf "%.2f", b ? a / b : 0}')
    echo "ratio ours/coturn (saturated req/s): $ratio (target >= $TARGET_RATIO)"
    awk -v r="$ratio" -v t="$TARGET_RATIO" 'BEGIN{exit !(r < t)}' && FAILED=1
else
    echo "ratio ours/coturn: n/a (only one server ran)"
fi
echo "raw results: $RESULTS"
if [[ ${BENCH_STRICT:-0} == 1 && $FAILED == 1 ]]; then exit 1; fi
exit 0
