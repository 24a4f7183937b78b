#!/usr/bin/env bash
# bench/html_100k.sh -- issue 15's size case: a `heapscope html` report of a series of
# snapshots of 100k live sites (bench/workloads/snapshot_load: 1M live blocks over 100k
# stacks, periodic snapshots every 0.15 s while it runs), its size, the time and memory
# `heapscope html` takes, and how long headless chromium takes to have it ready
# (bench/html_ready.js). Nothing here asserts a time.
# Usage: bench/html_100k.sh [BUILD_DIR]   (needs the bench targets and build/npm from the browser tests)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
for f in "$build/bench/snapshot_load" "$build/profiler/libheapscope.so" "$build/tools/heapscope" "$build/npm/node_modules/puppeteer-core"; do
  [ -e "$f" ] || { echo "bench/html_100k.sh: $f does not exist (build the bench targets and run the browser tests once)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/hshtml100k.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
LD_PRELOAD="$build/profiler/libheapscope.so" HEAPSCOPE_OUT="$tmp/hs" HEAPSCOPE_INTERVAL=0.15 HEAPSCOPE_PEAK=0 \
  "$build/bench/snapshot_load" 1000000 100000 > /dev/null
snaps=("$tmp"/hs.*.[0-9]*.hsnap)
echo "snapshots: ${#snaps[@]} periodic"
/usr/bin/time -f "heapscope html: %e s, max RSS %M KiB" "$build/tools/heapscope" html "${snaps[@]}" -o "$tmp/r.html" 2>&1 | grep -v '^heapscope: note'
echo "file: $(stat -c %s "$tmp/r.html") bytes"
node "$top/bench/html_ready.js" "$build/npm" "$tmp/r.html" 5
