#!/usr/bin/env bash
# bench/run.sh -- heapscope's benchmarks beside heaptrack, gperftools, jemalloc and massif
# (issue 5). Installs the peers (tests/deps.sh + bench/packages.txt), builds, runs every
# workload under every profiler in paired runs (baseline and profiled alternating, rounds
# outermost so machine noise spreads over all profilers), times each profiler's analysis
# step on the same output, runs the micro-benchmarks, and writes docs/benchmarks.md and
# docs/benchmarks.png through bench/report.py from the CSVs in bench/results/.
#
# Usage: bench/run.sh [--quick] [--no-deps] [--no-build]
#   --quick   ~1-minute smoke run: tiny sizes, one pair, writes bench/results/quick/ only
# Env (full-run defaults): BUILD_DIR=build  PAIRS=5  LOOP_N=3000000 (iterations per thread)
#   SQL_ROWS=200000  REDUCE=10 (gperftools, jemalloc full and massif run at 1/REDUCE size,
#   paired with a baseline of that size)  SERVER_SECONDS=10  SERVER_ROUNDS=2
#   RESULTS_DIR=bench/results/full  DOC=docs/benchmarks.md
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"

QUICK=0 DEPS=1 BUILD=1
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-deps) DEPS=0 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument '$arg' (expected --quick, --no-deps, --no-build)" >&2; exit 2 ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  : "${PAIRS:=1}" "${LOOP_N:=100000}" "${SQL_ROWS:=10000}" "${REDUCE:=5}" "${SERVER_SECONDS:=2}"
  : "${SERVER_ROUNDS:=1}" "${RESULTS_DIR:=bench/results/quick}" "${DOC:=bench/results/quick/benchmarks.md}"
  : "${MICRO_MIN_TIME:=0.01}" "${MICRO_REPS:=1}"
else
  : "${PAIRS:=5}" "${LOOP_N:=3000000}" "${SQL_ROWS:=200000}" "${REDUCE:=10}" "${SERVER_SECONDS:=10}"
  : "${SERVER_ROUNDS:=2}" "${RESULTS_DIR:=bench/results/full}" "${DOC:=docs/benchmarks.md}"
  : "${MICRO_MIN_TIME:=0.1}" "${MICRO_REPS:=3}"
fi
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"
SAMPLE=524288

log() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

# ---- dependencies and build -------------------------------------------------------------
if [ "$DEPS" = 1 ]; then
  ./tests/deps.sh tests/packages.txt bench/packages.txt
fi
for tool in heaptrack heaptrack_print google-pprof jeprof valgrind ms_print wrk gnuplot sqlite3 curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (install bench/packages.txt: tests/deps.sh bench/packages.txt)"
done

if [ "$BUILD" = 1 ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEAPSCOPE_BUILD_BENCH=ON >/dev/null
  targets=(bench_timeit alloc_loop alloc_loop_fp forward_shim snapshot_load heapscope heapscope_cli leaky_server bench_hook bench_capture bench_tables)
  if ! cmake --build "$BUILD_DIR" -j"$JOBS" --target "${targets[@]}" >/dev/null 2>&1; then
    # Build what builds; whatever is missing is reported as skipped in the doc.
    for t in "${targets[@]}"; do
      cmake --build "$BUILD_DIR" -j"$JOBS" --target "$t" >/dev/null 2>&1 || log "target $t did not build; skipped"
    done
  fi
fi
B="$(cd "$BUILD_DIR" && pwd)"
LOOP="$B/bench/alloc_loop"
LOOP_FP="$B/bench/alloc_loop_fp"
SHIM="$B/bench/forward_shim.so"
SNAPLOAD="$B/bench/snapshot_load"
HS_LIB="$B/profiler/libheapscope.so"
HS_CLI="$B/tools/heapscope"
SERVER="$B/demo/leaky_server"
TIMEIT="$B/bench/bench_timeit"
[ -x "$TIMEIT" ] || die "$TIMEIT was not built (cmake --build $BUILD_DIR --target bench_timeit)"
[ -x "$LOOP" ] || die "$LOOP was not built (cmake --build $BUILD_DIR --target alloc_loop)"

libdir=/usr/lib/x86_64-linux-gnu
TCMALLOC="$libdir/libtcmalloc.so.4"
JEMALLOC="$libdir/libjemalloc.so.2"
[ -e "$TCMALLOC" ] || die "$TCMALLOC missing (package libgoogle-perftools4 / libgoogle-perftools-dev)"
[ -e "$JEMALLOC" ] || die "$JEMALLOC missing (package libjemalloc2)"

mkdir -p "$RESULTS_DIR"
RESULTS="$(cd "$RESULTS_DIR" && pwd)"
WORK="$RESULTS/work"
rm -rf "$WORK" && mkdir -p "$WORK"
RUNS="$RESULTS/runs.csv" ANALYSIS="$RESULTS/analysis.csv" SERVERCSV="$RESULTS/server.csv" META="$RESULTS/meta.txt"
echo "workload,pair,role,round,size,wall_s,cpu_s,maxrss_kb,out_bytes,exit,output_ok" > "$RUNS"
echo "workload,pair,tool,analysis_s,exit,input_bytes" > "$ANALYSIS"
rm -f "$RESULTS"/totals-*.json
echo "config,round,requests_per_s,p99_ms,cpu_s,maxrss_kb,requests,out_bytes" > "$SERVERCSV"

# ---- what works on this machine ---------------------------------------------------------
HAVE_HS=0
if [ -e "$HS_LIB" ]; then
  d="$WORK/hs-check"; mkdir -p "$d"
  if LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$d/hs" /bin/ls / >/dev/null 2>&1 && ls "$d"/hs.*.exit.hsnap >/dev/null 2>&1; then
    HAVE_HS=1
  else
    log "$HS_LIB does not write an exit snapshot; heapscope columns skipped"
  fi
else
  log "$HS_LIB not built; heapscope columns skipped"
fi
HAVE_HS_FP=0
if [ "$HAVE_HS" = 1 ] && [ -x "$LOOP_FP" ]; then
  d="$WORK/hs-fp-check"; mkdir -p "$d"
  if LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$d/hs" HEAPSCOPE_UNWIND=fp "$LOOP_FP" -n 1000 >/dev/null 2>"$d/err" \
     && ! grep -qi "unwind" "$d/err"; then
    HAVE_HS_FP=1
  fi
fi
HAVE_CLI=0; [ -x "$HS_CLI" ] && HAVE_CLI=1
HAVE_JE_PROF=0
d="$WORK/je-check"; mkdir -p "$d"
if LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,prof_prefix:$d/je" /bin/true 2>"$d/err" \
   && ls "$d"/je.*.heap >/dev/null 2>&1; then
  HAVE_JE_PROF=1
else
  log "Debian's jemalloc has no profiling here ($(head -c 200 "$d/err")); jemalloc prof columns left empty"
fi
HAVE_SERVER=0; [ -x "$SERVER" ] && HAVE_SERVER=1

# ---- inputs -------------------------------------------------------------------------------
SQL_DIR="$WORK/sqlite-$SQL_ROWS"; mkdir -p "$SQL_DIR"
python3 bench/workloads/sqlite_load.py "$SQL_ROWS" "$SQL_DIR"
SQL_ROWS_R=$((SQL_ROWS / REDUCE))
SQL_DIR_R="$WORK/sqlite-$SQL_ROWS_R"; mkdir -p "$SQL_DIR_R"
python3 bench/workloads/sqlite_load.py "$SQL_ROWS_R" "$SQL_DIR_R"
LOOP_N_R=$((LOOP_N / REDUCE))

# Pairs: name -> baseline config, and whether it runs at the reduced size.
PAIR_NAMES=()
[ "$HAVE_HS" = 1 ] && PAIR_NAMES+=(heapscope heapscope-sampled heapscope-hooks)
# The floor any preload profiler pays: forwarding alone (what sampled mode is measured against).
[ -e "$SHIM" ] && PAIR_NAMES+=(forward-shim)
[ "$HAVE_HS_FP" = 1 ] && PAIR_NAMES+=(heapscope-fp)
PAIR_NAMES+=(heaptrack gperftools)
[ "$HAVE_JE_PROF" = 1 ] && PAIR_NAMES+=(jemalloc-prof jemalloc-sampled)
PAIR_NAMES+=(massif)
baseline_of() {
  case "$1" in
    gperftools) echo tcmalloc ;;
    jemalloc-prof|jemalloc-sampled) echo jemalloc ;;
    *) echo glibc ;;
  esac
}
reduced() { case "$1" in gperftools|jemalloc-prof|massif) return 0 ;; *) return 1 ;; esac; }
WORKLOADS=(loop1 loop2 sqlite)

# The command of a workload at a size (sets CMD and STDIN); heapscope-fp uses the fp build.
workload_cmd() {  # WORKLOAD PAIR REDUCED(0/1)
  local wl=$1 pair=$2 red=$3 bin="$LOOP" n="$LOOP_N"
  [ "$pair" = heapscope-fp ] && bin="$LOOP_FP"
  [ "$red" = 1 ] && n="$LOOP_N_R"
  STDIN=/dev/null
  case "$wl" in
    loop1) CMD=("$bin" -t 1 -n "$n"); SIZE="$n" ;;
    loop2) CMD=("$bin" -t 2 -n "$n"); SIZE="$n" ;;
    sqlite)
      CMD=(/usr/bin/sqlite3 :memory:)
      if [ "$red" = 1 ]; then STDIN="$SQL_DIR_R/load.sql"; SIZE="$SQL_ROWS_R"; else STDIN="$SQL_DIR/load.sql"; SIZE="$SQL_ROWS"; fi ;;
  esac
}

# The wrapper that puts a config around a command, writing into DIR (sets PRE).
config_prefix() {  # CONFIG DIR
  local cfg=$1 dir=$2
  case "$cfg" in
    glibc) PRE=() ;;
    heapscope) PRE=(env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$dir/hs") ;;
    heapscope-sampled) PRE=(env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$dir/hs" HEAPSCOPE_SAMPLE="$SAMPLE") ;;
    heapscope-fp) PRE=(env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$dir/hs" HEAPSCOPE_UNWIND=fp) ;;
    # Sampling so sparse (one sample per 1 TiB on average) that only the hooks' own cost is left.
    heapscope-hooks) PRE=(env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$dir/hs" HEAPSCOPE_SAMPLE=1024G) ;;
    forward-shim) PRE=(env LD_PRELOAD="$SHIM") ;;
    heaptrack) PRE=(heaptrack -o "$dir/ht") ;;
    tcmalloc) PRE=(env LD_PRELOAD="$TCMALLOC") ;;
    # One profile at exit, like the others (the default also dumps every 1 GiB allocated).
    gperftools) PRE=(env LD_PRELOAD="$TCMALLOC" HEAPPROFILE="$dir/gp" HEAP_PROFILE_ALLOCATION_INTERVAL=0) ;;
    jemalloc) PRE=(env LD_PRELOAD="$JEMALLOC") ;;
    jemalloc-prof) PRE=(env LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,lg_prof_sample:0,prof_final:true,prof_prefix:$dir/je") ;;
    jemalloc-sampled) PRE=(env LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,prof_prefix:$dir/je") ;;
    massif) PRE=(valgrind --tool=massif --massif-out-file="$dir/massif.out") ;;
    *) die "unknown config $cfg" ;;
  esac
}

declare -A EXPECTED  # workload/size -> md5 of the baseline's stdout

run_one() {  # WORKLOAD PAIR ROLE ROUND
  local wl=$1 pair=$2 role=$3 round=$4 red=0 cfg
  reduced "$pair" && red=1
  if [ "$role" = base ]; then cfg=$(baseline_of "$pair"); else cfg=$pair; fi
  workload_cmd "$wl" "$pair" "$red"
  local dir="$WORK/$wl.$pair.$role.$round"
  rm -rf "$dir"; mkdir -p "$dir/out"
  config_prefix "$cfg" "$dir/out"
  local status=0
  "$TIMEIT" "$dir/time" "${PRE[@]}" "${CMD[@]}" <"$STDIN" >"$dir/stdout" 2>"$dir/stderr" || status=$?
  local wall="" user="" sys="" rss="" code=""
  read -r wall user sys rss code < "$dir/time" || true
  local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
  local out_bytes; out_bytes=$(find "$dir/out" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  # Every run must compute what the plain run computed (the ledger / query results).
  local key="$wl/$SIZE/$([ "$pair" = heapscope-fp ] && echo fp)" sum ok=1
  # Only the program's own lines: alloc_loop's ledger, sqlite3's result rows (heaptrack
  # prints its own messages on stdout too).
  sum=$(grep -E '^alloc_loop: |^[A-Za-z0-9.]+(\|[A-Za-z0-9.]+)*$' "$dir/stdout" | md5sum | cut -d' ' -f1)
  if [ -z "${EXPECTED[$key]:-}" ]; then EXPECTED[$key]=$sum; fi
  [ "$sum" = "${EXPECTED[$key]}" ] || ok=0
  [ "$status" = 0 ] || { ok=0; log "$wl $cfg round $round exited $status: $(tail -c 300 "$dir/stderr" | tr '\n' ' ')"; }
  echo "$wl,$pair,$role,$round,$SIZE,$wall,$cpu,$rss,$out_bytes,$status,$ok" >> "$RUNS"
  printf 'bench: %-7s %-17s %-4s r%d  wall %6ss  cpu %6ss  rss %7s KiB  out %9s B%s\n' \
    "$wl" "$cfg" "$role" "$round" "$wall" "$cpu" "$rss" "$out_bytes" "$([ $ok = 1 ] || echo '  OUTPUT MISMATCH')" >&2
  # Keep only the last round's output: the analysis step reads it.
  [ "$round" = "$PAIRS" ] || { [ "$pair" = massif ] && [ "$round" = "$LAST_MASSIF" ]; } || rm -rf "$dir/out"
}

cpu_jiffies() { awk '/^cpu /{ s = 0; for (i = 2; i <= 9; i++) s += $i; print s - $5 - $6 }' /proc/stat; }

# ---- the machine -------------------------------------------------------------------------
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cpus=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "glibc=$(ldd --version | head -1 | awk '{print $NF}')"
  echo "heaptrack=$(dpkg-query -W -f='${Version}' heaptrack)"
  echo "gperftools=$(dpkg-query -W -f='${Version}' libgoogle-perftools-dev)"
  echo "jemalloc=$(dpkg-query -W -f='${Version}' libjemalloc2)"
  echo "valgrind=$(dpkg-query -W -f='${Version}' valgrind)"
  echo "sqlite3=$(dpkg-query -W -f='${Version}' sqlite3)"
  echo "heapscope_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "heapscope_uncommitted=$(git status --porcelain -- profiler tools 2>/dev/null | wc -l)"
  echo "quick=$QUICK pairs=$PAIRS loop_n=$LOOP_N loop_n_reduced=$LOOP_N_R sql_rows=$SQL_ROWS sql_rows_reduced=$SQL_ROWS_R reduce=$REDUCE"
  echo "server_seconds=$SERVER_SECONDS server_rounds=$SERVER_ROUNDS sample=$SAMPLE"
  echo "have_heapscope=$HAVE_HS have_heapscope_fp=$HAVE_HS_FP have_cli=$HAVE_CLI have_jemalloc_prof=$HAVE_JE_PROF have_server=$HAVE_SERVER"
  echo "load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$META"
t_start=$(date +%s)
jiffies_start=$(cpu_jiffies)
times > "$WORK/times0"  # in this shell: CPU of its children so far (the build)
children_cpu() { tail -1 "$1" | awk '{ split($1, u, "m"); split($2, s, "m"); printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'; }

LAST_MASSIF=$(( PAIRS < 3 ? PAIRS : 3 ))  # massif's last round: its output is analysed
# ---- paired runs ---------------------------------------------------------------------------
for round in $(seq 1 "$PAIRS"); do
  for wl in "${WORKLOADS[@]}"; do
    for pair in "${PAIR_NAMES[@]}"; do
      # massif only needs 3 pairs: it is there for scale, not for a close call.
      if [ "$pair" = massif ] && [ "$round" -gt 3 ]; then continue; fi
      # Frame pointers need a program built with them: only the loop has an fp build.
      if [ "$pair" = heapscope-fp ] && [ "$wl" = sqlite ]; then continue; fi
      if [ $((round % 2)) = 1 ]; then
        run_one "$wl" "$pair" base "$round"; run_one "$wl" "$pair" prof "$round"
      else
        run_one "$wl" "$pair" prof "$round"; run_one "$wl" "$pair" base "$round"
      fi
    done
  done
done

# ---- analysis step on the last round's output ------------------------------------------------
analyse() {  # WORKLOAD PAIR TOOL CMD...
  local wl=$1 pair=$2 tool=$3; shift 3
  local dir="$WORK/analysis.$wl.$pair"; mkdir -p "$dir"
  local status=0 input_bytes
  input_bytes=$(du -cb "$INPUT" 2>/dev/null | tail -1 | cut -f1)
  "$TIMEIT" "$dir/time" "$@" >"$dir/stdout" 2>"$dir/stderr" || status=$?
  local t; t=$(awk '{ printf "%.3f", $1 }' "$dir/time")
  echo "$wl,$pair,$tool,$t,$status,$input_bytes" >> "$ANALYSIS"
  log "analysis $wl $pair: $tool ${t}s (exit $status)"
}
for wl in "${WORKLOADS[@]}"; do
  for pair in "${PAIR_NAMES[@]}"; do
    r=$PAIRS; [ "$pair" = massif ] && r=$LAST_MASSIF
    out="$WORK/$wl.$pair.prof.$r/out"
    bin="$LOOP"; [ "$pair" = heapscope-fp ] && bin="$LOOP_FP"; [ "$wl" = sqlite ] && bin=/usr/bin/sqlite3
    case "$pair" in
      heapscope*)
        [ "$HAVE_CLI" = 1 ] || continue
        INPUT=$(ls "$out"/hs.*.exit.hsnap 2>/dev/null | head -1 || true); [ -n "$INPUT" ] || continue
        analyse "$wl" "$pair" "heapscope report" "$HS_CLI" report "$INPUT"
        # The full-tracking snapshot's exact totals say how many allocations the workload made.
        if [ "$pair" = heapscope ]; then
          "$HS_CLI" report --json --top 1 "$INPUT" > "$RESULTS/totals-$wl.json" 2>/dev/null || rm -f "$RESULTS/totals-$wl.json"
        fi ;;
      heaptrack)
        INPUT="$out/ht.zst"; [ -e "$INPUT" ] || INPUT=$(ls "$out"/ht* 2>/dev/null | head -1 || true)
        [ -n "$INPUT" ] || continue
        analyse "$wl" "$pair" "heaptrack_print" heaptrack_print "$INPUT" ;;
      gperftools)
        INPUT=$(ls "$out"/gp.*.heap 2>/dev/null | tail -1 || true); [ -n "$INPUT" ] || continue
        analyse "$wl" "$pair" "google-pprof --text" google-pprof --text "$bin" "$INPUT" ;;
      jemalloc-*)
        INPUT=$(ls "$out"/je.*.heap 2>/dev/null | tail -1 || true); [ -n "$INPUT" ] || continue
        analyse "$wl" "$pair" "jeprof --text" jeprof --text "$bin" "$INPUT" ;;
      massif)
        INPUT="$out/massif.out"; [ -e "$INPUT" ] || continue
        analyse "$wl" "$pair" "ms_print" ms_print "$INPUT" ;;
    esac
  done
done

# ---- the demo server under wrk ------------------------------------------------------------------
server_run() {  # CONFIG ROUND [PATH SECONDS]: round 0 is the probe and is not recorded
  local cfg=$1 round=$2 path=${3:-/leak} secs=${4:-$SERVER_SECONDS} dir="$WORK/server.$1.$2"
  rm -rf "$dir"; mkdir -p "$dir/out"
  config_prefix "$cfg" "$dir/out"
  "${PRE[@]}" "$SERVER" --port 0 --cache bounded --monitor 0 >"$dir/stdout" 2>"$dir/stderr" &
  local pid=$! port="" i
  for i in $(seq 1 100); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$dir/stdout" "$dir/stderr" | head -1)
    [ -n "$port" ] && curl -fs "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if [ -z "$port" ]; then log "leaky_server ($cfg) did not start: $(tail -c 300 "$dir/stderr")"; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; return; fi
  local ticks0; ticks0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  wrk -t1 -c4 -d"${secs}s" --latency "${WRK_EXTRA[@]}" "http://127.0.0.1:$port$path" >"$dir/wrk" 2>&1 || true
  local ticks1 hwm; ticks1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
  # SIGINT is the demo's clean shutdown; a background job of a non-interactive shell may
  # have SIGINT ignored, so fall back to SIGTERM (also clean), then SIGKILL.
  kill -INT "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; sleep 2; fi
  if kill -0 "$pid" 2>/dev/null; then log "leaky_server ($cfg) ignored SIGINT and SIGTERM; killed"; kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
  local rps p99 reqs cpu out_bytes
  rps=$(awk '/^Requests\/sec:/{print $2}' "$dir/wrk")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$dir/wrk")
  reqs=$(awk '/requests in/{print $1}' "$dir/wrk")
  cpu=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')
  out_bytes=$(find "$dir/out" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  LAST_RPS=${rps:-0}
  if [ "$round" = 0 ]; then log "server probe $path: ${rps:-?} req/s, p99 ${p99:-?} ms"; return; fi
  echo "$cfg,$round,${rps:-},${p99:-},$cpu,$hwm,${reqs:-},$out_bytes" >> "$SERVERCSV"
  log "server $cfg r$round: ${rps:-?} req/s, p99 ${p99:-?} ms, cpu ${cpu}s, hwm ${hwm} KiB"
}
if [ "$HAVE_SERVER" = 1 ]; then
  SERVER_CONFIGS=(glibc); [ "$HAVE_HS" = 1 ] && SERVER_CONFIGS+=(heapscope heapscope-sampled)
  # Probe: a keep-alive connection whose responses stall on Nagle + delayed ACK (~40 ms per
  # request, the server idle) would measure TCP timers, not the server. If /status cannot
  # do 1000 requests/s that way, wrk sends "Connection: close" (a connection per request).
  WRK_EXTRA=()
  server_run glibc 0 /status 1
  WRK_MODE=keep-alive
  if awk -v r="$LAST_RPS" 'BEGIN { exit !(r < 1000) }'; then
    WRK_EXTRA=(-H "Connection: close"); WRK_MODE=connection-close
    log "keep-alive requests stall (Nagle/delayed ACK: the server does not set TCP_NODELAY); wrk uses Connection: close"
  fi
  echo "wrk_mode=$WRK_MODE probe_rps=$LAST_RPS" >> "$META"
  for round in $(seq 1 "$SERVER_ROUNDS"); do
    for cfg in "${SERVER_CONFIGS[@]}"; do server_run "$cfg" "$round"; done
  done
else
  log "$SERVER not built; server workload skipped"
fi

# ---- a big snapshot while a thread allocates ---------------------------------------------------------
# Issue 5: a snapshot of 1M live allocations over 100k stacks, written in under 1 s without
# stopping allocating threads for more than a few milliseconds. snapshot_load measures the
# write (heapscope_snapshot() from main) and the longest allocate+free iteration of a second
# thread before and during it; `heapscope report` then reads the file.
SNAPCSV="$RESULTS/snapshot.csv"
echo "round,live,stacks,write_s,pause_max_ms_before,pause_max_ms_during,iterations_during,snapshot_bytes,sites,report_s" > "$SNAPCSV"
SNAP_LIVE=1000000 SNAP_STACKS=100000
[ "$QUICK" = 1 ] && SNAP_LIVE=100000 SNAP_STACKS=10000
if [ "$HAVE_HS" = 1 ] && [ -x "$SNAPLOAD" ]; then
  for round in 1 2 3; do
    d="$WORK/snapshot.$round"; rm -rf "$d"; mkdir -p "$d"
    if ! env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$d/s" HEAPSCOPE_AT_EXIT=0 "$SNAPLOAD" "$SNAP_LIVE" "$SNAP_STACKS" >"$d/stdout" 2>"$d/stderr"; then
      log "snapshot_load round $round failed: $(tail -c 300 "$d/stderr")"; continue
    fi
    line=$(cat "$d/stdout")
    field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
    snap=$(field snapshot)
    bytes=$(stat -c %s "$snap" 2>/dev/null || echo "")
    sites="" report_s=""
    if [ "$HAVE_CLI" = 1 ] && [ -n "$bytes" ]; then
      "$TIMEIT" "$d/report.time" "$HS_CLI" report --json --top 5 "$snap" >"$d/report.json" 2>"$d/report.err" || true
      report_s=$(awk '{ printf "%.3f", $1 }' "$d/report.time")
      sites=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total_sites"])' "$d/report.json" 2>/dev/null || echo "")
    fi
    echo "$round,$(field live),$(field stacks),$(field write_s),$(field pause_max_ms_before),$(field pause_max_ms_during),$(field iterations_during),$bytes,$sites,$report_s" >> "$SNAPCSV"
    log "snapshot r$round: $line; $bytes bytes, $sites sites, report ${report_s}s"
    rm -f "$snap"
  done
else
  log "heapscope or snapshot_load missing; the big-snapshot measurement skipped"
fi

# ---- micro-benchmarks ------------------------------------------------------------------------------
micro() {  # NAME BINARY [ENV...]
  local name=$1 bin=$2; shift 2
  [ -x "$bin" ] || { log "$bin not built; micro-benchmark $name skipped"; return; }
  env "$@" "$bin" --benchmark_min_time="$MICRO_MIN_TIME" --benchmark_repetitions="$MICRO_REPS" \
    --benchmark_report_aggregates_only=true --benchmark_format=json --benchmark_out="$RESULTS/micro-$name.json" \
    --benchmark_out_format=json >/dev/null 2>"$WORK/micro-$name.err" || log "micro-benchmark $name failed: $(tail -c 300 "$WORK/micro-$name.err")"
}
rm -f "$RESULTS"/micro-*.json
micro hook-plain "$B/bench/bench_hook"
if [ "$HAVE_HS" = 1 ]; then
  micro hook-heapscope "$B/bench/bench_hook" LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$WORK/micro-hs" HEAPSCOPE_AT_EXIT=0
  micro hook-heapscope-sampled "$B/bench/bench_hook" LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$WORK/micro-hs" HEAPSCOPE_AT_EXIT=0 HEAPSCOPE_SAMPLE="$SAMPLE"
  micro hook-heapscope-libunwind "$B/bench/bench_hook" LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$WORK/micro-hs" HEAPSCOPE_AT_EXIT=0 HEAPSCOPE_UNWIND=libunwind
  micro hook-heapscope-fp "$B/bench/bench_hook" LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$WORK/micro-hs" HEAPSCOPE_AT_EXIT=0 HEAPSCOPE_UNWIND=fp
fi
micro capture "$B/bench/bench_capture"
micro tables "$B/bench/bench_tables"

# ---- how busy the machine was ------------------------------------------------------------------------
t_end=$(date +%s)
jiffies_end=$(cpu_jiffies)
{
  echo "load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "elapsed_s=$((t_end - t_start))"
  # Busy CPU-seconds of the whole machine during the runs, to compare with our own.
  echo "machine_busy_cpu_s=$(( (jiffies_end - jiffies_start) / $(getconf CLK_TCK) ))"
} >> "$META"
times > "$WORK/times1"
echo "own_cpu_s=$(awk -v a="$(children_cpu "$WORK/times0")" -v b="$(children_cpu "$WORK/times1")" 'BEGIN { printf "%.0f", b - a }')" >> "$META"

python3 bench/report.py --results "$RESULTS" --doc "$DOC"
log "wrote $DOC (results in $RESULTS)"
