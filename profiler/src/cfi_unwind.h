// cfi_unwind.h -- a fast x86-64 unwinder driven by the DWARF call-frame
// information in .eh_frame, with a per-process cache of one rule per return
// address.
// Owns: finding a return address's FDE (_dl_find_object + .eh_frame_hdr
// binary search), running its CFA program to get a simple rule (CFA = rsp|rbp
// + offset; return address and saved rbp at fixed offsets from the CFA), the
// lock-free rule cache, and the walk itself.
// Anything outside those simple rules (CFA expressions, signal frames, a
// missing FDE, a read outside the thread's stack) makes cfi_walk() return -1
// and the caller unwinds that stack with libunwind instead: never a wrong
// stack, never a fault. tests/profiler cross-checks it against libunwind.
// Safety: hook-safe (no allocation, no lock, no syscall on a cache hit);
// the cache is cleared before a dlclose is forwarded.
#pragma once
#include <stdint.h>

#include "thread_state.h"

namespace hs {
bool cfi_init();  // maps the rule cache; false: cfi_walk always returns -1
// Walks from a frame-pointer frame of the hook: fp[0] = the caller's rbp,
// fp[1] = the return address into the caller. Writes up to `max` return
// addresses (innermost first) and returns their count, or -1 when this stack
// needs libunwind. *more: the walk stopped at `max` with frames left.
// `log` (optional) receives the address and value of every stack word the
// walk read: the walk is a pure function of fp, those words and the rule
// cache, which is what lets stack_memo replay it exactly.
struct ReadLog {
  uintptr_t* addr;
  uintptr_t* val;
  int n, cap;
  bool overflow;
};
int cfi_walk(const uintptr_t* fp, uintptr_t* out, int max, bool* more, ThreadState& t, ReadLog* log = nullptr);
bool cfi_stack_bounds(ThreadState& t);  // fills t.stack_lo/hi once; false if unknown
void cfi_forget_all();  // module list changed (dlclose)
}  // namespace hs
