#!/usr/bin/env bash
# HTTP server benchmark, issue 7: pod-arcade-server against a plain nginx
# serving the same bytes, same wrk load, same run; and the server's memory
# idle and with 1,000 MQTT clients over WebSocket /mqtt.
#
# Servers (each started by this script on a free loopback port, stopped at the end):
#   ours   $POD_ARCADE_SERVER with HTTP_PORT=P MQTT_PORT=-1 STUN_PORT=-1, everything else
#          default (Hummingbird on SwiftNIO's default event loop group: one thread per core)
#   nginx  Debian nginx-light with a generated config (.build-bench/http-bench-nginx/):
#          worker_processes 1, daemon off, its own pid/log/temp paths, serving a copy of
#          Sources/ServerHost/WebClient/ plus the config.json our server returns
# Measurements:
#   http    wrk (keep-alive, 127.0.0.1 only) on /config.json, / (index.html) and the
#           largest file under WebClient/js/: req/s and p99 latency for each server,
#           alternating which goes first, BENCH_RUNS times; ratio ours/nginx per run
#   memory  a fresh server per run: VmRSS after start, with BENCH_WS_CLIENTS MQTT 3.1.1
#           clients connected over WebSocket /mqtt (Benchmarks/http-bench/ws_mqtt_clients.py),
#           after a hold, and after they left
#
# Environment (all optional):
#   POD_ARCADE_SERVER   server binary (default .build/release/pod-arcade-server)
#   BENCH_DURATION      measured seconds per wrk run (default 10)
#   BENCH_WARMUP        unmeasured wrk seconds per server and path before the runs (default 2)
#   BENCH_CONNECTIONS   wrk connections (default 64)
#   BENCH_THREADS       wrk threads (default 2)
#   BENCH_RUNS          repetitions of every measurement (default 2)
#   BENCH_WS_CLIENTS    WebSocket MQTT clients in the memory test (default 1000)
#   BENCH_HOLD          seconds they stay connected (default 5)
#   BENCH_WS_SUBSCRIBE  1: each client also subscribes to desktops/+/status like the page
#   BENCH_PARTS         any of "memory http" (default both)
#   BENCH_NICE          run servers and load tools at this nice value (e.g. -10, as root)
#
# Only 127.0.0.1 is used. Artifacts go to .build-bench/: one JSON line per
# measurement (http-bench-DATE.jsonl), the nginx config, root and logs and the
# server logs of the last run (http-bench-nginx/, http-bench-logs/).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/.build-bench
SERVER=${POD_ARCADE_SERVER:-$ROOT/.build/release/pod-arcade-server}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
RUNS=${BENCH_RUNS:-2}
WS_CLIENTS=${BENCH_WS_CLIENTS:-1000}
HOLD=${BENCH_HOLD:-5}
WS_SUBSCRIBE=${BENCH_WS_SUBSCRIBE:-0}
PARTS=${BENCH_PARTS:-memory http}
NICE=${BENCH_NICE:-0}
WEBCLIENT=$ROOT/Sources/ServerHost/WebClient
WS_TOOL=$ROOT/Benchmarks/http-bench/ws_mqtt_clients.py
RESULTS=$OUT/http-bench-$(date +%Y%m%d-%H%M%S).jsonl
NGX=$OUT/http-bench-nginx # config, document root, pid, logs, temp paths
LOGS=$OUT/http-bench-logs

die() { echo "http-bench: $*" >&2; exit 1; }
[[ -x $SERVER ]] || die "pod-arcade-server not found at $SERVER (swift build -c release --product pod-arcade-server, or set POD_ARCADE_SERVER)"
[[ " $PARTS " != *" http "* ]] || command -v wrk >/dev/null || die "wrk not found: apt-get install wrk"
[[ " $PARTS " != *" http "* ]] || command -v nginx >/dev/null || die "nginx not found: apt-get install nginx-light"
command -v curl >/dev/null || die "curl not found: apt-get install curl"
PYTHON=$(bash "$ROOT/scripts/python.sh")

mkdir -p "$OUT"
rm -rf "$NGX" "$LOGS"
mkdir -p "$NGX"/{root,temp,logs} "$LOGS"
if [[ $NICE != 0 ]]; then
    renice -n "$NICE" -p $$ >/dev/null # inherited by the servers, wrk and the client tool
fi

# ---- file descriptors: the client tool and the server each hold WS_CLIENTS sockets ----
NEED_FDS=$((WS_CLIENTS + 1024))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    ulimit -n "$NEED_FDS" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < NEED_FDS)); then
    die "ulimit -n is $(ulimit -n), the memory test needs $NEED_FDS: raise ulimit -Hn or lower BENCH_WS_CLIENTS"
fi

# ---- process bookkeeping: stop only what we started ------------------------------
STARTED=()
stop() { # pid
    local keep=() p
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    STARTED=("${keep[@]+"${keep[@]}"}")
}
cleanup() {
    local pid
    for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 40000))
        if [[ -z $(ss -Htan "sport = :$p") ]]; then echo "$p"; return; fi
    done
    die "no free port found"
}
json_get() { sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"; }
host_busy_total() { awk '/^cpu /{idle=$5+$6; t=0; for(i=2;i<=9;i++) t+=$i; print t-idle, t}' /proc/stat; }
# utime+stime in clock ticks of the given processes (all their threads).
cpu_ticks() { local s=0 p; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
status_field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
TICKS=$(getconf CLK_TCK)

# ---- servers -------------------------------------------------------------------------
OURS_PID= OURS_PORT=
start_ours() { # [MQTT TCP port, default none]
    OURS_PORT=$(free_port)
    HTTP_PORT=$OURS_PORT MQTT_PORT=${1:--1} STUN_PORT=-1 "$SERVER" >"$LOGS/ours-$OURS_PORT.log" 2>&1 &
    OURS_PID=$!
    STARTED+=("$OURS_PID")
    for _ in $(seq 200); do
        kill -0 "$OURS_PID" 2>/dev/null || die "pod-arcade-server exited at start-up; see $LOGS/ours-$OURS_PORT.log"
        curl -sf -o /dev/null "http://127.0.0.1:$OURS_PORT/healthz" && return 0
        sleep 0.1
    done
    die "pod-arcade-server did not answer /healthz on 127.0.0.1:$OURS_PORT within 20 s"
}

NGINX_PID= NGINX_PORT=
start_nginx() {
    NGINX_PORT=$(free_port)
    # As root, nginx's workers would run as nobody; keep them as the invoking user so that
    # they can read the copy under .build-bench/ whatever its permissions.
    local user_line=""
    [[ $(id -u) == 0 ]] && user_line="user root root;"
    cat >"$NGX/nginx.conf" <<EOF
# generated by Benchmarks/http-bench.sh; everything not listed is nginx's default
$user_line
worker_processes 1;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log off;                 # ours keeps no access log either
    keepalive_requests 1000000;     # neither server closes a keep-alive connection during a run
    client_body_temp_path $NGX/temp/body;
    proxy_temp_path $NGX/temp/proxy;
    fastcgi_temp_path $NGX/temp/fastcgi;
    uwsgi_temp_path $NGX/temp/uwsgi;
    scgi_temp_path $NGX/temp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $NGX/root;
        location = /config.json { add_header Cache-Control no-store; }
        location / { try_files \$uri \$uri/ /index.html; }
    }
}
EOF
    nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" >"$NGX/logs/stdout.log" 2>&1 &
    NGINX_PID=$!
    STARTED+=("$NGINX_PID")
    for _ in $(seq 100); do
        kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited at start-up; see $NGX/logs/"
        curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/config.json" && return 0
        sleep 0.1
    done
    die "nginx did not answer on 127.0.0.1:$NGINX_PORT within 10 s"
}

read -r b0 t0 < <(host_busy_total); sleep 1; read -r b1 t1 < <(host_busy_total)
IDLE_BUSY=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.0f", t ? 100 * b / t : 0}')
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "http-bench: $(nproc) CPUs, machine $IDLE_BUSY % busy before start, load $START_LOAD;" \
     "ulimit -n $(ulimit -n); nice $(nice)" >&2
((IDLE_BUSY <= 10)) || echo "!! the machine is busy before the benchmark starts: not a quiet run" >&2
FAILED=0
MEM_ROWS=() # json per run
TCP_ROWS=() # json per run of the plain-TCP reference
HTTP_ROWS=() # path|run|server|json

# ---- memory: idle, and with WS_CLIENTS WebSocket MQTT clients ---------------------------
if [[ " $PARTS " == *" memory "* ]]; then
    sub_flag=()
    [[ $WS_SUBSCRIBE == 1 ]] && sub_flag=(--subscribe)
    for run in $(seq "$RUNS"); do
        start_ours
        sleep 2 # idle after start: nothing has connected but the /healthz probe
        threads=$(status_field "$OURS_PID" Threads)
        echo "== memory run $run: pod-arcade-server pid $OURS_PID on 127.0.0.1:$OURS_PORT, $WS_CLIENTS clients" >&2
        rc=0
        json=$("$PYTHON" "$WS_TOOL" --port "$OURS_PORT" --clients "$WS_CLIENTS" --hold "$HOLD" \
            --batch 100 --keepalive 60 --pid "$OURS_PID" --json "${sub_flag[@]+"${sub_flag[@]}"}") || rc=$?
        kill -0 "$OURS_PID" 2>/dev/null || { echo "!! pod-arcade-server exited during the memory run" >&2; FAILED=1; }
        [[ -n $json ]] || json='{"error":"client tool produced no result"}'
        json="${json%\}},\"server_threads\":$threads,\"vmhwm_kb\":$(status_field "$OURS_PID" VmHWM || echo 0)}"
        if ((rc != 0)); then
            echo "!! memory run $run: $(json_get "$json" connected) of $WS_CLIENTS got CONNACK," \
                 "$(json_get "$json" still_connected) still connected; $json" >&2
            FAILED=1
        fi
        echo "{\"test\":\"memory\",\"run\":$run,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",${json#\{}" >>"$RESULTS"
        MEM_ROWS+=("$json")
        stop "$OURS_PID"
    done
    # Reference: the same number of clients over plain TCP (MQTT_PORT) on a fresh server, with
    # the MQTT benchmark's tool, so that the WebSocket layer's share can be told from the broker's.
    TCP_TOOL=$OUT/mqtt_bench
    TCP_SRC=$ROOT/Benchmarks/mqtt-bench/mqtt_bench.c
    if [[ ! -x $TCP_TOOL || $TCP_SRC -nt $TCP_TOOL ]]; then
        cc -O2 -Wall -Wextra -o "$TCP_TOOL" "$TCP_SRC"
    fi
    for run in $(seq "$RUNS"); do
        MQTT_TCP_PORT=$(free_port)
        start_ours "$MQTT_TCP_PORT"
        sleep 2
        echo "== memory run $run, plain TCP reference: pid $OURS_PID, MQTT on 127.0.0.1:$MQTT_TCP_PORT" >&2
        rc=0
        json=$("$TCP_TOOL" idle --target "127.0.0.1:$MQTT_TCP_PORT" --clients "$WS_CLIENTS" --hold "$HOLD" \
            --batch 100 --keepalive 60 --setup-timeout 120 --pid "$OURS_PID" --json) || rc=$?
        [[ -n $json ]] || json='{"error":"mqtt_bench produced no result"}'
        ((rc == 0)) || echo "!! TCP reference run $run: $json" >&2
        echo "{\"test\":\"memory-tcp\",\"run\":$run,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",${json#\{}" >>"$RESULTS"
        TCP_ROWS+=("$json")
        stop "$OURS_PID"
    done
fi

# ---- http: wrk against both servers ------------------------------------------------------
# One wrk run; prints a flat JSON object. $1 server label, $2 port, $3 path, $4 pids for CPU.
wrk_run() {
    local label=$1 port=$2 path=$3 out b0 t0 b1 t1 c0 c1 w0 w1 rps p99 errs non2xx
    shift 3
    read -r b0 t0 < <(host_busy_total)
    c0=$(cpu_ticks "$@")
    w0=$(date +%s.%N)
    out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency "http://127.0.0.1:$port$path" 2>&1) || true
    w1=$(date +%s.%N)
    c1=$(cpu_ticks "$@")
    read -r b1 t1 < <(host_busy_total)
    printf '%s\n' "$out" >>"$LOGS/wrk.log"
    rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; u=v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
               f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1; printf "%.3f", v * f}' <<<"$out")
    errs=$(awk '/Socket errors:/{gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/{print $5}' <<<"$out")
    printf '{"server":"%s","path":"%s","rps":%s,"p99_ms":%s,"socket_errors":%s,"non2xx":%s,"server_cpu_pct":%s,"host_busy_pct":%s}\n' \
        "$label" "$path" "${rps:-0}" "${p99:-0}" "${errs:-0}" "${non2xx:-0}" \
        "$(awk -v c=$((c1 - c0)) -v hz="$TICKS" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", 100 * c / hz / (b - a)}')" \
        "$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.0f", t ? 100 * b / t : 0}')"
}

if [[ " $PARTS " == *" http "* ]]; then
    start_ours
    # nginx serves a copy of the web client and the exact config.json bytes ours returns.
    cp -R "$WEBCLIENT/." "$NGX/root/"
    curl -sf -o "$NGX/root/config.json" "http://127.0.0.1:$OURS_PORT/config.json" || die "could not fetch /config.json from our server"
    start_nginx
    nginx_pids=("$NGINX_PID" $(pgrep -P "$NGINX_PID" || true)) # master and its one worker
    LARGE=$(cd "$WEBCLIENT" && ls -S js/*.js | head -n1)
    PATHS=(/config.json / "/$LARGE")
    for path in "${PATHS[@]}"; do
        curl -sf -o "$LOGS/ours.body" "http://127.0.0.1:$OURS_PORT$path" || die "ours did not serve $path"
        curl -sf -o "$LOGS/nginx.body" "http://127.0.0.1:$NGINX_PORT$path" || die "nginx did not serve $path"
        cmp -s "$LOGS/ours.body" "$LOGS/nginx.body" || die "ours and nginx serve different bytes for $path"
    done
    SIZES=()
    for path in "${PATHS[@]}"; do SIZES+=("$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$OURS_PORT$path")"); done
    echo "== http: ours pid $OURS_PID on :$OURS_PORT ($(status_field "$OURS_PID" Threads) threads)," \
         "nginx pid $NGINX_PID on :$NGINX_PORT (1 worker); same bytes on ${PATHS[*]}" >&2
    OURS_RSS_BEFORE=$(status_field "$OURS_PID" VmRSS)
    if ((WARMUP > 0)); then
        for path in "${PATHS[@]}"; do
            wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" "http://127.0.0.1:$OURS_PORT$path" >/dev/null 2>&1 || true
            wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" "http://127.0.0.1:$NGINX_PORT$path" >/dev/null 2>&1 || true
        done
    fi
    for run in $(seq "$RUNS"); do
        for path in "${PATHS[@]}"; do
            order=(ours nginx)
            ((run % 2 == 0)) && order=(nginx ours)
            for server in "${order[@]}"; do
                if [[ $server == ours ]]; then
                    json=$(wrk_run ours "$OURS_PORT" "$path" "$OURS_PID")
                else
                    json=$(wrk_run nginx "$NGINX_PORT" "$path" "${nginx_pids[@]}")
                fi
                echo "   run $run $server $path: $(json_get "$json" rps) req/s, p99 $(json_get "$json" p99_ms) ms" >&2
                if [[ $(json_get "$json" socket_errors) != 0 || $(json_get "$json" non2xx) != 0 ]]; then
                    echo "!! $server $path: socket errors $(json_get "$json" socket_errors), non-2xx $(json_get "$json" non2xx)" >&2
                    [[ $server == ours ]] && FAILED=1
                fi
                echo "{\"test\":\"http\",\"run\":$run,\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",${json#\{}" >>"$RESULTS"
                HTTP_ROWS+=("$path|$run|$server|$json")
            done
        done
    done
    OURS_RSS_AFTER=$(status_field "$OURS_PID" VmRSS)
    OURS_HWM=$(status_field "$OURS_PID" VmHWM)
    OURS_THREADS=$(status_field "$OURS_PID" Threads)
    NGINX_RSS=$(($(status_field "$NGINX_PID" VmRSS) + $(status_field "${nginx_pids[1]:-$NGINX_PID}" VmRSS)))
    stop "$NGINX_PID"
    stop "$OURS_PID"
fi

# ---- report --------------------------------------------------------------------------------
http_row() { # path run server
    local r
    for r in "${HTTP_ROWS[@]}"; do
        [[ $r == "$1|$2|$3|"* ]] && { echo "${r#"$1|$2|$3|"}"; return 0; }
    done
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
per_cpu() { awk -v r="$(json_get "$1" rps)" -v c="$(json_get "$1" server_cpu_pct)" 'BEGIN{ if (c + 0 > 0) printf "%.0f", r / (c / 100); else print "-" }'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k / 1024}'; }

echo
echo "HTTP server benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) CPUs, machine $IDLE_BUSY % busy" \
     "before start, load $START_LOAD at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end, nice $(nice)"
if [[ " $PARTS " == *" http "* ]]; then
    echo
    echo "wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s --latency (keep-alive), 127.0.0.1;" \
         "ours: NIO default threads ($OURS_THREADS threads in the process), nginx: worker_processes 1"
    printf '%-16s %7s %4s %11s %11s %7s %9s %9s %8s %8s %10s %10s %6s %7s\n' path bytes run "ours req/s" \
        "nginx req/s" ratio "ours p99" "ngx p99" "ours cpu" "ngx cpu" "ours /cpu" "ngx /cpu" ratio "host%"
    for i in "${!PATHS[@]}"; do
        path=${PATHS[$i]}
        for run in $(seq "$RUNS"); do
            o=$(http_row "$path" "$run" ours)
            n=$(http_row "$path" "$run" nginx)
            oc=$(per_cpu "$o")
            nc=$(per_cpu "$n")
            printf '%-16s %7s %4s %11s %11s %7s %9s %9s %8s %8s %10s %10s %6s %7s\n' "$path" "${SIZES[$i]}" "$run" \
                "$(json_get "$o" rps)" "$(json_get "$n" rps)" "$(ratio "$(json_get "$o" rps)" "$(json_get "$n" rps)")" \
                "$(json_get "$o" p99_ms)ms" "$(json_get "$n" p99_ms)ms" \
                "$(json_get "$o" server_cpu_pct)%" "$(json_get "$n" server_cpu_pct)%" \
                "$oc" "$nc" "$(ratio "$oc" "$nc")" \
                "$(json_get "$o" host_busy_pct)/$(json_get "$n" host_busy_pct)"
        done
    done
    echo "(ratio = ours/nginx in the same run; cpu in % of one core over the run (nginx: master +"
    echo " worker); /cpu = requests per second of the server's CPU time, steadier than req/s on a"
    echo " shared machine; host% = whole machine busy during ours/nginx, 100 = both cores, wrk included)"
    echo "VmRSS ours: $(mb "$OURS_RSS_BEFORE") MB before the load, $(mb "$OURS_RSS_AFTER") MB after," \
         "peak $(mb "$OURS_HWM") MB; nginx master + worker: $(mb "$NGINX_RSS") MB"
fi
if [[ " $PARTS " == *" memory "* ]]; then
    echo
    echo "memory: $WS_CLIENTS MQTT 3.1.1 clients over WebSocket /mqtt$([[ $WS_SUBSCRIBE == 1 ]] && echo ", each subscribed to desktops/+/status"), held ${HOLD}s; pod-arcade-server VmRSS"
    printf '%4s %9s %9s %10s %9s %9s %10s %9s %8s %8s\n' run connacks "stayed" "idle MB" "with MB" \
        "held MB" "closed MB" "KB/conn" "conn/s" threads
    for i in "${!MEM_ROWS[@]}"; do
        j=${MEM_ROWS[$i]}
        printf '%4s %9s %9s %10s %9s %9s %10s %9s %8s %8s\n' "$((i + 1))" "$(json_get "$j" connected)" \
            "$(json_get "$j" still_connected)" "$(mb "$(json_get "$j" rss_before_kb)")" \
            "$(mb "$(json_get "$j" rss_with_kb)")" "$(mb "$(json_get "$j" rss_held_kb)")" \
            "$(mb "$(json_get "$j" rss_after_close_kb)")" \
            "$(awk -v b="$(json_get "$j" bytes_per_conn)" 'BEGIN{printf "%.1f", b / 1024}')" \
            "$(json_get "$j" connects_per_s)" "$(json_get "$j" server_threads)"
    done
    for i in "${!TCP_ROWS[@]}"; do
        j=${TCP_ROWS[$i]}
        printf '%4s %9s %9s %10s %9s %9s %10s %9s %8s %8s\n' "tcp$((i + 1))" "$(json_get "$j" connected)" \
            "$(json_get "$j" still_connected)" "$(mb "$(json_get "$j" rss_before_kb)")" \
            "$(mb "$(json_get "$j" rss_connected_kb)")" "$(mb "$(json_get "$j" rss_after_kb)")" "-" \
            "$(awk -v b="$(json_get "$j" bytes_per_conn)" 'BEGIN{printf "%.1f", b / 1024}')" \
            "$(json_get "$j" connects_per_s)" "$(json_get "$j" server_threads)"
    done
    echo "(idle = 2 s after start; with = 1 s after the last CONNACK; held = end of the hold;"
    echo " closed = 1 s after the clients disconnected; KB/conn = (held - idle) / clients;"
    echo " tcpN = reference: the same clients over plain TCP MQTT_PORT, Benchmarks/mqtt-bench/mqtt_bench.c)"
fi
echo
echo "raw results: $RESULTS"
exit "$FAILED"
