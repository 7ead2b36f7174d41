#!/usr/bin/env bash
# Runs Pod Arcade in the foreground and prints how to use it; Ctrl-C stops it.
# `make demo` builds first and calls this. Settings come from the
# environment (Docs and `pod-arcade-server --help` list them); this script
# only chooses defaults:
#   STUN_PORT           UDP port of the built-in STUN server (default 3478)
#   MQTT_PORT           TCP port of the MQTT signaling broker (default 1883)
#   HTTP_PORT           web client, /config.json, /metrics and MQTT over WebSocket /mqtt (default 8080)
#   LOG_LEVEL           server log level (default info)
#   POD_ARCADE_BIN_DIR  folder with the built binaries (default .build/debug)
# Output of each process goes to demo-logs/<name>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

export STUN_PORT=${STUN_PORT:-3478}
export MQTT_PORT=${MQTT_PORT:-1883}
export HTTP_PORT=${HTTP_PORT:-8080}
export LOG_LEVEL=${LOG_LEVEL:-info}
BIN_DIR=${POD_ARCADE_BIN_DIR:-.build/debug}
LOG_DIR=demo-logs
PYTHON=$(bash scripts/python.sh)

mkdir -p "$LOG_DIR"
pids=()
names=()
usage=() # lines of the banner, added by each component as it comes up

# The address other machines on the network reach this one at: that of the
# interface holding the default route, else the first global address.
primary_ip() {
  local dev addr=""
  dev=$(ip -4 route show default 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  if [ -n "$dev" ]; then
    addr=$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
  fi
  [ -n "$addr" ] || addr=$(hostname -I 2>/dev/null | awk '{ print $1 }')
  echo "${addr:-127.0.0.1}"
}

# start NAME COMMAND...: runs COMMAND in the background, output to the log.
start() {
  local name=$1; shift
  "$@" >"$LOG_DIR/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
}

stop_all() {
  trap - INT TERM EXIT
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# fail NAME MESSAGE: prints the end of NAME's log and stops everything.
fail() {
  echo "demo: $2" >&2
  echo "---- last lines of $LOG_DIR/$1.log ----" >&2
  tail -n 30 "$LOG_DIR/$1.log" >&2 || true
  stop_all
  exit 1
}

# check_stun NAME PORT: waits until the newest process answers Binding
# requests on 127.0.0.1 and ::1: 20 s for the first answer, 3 s more for the
# other. Sets answers (the mapped addresses) and unanswered (the hosts).
check_stun() {
  local name=$1 port=$2 deadline=$((SECONDS + 20)) host mapped pending=(127.0.0.1 ::1) still
  answers=()
  while [ ${#pending[@]} -gt 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
    still=()
    for host in "${pending[@]}"; do
      if mapped=$("$PYTHON" Tests/interop/stunwire.py "$host" "$port" 2>/dev/null); then
        answers+=("$mapped")
        [ "$deadline" -le $((SECONDS + 3)) ] || deadline=$((SECONDS + 3))
      else
        still+=("$host")
      fi
    done
    pending=("${still[@]}")
    kill -0 "${pids[-1]}" 2>/dev/null || fail "$name" "$name exited during start-up"
    [ ${#pending[@]} -eq 0 ] || sleep 0.2
  done
  unanswered=("${pending[@]}")
}

start_server() {
  [ -x "$BIN_DIR/pod-arcade-server" ] || { echo "demo: $BIN_DIR/pod-arcade-server is missing; run make build" >&2; exit 1; }
  start pod-arcade-server "$BIN_DIR/pod-arcade-server"
  local ip url
  if [ "$STUN_PORT" = "-1" ]; then
    sleep 1
    kill -0 "${pids[-1]}" 2>/dev/null || fail pod-arcade-server "pod-arcade-server exited during start-up"
    usage+=("STUN server    disabled (STUN_PORT=-1)")
    return
  fi
  check_stun pod-arcade-server "$STUN_PORT"
  [ ${#answers[@]} -gt 0 ] \
    || fail pod-arcade-server "pod-arcade-server did not answer STUN on port $STUN_PORT within 20 s"
  ip=$(primary_ip)
  url="stun:$ip:$STUN_PORT"
  usage+=(
    "STUN server    $url   (UDP, IPv4 and IPv6)"
    "               checked: Binding requests from loopback got ${answers[*]}"
  )
  [ ${#unanswered[@]} -eq 0 ] || usage+=(
    "               WARNING: no answer on ${unanswered[*]} port $STUN_PORT: see $LOG_DIR/pod-arcade-server.log"
  )
  usage+=(
    "ICE_SERVERS    [{\"urls\":[\"$url\"]}]"
    "               the ICE_SERVERS setting (or a WebRTC iceServers list) for this STUN server"
    "Try it         turnutils_stunclient -p $STUN_PORT $ip"
  )
}

# check_mqtt: waits up to 20 s until the broker's TCP port accepts connections.
check_mqtt() {
  local deadline=$((SECONDS + 20)) ip
  [ "$MQTT_PORT" = "-1" ] && { usage+=("MQTT broker    disabled (MQTT_PORT=-1)"); return; }
  until (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail pod-arcade-server "pod-arcade-server did not accept MQTT on port $MQTT_PORT within 20 s"
    kill -0 "${pids[-1]}" 2>/dev/null || fail pod-arcade-server "pod-arcade-server exited during start-up"
    sleep 0.2
  done
  ip=$(primary_ip)
  usage+=(
    "MQTT broker    tcp://$ip:$MQTT_PORT   (signaling; client ids desktop:<id> or user:<name>)"
    "Try it         mosquitto_sub -p $MQTT_PORT -i user:demo -t 'server/ice-servers' -v"
  )
}

# check_http: waits up to 20 s until GET /healthz answers on HTTP_PORT.
check_http() {
  local deadline=$((SECONDS + 20)) ip
  [ "$HTTP_PORT" = "-1" ] && { usage+=("Web client     disabled (HTTP_PORT=-1)"); return; }
  until "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$HTTP_PORT/healthz', timeout=1)" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail pod-arcade-server "pod-arcade-server did not answer HTTP on port $HTTP_PORT within 20 s"
    kill -0 "${pids[-1]}" 2>/dev/null || fail pod-arcade-server "pod-arcade-server exited during start-up"
    sleep 0.2
  done
  ip=$(primary_ip)
  usage+=(
    "Web client     http://$ip:$HTTP_PORT/   (also /config.json, /metrics, /healthz)"
    "MQTT over WS   ws://$ip:$HTTP_PORT/mqtt   (subprotocol mqtt)"
  )
}

trap 'echo "demo: stopping"; stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

start_server
check_mqtt
check_http

echo
echo "Pod Arcade is running. Press Ctrl-C to stop."
echo
for line in "${usage[@]}"; do echo "  $line"; done
echo
echo "  Logs           $LOG_DIR/ (${names[*]/%/.log})"
echo

# Runs until Ctrl-C, or until a process exits on its own.
set +e
wait -n "${pids[@]}"
status=$?
set -e
for i in "${!pids[@]}"; do
  kill -0 "${pids[$i]}" 2>/dev/null || fail "${names[$i]}" "${names[$i]} exited with status $status"
done
