#!/usr/bin/env bash
# export_origin_test.sh -- the pprof export names the program's own line
# (issue 10 item 2). std_leaks (-O2 -g) leaks through std::make_shared,
# std::map::emplace and std::vector::push_back from three functions, runs
# under the real profiler, and on its exit snapshot:
#   go tool pprof -top lists the three functions in its first 5 entries with
#   their exact live bytes, and no std:: frame holds any flat bytes;
#   -tags shows the container and origin labels; -tagfocus=container=...
#   keeps only that container's sample; -traces start at the origin;
#   --all-frames keeps every frame (std::__new_allocator on top, as before).
# Usage: export_origin_test.sh HEAPSCOPE LIBHEAPSCOPE STD_LEAKS SOURCE
set -uo pipefail
hs="$1" lib="$2" prog="$3" src="$4"
tmp="$(mktemp -d /tmp/heapscope-export-origin-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" PPROF_TMPDIR="$tmp" PPROF_BINARY_PATH=/nonexistent
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
show() { sed 's/^/    /' "$1" | head -40 >&2; }
expect_grep() {  # file pattern what
  grep -Eq -- "$2" "$1" || { fail "$3: no line matching /$2/ in $1:"; show "$1"; }
}
line_of() { grep -n "LINE:$1\$" "$src" | head -1 | cut -d: -f1; }
command -v go >/dev/null || { echo "FAIL: go is not installed (golang-go is in tests/packages.txt)" >&2; exit 1; }
[ -f "$lib" ] || { echo "FAIL: profiler library $lib not built" >&2; exit 1; }

HEAPSCOPE_LIB="$lib" "$hs" run --out "$tmp/s" -- "$prog" >"$tmp/run.out" 2>"$tmp/run.err" ||
  { echo "FAIL: heapscope run std_leaks:" >&2; cat "$tmp/run.err" >&2; exit 1; }
snap="$(ls "$tmp"/s.*.exit.hsnap 2>/dev/null)"
[ -f "$snap" ] || { echo "FAIL: no exit snapshot: $(ls "$tmp")" >&2; exit 1; }

"$hs" export "$snap" --format pprof -o "$tmp/p.pb.gz" 2>"$tmp/err" || { fail "export pprof"; show "$tmp/err"; }
go tool pprof -top -unit=B -nodecount=5 "$tmp/p.pb.gz" >"$tmp/top" 2>&1 || { fail "go tool pprof -top"; show "$tmp/top"; }
# The first 5 entries (after the column header).
sed -n '/^ *flat  flat%/,$p' "$tmp/top" | tail -n +2 | head -5 >"$tmp/top5"
[ "$(wc -l <"$tmp/top5")" -eq 5 ] || { fail "-top: not 5 entries"; show "$tmp/top"; }
# 50 x (40000 B buffer + 40 B make_shared block); 200 x (5001 B string + 72 B
# node); the vector's last buffer, 8192 x 96 B.
expect_grep "$tmp/top5" '^ +2002000B .* 2002000B .* leak_shared\(int\)$' "-top leak_shared"
expect_grep "$tmp/top5" '^ +1014600B .* 1014600B .* leak_map\(long\)$' "-top leak_map"
expect_grep "$tmp/top5" '^ +786432B .* 786432B .* leak_vector\(long\)$' "-top leak_vector"
go tool pprof -top -unit=B -nodecount=200 "$tmp/p.pb.gz" >"$tmp/topall" 2>&1
grep -Eq '^ +[1-9][0-9]*B .*  (std::|operator new|malloc)' "$tmp/topall" &&
  { fail "-top: a std::/allocator frame still holds flat bytes"; show "$tmp/topall"; }

go tool pprof -tags "$tmp/p.pb.gz" >"$tmp/tags" 2>&1 || { fail "go tool pprof -tags"; show "$tmp/tags"; }
expect_grep "$tmp/tags" '^ container: Total' "-tags container key"
expect_grep "$tmp/tags" ': std::shared_ptr<std::vector<char>>$' "-tags shared_ptr container"
expect_grep "$tmp/tags" ': std::map<long, std::string>$' "-tags map container"
expect_grep "$tmp/tags" ': std::vector<Record>$' "-tags vector container"
expect_grep "$tmp/tags" '^ origin: Total' "-tags origin key"
for f in leak_shared leak_map leak_vector; do
  expect_grep "$tmp/tags" ": $f std_leaks\\.cpp:$(line_of $f)\$" "-tags origin $f"
done

# -tagfocus on the container label: the map's nodes only (200 x 72 B).
go tool pprof -top -unit=B -nodecount=50 -tagfocus='container=std::map<long' "$tmp/p.pb.gz" >"$tmp/focus" 2>&1
expect_grep "$tmp/focus" '^ +14400B .* 14400B .* leak_map\(long\)$' "-tagfocus container=std::map"
[ "$(grep -Ec '^ +[1-9][0-9]*B ' "$tmp/focus")" -eq 1 ] || { fail "-tagfocus: more than the map's sample has flat bytes"; show "$tmp/focus"; }

# -traces: each leak's trace starts at its function.
go tool pprof -traces -unit=B "$tmp/p.pb.gz" >"$tmp/traces" 2>&1
expect_grep "$tmp/traces" '^ +786432B   leak_vector\(long\)$' "-traces leak_vector first"

# --all-frames: every frame kept, the std:: allocator on top as before.
"$hs" export "$snap" --format pprof --all-frames -o "$tmp/all.pb.gz" 2>/dev/null || fail "export --all-frames"
go tool pprof -top -unit=B -nodecount=200 "$tmp/all.pb.gz" >"$tmp/alltop" 2>&1
sed -n '/^ *flat  flat%/,$p' "$tmp/alltop" | sed -n 2p >"$tmp/allfirst"
expect_grep "$tmp/allfirst" '^ +[1-9][0-9]*B .*  std::__new_allocator<char>::allocate' "--all-frames: std::__new_allocator on top"
expect_grep "$tmp/alltop" '^ +0 .* 2002000B .* leak_shared\(int\)$' "--all-frames: leak_shared holds no flat bytes"
"$hs" export "$snap" --format svg --all-frames -o "$tmp/x.svg" 2>"$tmp/err" && fail "--all-frames with svg accepted"
expect_grep "$tmp/err" 'all-frames applies to --format pprof only' "--all-frames with svg: error"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)" >&2; exit 1; }
echo "pprof export names the program's own functions: ok"
