#!/usr/bin/env bash
# scripts/test.sh — set up, build and run every test (CPU; GPU tests skip without a device).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
echo "== CUDA sources compiled into this build:"
(grep -c '\.cu\.o' build/build.ninja >/dev/null && grep -o '[a-z_/]*\.cu\.o' build/build.ninja | sort -u) || echo "   none (CPU-only build)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
