#!/usr/bin/env bash
# export_cli_test.sh -- `heapscope export` end to end on real gperftools and
# jemalloc heap profiles of foreign_alloc (symbolized offline from the
# profile's maps): pprof read by go tool pprof with exact figures, collapsed
# golden lines, speedscope JSON, a well-formed interactive svg, --base, and the
# command's errors (unknown format, missing -o, bad file: no file left behind).
# The svg's own script is run with node against a minimal DOM (svg_js_check.js).
# Usage: export_cli_test.sh HEAPSCOPE FOREIGN_ALLOC_TC FOREIGN_ALLOC_JE SVG_CHECK_PY SVG_JS_CHECK
set -uo pipefail
hs="$1" tc="$2" je="$3" svgcheck="$4" svgjs="$5"
tmp="$(mktemp -d /tmp/heapscope-export-cli-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp" GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" PPROF_TMPDIR="$tmp" PPROF_BINARY_PATH=/nonexistent
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect_grep() {  # file pattern what
  grep -Eq -- "$2" "$1" || { fail "$3: no line matching /$2/ in $1:"; sed 's/^/    /' "$1" | head -40 >&2; }
}
command -v go >/dev/null || { echo "FAIL: go is not installed (golang-go is in tests/packages.txt)" >&2; exit 1; }
command -v node >/dev/null || { echo "FAIL: node is not installed (nodejs is in tests/packages.txt)" >&2; exit 1; }

# Real profiles.
HEAPPROFILE="$tmp/gp" "$tc" >/dev/null 2>&1 || fail "foreign_alloc_tc failed"
HEAPPROFILE="$tmp/gpmany" "$tc" many >/dev/null 2>&1 || fail "foreign_alloc_tc many failed"
MALLOC_CONF="prof:true,prof_accum:true,lg_prof_sample:0,prof_final:true,prof_prefix:$tmp/je" "$je" >/dev/null 2>&1 ||
  fail "foreign_alloc_je failed"
gp="$tmp/gp.0001.heap" gpmany="$tmp/gpmany.0001.heap"
jef="$(ls "$tmp"/je.*.0.f.heap 2>/dev/null | head -1)"
[ -f "$gp" ] && [ -f "$gpmany" ] && [ -n "$jef" ] || { echo "FAIL: profiles missing: $(ls "$tmp")" >&2; exit 1; }

# pprof: symbolized functions with exact in-use bytes, traces leaf first.
"$hs" export "$gp" --format pprof -o "$tmp/gp.pb.gz" 2>"$tmp/err" || { fail "export pprof"; cat "$tmp/err" >&2; }
go tool pprof -top -unit=B -nodecount=100 "$tmp/gp.pb.gz" >"$tmp/top" 2>&1 || fail "go tool pprof -top"
expect_grep "$tmp/top" '^ +10000B .* 10000B .* keep_small$' "pprof top keep_small"
expect_grep "$tmp/top" '^ +12288B .* 12288B .* keep_big$' "pprof top keep_big"
expect_grep "$tmp/top" '^ +8000B .* 8000B .* thread_keep$' "pprof top thread_keep"
expect_grep "$tmp/top" '^Type: inuse_space$' "pprof default sample type"
go tool pprof -top -unit=B -sample_index=alloc_space -nodecount=100 "$tmp/gp.pb.gz" >"$tmp/alloc" 2>&1
expect_grep "$tmp/alloc" '^ +500B .* 500B .* churn$' "pprof alloc_space churn"
go tool pprof -traces -unit=B "$tmp/gp.pb.gz" >"$tmp/traces" 2>&1 || fail "go tool pprof -traces"
grep -A1 -E '^ +10000B +keep_small$' "$tmp/traces" | grep -Eq '^ +main$' || {
  fail "pprof traces: keep_small then main"; cat "$tmp/traces" >&2; }
file "$tmp/gp.pb.gz" 2>/dev/null | grep -q gzip || [ "$(head -c2 "$tmp/gp.pb.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] ||
  fail "pprof output is not gzip"

# collapsed: outermost first, inuse bytes.
"$hs" export "$gp" --format collapsed -o "$tmp/gp.folded" 2>/dev/null || fail "export collapsed"
expect_grep "$tmp/gp.folded" '^_start;.*;main;keep_small 10000$' "collapsed keep_small"
expect_grep "$tmp/gp.folded" '^_start;.*;main;keep_big 12288$' "collapsed keep_big"
expect_grep "$tmp/gp.folded" ';thread_keep 8000$' "collapsed thread_keep"
grep -q 'churn' "$tmp/gp.folded" && fail "collapsed lists churn, which holds nothing"

# jemalloc: size classes, t* only.
"$hs" export "$jef" --format collapsed -o "$tmp/je.folded" 2>/dev/null || fail "export jemalloc collapsed"
expect_grep "$tmp/je.folded" ';main;keep_small 10240$' "jemalloc collapsed keep_small"
expect_grep "$tmp/je.folded" ';thread_keep 8192$' "jemalloc collapsed thread_keep"

# speedscope.
"$hs" export "$gp" --format speedscope -o "$tmp/gp.speedscope.json" 2>/dev/null || fail "export speedscope"
python3 - "$tmp/gp.speedscope.json" <<'PY' || fail "speedscope shape"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["$schema"] == "https://www.speedscope.app/file-format-schema.json"
names = [f["name"] for f in d["shared"]["frames"]]
p = d["profiles"][0]
assert p["type"] == "sampled" and p["unit"] == "bytes", p
assert len(p["samples"]) == len(p["weights"])
stacks = {tuple(names[i] for i in s): w for s, w in zip(p["samples"], p["weights"])}
hits = [w for s, w in stacks.items() if s[-1] == "keep_small" and s[-2] == "main"]
assert hits == [10000], hits
assert p["endValue"] == sum(p["weights"])
PY

# heapprofile (Chrome DevTools): the same stacks and total as speedscope's.
"$hs" export "$gp" --format heapprofile -o "$tmp/gp.heapprofile" 2>"$tmp/err" || fail "export heapprofile"
grep -q 'note' "$tmp/err" && fail "a note for a file named *.heapprofile: $(cat "$tmp/err")"
python3 - "$tmp/gp.heapprofile" "$tmp/gp.speedscope.json" <<'PY' || fail "heapprofile shape"
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d) == ["head", "samples"], sorted(d)
assert d["head"]["callFrame"] == {"functionName": "(root)", "scriptId": "0", "url": "", "lineNumber": -1, "columnNumber": -1}
ids, total, paths, todo = set(), 0, {}, [(d["head"], ())]
while todo:
    n, path = todo.pop()
    assert n["id"] not in ids and isinstance(n["children"], list), n
    ids.add(n["id"])
    total += n["selfSize"]
    cf = n["callFrame"]
    assert set(cf) == {"functionName", "scriptId", "url", "lineNumber", "columnNumber"}, cf
    here = path + (cf["functionName"],) if n is not d["head"] else path
    if n["selfSize"]: paths[here] = paths.get(here, 0) + n["selfSize"]
    if cf["functionName"] == "keep_small":  # foreign_alloc.cpp, built -g: a file and a 0-based line
        assert cf["url"].endswith("foreign_alloc.cpp") and cf["lineNumber"] >= 0, cf
    todo += [(c, here) for c in n["children"]]
s = json.load(open(sys.argv[2]))["profiles"][0]
assert total == s["endValue"] == sum(x["size"] for x in d["samples"]), (total, s["endValue"])
assert [w for p, w in paths.items() if p[-2:] == ("main", "keep_small")] == [10000], paths
PY
"$hs" export "$gp" --format heapprofile -o "$tmp/gp.json" 2>"$tmp/err" || fail "export heapprofile as .json"
expect_grep "$tmp/err" "^heapscope: note: $tmp/gp.json: DevTools' Memory panel loads a heap profile only from a file named \*\.heapprofile" "note on the file name"

# svg.
"$hs" export "$gp" --format svg -o "$tmp/gp.svg" 2>/dev/null || fail "export svg"
python3 "$svgcheck" "$tmp/gp.svg" keep_small 10000 || fail "svg check"
node "$svgjs" "$tmp/gp.svg" keep_small || fail "svg script: hover / zoom / reset"

# --base: growth of `many` (20000 x 1000 B) between the two runs.
"$hs" export "$gpmany" --base "$gp" --format collapsed -o "$tmp/diff.folded" 2>/dev/null || fail "export --base collapsed"
expect_grep "$tmp/diff.folded" ';main;many 20000000$' "diff collapsed many"
grep -q 'keep_small' "$tmp/diff.folded" && fail "diff lists keep_small, which did not change"
"$hs" export "$gpmany" --base "$gp" --format pprof -o "$tmp/diff.pb.gz" 2>/dev/null || fail "export --base pprof"
go tool pprof -top -unit=B "$tmp/diff.pb.gz" >"$tmp/difftop" 2>&1
expect_grep "$tmp/difftop" '^ +20000000B .* many$' "diff pprof many"
grep -Eq ' keep_small$' "$tmp/difftop" && fail "diff pprof lists keep_small"

# Errors.
"$hs" export "$gp" --format bogus -o "$tmp/x" 2>"$tmp/err" && fail "unknown format accepted"
expect_grep "$tmp/err" "unknown --format 'bogus'; expected one of pprof, collapsed, speedscope, svg" "unknown format message"
"$hs" export "$gp" --format svg 2>"$tmp/err" && fail "missing -o accepted"
expect_grep "$tmp/err" 'output' "missing -o message"
printf 'heap profile: 1: 1 [1: 1] @ heapprofile\n 1: -1 [1: 1] @ 0x1\n' >"$tmp/bad.heap"
mkdir "$tmp/outdir"
"$hs" export "$tmp/bad.heap" --format svg -o "$tmp/outdir/bad.svg" 2>"$tmp/err" && fail "bad profile accepted"
expect_grep "$tmp/err" "^heapscope: $tmp/bad.heap: line 2: negative in-use bytes '-1'$" "bad profile message"
[ -z "$(ls -A "$tmp/outdir")" ] || fail "files left behind after an error: $(ls -A "$tmp/outdir")"
"$hs" export "$gp" --format svg -o "$tmp/nodir/x.svg" 2>"$tmp/err" && fail "unwritable output accepted"
expect_grep "$tmp/err" "nodir/x.svg" "unwritable output message names the file"
"$hs" export --help >"$tmp/help" 2>&1 || fail "export --help"
expect_grep "$tmp/help" '--base' "help mentions --base"
expect_grep "$tmp/help" 'pprof, collapsed, speedscope, svg, heapprofile' "help lists formats"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "export CLI: all checks passed"
