#!/usr/bin/env bash
# Fuzzes the SignalingMQTT packet codec: MQTT 3.1.1 and 5.0 stream decoder, encoder round trips
# (target FuzzMQTT; properties in Fuzz/Sources/FuzzMQTT/FuzzMQTT.swift, FUZZ_MQTT_VERBOSE=1 for
# triage). Seeds: Fuzz/seeds-mqtt/ (regenerate with python3 Fuzz/make-seeds-mqtt.py). Settings and
# layout: Fuzz/fuzz-run.sh.
# Usage: bash Fuzz/fuzz-mqtt.sh [extra libFuzzer flags...]      (from any directory)
exec bash "$(dirname "${BASH_SOURCE[0]}")/fuzz-run.sh" mqtt FuzzMQTT seeds-mqtt corpus-mqtt mqtt- mqtt.dict "$@"
