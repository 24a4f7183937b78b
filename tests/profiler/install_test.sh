#!/usr/bin/env bash
# install_test.sh BUILD_DIR SOURCE_DIR -- installs the profiler component into a
# temporary prefix and checks the documented layout: a CMake consumer using
# find_package(heapscope) + heapscope::heapscope, and a pkg-config consumer,
# both build and run with the library active.
set -euo pipefail
build="$1"; src="$2"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/hs-install-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
P="$tmp/prefix"
cmake --install "$build" --prefix "$P" --component profiler >/dev/null
for f in lib/libheapscope.so include/heapscope/heapscope.h lib/pkgconfig/heapscope.pc \
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
echo "install_test: OK"
