// stack_memo.cpp -- see stack_memo.h.
#include "stack_memo.h"

#include <atomic>
#include <pthread.h>
#include <string.h>

#include "arena.h"
#include "fork_gate.h"

namespace hs {
namespace {
constexpr int kEntries = 64;
constexpr int kWays = 8;  // entries per set: one hook frame reached by several call chains
struct Entry {
  uintptr_t fp, ra, rbp0;
  StackRec* rec;
  uint32_t n, generation;
  uint32_t stamp;  // last hit or store (the thread's clock): the oldest of a set is replaced
  uintptr_t addr[kMemoWords];
  uintptr_t val[kMemoWords];
};
struct Memo {
  Memo* next_free;
  uint32_t clock;
  // Per set: lookups missed since its last hit. A set that keeps missing
  // (call chains that never repeat) stores one walk in 8 after the first
  // two, instead of copying a whole entry on every allocation.
  uint32_t streak[kEntries / kWays];
  Entry e[kEntries];
};
constexpr size_t kMemoBytes = (sizeof(Memo) + 4095) & ~(size_t)4095;
void* const kDisabled = (void*)1;

pthread_key_t g_key;
bool g_key_ok = false;
std::atomic<uint32_t> g_generation{1};
std::atomic<uint32_t> g_free_lock{0};  // through the fork gate
Memo* g_free = nullptr;

void lock() { gate_lock(g_free_lock); }
void unlock() { gate_unlock(g_free_lock); }

void on_thread_exit(void* p) {
  tls.memo = kDisabled;  // allocations later in this thread's exit go without a memo
  Memo* m = (Memo*)p;
  lock();
  m->next_free = g_free;
  g_free = m;
  unlock();
}

Memo* get(ThreadState& t) {
  if (HS_LIKELY(t.memo != nullptr)) return t.memo == kDisabled ? nullptr : (Memo*)t.memo;
  t.memo = kDisabled;
  if (!g_key_ok) return nullptr;
  lock();
  Memo* m = g_free;
  if (m) g_free = m->next_free;
  unlock();
  if (!m && (m = (Memo*)os_map(kMemoBytes, true)))  // in the table arena: no VMA of its own
    self_memory_add((int64_t)kMemoBytes);
  if (!m) return nullptr;
  memset(m->e, 0, sizeof m->e);
  memset(m->streak, 0, sizeof m->streak);
  if (pthread_setspecific(g_key, m) != 0) {
    lock();
    m->next_free = g_free;
    g_free = m;
    unlock();
    return nullptr;
  }
  t.memo = m;
  return m;
}

HS_INLINE Entry* set_of(Memo* m, uintptr_t fp, uintptr_t ra) {
  return &m->e[(((fp ^ (ra * 0x9E3779B97F4A7C15ull)) >> 4) % (kEntries / kWays)) * kWays];
}
}  // namespace

bool memo_init() {
  if (!g_key_ok) g_key_ok = pthread_key_create(&g_key, on_thread_exit) == 0;
  return g_key_ok;
}

void memo_wait_unlocked() { gate_wait_free(g_free_lock); }
void memo_clear_held_after_fork() { gate_clear_in_child(g_free_lock); }

void memo_forget_all() { g_generation.fetch_add(1, std::memory_order_relaxed); }

// HOT PATH (every recorded allocation in cfi mode). Budget on a hit: one
// entry probe and one compare per stack word the walk read (hot stack memory).
StackRec* memo_lookup(ThreadState& t, uintptr_t fp, uintptr_t ra) {
  Memo* m = get(t);
  if (!m) return nullptr;
  Entry* set = set_of(m, fp, ra);
  const uint32_t gen = g_generation.load(std::memory_order_relaxed);
  const uintptr_t rbp0 = ((const uintptr_t*)fp)[0];
  for (int w = 0; w < kWays; ++w) {
    Entry& e = set[w];
    if (e.fp != fp || e.ra != ra || e.generation != gen || e.rbp0 != rbp0) continue;
    // Every word read by the walk (addresses inside this thread's stack),
    // four at a time with one branch: a hit compares them all anyway.
    const uint32_t n = e.n;
    uintptr_t diff = 0;
    uint32_t i = 0;
    for (; i + 4 <= n && !diff; i += 4)
      diff = (*(const uintptr_t*)e.addr[i] ^ e.val[i]) | (*(const uintptr_t*)e.addr[i + 1] ^ e.val[i + 1]) |
             (*(const uintptr_t*)e.addr[i + 2] ^ e.val[i + 2]) | (*(const uintptr_t*)e.addr[i + 3] ^ e.val[i + 3]);
    for (; i < n; ++i) diff |= *(const uintptr_t*)e.addr[i] ^ e.val[i];
    if (!diff) {
      // Written only when it changes: a program that allocates at one site
      // between forks then writes no memo page (each would be a
      // copy-on-write fault after every fork).
      if (e.stamp != m->clock) e.stamp = ++m->clock;
      uint32_t& streak = m->streak[(set - m->e) / kWays];
      if (streak) streak = 0;
      return e.rec;
    }
  }
  ++m->streak[(set - m->e) / kWays];
  return nullptr;
}

void memo_store(ThreadState& t, uintptr_t fp, uintptr_t ra, const ReadLog& log, StackRec* rec) {
  Memo* m = get(t);
  if (!m || log.overflow || log.n > kMemoWords) return;
  Entry* set = set_of(m, fp, ra);
  const uint32_t streak = m->streak[(set - m->e) / kWays];
  if (streak > 2 && (streak & 7) != 0) return;
  const uint32_t gen = g_generation.load(std::memory_order_relaxed);
  Entry* victim = &set[0];  // a stale or empty way, else the least recently used
  for (int w = 0; w < kWays; ++w) {
    Entry& c = set[w];
    if (!c.rec || c.generation != gen) {
      victim = &c;
      break;
    }
    if ((int32_t)(c.stamp - victim->stamp) < 0) victim = &c;
  }
  Entry& e = *victim;
  e.stamp = ++m->clock;
  e.fp = fp;
  e.ra = ra;
  e.rbp0 = ((const uintptr_t*)fp)[0];
  e.rec = rec;
  e.n = (uint32_t)log.n;
  e.generation = g_generation.load(std::memory_order_relaxed);
  memcpy(e.addr, log.addr, sizeof(uintptr_t) * log.n);
  memcpy(e.val, log.val, sizeof(uintptr_t) * log.n);
}
}  // namespace hs
