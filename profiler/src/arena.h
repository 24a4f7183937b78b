// arena.h -- the profiler's own memory: mmap only, never the watched allocator.
// Owns: os_map/os_unmap (counted in self_memory_bytes), the table arena (one
// 80 MiB MAP_NORESERVE reservation the tables are carved from: one VMA for
// fork to copy, not one per table) and Region, a lock-free
// bump allocator over one MAP_NORESERVE reservation (pages are committed by
// the kernel on first touch; nothing is ever returned).
// Safety: hook-safe and thread-safe (one atomic fetch_add per allocation).
#pragma once
#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace hs {
// Anonymous private mapping; nullptr on failure. `noreserve` maps lazily,
// carved from the table arena (one VMA for all tables: every VMA costs each
// fork, see arena.cpp) while it has room; such memory is never unmapped.
void* os_map(size_t bytes, bool noreserve = false);
void os_unmap(void* p, size_t bytes);
// A MAP_NORESERVE mapping for tables touched at random on the hot path (TLB
// misses): aligned to 2 MiB from 2 MiB on; a smaller one is page aligned in
// the arena's first zone (see arena.cpp). Transparent huge pages are advised only when
// `advise` and the table is at least one huge page (2 MiB): a touched huge
// page commits and zeroes 2 MiB, more than a smaller table holds, and a
// small process would pay for it in RSS and at every fork (issue 10). A
// table mapped without the advice can get it later with os_advise_huge,
// once it is dense enough to fill its huge pages.
void* os_map_huge(size_t bytes, bool advise = true);
void os_advise_huge(void* p, size_t bytes);
// Whether huge pages are advised at all (default yes). Sampled mode turns it
// off: its tables stay sparse.
void arena_use_huge_pages(bool on);
// Bytes the profiler holds: eagerly mapped bytes + used bytes of regions.
uint64_t self_memory_bytes();
void self_memory_add(int64_t delta);

// A bump allocator over a chain of mappings (chunk_bytes each, or more for a
// big request; the first one first_chunk_bytes when given, so that a small
// program's region stays in the table arena's first zone), up to limit_bytes
// in total: address space is taken as needed, not reserved up front
// (RLIMIT_AS / ulimit -v counts reservations).
// Lock-free within a chunk; a spinlock only to add a chunk.
class Region {
 public:
  bool init(size_t limit_bytes, size_t chunk_bytes = (size_t)4 << 20, size_t first_chunk_bytes = 0);
  // `bytes` rounded up to 64 (blocks are 64-aligned); nullptr when the limit
  // is reached or mmap fails.
  void* alloc(size_t bytes);
  size_t used() const { return total_.load(std::memory_order_relaxed); }

 private:
  struct Chunk {
    char* base;
    size_t size;
    std::atomic<size_t> used;
  };
  bool add_chunk(Chunk* seen, size_t need);
  std::atomic<Chunk*> cur_{nullptr};
  std::atomic<bool> lock_{false};
  size_t limit_ = 0, chunk_ = 0;
  std::atomic<size_t> mapped_{0}, total_{0};
};
}  // namespace hs
