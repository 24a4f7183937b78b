// je_callback.cpp -- test program (built -O2 -g, linked with -ljemalloc):
// allocates inside a callback that jemalloc's exported malloc_stats_print
// calls, so the recorded stacks pass through libjemalloc.so.2, which Debian
// ships stripped (.dynsym only, no .symtab, no debug info). The symbolizer
// must still name its exported function from .dynsym.
// Usage: je_callback OUT.hsnap  (prints arrays=N, the blocks it allocated;
// not new[]: libjemalloc exports its own operator new[], bypassing the recorder)
#include <jemalloc/jemalloc.h>

#include <cstdio>
#include <vector>

#include "record_alloc.h"

namespace {
struct Block {
  long v[8];
};
std::vector<Block*> g_keep;

void write_cb(void*, const char*) {
  if (g_keep.size() < 4) g_keep.push_back(new Block());  // LINE:je_callback
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: je_callback OUT.hsnap\n");
    return 2;
  }
  g_keep.reserve(16);
  record_alloc::start();
  malloc_stats_print(write_cb, nullptr, nullptr);
  record_alloc::stop();
  // jemalloc buffers its output, so the callback may run fewer than 4 times.
  std::printf("arrays=%zu\n", g_keep.size());
  return record_alloc::write_snapshot(argv[1]) && !g_keep.empty() ? 0 : 1;
}
