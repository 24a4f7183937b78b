#!/usr/bin/env bash
# demo/walkthrough.sh -- the README's main command: the Node.js guide's leak,
# reproduced in C++ and found with heapscope, end to end.
#
#  1. installs what is missing (tests/deps.sh) and builds the profiler, the
#     heapscope command and leaky_server into $BUILD_DIR (default build/);
#  2. starts leaky_server --cache leaky under `heapscope run`, sends /leak in
#     rounds, and takes a snapshot before the first round and after each one;
#  3. prints `heapscope diff FIRST LAST` and `heapscope trend ALL`, then checks
#     from their JSON that the top suspect is std::map<long, CacheEntry>
#     inserted at demo/cache.cpp:LINE, and prints the growth per request;
#  4. does the same with --cache bounded and shows its growth is flat;
#  5. stops both servers with SIGINT (each must exit 0 after its cleanup line)
#     and prints the commands to type next.
# Exits non-zero if any step fails or any claim above does not hold.
#
# Env: BUILD_DIR (default build), SKIP_BUILD=1 (use $BUILD_DIR as it is),
#      OUT_DIR (snapshots and logs; default a new /tmp/heapscope-walkthrough.*),
#      ROUNDS (default 5), PER_ROUND (/leak requests per round, default 20), JOBS (default 2).
set -euo pipefail

top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
build="${BUILD_DIR:-build}"
rounds="${ROUNDS:-5}"
per_round="${PER_ROUND:-20}"
jobs="${JOBS:-2}"
bounded_limit=$(( per_round < 10 ? per_round : 10 ))  # full after round 1

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { printf 'walkthrough: %s\n' "$*" >&2; exit 1; }

# ---- 1. install and build --------------------------------------------------
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  say "Installing missing Debian packages (tests/packages.txt) and building into $build/"
  ./tests/deps.sh tests/packages.txt
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # heapscope = libheapscope.so, heapscope_cli = the heapscope command.
  cmake --build "$build" -j"$jobs" --target heapscope heapscope_cli leaky_server
fi
tool="$build/tools/heapscope"
server="$build/demo/leaky_server"
lib="$build/profiler/libheapscope.so"
for f in "$tool" "$server" "$lib"; do
  [ -e "$f" ] || die "$f: not found (build it, or unset SKIP_BUILD)"
done
for cmd in curl python3; do
  command -v "$cmd" >/dev/null || die "$cmd: not installed (tests/deps.sh installs it)"
done

out="${OUT_DIR:-$(mktemp -d /tmp/heapscope-walkthrough.XXXXXX)}"
mkdir -p "$out"

# The line that inserts into the leaky map, as heapscope should name it.
insert_line=$(grep -n '// the leak: never erased' demo/cache.cpp | cut -d: -f1)
[ -n "$insert_line" ] || die "demo/cache.cpp: the leaky insert line (marked '// the leak: never erased') is missing"
insert_site="demo/cache.cpp:$insert_line"

# ---- servers ---------------------------------------------------------------
run_pids=()     # `heapscope run` processes
server_pids=()  # the servers they run
cleanup() {
  for p in "${server_pids[@]}" "${run_pids[@]}"; do
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# start NAME ARGS...: runs leaky_server ARGS under `heapscope run --out $out/NAME`;
# sets port, server_pid, run_pid.
start() {
  local name=$1; shift
  "$tool" run --out "$out/$name" -- "$server" --port 0 "$@" >"$out/$name.log" 2>"$out/$name.err" &
  run_pid=$!
  run_pids+=("$run_pid")
  local line=""
  for _ in $(seq 200); do
    line=$(grep -m1 'listening on http://' "$out/$name.log" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$line" ] || { cat "$out/$name.err" >&2; die "$name: leaky_server did not start (log: $out/$name.log)"; }
  port=$(sed -E 's|.*http://[^:]+:([0-9]+).*|\1|' <<<"$line")
  server_pid=$(sed -E 's|.*pid ([0-9]+)\).*|\1|' <<<"$line")
  server_pids+=("$server_pid")
  echo "$line"
  grep '^heapscope:' "$out/$name.err" || true
}

# drive NAME: a snapshot, then ROUNDS x (PER_ROUND /leak + a snapshot); fills snaps[].
drive() {
  local name=$1
  snaps=("$("$tool" snapshot "$server_pid")")
  echo "snapshot 0 (before any /leak): ${snaps[0]}"
  for r in $(seq "$rounds"); do
    # One curl, PER_ROUND requests (URL globbing; the query string is ignored by the server).
    curl -fsS --fail-early --max-time 60 "http://127.0.0.1:$port/leak?n=[1-$per_round]" >/dev/null
    snaps+=("$("$tool" snapshot "$server_pid")")
    echo "round $r: $per_round x GET /leak -> snapshot ${snaps[$r]}"
  done
  curl -fsS --max-time 20 "http://127.0.0.1:$port/status" >"$out/$name.status.json"
  python3 - "$out/$name.status.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
mib = lambda b: f"{b / 1048576:.1f} MiB" if b is not None else "n/a"
print(f"GET /status: cache_mode={s['cache_mode']} cache_entries={s['cache_entries']} "
      f"rss={mib(s['rss_bytes'])} heap_used={mib(s['heap_used_bytes'])} "
      f"heap_total={mib(s['heap_total_bytes'])} heapscope_live={mib(s.get('tracked_live_bytes'))}")
EOF
}

# stop NAME: SIGINT to the server; `heapscope run` must exit 0 after the cleanup line.
stop() {
  local name=$1 rc=0
  echo "the server's own monitor lines (--monitor 1):"
  grep '^\[monitor\]' "$out/$name.log" | tail -n 3 || echo "  (none yet: the run was shorter than 1 s)"
  kill -INT "$server_pid"
  wait "$run_pid" || rc=$?
  [ "$rc" -eq 0 ] || die "$name: exit status $rc after SIGINT, expected 0 (log: $out/$name.log)"
  grep -m1 'cleaned up' "$out/$name.log" || die "$name: no cleanup line in $out/$name.log"
  local exit_snap="$out/$name.$server_pid.exit.hsnap"
  if [ -e "$exit_snap" ]; then
    "$tool" report "$exit_snap" --json >"$out/$name.exit.json"
    python3 - "$out/$name.exit.json" "$exit_snap" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
print(f"exit snapshot, after the cleanup: {t['inuse_bytes'] / 1048576:.1f} MiB live in {t['inuse_count']} blocks ({sys.argv[2]})")
EOF
  fi
}

# per_request NAME DIFF_JSON REQUESTS MODE: prints and checks the growth per /leak.
#   MODE=leaky: the top site must be std::map<long, CacheEntry> at $insert_site, ~1 MiB per request.
#   MODE=flat:  the map's sites must not grow.
per_request() {
  python3 - "$@" "$insert_site" <<'EOF'
import json, sys
name, path, requests, mode, insert_site = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
d = json.load(open(path))
want = "std::map<long, CacheEntry>"
sites = d["sites"]
def where(s):
    o = s.get("origin") or {}
    return f"{o.get('file', '?')}:{o.get('line', '?')}"
mapped = [s for s in sites if s.get("container") == want]
map_delta = sum(s["delta_bytes"] for s in mapped)
total_delta = sum(s["delta_bytes"] for s in sites)
print(f"{name}: {requests} /leak requests between the first and the last snapshot")
print(f"  all sites:                   {total_delta:+,d} bytes = {total_delta / requests:+,.0f} bytes per request")
print(f"  {want}: {map_delta:+,d} bytes = {map_delta / requests:+,.0f} bytes per request")
if mode == "leaky":
    if not sites:
        sys.exit(f"walkthrough: {path}: no site grew")
    top = sites[0]
    if top.get("container") != want or not where(top).endswith(insert_site):
        sys.exit(f"walkthrough: {path}: the top site is {top.get('container')!r} at {where(top)}, "
                 f"expected {want!r} at {insert_site}")
    if not 1048576 <= top["delta_bytes"] / requests <= 1.1 * 1048576:
        sys.exit(f"walkthrough: {path}: the top site grew {top['delta_bytes'] / requests:.0f} bytes per "
                 f"request, expected about 1 MiB (1048576)")
    fn = (top.get("origin") or {}).get("function", "?")
    print(f"  the leak: {want} grows by {top['delta_bytes'] / requests:,.0f} bytes per /leak request,")
    print(f"            inserted at {where(top)} ({fn})")
elif mode == "flat":
    if abs(map_delta) > 64 * 1024:
        sys.exit(f"walkthrough: {path}: {want} changed by {map_delta} bytes under --cache bounded, expected flat")
    print(f"  flat: the bounded cache holds its limit; nothing per request stays")
EOF
}

# Does `heapscope trend` take --top? (the contract does not promise it)
trend_top=()
"$tool" trend --help 2>&1 | grep -q -- '--top' && trend_top=(--top 5)

# ---- 2-3. the leak ---------------------------------------------------------
say "Starting leaky_server --cache leaky under heapscope run (snapshots in $out)"
start leaky --cache leaky --monitor 1
say "Driving /leak: $rounds rounds of $per_round requests, a snapshot after each"
drive leaky
leaky_snaps=("${snaps[@]}")
first=${leaky_snaps[0]}
last=${leaky_snaps[$rounds]}

say "heapscope diff FIRST LAST --top 5"
"$tool" diff "$first" "$last" --top 5
"$tool" diff "$first" "$last" --json >"$out/leaky.diff.json"

say "heapscope trend (all $((rounds + 1)) snapshots) ${trend_top[*]}"
"$tool" trend "${leaky_snaps[@]}" "${trend_top[@]}"
"$tool" trend "${leaky_snaps[@]}" --json >"$out/leaky.trend.json"
python3 - "$out/leaky.trend.json" "$insert_site" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
want, insert_site = "std::map<long, CacheEntry>", sys.argv[2]
top = t["sites"][0] if t["sites"] else {}
o = top.get("origin") or {}
if top.get("container") != want or not f"{o.get('file')}:{o.get('line')}".endswith(insert_site):
    sys.exit(f"walkthrough: {sys.argv[1]}: trend's first suspect is {top.get('container')!r} at "
             f"{o.get('file')}:{o.get('line')}, expected {want} at {insert_site}")
print(f"trend's first suspect: {want} at {insert_site}, "
      f"{top['slope_bytes_per_s']:,.0f} bytes/s, r2 {top['r2']:.2f}")
EOF

say "Growth per /leak request (from the diff's JSON)"
per_request leaky "$out/leaky.diff.json" $((rounds * per_round)) leaky

say "heapscope html: the same snapshots as one page to look at (timeline, suspects, flame graphs)"
"$tool" html "${leaky_snaps[@]}" -o "$out/leaky.html"

say "SIGINT: the guide's cleanup"
stop leaky

# ---- 4. the fix --------------------------------------------------------------
say "The fix: leaky_server --cache bounded --max-entries $bounded_limit, same load"
start bounded --cache bounded --max-entries "$bounded_limit" --monitor 1
drive bounded
bounded_snaps=("${snaps[@]}")
# From round 1 on the cache is at its limit: compare the last snapshot with that one.
"$tool" diff "${bounded_snaps[1]}" "${bounded_snaps[$rounds]}" --json >"$out/bounded.diff.json"
say "heapscope trend (bounded, rounds 1-$rounds: the cache is full from round 1) ${trend_top[*]}"
"$tool" trend "${bounded_snaps[@]:1}" "${trend_top[@]}"
say "Growth per /leak request once the cache is full"
per_request bounded "$out/bounded.diff.json" $(((rounds - 1) * per_round)) flat
stop bounded

# ---- 5. next ----------------------------------------------------------------
say "Next, try:"
tool="$(cd "$build" && pwd)/tools/heapscope"  # absolute: the reader may be elsewhere
cat <<EOF
  xdg-open $out/leaky.html                                  # the report: open it in a browser (file://, no server)
  $tool report $last --top 10
  $tool diff $first $last --top 10 --json
  $tool export $last --format svg -o $out/leaky.svg         # a flame graph; open it in a browser
  $tool export $last --base $first --format pprof -o $out/leaky.pb.gz
  go tool pprof -top $out/leaky.pb.gz                      # or: go tool pprof -http=:8080 $out/leaky.pb.gz
  $tool run --out /tmp/mine -- ./your_program              # your own program
The story, with this output explained: docs/leak-guide.md
EOF
