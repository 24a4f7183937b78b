#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_DIR SECONDS -- runs one reader's libFuzzer target for
# a bounded time: first every seed in SEED_DIR (the kept corpus, including
# regression files), then new inputs, in a scratch corpus so the tree is not
# modified. A crash, sanitizer report, timeout or RSS over 1 GiB fails the
# test and names the reproducer; copy it into SEED_DIR with the fix.
set -uo pipefail
fuzzer="$1" seeds="$2" seconds="$3"
work="$(mktemp -d /tmp/heapscope-fuzz-XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/artifacts"
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -max_len=8192 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?
tail -n 25 "$work/log"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
  keep="/tmp/heapscope-fuzz-findings"
  mkdir -p "$keep"
  cp "$work/artifacts/"* "$keep/" 2>/dev/null
  echo "FAIL: $(basename "$fuzzer") exit $rc; reproducers copied to $keep: $(ls "$work/artifacts")" >&2
  exit 1
fi
echo "$(basename "$fuzzer"): no finding in ${seconds}s over $(ls "$seeds" | wc -l) seeds"
