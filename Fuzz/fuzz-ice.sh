#!/usr/bin/env bash
# Fuzzes ICEAgent: SDP candidate lines, the shared-port router, and the ICE agent's and TURN
# client's receive paths (target FuzzICE; properties in Fuzz/Sources/FuzzICE/FuzzICE.swift).
# Seeds: Fuzz/seeds-ice/ (candidate lines from real peers, STUN checks, TURN answers). Settings
# and layout: Fuzz/fuzz-run.sh.
# Usage: bash Fuzz/fuzz-ice.sh [extra libFuzzer flags...]      (from any directory)
exec bash "$(dirname "${BASH_SOURCE[0]}")/fuzz-run.sh" ice FuzzICE seeds-ice corpus-ice ice- "" "$@"
