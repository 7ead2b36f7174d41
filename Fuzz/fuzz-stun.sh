#!/usr/bin/env bash
# Fuzzes the STUNCore decoders (target FuzzSTUN; properties in Fuzz/Sources/FuzzSTUN/FuzzSTUN.swift,
# FUZZ_STUN_VERBOSE=1 prints what each input decoded to). Seeds: Fuzz/seeds/ (regenerate with
# python3 Fuzz/make-seeds.py). Settings and layout: Fuzz/fuzz-run.sh.
# Usage: bash Fuzz/fuzz-stun.sh [extra libFuzzer flags...]      (from any directory)
exec bash "$(dirname "${BASH_SOURCE[0]}")/fuzz-run.sh" stun FuzzSTUN seeds corpus "" stun.dict "$@"
