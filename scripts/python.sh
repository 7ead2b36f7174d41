#!/usr/bin/env bash
# Prints the Python interpreter that the tests and the demo use: the
# project's virtual environment .build-venv/ when scripts/deps.sh made one,
# else python3 from PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .build-venv/bin/python3 ]; then
  echo "$PWD/.build-venv/bin/python3"
else
  command -v python3 || echo python3
fi
