// thread_state.cpp -- the TLS block and the batched hook-call flush. Hook-safe.
#include "thread_state.h"

#include "counters.h"

namespace hs {
__thread ThreadState tls __attribute__((tls_model("initial-exec")));
Counters g_counters;

void count_hook_call_slow(ThreadState& t) {
  bump(g_counters.hook_calls, t.pending_calls);
  t.pending_calls = 0;
}
}  // namespace hs
