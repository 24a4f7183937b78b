// fork_gate.h -- keeps the tables consistent across fork() without fork
// taking their locks.
// Owns: g_fork_gate (one word in its own cache line) and the lock words of
// the tables that hooks modify (the live table's 256 shards, the stack
// table's insert lock, the stack memo's pool lock): gate_lock/gate_unlock.
// Protocol (control.cpp's atfork handlers):
//  - prepare closes the gate (seq_cst store), then reads every lock word
//    until it is free (reads only: no page is dirtied, so none has to be
//    copied after fork);
//  - a hook takes a lock word with a seq_cst exchange and then reads the
//    gate (seq_cst). Either it sees the gate closed, and then releases the
//    word without touching the table and waits for the gate to open; or
//    prepare's read of that word came after the exchange and sees it held,
//    and waits until the hook has finished (a Dekker pair in the single
//    total order of seq_cst operations). So from the end of prepare until
//    the gate opens, no thread but the forking one modifies a table, and
//    fork copies tables that are consistent: no probe run half shifted, no
//    index half rebuilt;
//  - the forking thread (ThreadState::fork_owner) passes the gate: the fork
//    handlers of libraries registered before heapscope run on it, and their
//    allocations are recorded;
//  - parent: the gate opens. Child: a lock word still held belongs to a
//    thread that backed off at the gate (it does not exist in the child)
//    and is cleared; then the gate opens.
// Cost on the hot path: one load of a read-mostly line after each lock
// exchange. Safety: hook-safe (no allocation, no call out).
#pragma once
#include <atomic>
#include <sched.h>
#include <stdint.h>

#include "common.h"
#include "thread_state.h"

namespace hs {
struct alignas(64) ForkGate {
  std::atomic<uint32_t> closed{0};
};
inline ForkGate g_fork_gate;

HS_INLINE bool fork_gate_closed() { return g_fork_gate.closed.load(std::memory_order_seq_cst) != 0; }

// Contended word, or the gate closed (held: this thread took the word).
HS_NOINLINE inline void gate_lock_slow(std::atomic<uint32_t>& word, bool held) {
  for (int spins = 0;;) {
    if (held) {
      if (tls.fork_owner || !fork_gate_closed()) return;
      word.store(0, std::memory_order_release);  // fork is under way: leave the table as it is
      held = false;
    }
    if (++spins < 100) __builtin_ia32_pause();
    else sched_yield();
    if (word.load(std::memory_order_relaxed) == 0 && (tls.fork_owner || !fork_gate_closed()))
      held = word.exchange(1, std::memory_order_seq_cst) == 0;
  }
}

// Returns holding word, with the gate open or on the forking thread.
HS_INLINE void gate_lock(std::atomic<uint32_t>& word) {
  const bool held = word.exchange(1, std::memory_order_seq_cst) == 0;
  if (HS_LIKELY(held && !fork_gate_closed())) return;
  gate_lock_slow(word, held);
}
HS_INLINE void gate_unlock(std::atomic<uint32_t>& word) { word.store(0, std::memory_order_release); }

inline void fork_gate_close() { g_fork_gate.closed.store(1, std::memory_order_seq_cst); }
inline void fork_gate_open() { g_fork_gate.closed.store(0, std::memory_order_seq_cst); }

// Prepare, after fork_gate_close: returns once word is free (holders finish
// their short critical sections; later takers see the gate closed).
inline void gate_wait_free(const std::atomic<uint32_t>& word) {
  for (int spins = 0; word.load(std::memory_order_seq_cst) != 0;) {
    if (++spins < 100) __builtin_ia32_pause();
    else sched_yield();
  }
}

// Child: a word still held was taken by a thread that then met the closed
// gate; it does not exist here. Written only when held, so the page stays
// shared with the parent.
inline void gate_clear_in_child(std::atomic<uint32_t>& word) {
  if (word.load(std::memory_order_relaxed) != 0) word.store(0, std::memory_order_relaxed);
}
}  // namespace hs
