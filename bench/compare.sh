#!/usr/bin/env bash
# bench/compare.sh -- two builds of libheapscope.so on the same workloads, in paired rounds of
# one session: what a change to the hot path costs. Nothing here asserts a time.
#
# Usage: bench/compare.sh OLD_LIB NEW_LIB [BUILD_DIR]
#   Each round runs, in a rotating order, alloc_loop plain, under OLD_LIB and under NEW_LIB, for
#   loop1/loop2 (1 and 2 threads) x full / sampled (512K) / hooks-only (HEAPSCOPE_SAMPLE=1024G).
#   Prints a markdown table: medians over the rounds of CPU (user+sys) ratios to plain, and of
#   NEW/OLD. Env: ROUNDS=7 LOOP_N=2000000.
set -euo pipefail
old=${1:?usage: bench/compare.sh OLD_LIB NEW_LIB [BUILD_DIR]} new=${2:?usage: bench/compare.sh OLD_LIB NEW_LIB [BUILD_DIR]}
build=${3:-build}
for f in "$old" "$new" "$build/bench/alloc_loop" "$build/bench/bench_timeit"; do
  [ -e "$f" ] || { echo "bench/compare.sh: $f does not exist (build the bench targets: cmake --build $build --target alloc_loop bench_timeit)" >&2; exit 2; }
done
rounds=${ROUNDS:-7} n=${LOOP_N:-2000000}
tmp=$(mktemp -d /tmp/hscompare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cpu() { awk '{printf "%.4f", $2 + $3}' "$1"; }
run_one() {  # LIB(or -) THREADS CFG -> prints CPU seconds
  local lib=$1 t=$2 cfg=$3 env=()
  case "$cfg" in sampled) env=(HEAPSCOPE_SAMPLE=512K) ;; hooks) env=(HEAPSCOPE_SAMPLE=1024G) ;; esac
  rm -rf "$tmp/out" && mkdir "$tmp/out"
  if [ "$lib" = - ]; then
    "$build/bench/bench_timeit" "$tmp/t" "$build/bench/alloc_loop" -t "$t" -n "$n" > /dev/null
  else
    env LD_PRELOAD="$lib" HEAPSCOPE_OUT="$tmp/out/hs" HEAPSCOPE_AT_EXIT=0 "${env[@]}" \
      "$build/bench/bench_timeit" "$tmp/t" "$build/bench/alloc_loop" -t "$t" -n "$n" > /dev/null
  fi
  cpu "$tmp/t"
}
echo "| workload | config | old / plain | new / plain | new / old |"
echo "| --- | --- | ---: | ---: | ---: |"
for t in 1 2; do
  for cfg in full sampled hooks; do
    : > "$tmp/r"
    for r in $(seq 1 "$rounds"); do
      order=(plain old new); k=$((r % 3)); order=("${order[@]:$k}" "${order[@]:0:$k}")
      declare -A c=()
      for w in "${order[@]}"; do
        case "$w" in plain) c[$w]=$(run_one - "$t" "$cfg") ;; old) c[$w]=$(run_one "$old" "$t" "$cfg") ;; new) c[$w]=$(run_one "$new" "$t" "$cfg") ;; esac
      done
      echo "${c[old]} ${c[new]} ${c[plain]}" >> "$tmp/r"
      unset c
    done
    python3 - "$tmp/r" "$t" "$cfg" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda xs: statistics.median(xs)
print("| loop%s | %s | %.2fx | %.2fx | %.3fx |" % (sys.argv[2], sys.argv[3], med([o / p for o, n, p in rows]),
      med([n / p for o, n, p in rows]), med([n / o for o, n, p in rows])))
PY
  done
done
