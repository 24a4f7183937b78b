#!/usr/bin/env bash
# bench/fork_cost.sh -- what heapscope adds to fork and to a small process (issue 10, item 7),
# in paired runs, and the main workloads with an older libheapscope.so beside the current one.
#
# Usage: bench/fork_cost.sh [--doc] [BEFORE_LIB]
#   BEFORE_LIB  a libheapscope.so built from an earlier commit (say which in BEFORE_NAME);
#               without it only plain and the current build are compared
#   --doc       replace the "Fork and small processes" section of docs/benchmarks.md
# Env: BUILD_DIR=build  PAIRS=9 (fork_cost rounds)  FORKS=1000  LOOP_PAIRS=5  LOOP_N=1000000
#      BEFORE_NAME="before"  RESULTS_DIR=bench/results/fork
# Each round runs every configuration once, the order rotating per round (plain, before,
# after; then before, after, plain; ...), so machine noise spreads over all of them:
#   fork_cost 300 30 FORKS  (bench/workloads/fork_cost.c): CPU per fork+_exit+wait+malloc+free
#                           of parent and child, the process's RSS after 300 allocations
#   /bin/sh -c 'grep VmRSS /proc/$$/status'  (dash's own RSS, a few allocations)
#   alloc_loop -t 1|2 -n LOOP_N, full tracking and sampled 512 KiB (wall and CPU)
# Ratios are medians of per-round ratios to plain. Nothing here is a test.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
cd "$top"
DOC_OUT=0
if [ "${1:-}" = "--doc" ]; then DOC_OUT=1; shift; fi
BEFORE_LIB="${1:-}"
BEFORE_NAME="${BEFORE_NAME:-before}"
BUILD_DIR="${BUILD_DIR:-build}"
PAIRS="${PAIRS:-9}" FORKS="${FORKS:-1000}" LOOP_PAIRS="${LOOP_PAIRS:-5}" LOOP_N="${LOOP_N:-1000000}"
RESULTS="${RESULTS_DIR:-bench/results/fork}"
B="$(cd "$BUILD_DIR" && pwd)"
FORK_COST="$B/bench/fork_cost" LOOP="$B/bench/alloc_loop" TIMEIT="$B/bench/bench_timeit"
AFTER_LIB="$B/profiler/libheapscope.so"
for f in "$FORK_COST" "$LOOP" "$TIMEIT" "$AFTER_LIB"; do
  [ -e "$f" ] || { echo "bench/fork_cost.sh: $f missing (cmake --build $BUILD_DIR --target fork_cost alloc_loop bench_timeit heapscope)" >&2; exit 1; }
done
if [ -n "$BEFORE_LIB" ] && [ ! -e "$BEFORE_LIB" ]; then
  echo "bench/fork_cost.sh: BEFORE_LIB $BEFORE_LIB does not exist; expected a libheapscope.so" >&2; exit 2
fi
mkdir -p "$RESULTS"
WORK="$(mktemp -d /tmp/hs-forkbench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
CSV="$RESULTS/fork.csv"
echo "round,what,config,cpu_us,fork_us_median,rss_kb,wall_s,faults" > "$CSV"

CONFIGS=(plain)
[ -n "$BEFORE_LIB" ] && CONFIGS+=(before)
CONFIGS+=(after)
lib_of() { case "$1" in before) echo "$BEFORE_LIB" ;; after) echo "$AFTER_LIB" ;; *) echo "" ;; esac; }
pre_of() {  # CONFIG [EXTRA_ENV...]: sets PRE
  local lib; lib=$(lib_of "$1"); shift
  if [ -z "$lib" ]; then PRE=(env); else PRE=(env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$WORK/hs" HEAPSCOPE_AT_EXIT=0 "$@"); fi
}
rotated() {  # ROUND: the configs, rotated by ROUND
  local n=${#CONFIGS[@]} i
  for ((i = 0; i < n; i++)); do echo "${CONFIGS[$(( (i + $1) % n ))]}"; done
}

for round in $(seq 1 "$PAIRS"); do
  for cfg in $(rotated "$round"); do
    pre_of "$cfg"
    line=$("${PRE[@]}" "$FORK_COST" 300 30 "$FORKS")
    cpu=$(sed -n 's/.* cpu_us=\([0-9.]*\).*/\1/p' <<<"$line")
    med=$(sed -n 's/.* fork_us_median=\([0-9.]*\).*/\1/p' <<<"$line")
    rss=$(sed -n 's/.* rss_kb=\([0-9]*\).*/\1/p' <<<"$line")
    flt=$(sed -n 's/.* faults=\([0-9.]*\).*/\1/p' <<<"$line")
    echo "$round,fork_cost,$cfg,$cpu,$med,$rss,,$flt" >> "$CSV"
    shrss=$("${PRE[@]}" /bin/sh -c 'grep VmRSS /proc/$$/status' | awk '{print $2}')
    echo "$round,sh,$cfg,,,$shrss,," >> "$CSV"
    echo "bench: r$round $cfg fork cpu ${cpu} us (median wall ${med} us), rss ${rss} KiB, sh rss ${shrss} KiB" >&2
  done
done

for round in $(seq 1 "$LOOP_PAIRS"); do
  for t in 1 2; do
    for mode in full sampled; do
      for cfg in $(rotated "$round"); do
        if [ "$mode" = sampled ]; then pre_of "$cfg" HEAPSCOPE_SAMPLE=524288; else pre_of "$cfg"; fi
        "$TIMEIT" "$WORK/time" "${PRE[@]}" "$LOOP" -t "$t" -n "$LOOP_N" >/dev/null 2>"$WORK/err" ||
          { echo "bench/fork_cost.sh: alloc_loop -t $t ($cfg $mode) failed: $(tail -c 300 "$WORK/err")" >&2; exit 1; }
        read -r wall user sys rss code < "$WORK/time"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.0f", (u + s) * 1e6 }')
        echo "$round,loop$t-$mode,$cfg,$cpu,,$rss,$wall," >> "$CSV"
        echo "bench: r$round loop$t $mode $cfg wall ${wall}s cpu $((cpu / 1000)) ms" >&2
      done
    done
  done
done

MD="$RESULTS/fork.md"
python3 - "$CSV" "$BEFORE_NAME" "$PAIRS" "$FORKS" "$LOOP_PAIRS" "$LOOP_N" > "$MD" <<'EOF'
import csv, statistics, sys, collections
path, before_name, pairs, forks, loop_pairs, loop_n = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
by = collections.defaultdict(dict)  # (what, round) -> config -> row
for r in rows:
    by[(r["what"], r["round"])][r["config"]] = r
configs = [c for c in ("before", "after") if any(c in v for v in by.values())]
label = {"before": "heapscope " + before_name, "after": "heapscope (this build)"}
def ratios(what, field, cfg):
    out = []
    for (w, _), v in by.items():
        if w == what and cfg in v and "plain" in v and v["plain"][field] and float(v["plain"][field]) > 0:
            out.append(float(v[cfg][field]) / float(v["plain"][field]))
    return out
def med(what, field, cfg):
    vals = [float(v[cfg][field]) for (w, _), v in by.items() if w == what and cfg in v and v[cfg][field]]
    return statistics.median(vals) if vals else None
def fmt_ratio(rs):
    return "%.2fx [%.2fx-%.2fx]" % (statistics.median(rs), min(rs), max(rs)) if rs else "-"
print("| measure | plain | " + " | ".join(label[c] for c in configs) + " |")
print("| --- | --- |" + " --- |" * len(configs))
p = med("fork_cost", "cpu_us", "plain")
print("| fork+_exit+wait, CPU of parent and child per fork (ratio to plain) | %.0f us | " % p +
      " | ".join("%.0f us, %s" % (med("fork_cost", "cpu_us", c), fmt_ratio(ratios("fork_cost", "cpu_us", c))) for c in configs) + " |")
p = med("fork_cost", "faults", "plain")
print("| the same, minor page faults of parent and child per fork (steady under load) | %.1f | " % p +
      " | ".join("%.1f (+%.1f)" % (med("fork_cost", "faults", c), med("fork_cost", "faults", c) - p) for c in configs) + " |")
p = med("fork_cost", "fork_us_median", "plain")
print("| the same, median wall time of one fork (ratio to plain) | %.0f us | " % p +
      " | ".join("%.0f us, %s" % (med("fork_cost", "fork_us_median", c), fmt_ratio(ratios("fork_cost", "fork_us_median", c))) for c in configs) + " |")
for what, name in (("fork_cost", "RSS of a process after 300 allocations from 30 stacks (fork_cost)"), ("sh", "RSS of `/bin/sh -c 'grep VmRSS /proc/$$/status'`")):
    p = med(what, "rss_kb", "plain")
    print("| %s | %.1f MiB | " % (name, p / 1024) + " | ".join(
        "%.1f MiB (+%.1f MiB)" % (med(what, "rss_kb", c) / 1024, (med(what, "rss_kb", c) - p) / 1024) for c in configs) + " |")
for t in (1, 2):
    for mode, mname in (("full", "full tracking"), ("sampled", "sampled 512 KiB")):
        what = "loop%d-%s" % (t, mode)
        if not any(w == what for (w, _) in by):
            continue
        print("| alloc loop, %d thread%s, %s: wall (CPU) ratio to plain | %.2f s | " % (t, "s" if t > 1 else "", mname, med(what, "wall_s", "plain")) +
              " | ".join("%s (%s)" % (fmt_ratio(ratios(what, "wall_s", c)), fmt_ratio(ratios(what, "cpu_us", c))) for c in configs) + " |")
print()
print("fork_cost: %s rounds of %s forks each; alloc loop: %s rounds of %s iterations per thread; "
      "medians of per-round ratios to plain, the range over rounds in brackets." % (pairs, forks, loop_pairs, loop_n))
EOF
cat "$MD"
if [ "$DOC_OUT" = 1 ]; then
  DOC=docs/benchmarks.md
  python3 - "$DOC" "$MD" <<'EOF'
import sys, re, subprocess, datetime
doc, md = sys.argv[1:]
text = open(doc).read()
begin = "<!-- fork-cost: written by bench/fork_cost.sh --doc; bench/report.py keeps it -->"
end = "<!-- /fork-cost -->"
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
load = open("/proc/loadavg").read().split()[:3]
body = ("%s\n## Fork and small processes (issue 10)\n\nMeasured %s on this machine at commit %s (load average %s at the end: "
        "other sessions shared the 2 CPUs), paired runs in one session by `bench/fork_cost.sh`.\n\n%s%s\n") % (
    begin, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"), commit, " ".join(load), open(md).read(), end)
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end) + "\n?", lambda m: body, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + body
open(doc, "w").write(text)
EOF
  echo "bench: wrote the fork section of $DOC" >&2
fi
