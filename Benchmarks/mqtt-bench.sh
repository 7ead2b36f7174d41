#!/usr/bin/env bash
# MQTT broker benchmark, issue 3: our broker against mosquitto in one run,
# same tool, same load.
#
# Brokers (each started fresh for every measurement, one at a time, never
# two under load at once):
#   mosquitto          generated config: listener on 127.0.0.1, anonymous,
#                      max_connections -1, max_queued_messages raised (below)
#   mosquitto+nodelay  the same plus set_tcp_nodelay true
#   ours               $POD_ARCADE_SERVER with MQTT_PORT=P HTTP_PORT=-1 STUN_PORT=-1
# Measurements (Benchmarks/mqtt-bench/mqtt_bench.c does the work):
#   (a) throughput  16 publishers x 16 subscribers on bench/+, 256-byte
#                   payloads, QoS 0 and QoS 1, publishers held to a bounded
#                   lead over the slowest subscriber: delivered messages/s
#   (b) latency     publish->deliver p50/p99/p99.9 at 1,000 messages/s,
#                   1x1 and 16x16
#   (c) idle        10,000 connected idle clients: broker VmRSS
# then one table per figure with the ratio ours / mosquitto.
#
# Environment (all optional):
#   POD_ARCADE_SERVER   server binary (default .build/release/pod-arcade-server)
#   BENCH_DURATION      measured seconds per throughput run (default 10)
#   BENCH_WARMUP        unmeasured seconds before each throughput run (default 2)
#   BENCH_LEAD          publisher lead over the slowest subscriber, messages (default 1000)
#   BENCH_INFLIGHT      QoS 1 unacknowledged PUBLISHes per publisher (default 64)
#   BENCH_PUBS / BENCH_SUBS / BENCH_SIZE   throughput topology (default 16 / 16 / 256)
#   BENCH_RATE          latency: total publish rate, messages/s (default 1000)
#   BENCH_LAT_DURATION  measured seconds per latency run (default 10)
#   BENCH_LAT_QOS       latency: QoS (default 0)
#   BENCH_LAT_TOPOS     latency: topologies, publishers x subscribers (default "1x1 16x16")
#   BENCH_LAT_ROUNDS    latency: rounds per topology (default 3). Each round runs every
#                       broker once, in an order rotated by one per round, so a busy moment
#                       of the machine falls on a different broker each time; the report
#                       gives every round and the median of the rounds' figures
#   BENCH_CLIENTS       idle clients (default 10000)
#   BENCH_HOLD          seconds the idle clients stay connected (default 5)
#   BENCH_MOSQ_QUEUE    mosquitto max_queued_messages (default 1000000)
#   BENCH_PARTS         any of "throughput latency idle" (default all three)
#   BENCH_ONLY=mosquitto|ours   run one side only
#   BENCH_NICE          run brokers and the tool at this nice value, e.g. -10 to
#                       shield them from builds on a shared machine (default 0 =
#                       unchanged; negative values need root)
#   BENCH_STRICT=1      exit 1 if a target is missed or ours lost/garbled messages
#
# Only 127.0.0.1 is used. Artifacts go to .build-bench/: the compiled tool,
# one JSON line per measurement (mqtt-bench-DATE.jsonl), and the last run's
# mosquitto configs and broker logs (mqtt-bench-logs/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/.build-bench
SERVER=${POD_ARCADE_SERVER:-$ROOT/.build/release/pod-arcade-server}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
LEAD=${BENCH_LEAD:-1000}
INFLIGHT=${BENCH_INFLIGHT:-64}
PUBS=${BENCH_PUBS:-16}
SUBS=${BENCH_SUBS:-16}
SIZE=${BENCH_SIZE:-256}
RATE=${BENCH_RATE:-1000}
LAT_DURATION=${BENCH_LAT_DURATION:-10}
LAT_QOS=${BENCH_LAT_QOS:-0}
LAT_TOPOS=${BENCH_LAT_TOPOS:-1x1 16x16}
LAT_ROUNDS=${BENCH_LAT_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-10000}
HOLD=${BENCH_HOLD:-5}
MOSQ_QUEUE=${BENCH_MOSQ_QUEUE:-1000000}
PARTS=${BENCH_PARTS:-throughput latency idle}
NICE=${BENCH_NICE:-0}
ONLY=${BENCH_ONLY:-}
# Targets from issue 3.
TARGET_THROUGHPUT=1.2   # ours >= 1.2 x mosquitto's delivered msg/s
TARGET_IDLE_MB=50       # 10,000 idle clients in <= 50 MB VmRSS
TARGET_IDLE_BYTES=5120  # <= 5 KB per connection

TOOL=$OUT/mqtt_bench
RESULTS=$OUT/mqtt-bench-$(date +%Y%m%d-%H%M%S).jsonl
LOGS=$OUT/mqtt-bench-logs # broker logs and configs of the last run
mkdir -p "$OUT"
rm -rf "$LOGS"
mkdir -p "$LOGS"
if [[ $NICE != 0 ]]; then
    renice -n "$NICE" -p $$ >/dev/null # inherited by brokers and the tool
fi

# ---- the load generator ----------------------------------------------------
SRC=$ROOT/Benchmarks/mqtt-bench/mqtt_bench.c
if [[ ! -x $TOOL || $SRC -nt $TOOL ]]; then
    cc -O2 -Wall -Wextra -o "$TOOL" "$SRC"
fi

# ---- file descriptors: the tool and the broker each hold CLIENTS sockets ----
NEED_FDS=$((CLIENTS + 1024))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    echo "ulimit -n is $(ulimit -n), the idle test needs $NEED_FDS per process:" \
         "raise the hard limit (ulimit -Hn) or lower BENCH_CLIENTS" >&2
    exit 1
fi

# ---- process bookkeeping: stop only what we started ------------------------
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        for _ in $(seq 20); do
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
    for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]+"${keep[@]}"}")
}

# ---- small helpers -----------------------------------------------------------
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if [[ -z $(ss -Htan "sport = :$p") ]]; then echo "$p"; return; fi
    done
    echo "no free port found" >&2
    return 1
}

# Field of a flat JSON object: json_get '{"a":1}' a -> 1
json_get() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }

host_busy_idle() { awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=9;i++) t+=$i; print t-idle, t}' /proc/stat; }

# Starts broker $1 (mosquitto | mosquitto+nodelay | ours) on a free port;
# sets BROKER_PID and BROKER_PORT. Runs in the main shell.
BROKER_PID=
BROKER_PORT=
start_broker() {
    local kind=$1 port conf log
    BROKER_PID=
    port=$(free_port)
    log=$LOGS/$kind-$port.log
    case $kind in
    mosquitto | mosquitto+nodelay)
        conf=$LOGS/$kind.conf
        {
            echo "# generated by Benchmarks/mqtt-bench.sh; everything else is mosquitto's default"
            echo "listener $port 127.0.0.1"
            echo "allow_anonymous true"
            echo "max_connections -1"
            echo "max_queued_messages $MOSQ_QUEUE"
            if [[ $kind == mosquitto+nodelay ]]; then echo "set_tcp_nodelay true"; fi
        } >"$conf"
        mosquitto -c "$conf" >"$log" 2>&1 &
        ;;
    ours)
        MQTT_PORT=$port HTTP_PORT=-1 STUN_PORT=-1 "$SERVER" >"$log" 2>&1 &
        ;;
    esac
    BROKER_PID=$!
    BROKER_PORT=$port
    STARTED+=("$BROKER_PID")
    # Ready once one client gets its CONNACK.
    for _ in $(seq 100); do
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            echo "$kind exited at start-up; see $log" >&2
            return 1
        fi
        if "$TOOL" idle --target "127.0.0.1:$port" --clients 1 --hold 0 --setup-timeout 0.5 \
            >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "$kind did not answer CONNECT on 127.0.0.1:$port within 10 s; see $log" >&2
    return 1
}

BROKERS=()
[[ $ONLY != ours ]] && BROKERS+=(mosquitto mosquitto+nodelay)
HAVE_OURS=0
if [[ $ONLY != mosquitto ]]; then
    if [[ -x $SERVER ]]; then
        BROKERS+=(ours)
        HAVE_OURS=1
    else
        echo "pod-arcade-server not found at $SERVER (swift build -c release, or set" \
             "POD_ARCADE_SERVER): only mosquitto is measured" >&2
    fi
fi
if [[ $ONLY != ours ]] && ! command -v mosquitto >/dev/null; then
    echo "mosquitto not found: apt-get install mosquitto mosquitto-clients" >&2
    exit 1
fi
((${#BROKERS[@]})) || { echo "nothing to measure" >&2; exit 1; }
MOSQ_VERSION=$(mosquitto -h 2>/dev/null | sed -n 's/^mosquitto version //p' | head -n1 || true)

ROWS=()   # test|broker|json
FAILED=0

# One measurement: fresh broker, one tool run, broker stopped. $1 = test
# name, $2 = broker, rest = tool arguments (mode first).
measure() {
    local test=$1 kind=$2 json rc=0
    shift 2
    if ! start_broker "$kind"; then
        FAILED=1
        ROWS+=("$test|$kind|{\"error\":\"broker did not start\"}")
        [[ -n $BROKER_PID ]] && stop "$BROKER_PID"
        return
    fi
    echo "== $test: $kind (127.0.0.1:$BROKER_PORT, pid $BROKER_PID)" >&2
    json=$("$TOOL" "$@" --target "127.0.0.1:$BROKER_PORT" --pid "$BROKER_PID" --json) || rc=$?
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "!! $kind (pid $BROKER_PID) exited during $test; see $LOGS/$kind-$BROKER_PORT.log" >&2
        json=${json:-'{}'}
        json="${json%\}},\"broker_died\":true}"
        [[ $kind == ours ]] && FAILED=1
    fi
    stop "$BROKER_PID"
    [[ -n $json ]] || json='{"error":"tool produced no result"}'
    if ((rc == 1)); then
        echo "!! $test on $kind: $(json_get "$json" error)" >&2
        [[ $kind == ours ]] && FAILED=1
    fi
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "{\"test\":\"$test\",\"broker\":\"$kind\",\"loadavg\":\"$load\",${json#\{}" >>"$RESULTS"
    ROWS+=("$test|$kind|$json")
}

# Warns about integrity problems of one fan-out run.
check_fanout() { # test kind json qos
    local test=$1 kind=$2 j=$3 qos=$4 bad=0 f
    [[ -n $(json_get "$j" mode) ]] || return 0 # no figures; already reported
    for f in lost duplicates reordered bad qos_mismatch retain_flag; do
        [[ $(json_get "$j" $f) == 0 ]] || bad=1
    done
    [[ $(json_get "$j" complete) == true ]] || bad=1
    if ((bad)); then
        echo "!! $test on $kind: lost $(json_get "$j" lost), duplicates $(json_get "$j" duplicates)," \
             "reordered $(json_get "$j" reordered), bad $(json_get "$j" bad)," \
             "complete $(json_get "$j" complete), stalls given up $(json_get "$j" unsticks)" >&2
        # QoS 0 may lose messages under MQTT; QoS 1 must not, nothing may
        # arrive garbled, twice or out of order.
        if [[ $kind == ours ]] && { ((qos == 1)) || [[ $(json_get "$j" duplicates) != 0 ||
              $(json_get "$j" reordered) != 0 || $(json_get "$j" bad) != 0 ]]; }; then
            FAILED=1
        fi
    fi
    local tool
    tool=$(json_get "$j" tool_cpu_pct)
    if [[ -n $tool ]] && awk -v t="$tool" 'BEGIN{exit !(t >= 90)}'; then
        echo "!! tool at $tool % of a core during $test on $kind: the figure is a lower bound" >&2
    fi
}

read -r b0 t0 < <(host_busy_idle); sleep 1; read -r b1 t1 < <(host_busy_idle)
IDLE_BUSY=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.0f", t ? 100 * b / t : 0}')
echo "mqtt-bench: ${BROKERS[*]}; $(nproc) CPUs, machine ${IDLE_BUSY} % busy before start," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); ulimit -n $(ulimit -n); nice $(nice)" >&2
if ((IDLE_BUSY > 10)); then
    echo "!! the machine is busy before the benchmark starts: not a quiet run" >&2
fi

# ---- (a) throughput ------------------------------------------------------------
if [[ " $PARTS " == *" throughput "* ]]; then
    for qos in 0 1; do
        for kind in "${BROKERS[@]}"; do
            measure "throughput-qos$qos" "$kind" throughput --qos "$qos" --pubs "$PUBS" \
                --subs "$SUBS" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
                --lead "$LEAD" --inflight "$INFLIGHT" --drain 10
            check_fanout "throughput-qos$qos" "$kind" "${ROWS[-1]##*|}" "$qos"
        done
    done
fi

# ---- (b) latency -----------------------------------------------------------------
# Rounds interleave the brokers (mosquitto, mosquitto+nodelay, ours; then starting one later),
# so that the figures of one broker are not all taken in one stretch of time.
if [[ " $PARTS " == *" latency "* ]]; then
    for topo in $LAT_TOPOS; do
        for ((round = 1; round <= LAT_ROUNDS; round++)); do
            for ((i = 0; i < ${#BROKERS[@]}; i++)); do
                kind=${BROKERS[$(((i + round - 1) % ${#BROKERS[@]}))]}
                measure "latency-$topo-r$round" "$kind" latency --qos "$LAT_QOS" --pubs "${topo%x*}" \
                    --subs "${topo#*x}" --size "$SIZE" --rate "$RATE" --duration "$LAT_DURATION" \
                    --warmup 1 --drain 5
                check_fanout "latency-$topo-r$round" "$kind" "${ROWS[-1]##*|}" "$LAT_QOS"
            done
        done
    done
fi

# ---- (c) idle clients ------------------------------------------------------------
if [[ " $PARTS " == *" idle "* ]]; then
    for kind in "${BROKERS[@]}"; do
        [[ $kind == mosquitto+nodelay ]] && continue # same memory as mosquitto
        measure idle "$kind" idle --clients "$CLIENTS" --hold "$HOLD" --batch 100 \
            --keepalive 60 --setup-timeout 120
        j=${ROWS[-1]##*|}
        if [[ -n $(json_get "$j" mode) && $(json_get "$j" still_connected) != "$CLIENTS" ]]; then
            echo "!! idle on $kind: $(json_get "$j" connected) of $CLIENTS connected," \
                 "$(json_get "$j" still_connected) still connected after the hold" >&2
            [[ $kind == ours ]] && FAILED=1
        fi
    done
fi

# ---- report ----------------------------------------------------------------------
row_json() { # test kind -> json or empty
    local r
    for r in "${ROWS[@]}"; do
        [[ ${r%%|*} == "$1" ]] || continue
        local rest=${r#*|}
        if [[ ${rest%%|*} == "$2" ]]; then echo "${rest#*|}"; return 0; fi
    done
    return 0
}
# A row for a run without figures; returns 1 if the run has figures.
no_result() { # kind json
    [[ -n $(json_get "$2" mode) ]] && return 1
    printf '%-22s no result: %s\n' "$(label "$1" | cut -c1-22)" "$(json_get "$2" error)"
}
# The tool's error, if any, under the row.
row_error() { # json
    local e
    e=$(json_get "$1" error)
    if [[ -n $e ]]; then echo "  ^ error: $e"; fi
    if [[ $(json_get "$1" broker_died) == true ]]; then echo "  ^ the broker exited during the run"; fi
    return 0
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
best_mosq() { # test field min|max
    local a b
    a=$(json_get "$(row_json "$1" mosquitto)" "$2")
    b=$(json_get "$(row_json "$1" mosquitto+nodelay)" "$2")
    awk -v a="$a" -v b="$b" -v m="$3" 'BEGIN{
        if (a == "") { print b; exit } if (b == "") { print a; exit }
        if (m == "max") print (a + 0 > b + 0 ? a : b); else print (a + 0 < b + 0 ? a : b) }'
}
label() { case $1 in ours) echo pod-arcade-server ;; mosquitto) echo "mosquitto ${MOSQ_VERSION:-?}" ;; *) echo "$1" ;; esac; }

echo
echo "MQTT broker benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) CPUs," \
     "machine ${IDLE_BUSY} % busy before start, load $(cut -d' ' -f1-3 /proc/loadavg) at the end, nice $(nice)"

if [[ " $PARTS " == *" throughput "* ]]; then
    for qos in 0 1; do
        t=throughput-qos$qos
        echo
        echo "(a) throughput, QoS $qos: $PUBS pubs x $SUBS subs, $SIZE-byte payloads," \
             "lead $LEAD$( ((qos)) && echo ", inflight $INFLIGHT"), ${DURATION}s"
        printf '%-22s %9s %8s %11s %7s %6s %9s %9s %8s %8s %7s %4s\n' broker "deliv/s" "pub/s" \
            "deliv/cpu-s" lost dups "q p50 ms" "q p99 ms" "srv cpu%" "tool cpu" "host %" thr
        for kind in "${BROKERS[@]}"; do
            j=$(row_json "$t" "$kind")
            no_result "$kind" "$j" && continue
            printf '%-22s %9s %8s %11s %7s %6s %9s %9s %8s %8s %7s %4s\n' "$(label "$kind" | cut -c1-22)" \
                "$(json_get "$j" delivered_per_s)" "$(json_get "$j" published_per_s)" \
                "$(awk -v d="$(json_get "$j" delivered_per_s)" -v c="$(json_get "$j" server_cpu_pct)" \
                    'BEGIN{ if (c + 0 > 0) printf "%.0f", d / (c / 100); else print "-" }')" \
                "$(json_get "$j" lost)" "$(json_get "$j" duplicates)" \
                "$(awk -v u="$(json_get "$j" p50_us)" 'BEGIN{printf "%.1f", u / 1000}')" \
                "$(awk -v u="$(json_get "$j" p99_us)" 'BEGIN{printf "%.1f", u / 1000}')" \
                "$(json_get "$j" server_cpu_pct)" "$(json_get "$j" tool_cpu_pct)" \
                "$(json_get "$j" host_busy_pct)" "$(json_get "$j" server_threads)"
            row_error "$j"
        done
        if ((HAVE_OURS)) && [[ $ONLY != ours ]]; then
            ours=$(json_get "$(row_json "$t" ours)" delivered_per_s)
            echo "ratio ours/mosquitto: $(ratio "$ours" "$(json_get "$(row_json "$t" mosquitto)" delivered_per_s)")," \
                 "ours/mosquitto+nodelay: $(ratio "$ours" "$(json_get "$(row_json "$t" mosquitto+nodelay)" delivered_per_s)")" \
                 "(target >= $TARGET_THROUGHPUT x the better mosquitto)"
            r=$(ratio "$ours" "$(best_mosq "$t" delivered_per_s max)")
            [[ $r != n/a ]] && awk -v r="$r" -v t="$TARGET_THROUGHPUT" 'BEGIN{exit !(r < t)}' && FAILED=1
        fi
    done
    echo "(deliv/s = messages received by all subscribers together; deliv/cpu-s = the same per"
    echo " second of broker CPU; q p50/p99 = publish->deliver time under saturation, i.e. the"
    echo " queue the lead allows; cpu% in % of one core; host % = whole machine busy incl."
    echo " everything else running; thr = broker threads)"
fi

# Median of numbers (empty arguments ignored); empty without any.
median() {
    printf '%s\n' "$@" | awk 'NF' | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
              else printf "%g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# A field of one broker's latency runs over all rounds, one value per round.
round_values() { # topo kind field
    local round
    for ((round = 1; round <= LAT_ROUNDS; round++)); do
        json_get "$(row_json "latency-$1-r$round" "$2")" "$3"
    done
}
if [[ " $PARTS " == *" latency "* ]]; then
    for topo in $LAT_TOPOS; do
        echo
        echo "(b) latency $topo, QoS $LAT_QOS, $RATE msg/s published, ${LAT_DURATION}s per run," \
             "$LAT_ROUNDS round(s) with the brokers interleaved"
        printf '%-22s %5s %10s %8s %8s %9s %8s %7s %8s %8s\n' broker round "deliv/s" "p50 us" "p99 us" \
            "p99.9 us" "max us" lost "srv cpu%" "tool cpu"
        for kind in "${BROKERS[@]}"; do
            for ((round = 1; round <= LAT_ROUNDS; round++)); do
                j=$(row_json "latency-$topo-r$round" "$kind")
                no_result "$kind" "$j" && continue
                printf '%-22s %5s %10s %8s %8s %9s %8s %7s %8s %8s\n' "$(label "$kind" | cut -c1-22)" "$round" \
                    "$(json_get "$j" delivered_per_s)" "$(json_get "$j" p50_us)" "$(json_get "$j" p99_us)" \
                    "$(json_get "$j" p999_us)" "$(json_get "$j" max_us)" "$(json_get "$j" lost)" \
                    "$(json_get "$j" server_cpu_pct)" "$(json_get "$j" tool_cpu_pct)"
                row_error "$j"
            done
            if ((LAT_ROUNDS > 1)); then
                printf '%-22s %5s %10s %8s %8s %9s\n' "$(label "$kind" | cut -c1-22)" median "" \
                    "$(median $(round_values "$topo" "$kind" p50_us))" \
                    "$(median $(round_values "$topo" "$kind" p99_us))" \
                    "$(median $(round_values "$topo" "$kind" p999_us))"
            fi
        done
        if ((HAVE_OURS)) && [[ $ONLY != ours ]]; then
            # Per round: ours against the better mosquitto of the same round.
            wins=0
            rounds=0
            per_round=()
            for ((round = 1; round <= LAT_ROUNDS; round++)); do
                o=$(json_get "$(row_json "latency-$topo-r$round" ours)" p99_us)
                m=$(best_mosq "latency-$topo-r$round" p99_us min)
                r=$(ratio "$o" "$m")
                per_round+=("$r")
                [[ $r == n/a ]] && continue
                rounds=$((rounds + 1))
                awk -v r="$r" 'BEGIN{exit !(r <= 1)}' && wins=$((wins + 1))
            done
            ours=$(median $(round_values "$topo" ours p99_us))
            plain=$(median $(round_values "$topo" mosquitto p99_us))
            nodelay=$(median $(round_values "$topo" mosquitto+nodelay p99_us))
            best=$(awk -v a="$plain" -v b="$nodelay" 'BEGIN{ if (a == "") print b; else if (b == "") print a;
                   else print (a + 0 < b + 0 ? a : b) }')
            echo "ratio ours/mosquitto p99: $(ratio "$ours" "$plain"), ours/mosquitto+nodelay p99:" \
                 "$(ratio "$ours" "$nodelay") (medians of the rounds; target <= 1.00 against the better)"
            echo "per round, ours/the better mosquitto of that round: ${per_round[*]}" \
                 "(ours <= in $wins of $rounds)"
            r=$(ratio "$ours" "$best")
            [[ $r != n/a ]] && awk -v r="$r" 'BEGIN{exit !(r > 1)}' && FAILED=1
        fi
    done
fi

if [[ " $PARTS " == *" idle "* ]]; then
    echo
    echo "(c) $CLIENTS idle clients (keep-alive 60 s), held ${HOLD}s: broker VmRSS"
    printf '%-22s %9s %10s %10s %10s %9s %8s\n' broker connected "before MB" "with MB" \
        "delta MB" "B/conn" "conn/s"
    for kind in "${BROKERS[@]}"; do
        [[ $kind == mosquitto+nodelay ]] && continue
        j=$(row_json idle "$kind")
        no_result "$kind" "$j" && continue
        printf '%-22s %9s %10s %10s %10s %9s %8s\n' "$(label "$kind" | cut -c1-22)" \
            "$(json_get "$j" still_connected)" \
            "$(awk -v k="$(json_get "$j" rss_before_kb)" 'BEGIN{printf "%.1f", k / 1024}')" \
            "$(awk -v k="$(json_get "$j" rss_after_kb)" 'BEGIN{printf "%.1f", k / 1024}')" \
            "$(awk -v a="$(json_get "$j" rss_after_kb)" -v b="$(json_get "$j" rss_before_kb)" 'BEGIN{printf "%.1f", (a - b) / 1024}')" \
            "$(json_get "$j" bytes_per_conn)" "$(json_get "$j" connects_per_s)"
        row_error "$j"
    done
    if ((HAVE_OURS)); then
        jo=$(row_json idle ours)
        rss=$(json_get "$jo" rss_after_kb)
        per=$(json_get "$jo" bytes_per_conn)
        [[ $ONLY != ours ]] &&
            echo "ratio ours/mosquitto VmRSS with clients: $(ratio "$rss" "$(json_get "$(row_json idle mosquitto)" rss_after_kb)")," \
                 "per connection: $(ratio "$per" "$(json_get "$(row_json idle mosquitto)" bytes_per_conn)")"
        echo "target: <= $TARGET_IDLE_MB MB with the clients connected and <= $TARGET_IDLE_BYTES B per connection"
        if [[ -z $rss || -z $per ]]; then
            FAILED=1
        elif awk -v r="$rss" -v p="$per" -v m="$TARGET_IDLE_MB" -v b="$TARGET_IDLE_BYTES" \
            'BEGIN{exit !(r > m * 1024 || p > b)}'; then
            FAILED=1
        fi
    fi
fi
echo
echo "mosquitto config: listener on 127.0.0.1, allow_anonymous true, max_connections -1,"
echo "max_queued_messages $MOSQ_QUEUE; +nodelay adds set_tcp_nodelay true (see Docs/benchmarks.md)"
echo "raw results: $RESULTS"
if [[ ${BENCH_STRICT:-0} == 1 && $FAILED == 1 ]]; then exit 1; fi
exit 0
