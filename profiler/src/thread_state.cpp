// thread_state.cpp -- the TLS block and the batched hook-call flush. Hook-safe.
#include "thread_state.h"

#include <pthread.h>

#include "counters.h"

namespace hs {
__thread ThreadState tls __attribute__((tls_model("initial-exec")));
Counters g_counters;

// Once per thread (cold): pthread_getattr_np may read /proc/self/maps through
// stdio, so cancellation is disabled around it (malloc must not become a
// cancellation point); the caller holds the re-entry guard.
void learn_stack_bounds(ThreadState& t) {
  int old_cancel = 0;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  t.stack_known = -1;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
      t.stack_lo = (uintptr_t)addr;
      t.stack_hi = (uintptr_t)addr + size;
      t.stack_known = 1;
    }
    pthread_attr_destroy(&attr);
  }
  pthread_setcancelstate(old_cancel, nullptr);
}

void count_hook_call_slow(ThreadState& t) {
  bump(g_counters.hook_calls, t.pending_calls);
  t.pending_calls = 0;
}
}  // namespace hs
