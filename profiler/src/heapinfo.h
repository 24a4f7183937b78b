// heapinfo.h -- what the underlying allocator and the kernel say about memory.
// Owns: naming the allocator behind us (glibc|jemalloc|tcmalloc|unknown), its
// own in-use and total figures (mallinfo2 on glibc; jemalloc's mallctl
// "stats.allocated"/"stats.mapped" after an "epoch" refresh; tcmalloc's
// MallocExtension C API), and rss from /proc/self/statm.
// Safety: cold path; call with the re-entry guard held (mallctl and mallinfo2
// may allocate or lock the allocator). Not async-signal-safe.
#pragma once
#include <stdint.h>

namespace hs {
const char* allocator_name();
struct HeapFigures {
  bool known;
  uint64_t used;   // bytes in use by the program, as the allocator counts them
  uint64_t total;  // bytes the allocator holds from the OS
};
HeapFigures allocator_figures();
uint64_t rss_bytes();
}  // namespace hs
