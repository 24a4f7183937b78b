// heapinfo.h -- what the underlying allocator and the kernel say about memory.
// Owns: naming the allocator behind us (glibc|jemalloc|tcmalloc|unknown), its
// own figures (mallinfo2 on glibc; jemalloc's mallctl "stats.*" after an
// "epoch" refresh; tcmalloc's MallocExtension C API), rss from
// /proc/self/statm, RSS split into anonymous / file / shmem, and the RSS of
// thread stacks.
// Safety: allocator_figures and read_allocator are cold path; call them with
// the re-entry guard held (mallctl and mallinfo2 may allocate or lock the
// allocator). Not async-signal-safe. rss_bytes and memory_figures are
// async-signal-safe (open/read/close/mincore only); memory_figures uses
// static scratch buffers: call it only under the snapshot writer's mutex.
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

// One allocator-specific figure for the snapshot's STATS ("glibc_arena_bytes").
struct NamedFigure {
  const char* name;
  uint64_t value;
};
constexpr int kMaxAllocatorFigures = 8;
struct AllocatorReading {
  bool known;
  uint64_t used;       // as HeapFigures::used
  uint64_t total;      // as HeapFigures::total
  uint64_t held;       // what the allocator keeps from the OS for the heap: glibc arena+hblkhd,
                       // jemalloc stats.resident, tcmalloc heap_size - pageheap_unmapped
  uint64_t free_held;  // of that, not in use: held - used (never below 0; glibc: fordblks)
  int count;           // named[0..count): the allocator's own figures under their names
  NamedFigure named[kMaxAllocatorFigures];
};
AllocatorReading read_allocator();

struct MemoryFigures {
  bool rss_known;                  // from /proc/self/smaps_rollup (+ status for shmem) or status
  uint64_t rss_anon, rss_file, rss_shmem;
  bool stacks_known;               // /proc/self/maps was read
  uint64_t stack_bytes;            // resident bytes of the thread stacks found (mincore)
  uint64_t stacks;                 // how many: "[stack]" plus glibc thread stacks (see heapinfo.cpp)
};
MemoryFigures memory_figures();
}  // namespace hs
