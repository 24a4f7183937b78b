#!/usr/bin/env bash
# demo_snapshots.sh HEAPSCOPE LIB LEAKY_SERVER DIR -- the walkthrough's series for the HTML
# report tests: the demo leaky server under `heapscope run --interval 0.5` on 127.0.0.1 (a free
# port), 12 x /leak a quarter second apart, then SIGINT; leaves DIR/d.PID.*.hsnap. Bounded:
# every wait is a count. The server is killed on any exit of this script.
set -uo pipefail
hs="$1" lib="$2" server="$3" dir="$4"
mkdir -p "$dir"
run_pid=""
trap '[ -n "$run_pid" ] && kill -KILL "$run_pid" 2>/dev/null; pkill -KILL -P "$run_pid" 2>/dev/null; true' EXIT
HEAPSCOPE_LIB="$lib" "$hs" run --out "$dir/d" --interval 0.5 -- "$server" --port 0 --monitor 0 \
  >"$dir/server.log" 2>"$dir/server.err" &
run_pid=$!
listen=""
for _ in $(seq 100); do
  listen=$(grep -m1 -o 'http://127.0.0.1:[0-9]*' "$dir/server.log" 2>/dev/null) && break
  sleep 0.1
done
[ -n "$listen" ] || { cat "$dir/server.err" >&2; echo "FAIL: leaky_server did not start" >&2; exit 1; }
server_pid=$(grep -m1 -o 'pid [0-9]*' "$dir/server.log" | cut -d' ' -f2)
sleep 1  # two flat snapshots before the load
for _ in $(seq 12); do
  curl -fsS --max-time 30 "$listen/leak" >/dev/null || { echo "FAIL: curl $listen/leak" >&2; exit 1; }
  sleep 0.25
done
sleep 1  # two flat ones after it
kill -INT "$server_pid"
wait "$run_pid"
run_pid=""
ls "$dir"/d.*.0003.hsnap >/dev/null || { echo "FAIL: no periodic snapshots in $dir" >&2; exit 1; }
