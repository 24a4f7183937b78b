#!/usr/bin/env bash
# demo/causes.sh -- the guide's other causes, each found with heapscope, and
# each fix shown flat. Run demo/walkthrough.sh first (it builds); this script
# only uses the built tree.
#
# For /listener, /closure and /timer: start leaky_server under `heapscope run`,
# snapshot, send N requests to the leaking endpoint, snapshot, send N to its
# "-fixed" twin, snapshot; print `heapscope diff` for each half.
# Then --cache weak with and without pruning: what a weak_ptr cache keeps when
# expired slots are not erased (map nodes and make_shared blocks), as a trend.
# Last /fragment, which is not a leak: RSS grows while the heap in use stays
# flat, and trend must say the allocator keeps it and name no suspect.
# Exits non-zero if a step fails or a leak is not found where the demo puts it.
#
# Env: BUILD_DIR (default build), OUT_DIR (default a new /tmp/heapscope-causes.*), N (default 20).
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
build="${BUILD_DIR:-build}"
n="${N:-20}"
tool="$build/tools/heapscope"
server="$build/demo/leaky_server"
for f in "$tool" "$server" "$build/profiler/libheapscope.so"; do
  [ -e "$f" ] || { echo "causes: $f not found: run demo/walkthrough.sh (it builds) or set BUILD_DIR" >&2; exit 1; }
done
out="${OUT_DIR:-$(mktemp -d /tmp/heapscope-causes.XXXXXX)}"
mkdir -p "$out"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { printf 'causes: %s\n' "$*" >&2; exit 1; }

run_pid="" server_pid="" port=""
cleanup() {
  for p in $server_pid $run_pid; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

start() {  # start NAME ARGS...
  local name=$1 line=""; shift
  "$tool" run --out "$out/$name" -- "$server" --port 0 --monitor 0 "$@" >"$out/$name.log" 2>"$out/$name.err" &
  run_pid=$!
  for _ in $(seq 200); do
    line=$(grep -m1 'listening on http://' "$out/$name.log" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$line" ] || die "$name: leaky_server did not start ($out/$name.err)"
  port=$(sed -E 's|.*http://[^:]+:([0-9]+).*|\1|' <<<"$line")
  server_pid=$(sed -E 's|.*pid ([0-9]+)\).*|\1|' <<<"$line")
  hit /status 16  # warm the thread pool
}
hit() {  # hit PATH COUNT
  # One curl, COUNT requests (URL globbing; the query string is ignored by the server).
  curl -fsS --fail-early --max-time 60 "http://127.0.0.1:$port$1?n=[1-$2]" >/dev/null
}
stop() {
  local rc=0
  kill -INT "$server_pid"
  wait "$run_pid" || rc=$?
  [ "$rc" -eq 0 ] || die "exit status $rc after SIGINT, expected 0"
  grep -m1 'cleaned up' "$out/$1.log"
}
# expect_top DIFF_JSON FILE:LINE MIN_BYTES: the diff's top site grew >= MIN_BYTES at FILE:LINE.
expect_top() {
  python3 - "$@" <<'EOF'
import json, sys
path, where, min_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
sites = json.load(open(path))["sites"]
top = sites[0] if sites else {}
o = top.get("origin") or {}
at = f"{o.get('file')}:{o.get('line')}"
if not at.endswith(where) or top.get("delta_bytes", 0) < min_bytes:
    sys.exit(f"causes: {path}: top site {at} +{top.get('delta_bytes', 0)} bytes, expected {where} >= {min_bytes}")
EOF
}
# flat DIFF_JSON MAX_BYTES: no site grew by more than MAX_BYTES in total.
flat() {
  python3 - "$@" <<'EOF'
import json, sys
path, limit = sys.argv[1], int(sys.argv[2])
grown = sum(max(s["delta_bytes"], 0) for s in json.load(open(path))["sites"])
print(f"all growth between the two snapshots: {grown} bytes")
if grown > limit:
    sys.exit(f"causes: {path}: sites grew {grown} bytes under the fixed twin, expected at most {limit}")
EOF
}
line_of() { grep -n -- "$2" "demo/$1" | head -1 | cut -d: -f1; }

# cause NAME PATH FILE MARKER BYTES: the leak found at FILE:line(MARKER), its twin flat.
cause() {
  local name=$1 path=$2 file=$3 marker=$4 bytes=$5
  local where="demo/$file:$(line_of "$file" "$marker")"
  say "$path: $n requests, then $n to $path-fixed, under heapscope"
  start "$name"
  local s0 s1 s2
  s0=$("$tool" snapshot "$server_pid"); hit "$path" "$n"
  s1=$("$tool" snapshot "$server_pid"); hit "$path-fixed" "$n"
  s2=$("$tool" snapshot "$server_pid")
  curl -fsS "http://127.0.0.1:$port/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("GET /status:", {k: s[k] for k in ("listeners", "closures", "closure_captured_bytes", "timers_active", "timer_ticks")})'
  say "heapscope diff (before, after $n x $path) --top 4"
  "$tool" diff "$s0" "$s1" --top 4
  "$tool" diff "$s0" "$s1" --json >"$out/$name.leak.json"
  expect_top "$out/$name.leak.json" "$where" $((n * bytes))
  say "heapscope diff (after $path, after $n x $path-fixed) --top 3"
  "$tool" diff "$s1" "$s2" --top 3
  "$tool" diff "$s1" "$s2" --json >"$out/$name.fixed.json"
  flat "$out/$name.fixed.json" $((bytes / 2))
  stop "$name"
}

cause listener /listener endpoints_causes.cpp 'std::vector<char> buffer(kListenerBytes' $((64 << 10))
cause closure /closure endpoints_causes.cpp 'Report{std::vector<char>(kReportBytes' $((256 << 10))
cause timer /timer endpoints_causes.cpp 'std::vector<char> buffer(kTimerBytes' $((128 << 10))

# --cache weak: with and without pruning expired slots.
for variant in no-prune prune; do
  args=(--cache weak); [ "$variant" = no-prune ] && args+=(--no-prune)
  say "leaky_server ${args[*]}: 3 rounds of $((n * 5)) /leak, a snapshot after each"
  start "weak-$variant" "${args[@]}"
  snaps=("$("$tool" snapshot "$server_pid")")
  for _ in 1 2 3; do hit /leak $((n * 5)); snaps+=("$("$tool" snapshot "$server_pid")"); done
  curl -fsS "http://127.0.0.1:$port/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("GET /status:", {k: s[k] for k in ("cache_entries", "cache_live_entries", "cache_evicted", "heap_used_bytes")})'
  say "heapscope trend (weak, $variant) --top 3"
  "$tool" trend "${snaps[@]}" --top 3
  "$tool" diff "${snaps[0]}" "${snaps[3]}" --json >"$out/weak-$variant.json"
  python3 - "$out/weak-$variant.json" "$variant" $((n * 15)) <<'EOF'
import json, sys
sites = json.load(open(sys.argv[1]))["sites"]
requests = int(sys.argv[3])
grown = sum(max(s["delta_bytes"], 0) for s in sites)
print(f"growth over {requests} /leak: {grown} bytes = {grown / requests:.0f} bytes per request")
if sys.argv[2] == "no-prune" and not 100 <= grown / requests <= 400:
    sys.exit(f"causes: {sys.argv[1]}: weak --no-prune kept {grown / requests:.0f} bytes per request, expected 100-400")
if sys.argv[2] == "prune" and grown > 64 * 1024:
    sys.exit(f"causes: {sys.argv[1]}: weak with pruning grew {grown} bytes, expected flat")
EOF
  stop "weak-$variant"
done
# /fragment: not a leak. RSS grows while the heap in use stays flat; trend must
# say the allocator keeps the memory, and name no leak suspect.
say "/fragment: 4 rounds of 4 requests (a session thread each), a snapshot after each, under heapscope"
start fragment
snaps=("$("$tool" snapshot "$server_pid")")
for _ in 1 2 3 4; do hit /fragment 4; snaps+=("$("$tool" snapshot "$server_pid")"); done
curl -fsS "http://127.0.0.1:$port/status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print("GET /status:", {k: s[k] for k in ("sessions", "recent_records", "rss_bytes", "heap_total_bytes", "heap_used_bytes", "external_bytes")})'
say "heapscope report (the last snapshot): what RSS is made of"
"$tool" report "${snaps[4]}" --top 1 | sed -n 1,4p
say "heapscope trend (fragment) --top 3"
"$tool" trend "${snaps[@]}" --top 3
"$tool" trend "${snaps[@]}" --json >"$out/fragment.trend.json"
python3 - "$out/fragment.trend.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
m = t.get("memory") or {}
suspects = [s for s in t["sites"] if s.get("suspect")]
if not m.get("diagnosis") or m.get("grows") != "held_free":
    sys.exit(f"causes: {sys.argv[1]}: /fragment: no allocator diagnosis (memory: grows {m.get('grows')!r}), expected held_free")
if suspects:
    sys.exit(f"causes: {sys.argv[1]}: /fragment named {len(suspects)} leak suspects, expected none (the heap does not grow)")
print(f"trend's diagnosis: {m['diagnosis']}")
EOF
stop fragment

say "Done. Snapshots and JSON in $out"
