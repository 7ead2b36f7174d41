#!/usr/bin/env bash
# Installs what building, testing and the demo need, only when it is missing:
# Debian packages with apt-get, Python packages with pip. Running it again
# on a machine that has everything contacts no registry.
#
# Python: the interpreter is the one scripts/python.sh names. If that is a
# Debian-managed python3 (PEP 668, pip refuses to install into it) or has no
# pip, the packages go into a private virtual environment, .build-venv/,
# which scripts/python.sh picks up from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages (bookworm names). Add new ones here, one a line.
DEBIAN_PACKAGES=(
  chromium     # headless browser: web client tests (Tests/interop/test_web_*.py), ICE interop in ICEAgentTests, /mqtt from a browser
  chromium-driver # chromedriver, which selenium drives
  coturn       # turnserver, turnutils_stunclient: reference STUN peer in Tests/interop
  iproute2     # ip: the demo's address lookup; network namespaces in the ICE NAT tests
  iptables     # NAT routers (MASQUERADE, DNAT) inside those namespaces
  libssl-dev   # OpenSSL headers for DTLS
  libsrtp2-dev # SRTP/SRTCP (SecureMedia)
  libusrsctp-dev # SCTP over DTLS for data channels (SecureMedia)
  libopus-dev  # Opus encoder for audio
  libx264-dev  # H.264 encoder for video
  ffmpeg       # encodes the committed test clip; decodes what aiortc receives in the media tests
  curl         # Benchmarks/http-bench.sh: readiness probes and byte comparison
  mosquitto    # reference MQTT broker in Tests/interop (started by the tests, never as a service)
  mosquitto-clients # mosquitto_pub, mosquitto_sub: reference MQTT clients in Tests/interop
  nginx-light  # Benchmarks/http-bench.sh: the reference HTTP server (started by the script, never as a service)
  openssl      # openssl CLI: certificates for the HTTPS interop tests and coturn's TLS listener
  python3      # runs the interop tests
  python3-venv # the private environment, when python3 is Debian's own
  python3-pip
  wrk          # Benchmarks/http-bench.sh: the HTTP load generator
  tcpdump      # Benchmarks/datachannel-bench.py with BENCH_SPLIT=1: each echo divided on the wire
)

# Python packages as "pip-name=import-name". Add new ones here, one a line.
PYTHON_PACKAGES=(
  aioice=aioice
  aiortc=aiortc     # Tests/interop/desktop_standin.py, the desktop the web client tests play
  numpy=numpy       # the stand-in's test pattern and tone
  paho-mqtt=paho.mqtt
  pytest=pytest
  PyJWT=jwt
  cryptography=cryptography
  selenium=selenium # drives headless Chromium (web client tests, ICE interop)
)

say() { echo "deps: $*"; }
die() { echo "deps: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

install_debian_packages() {
  command -v dpkg-query >/dev/null \
    || die "not a Debian system; install these by hand: ${DEBIAN_PACKAGES[*]}"
  local missing=() pkg
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

missing_python_packages() {
  local python=$1 entry
  for entry in "${PYTHON_PACKAGES[@]}"; do
    "$python" -c "import ${entry#*=}" 2>/dev/null || echo "${entry%%=*}"
  done
}

# True when pip may install into this interpreter: a virtual environment,
# or an interpreter without the PEP 668 EXTERNALLY-MANAGED marker.
pip_allowed() {
  "$1" - <<'EOF' 2>/dev/null
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if in_venv or not managed else 1)
EOF
}

pip_install() {
  local python=$1; shift
  say "installing Python packages into $python: $*"
  PIP_NO_INPUT=1 "$python" -m pip install -q --disable-pip-version-check \
    --root-user-action=ignore "$@"
}

install_python_packages() {
  local python missing=()
  python=$(bash scripts/python.sh)
  mapfile -t missing < <(missing_python_packages "$python")
  [ ${#missing[@]} -eq 0 ] && return
  if ! pip_allowed "$python" || ! "$python" -m pip --version >/dev/null 2>&1; then
    say "$python is managed by Debian or has no pip: using a virtual environment in .build-venv/"
    python3 -m venv .build-venv
    python=$PWD/.build-venv/bin/python3
    mapfile -t missing < <(missing_python_packages "$python")
  fi
  pip_install "$python" "${missing[@]}"
  mapfile -t missing < <(missing_python_packages "$python")
  [ ${#missing[@]} -eq 0 ] || die "still missing for $python after pip: ${missing[*]}"
}

check_swift() {
  command -v swift >/dev/null \
    || die "swift is not on PATH: install a Swift 6.2 or later toolchain (it is not a Debian package)"
}

check_swift
install_debian_packages
install_python_packages
say "all present (python: $(bash scripts/python.sh))"
