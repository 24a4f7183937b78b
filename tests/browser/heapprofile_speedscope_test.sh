#!/usr/bin/env bash
# heapprofile_speedscope_test.sh -- the .heapprofile and the speedscope export
# of one real snapshot, opened in speedscope's offline page (npm speedscope,
# dist/release/index.html from file://) in Debian's headless chromium through
# puppeteer-core (heapprofile_speedscope.js): each imports without an error
# and speedscope's loaded total equals `heapscope report`'s live bytes.
# The snapshot: tests/export's ledger (-O2 -g) under `heapscope run`, whose
# second snapshot holds keep_small's 10 x 1000 B and keep_big's 65536 B.
# Screenshots stay in SHOT_DIR (the build tree).
# Usage: heapprofile_speedscope_test.sh HEAPSCOPE LIBHEAPSCOPE LEDGER NPM_PREFIX SHOT_DIR
set -uo pipefail
hs="$1" lib="$2" ledger="$3" npm="$4" shots="$5"
tmp="$(mktemp -d /tmp/heapscope-browser-hp-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$lib" ] || die "profiler library $lib not built"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is not installed (chromium is in tests/packages.txt)"

HEAPSCOPE_THREAD=always HEAPSCOPE_LIB="$lib" "$hs" run --out "$tmp/l" -- "$ledger" >"$tmp/run.out" 2>"$tmp/run.err" ||
  { cat "$tmp/run.err" >&2; die "heapscope run ledger"; }
snap="$(ls "$tmp"/l.*.0002.hsnap 2>/dev/null)"
[ -f "$snap" ] || die "snapshot 2 missing: $(ls "$tmp")"
"$hs" export "$snap" --format heapprofile -o "$tmp/ledger.heapprofile" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "export heapprofile"; }
"$hs" export "$snap" --format speedscope -o "$tmp/ledger.speedscope.json" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "export speedscope"; }
"$hs" report "$snap" --json >"$tmp/report.json" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "report --json"; }
total="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["inuse_bytes"])' "$tmp/report.json")"
# The ledger's own 75536 bytes are in it (keep_small 10000 + keep_big 65536);
# the C runtime may hold more.
[ "$total" -ge 75536 ] || die "heapscope report: live $total bytes, expected at least the ledger's 75536"
mkdir -p "$shots"
cp "$tmp/ledger.heapprofile" "$tmp/ledger.speedscope.json" "$shots/"
HOME="$tmp" node "$(dirname "$0")/heapprofile_speedscope.js" "$npm" "$shots" "$total" keep_small \
  "$tmp/ledger.heapprofile=Chrome Heap Profile" "$tmp/ledger.speedscope.json=speedscope json file" ||
  die "speedscope (screenshots and the files in $shots)"
echo "speedscope imported both exports of $(basename "$snap"), total $total bytes; screenshots in $shots"
