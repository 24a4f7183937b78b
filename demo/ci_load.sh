#!/usr/bin/env bash
# ci_load.sh MODE [ROUNDS] -- the demo as a CI leak test, for `heapscope check`:
#   heapscope check --interval 0.5 -- demo/ci_load.sh leaky     # exit 1: the cache keeps growing
#   heapscope check --interval 0.5 -- demo/ci_load.sh bounded   # exit 0: the cache stays at 4 entries
# Starts leaky_server --cache MODE (bounded with --max-entries 4) on
# 127.0.0.1 and a free port, sends ROUNDS (default 8) rounds of 4 GET /leak,
# each round after the server's next-but-one periodic snapshot (so each
# snapshot follows whole rounds, however slow the machine), then stops the
# server with SIGINT and exits with its status. Every wait is bounded.
# BUILD_DIR (default build/) holds demo/leaky_server.
set -euo pipefail
mode="${1:?usage: ci_load.sh leaky|bounded|ttl|weak [ROUNDS]}"
rounds="${2:-8}"
here="$(cd "$(dirname "$0")" && pwd)"
server="${BUILD_DIR:-$here/../build}/demo/leaky_server"
[ -x "$server" ] || { echo "ci_load.sh: $server is missing (build the leaky_server target, or set BUILD_DIR)" >&2; exit 64; }
prefix="${HEAPSCOPE_OUT:?ci_load.sh: HEAPSCOPE_OUT is unset: run it under heapscope check or heapscope run}"
extra=()
[ "$mode" = bounded ] && extra=(--max-entries 4)
log="$(mktemp "${TMPDIR:-/tmp}/ci_load.XXXXXX")"
"$server" --host 127.0.0.1 --port 0 --cache "$mode" "${extra[@]}" >"$log" 2>&1 &
pid=$!
unset LD_PRELOAD  # curl, sleep and the rest need no profiling (nor an exit snapshot each)
trap 'kill -KILL "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 300); do
  port="$(sed -nE 's|.*listening on http://[^:]+:([0-9]+).*|\1|p' "$log" | head -n1)"
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$log" >&2; echo "ci_load.sh: leaky_server did not start" >&2; exit 65; }
# snapshots: how many periodic snapshots of the server exist now.
snapshots() { compgen -G "$prefix.$pid.[0-9]*.hsnap" | wc -l; }
# wait_for N: until the server has written N periodic snapshots (at most 60 s).
wait_for() {
  for _ in $(seq 600); do
    [ "$(snapshots)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "ci_load.sh: the server wrote no periodic snapshot in 60 s (is HEAPSCOPE_INTERVAL set?)" >&2
  exit 66
}
wait_for 1  # the baseline, before any request
for _ in $(seq "$rounds"); do
  curl -fsS --max-time 60 "http://127.0.0.1:$port/leak?n=[1-4]" >/dev/null
  wait_for $(( $(snapshots) + 2 ))
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
trap 'rm -f "$log"' EXIT
exit "$rc"
