#!/usr/bin/env bash
# bench/serve_cost.sh -- what a scraping `heapscope serve` costs the program it serves (issue 13):
# the demo server under wrk, in paired rounds, three ways:
#   glibc          leaky_server alone
#   sampled        leaky_server preloaded in sampled mode (HEAPSCOPE_SAMPLE=512K), no agent
#   serve-sampled  HEAPSCOPE_SAMPLE=512K heapscope serve -- leaky_server, and a scraper that
#                  GETs /metrics and /debug/pprof/heap every SCRAPE_EVERY s (Prometheus' and
#                  Pyroscope's default 15 s) while wrk runs
# Each run: leaky_server --cache bounded (memory stays flat), `wrk -t1 -c4 -dSECONDS` on /leak
# (~1 MiB stored per request); requests/s, p99, the server's CPU per 1000 requests, and in
# serve-sampled the agent's own CPU and peak RSS. Ratios are medians of per-round ratios, the
# order of the configs rotating per round. Both sampled configs run the target the way serve
# starts it (HEAPSCOPE_THREAD=always, HEAPSCOPE_AT_EXIT=0, HEAPSCOPE_PEAK=0), so the ratio
# between them is the agent's scraping alone.
# Then the soak: HEAPSCOPE_SAMPLE=512K heapscope serve --window-interval 1 --window 20 over the
# bounded server under a light load (one /leak every 0.2 s), /metrics and /debug/pprof/heap
# fetched every SOAK_SCRAPE_EVERY s for SOAK_SECONDS; the agent's RSS every 10 s.
# Nothing here is a test.
#
# Usage: bench/serve_cost.sh [--doc]   (--doc: replace the serve-cost section of docs/benchmarks.md)
# Env: BUILD_DIR=build  ROUNDS=5  SECONDS_PER_RUN=20  SCRAPE_EVERY=15  SOAK_SECONDS=180
#      SOAK_SCRAPE_EVERY=1  RESULTS_DIR=bench/results/serve
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
DOC_OUT=0
if [ "${1:-}" = "--doc" ]; then DOC_OUT=1; shift; fi
BUILD_DIR="${BUILD_DIR:-build}"
ROUNDS="${ROUNDS:-5}" SECS="${SECONDS_PER_RUN:-20}" SCRAPE_EVERY="${SCRAPE_EVERY:-15}"
SOAK_SECONDS="${SOAK_SECONDS:-180}" SOAK_SCRAPE_EVERY="${SOAK_SCRAPE_EVERY:-1}"
RESULTS="${RESULTS_DIR:-bench/results/serve}"
SAMPLE=512K
B="$(cd "$BUILD_DIR" && pwd)"
SERVER="$B/demo/leaky_server" LIB="$B/profiler/libheapscope.so" TOOL="$B/tools/heapscope"
for f in "$SERVER" "$LIB" "$TOOL"; do
  [ -e "$f" ] || { echo "bench/serve_cost.sh: $f missing (cmake --build $BUILD_DIR --target leaky_server heapscope heapscope_cli)" >&2; exit 1; }
done
for cmd in wrk curl python3; do
  command -v "$cmd" >/dev/null || { echo "bench/serve_cost.sh: $cmd not installed (tests/deps.sh bench/packages.txt)" >&2; exit 1; }
done
mkdir -p "$RESULTS"
WORK="$(mktemp -d /tmp/hs-servebench.XXXXXX)"
CSV="$RESULTS/serve.csv"
echo "round,config,rps,p99_ms,requests,server_cpu_s,agent_cpu_s,agent_hwm_kb,scrapes,scrape_failures" > "$CSV"
log() { echo "bench: $*" >&2; }

PIDS=()  # everything started here, stopped on exit whatever happens
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }'; }

# stop PID: SIGINT (the demo's clean shutdown; serve's too), then SIGTERM, then SIGKILL.
stop() {
  local pid=$1 i
  kill -INT "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { kill -TERM "$pid" 2>/dev/null || true; sleep 2; }
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

WRK_EXTRA=()
LAST_RPS=0
run_one() {  # CONFIG ROUND [PATH SECONDS]: round 0 is the keep-alive probe and is not recorded
  local cfg=$1 round=$2 path=${3:-/leak} secs=${4:-$SECS} dir="$WORK/$1.$2" agent_port="" i
  rm -rf "$dir"; mkdir -p "$dir"
  local args=(--port 0 --cache bounded --monitor 0)
  case "$cfg" in
    glibc) "$SERVER" "${args[@]}" >"$dir/stdout" 2>"$dir/stderr" & ;;
    sampled) env LD_PRELOAD="$LIB" HEAPSCOPE_OUT="$dir/hs" HEAPSCOPE_THREAD=always HEAPSCOPE_AT_EXIT=0 \
               HEAPSCOPE_PEAK=0 HEAPSCOPE_SAMPLE=$SAMPLE \
               "$SERVER" "${args[@]}" >"$dir/stdout" 2>"$dir/stderr" & ;;
    serve-sampled)
      agent_port=$(free_port)
      env HEAPSCOPE_SAMPLE=$SAMPLE "$TOOL" serve --listen "127.0.0.1:$agent_port" --service bench \
        -- "$SERVER" "${args[@]}" >"$dir/stdout" 2>"$dir/stderr" & ;;
  esac
  local top_pid=$! port="" pid=""
  PIDS+=("$top_pid")
  for i in $(seq 1 150); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) (.*pid \([0-9]*\)).*/\1/p' "$dir/stdout" | head -1)
    pid=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) (.*pid \([0-9]*\)).*/\2/p' "$dir/stdout" | head -1)
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
    port=""
    sleep 0.1
  done
  if [ -z "$port" ]; then log "$cfg: leaky_server did not start: $(tail -c 300 "$dir/stderr")"; stop "$top_pid"; return; fi
  if [ -n "$agent_port" ]; then
    for i in $(seq 1 150); do curl -fs "http://127.0.0.1:$agent_port/metrics" >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  local s0 a0 scraper=""
  s0=$(ticks "$pid"); a0=$( [ -n "$agent_port" ] && ticks "$top_pid" || echo 0)
  if [ -n "$agent_port" ]; then
    # The scraper: what Prometheus and Pyroscope would fetch, every SCRAPE_EVERY s, bounded.
    ( n=0 bad=0
      for i in $(seq 1 $(( secs / SCRAPE_EVERY + 1 ))); do
        curl -fs -o /dev/null --max-time 10 "http://127.0.0.1:$agent_port/metrics" || bad=$((bad + 1))
        curl -fs -o /dev/null --max-time 10 "http://127.0.0.1:$agent_port/debug/pprof/heap" || bad=$((bad + 1))
        n=$((n + 1)); echo "$n $bad" > "$dir/scrapes"
        sleep "$SCRAPE_EVERY"
      done ) &
    scraper=$!
    PIDS+=("$scraper")
  fi
  wrk -t1 -c4 -d"${secs}s" --latency "${WRK_EXTRA[@]}" "http://127.0.0.1:$port$path" >"$dir/wrk" 2>&1 || true
  [ -n "$scraper" ] && { kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; }
  local s1 a1 hwm=""
  s1=$(ticks "$pid"); a1=$( [ -n "$agent_port" ] && ticks "$top_pid" || echo 0)
  [ -n "$agent_port" ] && hwm=$(awk '/^VmHWM/{print $2}' "/proc/$top_pid/status")
  stop "$top_pid"
  if kill -0 "$pid" 2>/dev/null; then stop "$pid"; fi
  local rps p99 reqs scrapes=0 bad=0
  rps=$(awk '/^Requests\/sec:/{print $2}' "$dir/wrk")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$dir/wrk")
  reqs=$(awk '/requests in/{print $1}' "$dir/wrk")
  [ -e "$dir/scrapes" ] && read -r scrapes bad < "$dir/scrapes"
  LAST_RPS=${rps:-0}
  if [ "$round" = 0 ]; then log "probe $path: ${rps:-?} req/s"; return; fi
  echo "$round,$cfg,${rps:-},${p99:-},${reqs:-},$(cpu_s "$s0" "$s1"),$( [ -n "$agent_port" ] && cpu_s "$a0" "$a1"),${hwm},$scrapes,$bad" >> "$CSV"
  log "$cfg r$round: ${rps:-?} req/s, p99 ${p99:-?} ms, server cpu $(cpu_s "$s0" "$s1") s, scrapes $scrapes ($bad failed)"
}

# The same probe as bench/run.sh: keep-alive responses that stall on Nagle + delayed ACK would
# measure TCP timers; then wrk sends "Connection: close".
run_one glibc 0 /status 1
WRK_MODE=keep-alive
if awk -v r="$LAST_RPS" 'BEGIN { exit !(r < 1000) }'; then WRK_EXTRA=(-H "Connection: close"); WRK_MODE=connection-close; fi
log "wrk: $WRK_MODE"
CONFIGS=(glibc sampled serve-sampled)
for round in $(seq 1 "$ROUNDS"); do
  for k in 0 1 2; do run_one "${CONFIGS[$(( (k + round) % 3 ))]}" "$round"; done
done

# The soak: the agent's RSS while it is scraped every SOAK_SCRAPE_EVERY s and its own window
# (20 snapshots, one a second) turns over many times.
SOAK_CSV="$RESULTS/soak.csv"
echo "t_s,agent_rss_kb,server_rss_kb,scrapes,scrape_failures" > "$SOAK_CSV"
soak() {
  local dir="$WORK/soak" agent_port port="" pid="" i top_pid loader scraper
  mkdir -p "$dir"
  agent_port=$(free_port)
  env HEAPSCOPE_SAMPLE=$SAMPLE "$TOOL" serve --listen "127.0.0.1:$agent_port" --service soak \
    --window-interval 1 --window 20 -- "$SERVER" --port 0 --cache bounded --monitor 0 \
    >"$dir/stdout" 2>"$dir/stderr" &
  top_pid=$!
  PIDS+=("$top_pid")
  for i in $(seq 1 150); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) (.*pid \([0-9]*\)).*/\1/p' "$dir/stdout" | head -1)
    pid=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\) (.*pid \([0-9]*\)).*/\2/p' "$dir/stdout" | head -1)
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$agent_port/metrics" >/dev/null 2>&1 && break
    port=""
    sleep 0.1
  done
  if [ -z "$port" ]; then log "soak: the agent did not start: $(tail -c 300 "$dir/stderr")"; stop "$top_pid"; return; fi
  ( for i in $(seq 1 $(( SOAK_SECONDS * 5 ))); do
      curl -fs -o /dev/null --max-time 10 "http://127.0.0.1:$port/leak" || true
      sleep 0.2
    done ) &
  loader=$!
  PIDS+=("$loader")
  ( n=0 bad=0
    for i in $(seq 1 $(( SOAK_SECONDS / SOAK_SCRAPE_EVERY ))); do
      curl -fs -o /dev/null --max-time 10 "http://127.0.0.1:$agent_port/metrics" || bad=$((bad + 1))
      curl -fs -o /dev/null --max-time 10 "http://127.0.0.1:$agent_port/debug/pprof/heap" || bad=$((bad + 1))
      n=$((n + 1)); echo "$n $bad" > "$dir/scrapes"
      sleep "$SOAK_SCRAPE_EVERY"
    done ) &
  scraper=$!
  PIDS+=("$scraper")
  local t=0 n=0 bad=0 rss srss
  while [ "$t" -le "$SOAK_SECONDS" ]; do
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$top_pid/status" 2>/dev/null || echo "")
    srss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo "")
    [ -e "$dir/scrapes" ] && read -r n bad < "$dir/scrapes"
    echo "$t,$rss,$srss,$n,$bad" >> "$SOAK_CSV"
    log "soak t=${t}s: agent RSS ${rss:-?} kB, server RSS ${srss:-?} kB, $n scrapes ($bad failed)"
    sleep 10
    t=$((t + 10))
  done
  kill "$scraper" "$loader" 2>/dev/null || true
  wait "$scraper" "$loader" 2>/dev/null || true
  stop "$top_pid"
  if kill -0 "$pid" 2>/dev/null; then stop "$pid"; fi
}
if [ "$SOAK_SECONDS" -gt 0 ]; then soak; fi

MD="$RESULTS/serve.md"
python3 - "$CSV" "$ROUNDS" "$SECS" "$SCRAPE_EVERY" "$WRK_MODE" "$SOAK_CSV" "$SOAK_SCRAPE_EVERY" > "$MD" <<'EOF'
import csv, statistics, sys
path, rounds, secs, every, mode, soak_path, soak_every = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
by = {(r["round"], r["config"]): r for r in rows}
rounds_ok = sorted({r["round"] for r in rows if all((r["round"], c) in by and by[(r["round"], c)]["rps"]
                                                    for c in ("glibc", "sampled", "serve-sampled"))}, key=int)
def med(cfg, key):
    v = [float(by[(r, cfg)][key]) for r in rounds_ok if by[(r, cfg)][key]]
    return statistics.median(v) if v else float("nan")
def ratio(cfg, base, key="rps"):
    v = sorted(float(by[(r, cfg)][key]) / float(by[(r, base)][key]) for r in rounds_ok)
    return f"{statistics.median(v):.3f} [{v[0]:.3f}-{v[-1]:.3f}]" if v else "n/a"
print("| server | requests/s | vs glibc | vs sampled, no agent | p99 latency | server CPU per 1000 requests | agent CPU | agent peak RSS |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
names = {"glibc": "no profiler", "sampled": "heapscope sampled 512 KiB, no agent",
         "serve-sampled": f"the same under `heapscope serve`, scraped every {every} s"}
for cfg in ("glibc", "sampled", "serve-sampled"):
    cpu_per_k = statistics.median(float(by[(r, cfg)]["server_cpu_s"]) * 1e6 / float(by[(r, cfg)]["requests"])
                                  for r in rounds_ok) if rounds_ok else float("nan")
    agent = (f"{med(cfg, 'agent_cpu_s'):.2f} s per {secs} s run", f"{med(cfg, 'agent_hwm_kb') / 1024:.1f} MiB") \
        if cfg == "serve-sampled" else ("", "")
    print(f"| {names[cfg]} | {med(cfg, 'rps'):,.0f} | {ratio(cfg, 'glibc') if cfg != 'glibc' else '1.000'} | "
          f"{ratio(cfg, 'sampled') if cfg == 'serve-sampled' else ''} | {med(cfg, 'p99_ms'):.2f} ms | "
          f"{cpu_per_k:.1f} ms | {agent[0]} | {agent[1]} |")
scrapes = [int(by[(r, "serve-sampled")]["scrapes"]) for r in rounds_ok]
failed = sum(int(by[(r, "serve-sampled")]["scrape_failures"]) for r in rounds_ok)
print()
print(f"{len(rounds_ok)} rounds of {secs} s each (`wrk -t1 -c4 -d{secs}s --latency`, {mode}); in each "
      f"serve-sampled run the scraper fetched /metrics and /debug/pprof/heap {min(scrapes, default=0)}-"
      f"{max(scrapes, default=0)} times ({failed} failures). Ratios are medians of per-round ratios, "
      "the range over rounds in brackets.")
soak = [r for r in csv.DictReader(open(soak_path)) if r["agent_rss_kb"]]
if soak:
    mib = lambda kb: f"{int(kb) / 1024:.1f}"
    last = soak[-1]
    print()
    print(f"Soak: `HEAPSCOPE_SAMPLE=512K heapscope serve --window-interval 1 --window 20 -- leaky_server "
          f"--cache bounded`, one /leak every 0.2 s, `/metrics` and `/debug/pprof/heap` fetched every "
          f"{soak_every} s for {last['t_s']} s ({last['scrapes']} scrapes of each, {last['scrape_failures']} "
          "failures). The agent's RSS (MiB), every 10 s:")
    print()
    print("| t (s) | " + " | ".join(r["t_s"] for r in soak) + " |")
    print("| --- | " + " | ".join("---" for _ in soak) + " |")
    print("| agent RSS | " + " | ".join(mib(r["agent_rss_kb"]) for r in soak) + " |")
    print("| server RSS | " + " | ".join(mib(r["server_rss_kb"]) if r["server_rss_kb"] else "" for r in soak) + " |")
    print()
    first_full = next((r for r in soak if int(r["t_s"]) >= 30), soak[0])
    print(f"From {first_full['t_s']} s on (the window full): agent RSS {mib(min(int(r['agent_rss_kb']) for r in soak if int(r['t_s']) >= int(first_full['t_s'])))}-"
          f"{mib(max(int(r['agent_rss_kb']) for r in soak))} MiB, at the end {mib(last['agent_rss_kb'])} MiB.")
EOF
cat "$MD"
if [ "$DOC_OUT" = 1 ]; then
  DOC=docs/benchmarks.md
  python3 - "$DOC" "$MD" <<'EOF'
import datetime, re, subprocess, sys
doc, md = sys.argv[1:]
text = open(doc).read()
begin = "<!-- serve-cost: written by bench/serve_cost.sh --doc; bench/report.py keeps it -->"
end = "<!-- /serve-cost -->"
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
body = (f"{begin}\n## A scraping agent: `heapscope serve` (issue 13)\n\n"
        "`leaky_server --cache bounded` under wrk on /leak, as in \"The demo server under wrk\", three ways in "
        "paired rounds by `bench/serve_cost.sh`: alone, preloaded in sampled mode, and in sampled mode under "
        "`heapscope serve` with a scraper fetching `/metrics` and `/debug/pprof/heap` every 15 s (the "
        "interval of docs/fleet.md's Prometheus config, and Alloy's default), its own window a snapshot "
        "every 15 s (serve's default). Both sampled runs start the server as serve does "
        "(`HEAPSCOPE_THREAD=always`, no exit or peak files). wrk, the server and the agent share the 2 CPUs. "
        f"Measured {datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')} at commit {commit} "
        f"(load average {' '.join(load)} at the end: other sessions shared the CPUs).\n\n"
        f"{open(md).read()}{end}\n")
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end) + "\n?", lambda m: body, text, flags=re.S)
else:
    i = text.find("\n## Notes on the method")
    text = text[:i + 1] + body + "\n" + text[i + 1:] if i >= 0 else text.rstrip("\n") + "\n\n" + body
open(doc, "w").write(text)
EOF
  log "wrote the serve-cost section of $DOC"
fi
