#!/usr/bin/env bash
# export_profiler_test.sh -- `heapscope export` on snapshots written by the
# real profiler (libheapscope.so through `heapscope run`) of ledger (-O2 -g),
# whose ledger between its two snapshots is known (see ledger.cpp):
# go tool pprof -top shows its functions with exact inuse/alloc figures,
# collapsed stacks hold them, the svg title carries the exact total, and
# --base gives exactly the ledger's growth.
# Usage: export_profiler_test.sh HEAPSCOPE LIBHEAPSCOPE LEDGER
set -uo pipefail
hs="$1" lib="$2" ledger="$3"
tmp="$(mktemp -d /tmp/heapscope-export-prof-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" PPROF_TMPDIR="$tmp" PPROF_BINARY_PATH=/nonexistent
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_grep() {  # file pattern what
  grep -Eq -- "$2" "$1" || { fail "$3: no line matching /$2/ in $1:"; sed 's/^/    /' "$1" | head -40 >&2; }
}
command -v go >/dev/null || { echo "FAIL: go is not installed (golang-go is in tests/packages.txt)" >&2; exit 1; }
[ -f "$lib" ] || { echo "FAIL: profiler library $lib not built" >&2; exit 1; }

# ledger is single-threaded and waits for its own signal's snapshot without
# allocating (its figures are exact): only the helper thread can answer that.
HEAPSCOPE_THREAD=always HEAPSCOPE_LIB="$lib" "$hs" run --out "$tmp/l" -- "$ledger" >"$tmp/run.out" 2>"$tmp/run.err" ||
  { echo "FAIL: heapscope run ledger:" >&2; cat "$tmp/run.err" >&2; exit 1; }
s1="$(ls "$tmp"/l.*.0001.hsnap 2>/dev/null)" s2="$(ls "$tmp"/l.*.0002.hsnap 2>/dev/null)"
[ -f "$s1" ] && [ -f "$s2" ] || { echo "FAIL: snapshots missing: $(ls "$tmp")" >&2; exit 1; }

# pprof of snapshot 2: the ledger's functions with exact figures.
"$hs" export "$s2" --format pprof -o "$tmp/l.pb.gz" 2>"$tmp/err" || { fail "export pprof"; cat "$tmp/err" >&2; }
go tool pprof -top -unit=B -nodecount=200 "$tmp/l.pb.gz" >"$tmp/top" 2>&1 || fail "go tool pprof -top"
expect_grep "$tmp/top" '^Type: inuse_space$' "pprof default sample type"
expect_grep "$tmp/top" '^ +10000B .* 10000B .*keep_small$' "pprof top keep_small"
expect_grep "$tmp/top" '^ +65536B .* 65536B .*keep_big$' "pprof top keep_big"
grep -Eq '^ +[1-9][0-9]*B .*churn$' "$tmp/top" && fail "pprof top: churn, which freed all, holds bytes"
go tool pprof -top -sample_index=inuse_objects -nodecount=200 "$tmp/l.pb.gz" >"$tmp/objs" 2>&1
expect_grep "$tmp/objs" '^ +10 .* 10 .*keep_small$' "pprof inuse_objects keep_small"
go tool pprof -top -unit=B -sample_index=alloc_space -nodecount=200 "$tmp/l.pb.gz" >"$tmp/alloc" 2>&1
expect_grep "$tmp/alloc" '^ +409600B .* 409600B .*churn$' "pprof alloc_space churn"

# collapsed: outermost first, the program's functions with their live bytes.
"$hs" export "$s2" --format collapsed -o "$tmp/l.folded" 2>/dev/null || fail "export collapsed"
expect_grep "$tmp/l.folded" ';main;\(anonymous namespace\)::keep_small 10000$' "collapsed keep_small"
expect_grep "$tmp/l.folded" ';main;\(anonymous namespace\)::keep_big 65536$' "collapsed keep_big"

# svg: the title carries the exact total; with --base, exactly the ledger.
"$hs" export "$s2" --format svg -o "$tmp/l.svg" 2>/dev/null || fail "export svg"
total="$("$hs" report "$s2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["inuse_bytes"])')"
[ "$total" -ge 75536 ] 2>/dev/null || fail "report total $total below the ledger's 75536"
expect_grep "$tmp/l.svg" "<title>heapscope: .* in use \\($total bytes\\) in [0-9]+ stacks</title>" "svg title total"
"$hs" export "$s2" --base "$s1" --format svg -o "$tmp/d.svg" 2>/dev/null || fail "export svg --base"
expect_grep "$tmp/d.svg" '<title>heapscope: growth .*: 73\.8 KiB \(75536 bytes\) in 2 growing stacks; 0 bytes of shrinkage not drawn</title>' \
  "svg --base title"
"$hs" export "$s2" --base "$s1" --format collapsed -o "$tmp/d.folded" 2>/dev/null || fail "export collapsed --base"
[ "$(wc -l <"$tmp/d.folded")" -eq 2 ] || { fail "collapsed --base: not exactly the ledger's 2 stacks"; cat "$tmp/d.folded" >&2; }
expect_grep "$tmp/d.folded" 'keep_small 10000$' "collapsed --base keep_small"
expect_grep "$tmp/d.folded" 'keep_big 65536$' "collapsed --base keep_big"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "export on real profiler snapshots: ok"
