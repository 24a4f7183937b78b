#!/usr/bin/env bash
# The README's test command: installs what is missing (Debian 12), builds everything,
# runs every test with ctest, exits non-zero on any failure.
# Env: BUILD_DIR (default build), JOBS (default 2), CTEST_ARGS (extra ctest arguments).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
./tests/deps.sh
build="${BUILD_DIR:-build}"
jobs="${JOBS:-2}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPSCOPE_BUILD_TESTS=ON
cmake --build "$build" -j"$jobs"
cd "$build"
# No test may reach a debuginfod server but the one it starts on 127.0.0.1 (tools.debuginfod
# sets its own): a user's DEBUGINFOD_URLS would send every symbolizing test to the network.
unset DEBUGINFOD_URLS
ctest --output-on-failure --timeout 600 -j"$jobs" ${CTEST_ARGS:-}
