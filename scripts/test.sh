#!/usr/bin/env bash
# scripts/test.sh — set up, build and run every test (CPU; GPU tests skip without a device).
# The GoogleTest binary runs once, in one process (starting one process per test would load the
# CUDA libraries 300 times); `ctest --test-dir build` runs the same tests one by one.
set -euo pipefail
cd "$(dirname "$0")/.."
# OpenMP threads that spin after a loop starve OpenBLAS's own threads (measured: 16.8 -> 73.7
# images/s training the small embedding net on 2 cores); passive waiting avoids it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
bash scripts/setup.sh test
python3 scripts/check_layers.py  # includes point down the layers (the table is in CMakeLists.txt)
bash scripts/build.sh build
echo "== CUDA sources compiled into this build:"
if grep -q '\.cu\.o' build/build.ninja; then
  grep -o 'ff_[a-z]*\.dir/[A-Za-z0-9_/]*\.cu\.o' build/build.ninja | sort -u | sed 's|^ff_[a-z]*\.dir/|   |; s|\.o$||'
else
  echo "   none (CPU-only build)"
fi
echo "== tests"
set +e
./build/ff_tests --gtest_brief=1 2>&1 | tee build/test_output.txt | grep -vE "^\[ +(RUN|OK) +\]"
rc=${PIPESTATUS[0]}
set -e
total=$(grep -oE '^\[==========\] [0-9]+ tests? from' build/test_output.txt | grep -oE '[0-9]+' | head -1)
passed=$(grep -oE '^\[  PASSED  \] [0-9]+' build/test_output.txt | grep -oE '[0-9]+$' || echo 0)
skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+' build/test_output.txt | grep -oE '[0-9]+$' || echo 0)
failed=$(grep -oE '^\[  FAILED  \] [0-9]+ tests?, listed' build/test_output.txt | grep -oE '[0-9]+' | head -1 || true)
failed=${failed:-0}
[ "$rc" = 0 ] || [ "$failed" != 0 ] || failed=1
echo "tests: ${total:-0} ran (skipped ones need a GPU)"
echo "${passed:-0} passed, ${failed} failed, ${skipped:-0} skipped"
exit "$rc"
