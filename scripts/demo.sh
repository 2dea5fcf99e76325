#!/usr/bin/env bash
# scripts/demo.sh — set up, build and run the demo on the embedded default (no data needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
./build/faceforge demo "$@"
