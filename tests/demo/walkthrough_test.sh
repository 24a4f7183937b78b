#!/usr/bin/env bash
# Runs demo/walkthrough.sh against an already-built tree (SKIP_BUILD=1) and
# checks that what it prints names the growing container, the demo's line
# that inserts into it, the growth per request and the flat bounded run.
# Usage: walkthrough_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
out=$(mktemp -d /tmp/heapscope-walkthrough-test.XXXXXX)
log="$out/walkthrough.out"
fail() { echo "FAIL: $*" >&2; echo "--- walkthrough output ($log) ---" >&2; tail -n 80 "$log" >&2; exit 1; }

rc=0
BUILD_DIR="$build" SKIP_BUILD=1 OUT_DIR="$out" ROUNDS=4 PER_ROUND=10 "$src/demo/walkthrough.sh" >"$log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "demo/walkthrough.sh exited $rc, expected 0"

line=$(grep -n '// the leak: never erased' "$src/demo/cache.cpp" | cut -d: -f1)
[ -n "$line" ] || fail "$src/demo/cache.cpp: no line marked '// the leak: never erased'"
expect() { grep -qF -- "$1" "$log" || fail "the output does not contain: $1"; }

# The tool's own text output (diff and trend): the container, and the origin with its line.
expect_re() { grep -qE -- "$1" "$log" || fail "no line of the output matches: $1"; }
expect_re "^ +container std::map<long, CacheEntry>$"
expect_re "^ +1 .*LeakyCache::store +cache\.cpp:$line$"
expect_re "^ +1 .*suspect.*LeakyCache::store +cache\.cpp:$line$"
# The walkthrough's reading of the JSON: container, file:line, growth per request.
expect "trend's first suspect: std::map<long, CacheEntry> at demo/cache.cpp:$line"
expect "the leak: std::map<long, CacheEntry> grows by 1,048,577 bytes per /leak request,"
expect "inserted at $src/demo/cache.cpp:$line"
expect "leaky: 40 /leak requests between the first and the last snapshot"
# Clean shutdowns and the flat fix.
expect "[shutdown] SIGINT: cleaned up 40 entries"
# 1.1, not 1.0: libraries' constructor allocations (libstdc++'s 72 KiB exception pool,
# OpenSSL's set-up) made before heapscope's constructor are in the books since issue 10 item 6.
expect "exit snapshot, after the cleanup: 1.1 MiB live in"
expect "bounded: 30 /leak requests between the first and the last snapshot"
expect "std::map<long, CacheEntry>: +0 bytes = +0 bytes per request"
expect "[shutdown] SIGINT: cleaned up 10 entries"
expect "go tool pprof"
rm -rf "$out"
echo "ok walkthrough"
