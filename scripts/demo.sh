#!/usr/bin/env bash
# scripts/demo.sh [DEMO FLAGS] — on a fresh Debian machine: installs what the faceforge command
# needs (scripts/setup.sh demo), builds only the command, installs it on PATH (scripts/install.sh)
# and runs the demo on the embedded default (no data needed), e.g. `bash scripts/demo.sh --quick`.
set -euo pipefail
cd "$(dirname "$0")/.."
# OpenMP threads that spin after a loop starve OpenBLAS's own threads (measured: 16.8 -> 73.7
# images/s training the small embedding net on 2 cores); passive waiting avoids it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bash scripts/setup.sh demo
echo "== building the faceforge command in build/ (a few minutes on 2 cores; tests and benchmarks are not built)"
bash scripts/build.sh build faceforge_cli
bash scripts/install.sh build
echo "== faceforge demo $* (about 3 minutes on 2 free cores; --quick: about 1)"
./build/faceforge demo "$@"
