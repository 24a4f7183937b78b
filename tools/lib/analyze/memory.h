// memory.h -- what RSS is made of, from one snapshot's MemoryStats.
//
// RSS = heap in use + held free by the allocator + thread stacks + other
// anonymous + files, exactly (tools/README.md defines each term):
//   rss         = rss_anon + rss_file + rss_shmem
//   files       = rss_file + rss_shmem
//   heap_in_use = min(allocator_inuse, rss_anon)
//   held_free   = min(allocator_free_held, rss_anon - heap_in_use)
//   stacks      = min(thread_stack_bytes, rss_anon - heap_in_use - held_free)
//   other_anon  = rss_anon - heap_in_use - held_free - stacks
// The min()s only bite when the allocator counts memory that is not resident
// (a reservation never touched): that excess is `not_resident`.
// Pure function; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/profile.h"

namespace heapscope {

struct MemoryComposition {
  bool present = false;          // the snapshot has the RSS split (else every figure is 0)
  bool allocator_known = false;  // heap_in_use and held_free are the allocator's
  bool stacks_known = false;
  std::string allocator;         // META "allocator" ("glibc", "jemalloc", ...), "" if unknown
  uint64_t rss = 0, anon = 0, files = 0;
  uint64_t heap_in_use = 0, held_free = 0, stacks = 0, other_anon = 0;
  uint64_t not_resident = 0;     // allocator and stack figures beyond anonymous RSS
  uint64_t live_heap = 0;        // heapscope's tracked live bytes (TOTALS), for comparison
  uint64_t file = 0, shmem = 0;  // files = file + shmem
  uint64_t thread_stacks = 0;    // how many stacks (stacks_known)
  std::vector<std::pair<std::string, uint64_t>> allocator_figures;  // MemoryStats::allocator_figures
};

MemoryComposition memory_composition(const Profile& p);

}  // namespace heapscope
