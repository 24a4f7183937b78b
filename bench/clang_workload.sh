#!/usr/bin/env bash
# bench/clang_workload.sh -- a big real program under heapscope and heaptrack (issue 11):
# Debian's clang 14 (/usr/bin/clang-14) -O1 compiling one fixed C++ file of this repository, run plain, under
# heapscope (exit snapshot only; then again with periodic snapshots, HEAPSCOPE_INTERVAL) and
# under heaptrack, rounds outermost. Records each run's wall time, peak RSS and output size,
# and the time (and the tool's own peak RSS) to the first answer on that run's output:
# `heapscope report` on the exit snapshot, `heapscope trend` over 10 periodic snapshots,
# `heapscope export --format pprof`, `heaptrack_print` on heaptrack's trace. Writes
# RESULTS_DIR/clang.csv, RESULTS_DIR/clang.md and replaces the "Debian's clang" section of
# DOC (between the clang-workload markers; appended when missing). Measures whatever snapshot
# format the build writes. Nothing here asserts a time. With HS_BEFORE=PATH (a heapscope
# command built from an earlier commit) each round also times that command's report on the
# same exit snapshot, right before the current one's (paired before/after ratios), and checks
# both print the same report; HS_BEFORE_ALL=1 does the same for trend and export (minutes
# each with the linear symbol search). PERIODIC=0 skips the periodic run and the trend.
#
# Usage: bench/clang_workload.sh [--no-doc | --doc-only]  (--doc-only: the section from the last CSV)
# Env: BUILD_DIR=build  ROUNDS=3  SRC=tools/lib/analyze/trend.cpp  INTERVAL=0.5 (seconds
#   between periodic snapshots)  TREND_N=10  RESULTS_DIR=bench/results/clang  DOC=docs/benchmarks.md
#   HS_BEFORE=  HS_BEFORE_ALL=0  PERIODIC=1  CLANG=/usr/bin/clang-14
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"

WRITE_DOC=1
DOC_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --no-doc) WRITE_DOC=0 ;;
    --doc-only) DOC_ONLY=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "bench/clang_workload.sh: unknown argument '$arg' (expected --no-doc or --doc-only)" >&2; exit 2 ;;
  esac
done
: "${BUILD_DIR:=build}" "${ROUNDS:=3}" "${SRC:=tools/lib/analyze/trend.cpp}" "${INTERVAL:=0.5}"
: "${TREND_N:=10}" "${RESULTS_DIR:=bench/results/clang}" "${DOC:=docs/benchmarks.md}"
: "${HS_BEFORE:=}" "${HS_BEFORE_ALL:=0}" "${PERIODIC:=1}" "${CLANG:=/usr/bin/clang-14}"

log() { printf 'bench/clang: %s\n' "$*" >&2; }
die() { printf 'bench/clang: error: %s\n' "$*" >&2; exit 1; }

[ -x "$CLANG" ] || die "$CLANG not found (apt-get install clang-14)"
[ -z "$HS_BEFORE" ] || [ -x "$HS_BEFORE" ] || die "HS_BEFORE=$HS_BEFORE: not an executable"
command -v heaptrack >/dev/null || die "heaptrack not found (apt-get install heaptrack)"
command -v heaptrack_print >/dev/null || die "heaptrack_print not found (apt-get install heaptrack)"
[ -f "$SRC" ] || die "$SRC: not found (expected a C++ file of this repository)"
B="$(cd "$BUILD_DIR" 2>/dev/null && pwd)" || die "$BUILD_DIR: no build directory (cmake -S . -B $BUILD_DIR)"
HS_LIB="$B/profiler/libheapscope.so"
HS_CLI="$B/tools/heapscope"
[ -e "$HS_LIB" ] || die "$HS_LIB not built (cmake --build $BUILD_DIR --target heapscope)"
[ -x "$HS_CLI" ] || die "$HS_CLI not built (cmake --build $BUILD_DIR --target heapscope_cli)"

RESULTS="$top/$RESULTS_DIR"
WORK="$RESULTS/work"
if [ "$DOC_ONLY" = 0 ]; then
rm -rf "$WORK"; mkdir -p "$WORK"; rm -f "$RESULTS/report_differs"
TIMEIT="$B/bench/bench_timeit"
if [ ! -x "$TIMEIT" ]; then
  TIMEIT="$WORK/timeit"
  cc -O2 -o "$TIMEIT" bench/timeit.c || die "cannot build bench/timeit.c"
fi
fi
CSV="$RESULTS/clang.csv"
[ "$DOC_ONLY" = 1 ] || echo "round,what,wall_s,cpu_s,maxrss_kib,out_bytes,files,status" > "$CSV"
# What the section names: the commit measured and the machine's load at the start and the end.
[ "$DOC_ONLY" = 1 ] || printf '%s %s\n' "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet HEAD 2>/dev/null || echo '+changes')" \
  "$(cut -d' ' -f1 /proc/loadavg)" > "$RESULTS/run_info"

COMPILE=("$CLANG" -x c++ -std=c++20 -O1 -I"$top/tools/lib" -I"$top/profiler/format" -c "$top/$SRC")

record() {  # ROUND WHAT TIMEFILE OUT_BYTES FILES
  local wall user sys rss code
  read -r wall user sys rss code < "$3" || true
  local cpu; cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')
  echo "$1,$2,$wall,$cpu,$rss,$4,$5,$code" >> "$CSV"
  log "r$1 $(printf '%-22s' "$2") wall ${wall}s  rss ${rss} KiB  out $4 B ($5 files)  exit $code"
}
dir_bytes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
dir_files() { find "$1" -type f | wc -l; }

[ "$DOC_ONLY" = 1 ] && ROUNDS=$(awk -F, 'NR > 1 {print $1}' "$CSV" | sort -n | tail -1)
for round in $(seq 1 "$ROUNDS"); do
  [ "$DOC_ONLY" = 1 ] && break
  r="$WORK/r$round"; mkdir -p "$r"/{plain,hs,hsp,ht}
  # plain
  "$TIMEIT" "$r/plain.time" "${COMPILE[@]}" -o "$r/plain/out.o" 2>"$r/plain.err" || true
  record "$round" plain "$r/plain.time" 0 0
  # heapscope, exit snapshot only
  "$TIMEIT" "$r/hs.time" env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$r/hs/hs" "${COMPILE[@]}" -o "$r/out.o" 2>"$r/hs.err" || true
  record "$round" heapscope "$r/hs.time" "$(dir_bytes "$r/hs")" "$(dir_files "$r/hs")"
  # heapscope with periodic snapshots
  [ "$PERIODIC" = 1 ] && "$TIMEIT" "$r/hsp.time" env LD_PRELOAD="$HS_LIB" HEAPSCOPE_OUT="$r/hsp/hs" HEAPSCOPE_INTERVAL="$INTERVAL" \
    "${COMPILE[@]}" -o "$r/out.o" 2>"$r/hsp.err" || true
  if [ "$PERIODIC" = 1 ]; then
    record "$round" heapscope-periodic "$r/hsp.time" "$(dir_bytes "$r/hsp")" "$(dir_files "$r/hsp")"
    pexit=$(ls "$r"/hsp/hs.*.exit.hsnap 2>/dev/null | head -1 || true)  # "one snapshot" of the periodic run
    [ -z "$pexit" ] || echo "$round,heapscope-periodic exit snapshot,,,,$(stat -c %s "$pexit"),1,0" >> "$CSV"
  fi
  # heaptrack
  "$TIMEIT" "$r/ht.time" heaptrack -o "$r/ht/ht" "${COMPILE[@]}" -o "$r/out.o" >"$r/ht.out" 2>"$r/ht.err" || true
  record "$round" heaptrack "$r/ht.time" "$(dir_bytes "$r/ht")" "$(dir_files "$r/ht")"
  rm -f "$r/out.o" "$r/plain/out.o"

  # ---- time to the first answer, on this round's output ----
  exit_snap=$(ls "$r"/hs/hs.*.exit.hsnap 2>/dev/null | head -1 || true)
  if [ -n "$exit_snap" ]; then
    if [ -n "$HS_BEFORE" ]; then
      "$TIMEIT" "$r/report0.time" "$HS_BEFORE" report "$exit_snap" >"$r/report0.txt" 2>"$r/report0.err" || true
      record "$round" "heapscope report (before)" "$r/report0.time" "$(stat -c %s "$exit_snap")" 1
    fi
    "$TIMEIT" "$r/report.time" "$HS_CLI" report "$exit_snap" >"$r/report.txt" 2>"$r/report.err" || true
    record "$round" "heapscope report" "$r/report.time" "$(stat -c %s "$exit_snap")" 1
    if [ -n "$HS_BEFORE" ]; then
      if cmp -s "$r/report0.txt" "$r/report.txt"; then log "r$round: report output identical before and after"
      else log "r$round: report output DIFFERS before/after (diff $r/report0.txt $r/report.txt)"; echo "$round" >> "$RESULTS/report_differs"; fi
    fi
    if [ -n "$HS_BEFORE" ] && [ "$HS_BEFORE_ALL" = 1 ]; then
      "$TIMEIT" "$r/pprof0.time" "$HS_BEFORE" export "$exit_snap" --format pprof -o "$r/clang0.pb.gz" >/dev/null 2>"$r/pprof0.err" || true
      record "$round" "heapscope export pprof (before)" "$r/pprof0.time" "$(stat -c %s "$exit_snap")" 1
    fi
    "$TIMEIT" "$r/pprof.time" "$HS_CLI" export "$exit_snap" --format pprof -o "$r/clang.pb.gz" >/dev/null 2>"$r/pprof.err" || true
    record "$round" "heapscope export pprof" "$r/pprof.time" "$(stat -c %s "$exit_snap")" 1
  else
    log "r$round: no exit snapshot in $r/hs ($(tail -c 300 "$r/hs.err"))"
  fi
  # TREND_N periodic snapshots spread over the run (all of them when there are fewer).
  mapfile -t periodic < <(ls "$r"/hsp/hs.*.hsnap 2>/dev/null | grep -v '\.exit\.hsnap$' | sort || true)
  n=${#periodic[@]}
  if [ "$PERIODIC" != 1 ]; then
    :
  elif [ "$n" -ge 3 ]; then
    pick=()
    if [ "$n" -le "$TREND_N" ]; then pick=("${periodic[@]}")
    else for i in $(seq 0 $((TREND_N - 1))); do pick+=("${periodic[$(( (n - 1) * i / (TREND_N - 1) ))]}"); done; fi
    bytes=0; for f in "${pick[@]}"; do bytes=$((bytes + $(stat -c %s "$f"))); done
    if [ -n "$HS_BEFORE" ] && [ "$HS_BEFORE_ALL" = 1 ]; then
      "$TIMEIT" "$r/trend0.time" "$HS_BEFORE" trend "${pick[@]}" >"$r/trend0.txt" 2>"$r/trend0.err" || true
      record "$round" "heapscope trend (before)" "$r/trend0.time" "$bytes" "${#pick[@]}"
    fi
    "$TIMEIT" "$r/trend.time" "$HS_CLI" trend "${pick[@]}" >"$r/trend.txt" 2>"$r/trend.err" || true
    record "$round" "heapscope trend" "$r/trend.time" "$bytes" "${#pick[@]}"
  else
    log "r$round: only $n periodic snapshots in $r/hsp (INTERVAL=$INTERVAL); trend skipped"
  fi
  trace=$(ls "$r"/ht/ht* 2>/dev/null | head -1 || true)
  if [ -n "$trace" ]; then
    "$TIMEIT" "$r/htp.time" heaptrack_print "$trace" >"$r/htp.txt" 2>"$r/htp.err" || true
    record "$round" heaptrack_print "$r/htp.time" "$(stat -c %s "$trace")" 1
  fi
  # Keep the last round's files for a look; drop the others' (hundreds of MB).
  [ "$round" = "$ROUNDS" ] || rm -rf "$r"/hs "$r"/hsp "$r"/ht "$r"/clang.pb.gz "$r"/clang0.pb.gz
done

[ "$DOC_ONLY" = 1 ] || echo "$(cut -d' ' -f1 /proc/loadavg)" >> "$RESULTS/run_info"
# ---- the section ----
last="$WORK/r$ROUNDS"
allocs=""; stacks=""
if [ -f "$last/htp.txt" ]; then
  allocs=$(sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p' "$last/htp.txt" | head -1)
fi
exit_snap=$(ls "$last"/hs/hs.*.exit.hsnap 2>/dev/null | head -1 || true)
if [ -n "$exit_snap" ]; then
  stacks=$("$HS_CLI" report --json --top 1 "$exit_snap" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["totals"]["alloc_count"], d["total_sites"])' 2>/dev/null || true)
fi
differs=$(cat "$RESULTS/report_differs" 2>/dev/null | tr '\n' ' ' || true)
python3 - "$CSV" "$RESULTS/clang.md" "$SRC" "$INTERVAL" "$TREND_N" "$ROUNDS" "$allocs" "$stacks" "$HS_BEFORE" "$differs" "${HS_BEFORE_LABEL:-}" "$RESULTS/run_info" <<'EOF'
import csv, statistics, sys, subprocess, datetime, os
path, out, src, interval, trend_n, rounds, ht_allocs, hs, before, differs, before_label, run_info = sys.argv[1:13]
info = open(run_info).read().split() if os.path.exists(run_info) else []
commit, load0, load1 = (info + ["?", "?", "?"])[:3]
rows = list(csv.DictReader(open(path)))
def med(what, field):
    v = [float(r[field]) for r in rows if r["what"] == what and r[field] not in ("", None) and r["status"] == "0"]
    return statistics.median(v) if v else None
def ratio(a, b, field="wall_s"):  # median of per-round ratios
    v = []
    for rnd in sorted({r["round"] for r in rows}):
        x = [float(r[field]) for r in rows if r["round"] == rnd and r["what"] == a and r["status"] == "0"]
        y = [float(r[field]) for r in rows if r["round"] == rnd and r["what"] == b and r["status"] == "0"]
        if x and y and y[0] > 0: v.append(x[0] / y[0])
    return statistics.median(v) if v else None
def s(x, fmt="{:.2f} s"): return "-" if x is None else fmt.format(x)
def mb(x): return "-" if x is None else "{:.1f} MB".format(x / 1e6)
def mib(x): return "-" if x is None else "{:.0f} MiB".format(x / 1024)
def x_(x): return "-" if x is None else "{:.2f}x".format(x)
trend_files = [r["files"] for r in rows if r["what"] == "heapscope trend"]
hs_allocs, hs_sites = (hs.split() + ["", ""])[:2]
L = []
L.append("<!-- clang-workload: written by bench/clang_workload.sh; edits here are replaced -->")
L.append("## A big real program: Debian's clang compiling one of our files")
L.append("")
periodic = any(r["what"] == "heapscope-periodic" for r in rows)
L.append(f"`clang-14 -x c++ -std=c++20 -O1 -c {src}` (issue 11), {rounds} rounds, each: plain, under heapscope "
         f"(exit snapshot), " + (f"under heapscope with `HEAPSCOPE_INTERVAL={interval}`, " if periodic else "") + "under heaptrack; then each tool's "
         "first answer on that round's output. Medians over the rounds; ratios are medians of per-round ratios. "
         f"Run {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC at commit {commit} on {subprocess.run(['nproc'],capture_output=True,text=True).stdout.strip()} CPUs, "
         f"load average {load0} at the start and {load1} at the end "
         "(a shared machine: absolute times are noisy; CPU time, user+sys, and the paired ratios less so).")
L.append("")
if hs_allocs or ht_allocs:
    L.append(f"The run makes {ht_allocs or '?'} calls to allocation functions (heaptrack_print); heapscope's exit snapshot "
             f"counts {hs_allocs or '?'} allocations over {hs_sites or '?'} symbolized sites.")
    L.append("")
L.append("| run | wall | vs plain | peak RSS | output |")
L.append("| --- | --- | --- | --- | --- |")
for what in ("plain", "heapscope") + (("heapscope-periodic",) if periodic else ()) + ("heaptrack",):
    files = [r["files"] for r in rows if r["what"] == what]
    L.append(f"| {what} | {s(med(what,'wall_s'))} | {x_(ratio(what,'plain')) if what != 'plain' else '-'} | "
             f"{mib(med(what,'maxrss_kib'))} | {mb(med(what,'out_bytes')) if what != 'plain' else '-'}"
             f"{(' in ' + files[-1] + ' files') if what != 'plain' and files else ''} |")
L.append("")
L.append("| first answer | wall | CPU (user+sys) | tool's peak RSS | input |")
L.append("| --- | --- | --- | --- | --- |")
answers = [("heapscope report", "exit snapshot"), ("heapscope trend", f"{trend_files[-1] if trend_files else '?'} periodic snapshots"),
           ("heapscope export pprof", "exit snapshot"), ("heaptrack_print", "heaptrack's trace")]
if before:
    answers = [(w + s_, i) for w, i in answers for s_ in ((" (before)", "") if w != "heaptrack_print" else ("",))]
for what, inp in answers:
    if med(what, 'wall_s') is None: continue
    L.append(f"| `{what}` | {s(med(what,'wall_s'))} | {s(med(what,'cpu_s'))} | {mib(med(what,'maxrss_kib'))} | {inp}, {mb(med(what,'out_bytes'))} |")
L.append("")
if before:
    L.append("")
    L.append(f"Before/after (the same files, each round timed back to back; before = "
             f"{before_label or os.path.basename(before)}): "
             + "; ".join(f"{w}: before/after {x_(ratio(w + ' (before)', w))} in wall time, {x_(ratio(w + ' (before)', w, 'cpu_s'))} in CPU time"
                         for w in ("heapscope report", "heapscope trend", "heapscope export pprof")
                         if ratio(w, w + ' (before)') is not None)
             + (". Report output identical before and after in every round." if not differs.strip()
                else f". Report output differed in round(s) {differs.strip()}."))
    L.append("")
def med_row(what, field):  # median over rounds of a field that may be empty
    v = [float(r[field]) for r in rows if r["what"] == what and r[field] not in ("", None)]
    return statistics.median(v) if v else None
exit_b, trend_b, ht_b = med("heapscope", "out_bytes"), med("heapscope trend", "out_bytes"), med("heaptrack", "out_bytes")
per_b = med("heapscope-periodic", "out_bytes")
per_files = [r["files"] for r in rows if r["what"] == "heapscope-periodic"]
per_exit = med_row("heapscope-periodic exit snapshot", "out_bytes")
if periodic and per_b is not None:
    L.append(f"Periodic run: {per_files[-1] if per_files else '?'} files, {mb(per_b)} together (its exit snapshot "
             f"{mb(per_exit)} of it); the {trend_files[-1] if trend_files else '?'} periodic snapshots `trend` reads "
             f"(spread over the run) {mb(trend_b)} together"
             + (f", {trend_b / per_exit:.2f}x that run's exit snapshot" if trend_b and per_exit else "") + ".")
    L.append("")
L.append("| target (issue 11) | measured (median wall; CPU) | verdict |")
L.append("| --- | --- | --- |")
def verdict(ok): return "-" if ok is None else ("met" if ok else "not met")
rep_w, rep_c, htp_w, htp_c = med("heapscope report", "wall_s"), med("heapscope report", "cpu_s"), med("heaptrack_print", "wall_s"), med("heaptrack_print", "cpu_s")
r = ratio("heapscope report", "heaptrack_print")
rc = ratio("heapscope report", "heaptrack_print", "cpu_s")
def both(w, c, limit):  # wall and CPU against a limit in seconds
    if w is None: return None
    return (w <= limit, c <= limit)
def vv(pair):
    if pair is None: return "-"
    a, b = pair
    return "met" if a and b else ("met on CPU time, not on wall time" if b else "not met")
L.append(f"| `report` on the exit snapshot <= 2 s | {s(rep_w)}; {s(rep_c)} | {vv(both(rep_w, rep_c, 2.0))} |")
L.append(f"| `report` <= 2x `heaptrack_print` | {x_(r)}; {x_(rc)} | {vv(None if r is None else (r <= 2, rc <= 2))} |")
tw, tc = med("heapscope trend", "wall_s"), med("heapscope trend", "cpu_s")
L.append(f"| `trend` over {trend_files[-1] if trend_files else '?'} periodic snapshots <= 5 s | {s(tw)}; {s(tc)} | {vv(both(tw, tc, 5.0))} |")
ew, ec = med("heapscope export pprof", "wall_s"), med("heapscope export pprof", "cpu_s")
L.append(f"| `export --format pprof` <= 3 s | {s(ew)}; {s(ec)} | {vv(both(ew, ec, 3.0))} |")
rss = [m for m in (med(w, "maxrss_kib") for w in ("heapscope report", "heapscope trend", "heapscope export pprof")) if m is not None]
L.append(f"| the tool's memory < 1 GiB | at most {mib(max(rss)) if rss else '-'} | {verdict(max(rss) < 1024 * 1024 if rss else None)} |")
L.append(f"| exit snapshot <= heaptrack's trace | {mb(exit_b)} vs {mb(ht_b)} | {verdict(exit_b <= ht_b if exit_b and ht_b else None)} |")
L.append(f"| {trend_files[-1] if trend_files else '?'} periodic snapshots together <= 2x one snapshot | {mb(trend_b)} vs {mb(per_exit)} | "
         f"{verdict(trend_b <= 2 * per_exit if trend_b and per_exit else None)} |")
L.append("")
L.append(f"`heapscope report` / `heaptrack_print` on the same run: {x_(r)} in wall time, {x_(rc)} in CPU time (target: at most 2x, and at most 2 s). "
         f"Run plus first answer: heapscope {s((med('heapscope','wall_s') or 0) + (med('heapscope report','wall_s') or 0))}, "
         f"heaptrack {s((med('heaptrack','wall_s') or 0) + (med('heaptrack_print','wall_s') or 0))}.")
L.append("<!-- /clang-workload -->")
open(out, "w").write("\n".join(L) + "\n")
EOF
log "wrote $CSV and $RESULTS/clang.md"

if [ "$WRITE_DOC" = 1 ]; then
  python3 - "$RESULTS/clang.md" "$DOC" <<'EOF'
import sys, re, os
sec = open(sys.argv[1]).read()
doc = sys.argv[2]
text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n"
pat = re.compile(r"<!-- clang-workload:.*?<!-- /clang-workload -->\n", re.S)
if pat.search(text):
    text = pat.sub(lambda m: sec, text)
else:
    # Before "Notes on the method" when there is one, else at the end.
    i = text.find("\n## Notes on the method")
    text = text[:i + 1] + sec + "\n" + text[i + 1:] if i >= 0 else text.rstrip("\n") + "\n\n" + sec
open(doc, "w").write(text)
EOF
  log "updated $DOC"
fi
