#!/usr/bin/env bash
# check_demo_test.sh BUILD_DIR SOURCE_DIR -- `heapscope check` on the demo, as
# docs/ci.md shows it: demo/ci_load.sh leaky fails (exit 1) naming
# LeakyCache::store and its std::map, bounded passes (exit 0). The server
# listens on 127.0.0.1 and a free port and is stopped by the script (killed by
# its trap if anything fails). Every spawn is bounded by `timeout`.
set -euo pipefail
build="$1"; src="$2"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/hs-check-demo-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_demo_test: $*" >&2; exit 1; }
run() {  # run MODE: sets rc and out
  rc=0
  out="$(cd "$tmp" && BUILD_DIR="$build" timeout 300 "$build/tools/heapscope" check --interval 0.5 --out "$tmp/$1" \
           -- "$src/demo/ci_load.sh" "$1" 2>"$tmp/$1.err")" || rc=$?
}
run leaky
[ "$rc" = 1 ] || fail "leaky: exit $rc, expected 1: $out $(cat "$tmp/leaky.err")"
grep -qE '\+32\.0 MiB  leak suspect: demo::\(anonymous namespace\)::LeakyCache::store  cache\.cpp:[0-9]+$' <<<"$out" ||
  fail "leaky: no +32.0 MiB suspect at LeakyCache::store: $out"
grep -q '^ *container std::map<long, CacheEntry>$' <<<"$out" || fail "leaky: no container line: $out"
grep -qE ': FAIL: 1 site keeps growing by more than 64\.0 KiB' <<<"$out" || fail "leaky: no FAIL line: $out"
run bounded
[ "$rc" = 0 ] || fail "bounded: exit $rc, expected 0: $out $(cat "$tmp/bounded.err")"
[ "$(grep -c ': pass: no site keeps growing by more than 64.0 KiB' <<<"$out")" -ge 2 ] ||
  fail "bounded: expected a pass line for the script and the server: $out"
grep -q 'leak suspect' <<<"$out" && fail "bounded: a leak suspect: $out"
echo "check_demo_test: OK"
