// capture.cpp -- see capture.h.
#include "capture.h"

#include "cfi_unwind.h"
#include "hsnap_format.h"
#include "log.h"

#include <atomic>

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>

namespace hs {
void capture_init() { unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD); }

HS_NOINLINE int fp_walk(uintptr_t* out, int max, ThreadState& t) {
  if (HS_UNLIKELY(t.stack_known == 0)) learn_stack_bounds(t);
  if (t.stack_known != 1) return 0;
  const uintptr_t lo = t.stack_lo, hi = t.stack_hi;
  uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
  int n = 0;
  while (n < max) {
    // A frame is two words [saved fp, return address], 8-aligned, inside the stack.
    if ((fp & 7) || fp < lo || fp > hi - 16) break;
    uintptr_t ret = ((const uintptr_t*)fp)[1];
    if (ret < 4096) break;
    out[n++] = ret;
    uintptr_t next = ((const uintptr_t*)fp)[0];
    if (next <= fp) break;  // frames must move toward the stack base
    fp = next;
  }
  return n;
}

// HEAPSCOPE_UNWIND=check: the libunwind capture must equal the cfi one.
static HS_NOINLINE void check_against_libunwind(const uintptr_t* cfi, int n, uint32_t max_depth, uintptr_t ra) {
  static std::atomic<int> reported{0};
  uintptr_t ub[HS_MAX_DEPTH + kCaptureSkip];
  int cap = (int)max_depth + kCaptureSkip;
  if (cap > (int)(sizeof ub / sizeof ub[0])) cap = (int)(sizeof ub / sizeof ub[0]);
  int old_cancel = 0;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  int m = unw_backtrace((void**)ub, cap);
  pthread_setcancelstate(old_cancel, nullptr);
  int start = -1;
  for (int i = 0; i < m && i < kCaptureSkip; ++i)
    if (ub[i] == ra) {
      start = i;
      break;
    }
  if (start < 0) return;  // libunwind did not see the hook's caller: nothing to compare
  int k = 0;
  while (k < n && start + k < m && ub[start + k] == cfi[k]) ++k;
  bool same = k == n && (start + k == m || k == (int)max_depth);
  if (!same && reported.fetch_add(1) < 20)
    log_line("unwind check: cfi and libunwind differ at frame %d of %d/%d: %p vs %p", k, n, m - start,
             (void*)(k < n ? cfi[k] : 0), (void*)(start + k < m ? ub[start + k] : 0));
}

HS_NOINLINE CaptureResult capture_stack(uintptr_t* buf, uint32_t max_depth, uintptr_t ra, uintptr_t fp,
                                        Unwinder how, ReadLog* log) {
  if ((how == Unwinder::cfi || how == Unwinder::check) && fp && ((const uintptr_t*)fp)[1] == ra) {
    bool more = false;
    int n = cfi_walk((const uintptr_t*)fp, buf, (int)max_depth, &more, tls, log);
    if (n > 0) {
      if (how == Unwinder::check) check_against_libunwind(buf, n, max_depth, ra);
      return {buf, (uint32_t)n, more, true};
    }
    // -1: a frame this walker does not handle; libunwind takes the whole stack.
  }
  int cap = (int)max_depth + kCaptureSkip;
  // libunwind may read()/write() a pipe to validate addresses; those are
  // cancellation points, and malloc must not become one.
  int old_cancel = 0;
  if (how != Unwinder::fp) pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  int n = how == Unwinder::fp ? fp_walk(buf, cap, tls) : unw_backtrace((void**)buf, cap);
  if (how != Unwinder::fp) pthread_setcancelstate(old_cancel, nullptr);
  if (n < 0) n = 0;
  int start = 0;
  for (int i = 0; i < n && i < kCaptureSkip; ++i) {
    if (buf[i] == ra) {
      start = i;
      break;
    }
  }
  uint32_t depth = (uint32_t)(n - start);
  bool truncated = false;
  if (depth > max_depth) depth = max_depth, truncated = true;
  else if (n == cap) truncated = true;
  return {buf + start, depth, truncated, false};
}
}  // namespace hs
