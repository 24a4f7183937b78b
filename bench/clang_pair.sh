#!/usr/bin/env bash
# bench/clang_pair.sh -- two builds of libheapscope.so on the big real program of
# bench/clang_workload.sh (Debian's clang 14 compiling one fixed file of this repository,
# full tracking, default options: exit snapshot plus the peak file), in paired rounds of
# one session: plain, OLD_LIB, NEW_LIB each round. What a change to the writer or the hook
# path costs on a program with 100k+ stacks. Nothing here asserts a time.
#
# Usage: bench/clang_pair.sh OLD_LIB NEW_LIB   (env: ROUNDS=7 CLANG=/usr/bin/clang-14 SRC=...)
set -euo pipefail
old=${1:?usage: bench/clang_pair.sh OLD_LIB NEW_LIB} new=${2:?usage: bench/clang_pair.sh OLD_LIB NEW_LIB}
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${ROUNDS:-7} clang=${CLANG:-/usr/bin/clang-14} src=${SRC:-tools/lib/analyze/trend.cpp}
for f in "$old" "$new" "$clang" "$top/$src"; do
  [ -e "$f" ] || { echo "bench/clang_pair.sh: $f does not exist" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/hsclangpair.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/timeit" "$top/bench/timeit.c"
compile=("$clang" -x c++ -std=c++20 -O1 -I"$top/tools/lib" -I"$top/profiler/format" -c "$top/$src" -o "$tmp/out.o")
one() {  # LIB(or -) -> "wall cpu"
  rm -rf "$tmp/hs" && mkdir "$tmp/hs"
  if [ "$1" = - ]; then "$tmp/timeit" "$tmp/t" "${compile[@]}"
  else "$tmp/timeit" "$tmp/t" env LD_PRELOAD="$1" HEAPSCOPE_OUT="$tmp/hs/hs" "${compile[@]}" 2>/dev/null; fi
  awk '{printf "%s %.4f", $1, $2 + $3}' "$tmp/t"
}
: > "$tmp/r"
for r in $(seq 1 "$rounds"); do
  echo "$(one -) $(one "$old") $(one "$new")" >> "$tmp/r"
done
python3 - "$tmp/r" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
m = lambda f: statistics.median(f(r) for r in rows)
print("| measure | old / plain | new / plain | new / old |")
print("| --- | ---: | ---: | ---: |")
for name, i in (("wall", 0), ("CPU", 1)):
    print("| %s | %.2fx | %.2fx | %.3fx |" % (name, m(lambda r: r[2 + i] / r[i]), m(lambda r: r[4 + i] / r[i]),
                                            m(lambda r: r[4 + i] / r[2 + i])))
PY
