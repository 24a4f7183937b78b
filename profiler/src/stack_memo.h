// stack_memo.h -- per-thread memo of recent captures, replayed exactly.
// Owns: for each thread, 64 entries (8 sets of 8, the least recently used
// replaced) keyed by the hook's frame address and return address, each holding the stack record a cfi walk produced and the
// address/value of every stack word that walk read. A cfi walk is a pure
// function of its start frame, those words and the rule cache, so when every
// word still holds its value the walk would give the same stack: the memo
// returns it without walking, hashing or interning. Any difference is a miss.
// Memory: one 64 KiB mapping per thread, recycled through a free list when the
// thread exits (pthread key destructor); the rule cache and every memo are
// invalidated together (a generation number) when a library is closed.
// Safety: hook-safe; a memo is touched only by its own thread, under the
// re-entry guard.
#pragma once
#include <stdint.h>

#include "cfi_unwind.h"
#include "thread_state.h"

namespace hs {
struct StackRec;
constexpr int kMemoWords = 48;

bool memo_init();  // creates the thread-exit key; false: the memo stays off
// The remembered stack for this start frame if every word it read is
// unchanged, else nullptr.
StackRec* memo_lookup(ThreadState& t, uintptr_t fp, uintptr_t ra);
// Remembers a successful cfi walk (log must not have overflowed).
void memo_store(ThreadState& t, uintptr_t fp, uintptr_t ra, const ReadLog& log, StackRec* rec);
void memo_forget_all();  // bumps the generation: every entry becomes a miss
// fork: the free-list lock goes through the fork gate (fork_gate.h): prepare
// waits until it is free, the child clears it if a thread that met the gate held it.
void memo_wait_unlocked();
void memo_clear_held_after_fork();
}  // namespace hs
