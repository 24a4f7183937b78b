#!/usr/bin/env bash
# html_report_test.sh HEAPSCOPE LIB LEAKY_SERVER NPM_PREFIX SHOTS -- the walkthrough's snapshots
# of the demo leaky server (tests/html/demo_snapshots.sh), `heapscope html` over them, and the
# report in headless chromium (html_report.js); screenshots of each view in SHOTS.
set -uo pipefail
hs="$1" lib="$2" server="$3" npm="$4" shots="$5"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d /tmp/heapscope-browser-html-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is not installed (chromium is in tests/packages.txt)"
"$here/../html/demo_snapshots.sh" "$hs" "$lib" "$server" "$tmp/s" || die "the demo's snapshots"
snaps=$(ls "$tmp"/s/d.*.[0-9][0-9][0-9][0-9].hsnap)
n=$(wc -w <<<"$snaps")
# shellcheck disable=SC2086
"$hs" html $snaps -o "$tmp/report.html" 2>"$tmp/err" || { cat "$tmp/err" >&2; die "heapscope html"; }
mkdir -p "$shots"
cp "$tmp/report.html" "$shots/"
HOME="$tmp" node "$here/html_report.js" "$npm" "$shots" "$tmp/report.html" "$n" "LeakyCache::store" ||
  die "the report in chromium (screenshots and the report in $shots)"
