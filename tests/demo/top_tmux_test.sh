#!/usr/bin/env bash
# top_tmux_test.sh -- `heapscope top` as a person sees it: in a detached tmux
# session of a fixed size (160x50, a shell in it), on the demo's leaky server
# (under `heapscope run`, on a free 127.0.0.1 port); read with
# `tmux capture-pane -p`: the cache insert (demo/cache.cpp, the line marked
# '// the leak: never erased') shows in "top sites by growth" and grows while
# /leak is driven; `q` quits and the pane shows the shell again (the
# alternate screen left, the terminal restored: typed text echoes); Ctrl-C too.
# Usage: top_tmux_test.sh SOURCE_DIR HEAPSCOPE LEAKY_SERVER
set -uo pipefail
src="$1" hs="$2" server="$3"
tmp="$(mktemp -d /tmp/heapscope-top-XXXXXX)"
sock="hs-top-$$"
run_pid="" server_pid=""
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null
  for p in $server_pid $run_pid; do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
die() { echo "FAIL: $*" >&2; [ -f "$tmp/pane" ] && { echo "--- pane:" >&2; cat "$tmp/pane" >&2; }; exit 1; }
command -v tmux >/dev/null || die "tmux is not installed (it is in tests/packages.txt)"
line=$(grep -n '// the leak: never erased' "$src/demo/cache.cpp" | cut -d: -f1)
[ -n "$line" ] || die "demo/cache.cpp: no line marked '// the leak: never erased'"
site="cache.cpp:$line"

"$hs" run --out "$tmp/d" -- "$server" --port 0 >"$tmp/log" 2>"$tmp/err" &
run_pid=$!
listen=""
for _ in $(seq 100); do
  listen=$(grep -m1 'listening on http://127.0.0.1:' "$tmp/log" 2>/dev/null) && break
  sleep 0.1
done
[ -n "$listen" ] || { cat "$tmp/err" >&2; die "leaky_server did not start"; }
port=$(sed -E 's|.*http://127.0.0.1:([0-9]+).*|\1|' <<<"$listen")
server_pid=$(sed -E 's|.*pid ([0-9]+)\).*|\1|' <<<"$listen")

capture() { tmux -L "$sock" capture-pane -p -t top >"$tmp/pane"; }
# wait_for REGEX TRIES: polls the pane every 0.1 s.
wait_for() {
  for _ in $(seq "$2"); do
    capture
    grep -Eq -- "$1" "$tmp/pane" && return 0
    sleep 0.1
  done
  return 1
}
# The growth (in bytes) of the cache site in the growth table, "" if absent.
growth() {
  capture
  python3 - "$tmp/pane" "$site" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
units = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
try:
    start = lines.index("top sites by growth since the view started")
except ValueError:
    sys.exit(0)
for l in lines[start + 2:]:
    m = re.match(r"\s*\+([0-9.]+) (B|KiB|MiB|GiB)\s+\S+ \S+\s+(.*)", l)
    if m and sys.argv[2] in m.group(3):
        print(int(float(m.group(1)) * units[m.group(2)]))
        break
PY
}
leak() { curl -fsS --max-time 60 "http://127.0.0.1:$port/leak?n=[1-$1]" >/dev/null || die "curl /leak"; }

tmux -L "$sock" -f /dev/null new-session -d -s top -x 160 -y 50 "env -i PATH=/usr/bin:/bin TERM=xterm HOME=$tmp HISTFILE=/dev/null bash --norc --noprofile" ||
  die "tmux new-session"
tmux -L "$sock" send-keys -t top "PS1='shell\$ '" Enter
tmux -L "$sock" send-keys -t top "$hs top $server_pid --every 0.5" Enter
wait_for '^top sites by growth since the view started' 200 || die "heapscope top did not draw its screen"
grep -q "^heapscope top: pid $server_pid: " "$tmp/pane" || die "the header does not name pid $server_pid"
grep -Eq '; RSS [0-9.]+ (KiB|MiB|GiB)' "$tmp/pane" || die "no RSS on the screen"

leak 10
g1=""
for _ in $(seq 100); do g1=$(growth); [ -n "$g1" ] && break; sleep 0.1; done
[ -n "$g1" ] || die "after 10 x /leak, no growth line for $site"
[ "$g1" -ge $((5 << 20)) ] || die "after 10 x /leak, $site grew $g1 bytes, expected about 10 MiB"
leak 10
g2=""
for _ in $(seq 100); do g2=$(growth); [ -n "$g2" ] && [ "$g2" -gt "$g1" ] && break; sleep 0.1; done
[ -n "$g2" ] && [ "$g2" -gt "$g1" ] || die "after 10 more /leak, $site's growth stayed at $g1 bytes (now '$g2')"
[ "$g2" -ge $((15 << 20)) ] || die "after 20 x /leak, $site grew $g2 bytes, expected about 20 MiB"
grep -E "$site" "$tmp/pane" | grep -q 'std::map' || die "the cache line does not name its container std::map"
echo "growth of $site: $g1 -> $g2 bytes"

tmux -L "$sock" send-keys -t top q
wait_for '^shell\$ ?$' 50 || die "after q, the pane does not show the shell prompt"
grep -q 'heapscope top:' "$tmp/pane" && die "after q, the top screen is still in the pane"
tmux -L "$sock" send-keys -t top "echo typed-back" Enter
wait_for '^typed-back$' 50 || die "the terminal was not restored (no echo of typed input)"
grep -q 'shell\$ echo typed-back' "$tmp/pane" || die "typed text is not echoed"
echo "q quit heapscope top; the shell is back"

# Ctrl-C quits the same way.
tmux -L "$sock" send-keys -t top "clear; $hs top $server_pid --every 0.5" Enter
wait_for '^top sites by growth since the view started' 200 || die "heapscope top did not draw its screen the second time"
tmux -L "$sock" send-keys -t top C-c
wait_for '^shell\$ ?$' 50 || die "after Ctrl-C, the pane does not show the shell prompt"
grep -q 'heapscope top:' "$tmp/pane" && die "after Ctrl-C, the top screen is still in the pane"
echo "Ctrl-C quit heapscope top; the shell is back"

# Two views of many refreshes each took their snapshots in memory: nothing is
# under the server's snapshot prefix $tmp/d (heapscope run writes the exit
# snapshot only when the server exits, after this; the peak file is the
# profiler's own, HEAPSCOPE_PEAK, written as the heap grows).
left=$(find "$tmp" -maxdepth 1 -name "d.$server_pid.*" ! -name "d.$server_pid.peak.hsnap" | wc -l)
[ "$left" = 0 ] || die "heapscope top left $left files under the prefix $tmp/d.$server_pid.* (expected none: snapshot-fd)"
echo "no snapshot file left on disk"
