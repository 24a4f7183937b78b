// arena.cpp -- see arena.h. Hook-safe: only mmap/munmap system calls.
#include "arena.h"

#include <sys/mman.h>

namespace hs {
namespace {
std::atomic<int64_t> g_mapped{0};
std::atomic<int64_t> g_region_used{0};
}  // namespace

void* os_map(size_t bytes, bool noreserve) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (!noreserve) g_mapped.fetch_add((int64_t)bytes, std::memory_order_relaxed);
  return p;
}

void* os_map_huge(size_t bytes) {
  const size_t huge = (size_t)2 << 20;
  size_t len = (bytes + huge - 1) & ~(huge - 1);
  char* p = (char*)os_map(len + huge, true);
  if (!p) return nullptr;
  char* aligned = (char*)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
  if (aligned > p) munmap(p, (size_t)(aligned - p));
  size_t tail = (size_t)(p + len + huge - (aligned + len));
  if (tail) munmap(aligned + len, tail);
  madvise(aligned, len, MADV_HUGEPAGE);
  return aligned;
}

void os_unmap(void* p, size_t bytes) {
  if (!p) return;
  munmap(p, bytes);
  g_mapped.fetch_sub((int64_t)bytes, std::memory_order_relaxed);
}

void self_memory_add(int64_t delta) { g_mapped.fetch_add(delta, std::memory_order_relaxed); }

uint64_t self_memory_bytes() {
  int64_t v = g_mapped.load(std::memory_order_relaxed) + g_region_used.load(std::memory_order_relaxed);
  return v < 0 ? 0 : (uint64_t)v;
}

bool Region::init(size_t reserve) {
  base_ = (char*)os_map(reserve, true);
  reserve_ = base_ ? reserve : 0;
  used_.store(0, std::memory_order_relaxed);
  return base_ != nullptr;
}

void* Region::alloc(size_t bytes, size_t align) {
  if (!base_) return nullptr;
  // Every block is a multiple of 64 bytes, so offsets stay 64-aligned (cache lines:
  // hot stack records never share one).
  (void)align;
  size_t need = (bytes + 63) & ~(size_t)63;
  size_t off = used_.fetch_add(need, std::memory_order_relaxed);
  if (off + need > reserve_ || off + need < off) return nullptr;  // exhausted: the caller counts it
  g_region_used.fetch_add((int64_t)need, std::memory_order_relaxed);
  return base_ + off;
}
}  // namespace hs
