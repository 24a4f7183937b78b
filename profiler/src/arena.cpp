// arena.cpp -- see arena.h. Hook-safe: only mmap/munmap system calls.
#include "arena.h"

#include <new>
#include <sys/mman.h>

namespace hs {
namespace {
std::atomic<int64_t> g_mapped{0};
std::atomic<int64_t> g_region_used{0};
bool g_huge_pages = true;
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
  if (g_huge_pages) madvise(aligned, len, MADV_HUGEPAGE);
  return aligned;
}

void arena_use_huge_pages(bool on) { g_huge_pages = on; }

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

bool Region::init(size_t limit_bytes, size_t chunk_bytes) {
  limit_ = limit_bytes;
  chunk_ = chunk_bytes < limit_bytes ? chunk_bytes : limit_bytes;
  return add_chunk(nullptr, 0);
}

bool Region::add_chunk(Chunk* seen, size_t need) {
  while (lock_.exchange(true, std::memory_order_acquire)) __builtin_ia32_pause();
  bool ok = true;
  if (cur_.load(std::memory_order_acquire) == seen) {  // nobody added one meanwhile
    size_t size = chunk_;
    size_t want = need + 64 + sizeof(Chunk);
    if (size < want) size = (want + 4095) & ~(size_t)4095;
    if (mapped_.load(std::memory_order_relaxed) + size > limit_) {
      ok = false;
    } else if (char* m = (char*)os_map(size, true)) {
      // The chunk header lives at the start of its own mapping.
      Chunk* c = new (m) Chunk{m, size, {(sizeof(Chunk) + 63) & ~(size_t)63}};
      mapped_.fetch_add(size, std::memory_order_relaxed);
      cur_.store(c, std::memory_order_release);
    } else {
      ok = false;
    }
  }
  lock_.store(false, std::memory_order_release);
  return ok;
}

void* Region::alloc(size_t bytes) {
  // Every block is a multiple of 64 bytes, so offsets stay 64-aligned.
  const size_t need = (bytes + 63) & ~(size_t)63;
  for (;;) {
    Chunk* c = cur_.load(std::memory_order_acquire);
    if (!c) return nullptr;
    size_t off = c->used.fetch_add(need, std::memory_order_relaxed);
    if (off + need <= c->size) {
      total_.fetch_add(need, std::memory_order_relaxed);
      g_region_used.fetch_add((int64_t)need, std::memory_order_relaxed);
      return c->base + off;
    }
    if (!add_chunk(c, need)) return nullptr;
  }
}
}  // namespace hs
