// arena.h -- the profiler's own memory: mmap only, never the watched allocator.
// Owns: os_map/os_unmap (counted in self_memory_bytes) and Region, a lock-free
// bump allocator over one MAP_NORESERVE reservation (pages are committed by
// the kernel on first touch; nothing is ever returned).
// Safety: hook-safe and thread-safe (one atomic fetch_add per allocation).
#pragma once
#include <atomic>
#include <stddef.h>
#include <stdint.h>

namespace hs {
// Anonymous private mapping; nullptr on failure. `noreserve` maps lazily.
void* os_map(size_t bytes, bool noreserve = false);
void os_unmap(void* p, size_t bytes);
// A MAP_NORESERVE mapping aligned to 2 MiB and advised to use transparent huge
// pages: for tables touched at random on the hot path (TLB misses).
void* os_map_huge(size_t bytes);
// Bytes the profiler holds: eagerly mapped bytes + used bytes of regions.
uint64_t self_memory_bytes();
void self_memory_add(int64_t delta);

class Region {
 public:
  // Reserves `reserve` bytes of address space; false when mmap fails.
  bool init(size_t reserve);
  // `bytes` rounded up to 64 (blocks are 64-aligned; align <= 64); nullptr when exhausted.
  void* alloc(size_t bytes, size_t align = 64);
  char* base() const { return base_; }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t reserved() const { return reserve_; }

 private:
  char* base_ = nullptr;
  size_t reserve_ = 0;
  std::atomic<size_t> used_{0};
};
}  // namespace hs
