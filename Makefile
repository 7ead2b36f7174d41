# Pod Arcade. `make help` lists the targets.
#
# test and demo first run scripts/deps.sh, which installs missing Debian
# packages (apt-get) and Python packages (pip), so both work on a fresh
# Debian 12 machine with a Swift toolchain.

SWIFT        ?= swift
STUN_PORT    ?= 3478
FUZZ_SECONDS ?= 600
DEBUG_BIN    := $(CURDIR)/.build/debug
RELEASE_BIN  := $(CURDIR)/.build/release
# Expanded when a recipe runs, so after deps may have made .build-venv/.
PYTHON        = $(shell bash scripts/python.sh)

# Prerequisites run one after another, in the order written.
.NOTPARALLEL:
.DEFAULT_GOAL := build
.PHONY: help deps build test unit interop demo bench-stun bench-mqtt bench-http bench-ice bench-media bench-datachannel bench-datachannel-soak fuzz-stun fuzz-mqtt fuzz-ice clean

help:
	@echo "make deps        install missing Debian and Python packages"
	@echo "make build       swift build --build-tests (debug)"
	@echo "make test        deps, build, Swift tests, then the interop tests in Tests/interop"
	@echo "make unit        Swift tests only (after make build)"
	@echo "make interop     interop tests only, against $(DEBUG_BIN)/pod-arcade-server"
	@echo "make demo        deps, build, run the server until Ctrl-C (STUN_PORT=$(STUN_PORT))"
	@echo "make bench-stun  release build, then Benchmarks/stun-bench.sh"
	@echo "make bench-mqtt  release build, then Benchmarks/mqtt-bench.sh (ours vs mosquitto)"
	@echo "make bench-http  release build, then Benchmarks/http-bench.sh (ours vs nginx; memory with 1,000 WebSocket clients)"
	@echo "make bench-ice   release build, then Benchmarks/ice-bench.py (ours vs aioice; NAT cases need root)"
	@echo "make bench-media release build, then Benchmarks/media-bench (send path vs libsrtp) and media-offer-bench.py (offer to DTLS vs aiortc)"
	@echo "make bench-datachannel release build, then Benchmarks/datachannel-bench.py (echo RTT and bulk, Chromium to ours vs aiortc)"
	@echo "make bench-datachannel-soak  80,000 echoes in one session: does the RTT or memory drift"
	@echo "make fuzz-stun   Fuzz/fuzz-stun.sh for FUZZ_SECONDS=$(FUZZ_SECONDS)"
	@echo "make fuzz-mqtt   Fuzz/fuzz-mqtt.sh for FUZZ_SECONDS=$(FUZZ_SECONDS)"
	@echo "make fuzz-ice    Fuzz/fuzz-ice.sh for FUZZ_SECONDS=$(FUZZ_SECONDS)"
	@echo "make clean       remove .build/ and .build-venv/"

deps:
	bash scripts/deps.sh

build:
	$(SWIFT) build --build-tests

# Runs both suites even when the first fails, so that both summaries are
# printed; fails if either failed.
test: deps build
	@status=0; \
	$(MAKE) --no-print-directory unit || status=1; \
	$(MAKE) --no-print-directory interop || status=1; \
	exit $$status

unit:
	SWIFT=$(SWIFT) bash scripts/run-unit.sh

interop:
	POD_ARCADE_BIN_DIR=$(DEBUG_BIN) $(PYTHON) -m pytest -q Tests/interop

demo: deps build
	STUN_PORT=$(STUN_PORT) POD_ARCADE_BIN_DIR=$(DEBUG_BIN) bash scripts/demo.sh

bench-stun: deps
	$(SWIFT) build -c release --product pod-arcade-server
	POD_ARCADE_SERVER=$(RELEASE_BIN)/pod-arcade-server bash Benchmarks/stun-bench.sh

bench-mqtt: deps
	$(SWIFT) build -c release --product pod-arcade-server
	POD_ARCADE_SERVER=$(RELEASE_BIN)/pod-arcade-server bash Benchmarks/mqtt-bench.sh

bench-http: deps
	$(SWIFT) build -c release --product pod-arcade-server
	POD_ARCADE_SERVER=$(RELEASE_BIN)/pod-arcade-server bash Benchmarks/http-bench.sh

bench-ice: deps
	$(SWIFT) build -c release --product ice-peer
	$(SWIFT) build -c release --product ice-bench
	POD_ARCADE_BIN_DIR=$(RELEASE_BIN) $(PYTHON) Benchmarks/ice-bench.py

bench-media: deps
	$(SWIFT) build -c release --product media-bench
	$(SWIFT) build -c release --product webrtc-peer
	$(RELEASE_BIN)/media-bench Tests/interop/media/testsrc2-360p30-baseline.h264 50
	POD_ARCADE_BIN_DIR=$(RELEASE_BIN) $(PYTHON) Benchmarks/media-offer-bench.py 10

bench-datachannel: deps
	$(SWIFT) build -c release --product webrtc-peer
	POD_ARCADE_BIN_DIR=$(RELEASE_BIN) $(PYTHON) Benchmarks/datachannel-bench.py 2000 3

bench-datachannel-soak: deps
	$(SWIFT) build -c release --product webrtc-peer
	POD_ARCADE_BIN_DIR=$(RELEASE_BIN) $(PYTHON) Benchmarks/datachannel-soak.py 8 10000

fuzz-stun:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Fuzz/fuzz-stun.sh

fuzz-mqtt:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Fuzz/fuzz-mqtt.sh

fuzz-ice:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Fuzz/fuzz-ice.sh

clean:
	rm -rf .build .build-venv
