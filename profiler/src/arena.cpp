// arena.cpp -- see arena.h. Hook-safe: only mmap/munmap system calls.
#include "arena.h"

#include <new>
#include <sys/mman.h>

namespace hs {
namespace {
std::atomic<int64_t> g_mapped{0};
std::atomic<int64_t> g_region_used{0};
bool g_huge_pages = true;

constexpr size_t kHugePage = (size_t)2 << 20;
// The table arena: one MAP_NORESERVE reservation, 2 MiB aligned, from which
// os_map(noreserve) and os_map_huge carve their tables (bump, never
// returned). Each mapping of its own would be one more VMA, and the kernel
// pays for every touched VMA at every fork (anon_vma and page-table copies:
// measured about 3 us per fork each, bench/workloads/fork_cost.c). It has two
// zones. The first 1.75 MiB take every table under 2 MiB in the order asked
// for: the 1 MiB cfi rule cache, the first stack index, the first chunks of
// the regions, the live table's first arrays, the main thread's stack memo.
// The second starts right after it: first the 64 MiB stack slots, page
// aligned (they get huge pages only once dense, and then every aligned 2 MiB
// of them does), touched from their start; then tables of 2 MiB or more,
// 2 MiB aligned, and small tables once the first zone is full. A small
// program's tables then fill one page table (one PMD, 2 MiB) instead of five,
// and fork copies (and the child's exit frees) one page table of 512 entries
// for them, not five: copy_page_range was most of what heapscope added to a
// fork (issue 10). 80 MiB holds what start-up maps and what a small program
// adds; what does not fit is mapped on its own, as before. No more address
// space than the separate mappings took (RLIMIT_AS counts it).
constexpr size_t kTableArenaBytes = (size_t)80 << 20;
std::atomic<char*> g_arena{nullptr};
// [0, 1.75 MiB): tables under 2 MiB; the stack slots start at 1.75 MiB, so
// their first 4096 slots (256 KiB) share the first 2 MiB's page table.
constexpr size_t kSmallZoneBytes = kHugePage - ((size_t)256 << 10);
std::atomic<size_t> g_small_used{0};
std::atomic<size_t> g_arena_used{kSmallZoneBytes};  // [1.75 MiB, end): the rest
std::atomic<int> g_arena_state{0};  // 0 not yet, 1 being mapped, 2 mapped, -1 failed

char* map_aligned(size_t len) {  // len a multiple of 2 MiB; MAP_NORESERVE
  char* p = (char*)mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  char* aligned = (char*)(((uintptr_t)p + kHugePage - 1) & ~(uintptr_t)(kHugePage - 1));
  if (aligned > p) munmap(p, (size_t)(aligned - p));
  size_t tail = (size_t)(p + len + kHugePage - (aligned + len));
  if (tail) munmap(aligned + len, tail);
  return aligned;
}

char* arena_base() {
  char* b = g_arena.load(std::memory_order_acquire);
  if (b) return b;
  int st = 0;
  if (g_arena_state.compare_exchange_strong(st, 1, std::memory_order_acq_rel)) {
    b = map_aligned(kTableArenaBytes);
    g_arena.store(b, std::memory_order_release);
    g_arena_state.store(b ? 2 : -1, std::memory_order_release);
    return b;
  }
  while (g_arena_state.load(std::memory_order_acquire) == 1) __builtin_ia32_pause();
  return g_arena.load(std::memory_order_acquire);
}

bool bump(std::atomic<size_t>& used, size_t limit, size_t bytes, size_t align, size_t* at) {
  size_t off = used.load(std::memory_order_relaxed);
  for (;;) {
    size_t start = (off + align - 1) & ~(align - 1);
    if (start + bytes > limit || start + bytes < start) return false;
    if (used.compare_exchange_weak(off, start + bytes, std::memory_order_relaxed)) {
      *at = start;
      return true;
    }
  }
}

// Zeroed (never handed out twice), `align` a power of two >= 4096; nullptr
// when full. Under 2 MiB: the first zone while it has room, then the second.
void* arena_take(size_t bytes, size_t align) {
  char* base = arena_base();
  if (!base) return nullptr;
  bytes = (bytes + 4095) & ~(size_t)4095;
  size_t at = 0;
  if (bytes < kHugePage && align < kHugePage && bump(g_small_used, kSmallZoneBytes, bytes, align, &at))
    return base + at;
  if (bump(g_arena_used, kTableArenaBytes, bytes, align, &at)) return base + at;
  return nullptr;
}
}  // namespace

void* os_map(size_t bytes, bool noreserve) {
  if (noreserve)
    if (void* t = arena_take(bytes, 4096)) return t;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (!noreserve) g_mapped.fetch_add((int64_t)bytes, std::memory_order_relaxed);
  return p;
}

void* os_map_huge(size_t bytes, bool advise) {
  if (bytes < kHugePage) {
    // Never advised (a huge page would commit more than the table holds), so
    // 2 MiB alignment buys nothing: page aligned, in the first zone.
    if (void* t = arena_take(bytes, 4096)) return t;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  size_t len = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  // Advised later (once dense): page aligned, so that its first pages share a
  // page table with what precedes it; each aligned 2 MiB of it gets huge pages.
  char* aligned = (char*)arena_take(len, advise ? kHugePage : 4096);
  if (!aligned) aligned = map_aligned(len);
  if (!aligned) return nullptr;
  if (advise) os_advise_huge(aligned, len);
  return aligned;
}

void os_advise_huge(void* p, size_t bytes) {
  if (g_huge_pages && p) madvise(p, bytes, MADV_HUGEPAGE);
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

bool Region::init(size_t limit_bytes, size_t chunk_bytes, size_t first_chunk_bytes) {
  limit_ = limit_bytes;
  const size_t chunk = chunk_bytes < limit_bytes ? chunk_bytes : limit_bytes;
  chunk_ = first_chunk_bytes && first_chunk_bytes < chunk ? first_chunk_bytes : chunk;
  bool ok = add_chunk(nullptr, 0);
  chunk_ = chunk;
  return ok;
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
