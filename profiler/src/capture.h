// capture.h -- stack capture for the hooks: libunwind (default) or a
// frame-pointer walk bounded by the thread's stack (HEAPSCOPE_UNWIND=fp).
// Owns: capture_init() and capture_stack() (cfi_unwind.h is the default walker). The caller passes a fixed array
// on its own stack; no lock is held while capturing.
// Safety: hook-safe when the caller holds the re-entry Guard (libunwind and
// pthread_getattr_np may allocate; those allocations are then forwarded).
// The fp walker never dereferences a frame outside [stack_lo, stack_hi).
#pragma once
#include <stdint.h>

#include "cfi_unwind.h"
#include "config.h"
#include "thread_state.h"

namespace hs {
// Frames searched for the hook's return address before giving up on trimming.
constexpr int kCaptureSkip = 16;

void capture_init();  // sets libunwind's per-thread cache policy

struct CaptureResult {
  const uintptr_t* pcs;  // points into the caller's buffer
  uint32_t depth;
  bool truncated;  // the depth limit cut the stack
  bool by_cfi;     // walked by cfi_walk (its ReadLog is then complete)
};
// buf must hold max_depth + kCaptureSkip entries. `ra` is the hook's own
// return address (a pc in the user's frame): frames before it are the
// profiler's and are dropped. `fp` is the hook's frame address (fp[0] the
// caller's rbp, fp[1] == ra); the cfi unwinder starts there and falls back
// to libunwind for stacks it cannot walk.
CaptureResult capture_stack(uintptr_t* buf, uint32_t max_depth, uintptr_t ra, uintptr_t fp, Unwinder how,
                            ReadLog* log = nullptr);

// Without the hook's frame address (fp = 0): cfi falls back to libunwind.
inline CaptureResult capture_stack(uintptr_t* buf, uint32_t max_depth, uintptr_t ra, Unwinder how) {
  return capture_stack(buf, max_depth, ra, 0, how);
}

// The frame-pointer walk alone (exposed for tests): at most `max` frames.
int fp_walk(uintptr_t* out, int max, ThreadState& t);
}  // namespace hs
