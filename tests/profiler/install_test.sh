#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR -- installs the profiler component into a
# temporary prefix and checks the documented layout: a CMake consumer using
# find_package(heapscope) + heapscope::heapscope, and a pkg-config consumer,
# both build and run with the library active; and a GoogleTest consumer of
# the installed heapscope/gtest.h (find_package(heapscope) + GTest) whose
# leaking case must fail with the documented message, whose clean case must
# pass, and which fails saying so where heapscope is not active or samples.
set -euo pipefail
build="$1"; src="$2"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/hs-install-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
P="$tmp/prefix"
cmake --install "$build" --prefix "$P" --component profiler >/dev/null
for f in lib/libheapscope.so include/heapscope/heapscope.h include/heapscope/gtest.h lib/pkgconfig/heapscope.pc \
         lib/cmake/heapscope/heapscopeConfig.cmake lib/cmake/heapscope/heapscopeTargets.cmake; do
  [ -e "$P/$f" ] || { echo "install_test: $P/$f is missing after cmake --install" >&2; exit 1; }
done
mkdir -p "$tmp/app"
cat > "$tmp/app/main.c" <<'C'
#include <heapscope/heapscope.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  struct heapscope_totals t;
  void* p = malloc(4321);
  if (!heapscope_active() || heapscope_totals(&t) != 0 || t.inuse_bytes < 4321) {
    fprintf(stderr, "app: heapscope not active or totals wrong\n");
    return 1;
  }
  free(p);
  printf("linked-ok\n");
  return 0;
}
C
cat > "$tmp/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(app C)
find_package(heapscope REQUIRED)
add_executable(app main.c)
target_link_libraries(app heapscope::heapscope)
CM
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$P" >/dev/null
cmake --build "$tmp/app/build" >/dev/null
HEAPSCOPE_AT_EXIT=0 LD_LIBRARY_PATH="$P/lib" "$tmp/app/build/app" | grep -q linked-ok
flags="$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags --libs heapscope)"
cc -o "$tmp/app/app_pc" "$tmp/app/main.c" $flags
HEAPSCOPE_AT_EXIT=0 LD_LIBRARY_PATH="$P/lib" "$tmp/app/app_pc" | grep -q linked-ok

# ---- heapscope/gtest.h: NoHeapGrowth / EXPECT_NO_HEAP_GROWTH in a GoogleTest binary.
mkdir -p "$tmp/gt"
cat > "$tmp/gt/growth_test.cpp" <<'CPP'
#include <heapscope/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

void* g_kept[1000];  // not static, so the compiler keeps the mallocs
int g_count = 0;
std::string g_cache[4];
int g_next = 0;

// Keeps 100 bytes per call.
__attribute__((noinline)) void remember_request() { g_kept[g_count++] = std::malloc(100); }
// Bounded: four 1000-byte entries, the oldest replaced.
__attribute__((noinline)) void cache_request(int n) { g_cache[g_next++ % 4] = std::string(1000, char('a' + n % 26)); }

TEST(HeapGrowth, Leaking) { EXPECT_NO_HEAP_GROWTH([] { remember_request(); }); }

// Passes although another thread keeps allocating meanwhile and GoogleTest
// checks an expectation in every run: only the body's own blocks count.
TEST(HeapGrowth, Clean) {
  std::atomic<bool> stop{false};
  std::vector<std::string*> noise;
  std::thread other([&] {
    for (int i = 0; i < 100000 && !stop; ++i) noise.push_back(new std::string(64, 'n'));
  });
  int n = 0;
  heapscope::testing::GrowthOptions more;
  more.iterations = 30;
  EXPECT_NO_HEAP_GROWTH([&] {
    cache_request(n++);
    EXPECT_EQ(g_cache[(g_next - 1) % 4].size(), 1000u);
  }, more);
  stop = true;
  other.join();
  for (auto* s : noise) delete s;
}
CPP
cat > "$tmp/gt/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(growth CXX)
find_package(heapscope REQUIRED)
find_package(GTest REQUIRED)
find_package(Threads REQUIRED)
add_executable(growth_test growth_test.cpp)
target_compile_features(growth_test PRIVATE cxx_std_17)
target_link_libraries(growth_test heapscope::heapscope GTest::gtest_main Threads::Threads)
# The same test where the library is absent (HEAPSCOPE_WEAK, not linked).
add_executable(growth_test_inactive growth_test.cpp)
target_compile_features(growth_test_inactive PRIVATE cxx_std_17)
target_compile_definitions(growth_test_inactive PRIVATE HEAPSCOPE_WEAK)
target_include_directories(growth_test_inactive PRIVATE
  $<TARGET_PROPERTY:heapscope::heapscope,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(growth_test_inactive GTest::gtest_main Threads::Threads)
CM
cmake -S "$tmp/gt" -B "$tmp/gt/build" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$tmp/gt/build" >/dev/null
fail() { echo "install_test: $*" >&2; exit 1; }
mkdir -p "$tmp/snaps"
# HEAPSCOPE_PEAK=0: the files counted here are the gtest helper's; the Clean case's noise thread
# allocates until the measured loop ends, so its heap crosses the peak file's 1 MiB floor or not
# depending on how busy the machine is.
gt() {  # gt BINARY FILTER [VAR=VALUE...]: runs one case, bounded; sets out and rc
  local bin="$1" filter="$2"; shift 2
  rc=0
  out="$(cd "$tmp/snaps" && env HEAPSCOPE_AT_EXIT=0 HEAPSCOPE_PEAK=0 HEAPSCOPE_OUT="$tmp/snaps/hs" LD_LIBRARY_PATH="$P/lib" "$@" \
         timeout 60 "$tmp/gt/build/$bin" --gtest_filter="$filter" 2>&1)" || rc=$?
}
gt growth_test HeapGrowth.Leaking
[ "$rc" = 1 ] || fail "the leaking case exited $rc, expected 1: $out"
want="live heap held by the code under test keeps growing: +100 bytes per iteration (+2000 bytes over 20 measured runs after 3 warm-up ones, rising in 20 of 20; allowed +0 bytes per iteration)"
grep -qF "$want" <<<"$out" || fail "the leaking case's message lacks '$want': $out"
diffcmd="$(grep -o 'see what grew: heapscope diff .*' <<<"$out" | sed 's/^see what grew: //; s/)$//')"
read -r _ _ base new <<<"$diffcmd"
[ -f "$base" ] && [ -f "$new" ] || fail "the snapshots the message names are missing: '$diffcmd' in: $out"
if [ -x "$build/tools/heapscope" ]; then  # the printed command names the leaking line
  d="$(timeout 60 "$build/tools/heapscope" diff "$base" "$new" --top 1)" || fail "'$diffcmd' failed: $d"
  grep -qE '^ +1 +\+2\.0 KiB +\+20 .*remember_request  growth_test\.cpp:15$' <<<"$d" || fail "'$diffcmd' does not rank remember_request first: $d"
fi
rm -f "$tmp"/snaps/hs.*
gt growth_test HeapGrowth.Clean
[ "$rc" = 0 ] || fail "the clean case exited $rc, expected 0: $out"
[ -z "$(ls "$tmp/snaps")" ] || fail "the clean case left snapshots behind: $(ls "$tmp/snaps")"
gt growth_test HeapGrowth.Clean HEAPSCOPE_SAMPLE=4096
[ "$rc" = 1 ] || fail "the clean case under sampling exited $rc, expected 1: $out"
grep -qF "heapscope samples allocations (HEAPSCOPE_SAMPLE=4096), so small leaks would not show" <<<"$out" ||
  fail "no sampling message: $out"
gt growth_test_inactive HeapGrowth.Clean
[ "$rc" = 1 ] || fail "the clean case without heapscope exited $rc, expected 1: $out"
grep -qF "heapscope is not active in this process, so the heap-growth check did not run" <<<"$out" ||
  fail "no 'not active' message: $out"
echo "install_test: OK"
