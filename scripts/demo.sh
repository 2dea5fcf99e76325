#!/usr/bin/env bash
# scripts/demo.sh — set up, build and run the demo on the embedded default (no data needed).
set -euo pipefail
cd "$(dirname "$0")/.."
# OpenMP threads that spin after a loop starve OpenBLAS's own threads (measured: 16.8 -> 73.7
# images/s training the small embedding net on 2 cores); passive waiting avoids it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bash scripts/setup.sh
bash scripts/build.sh build
./build/faceforge demo "$@"
