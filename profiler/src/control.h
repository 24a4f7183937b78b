// control.h -- the profiler's cold path: start-up, options, triggers, exit.
// Owns: parsing HEAPSCOPE_* once into g_cfg (ignored under AT_SECURE), the
// snapshot signal handler (sets a flag and writes one byte to a pipe, or
// marks the interrupted thread; nothing else), the helper thread (signal,
// interval, stats and alert triggers, and the control channel that
// `heapscope snapshot` uses first, see channel.h; it runs with the re-entry guard held for
// good; started only when needed, see control_init), fork handling, and the
// exit snapshot.
// Safety: control_init() runs once in the library constructor. The signal
// handler is async-signal-safe. Everything else is cold and may block.
#pragma once
#include <atomic>
#include <pthread.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "thread_state.h"

namespace hs {
// Parses the options from `get` (getenv in the library) into *c; reports each
// invalid value on stderr (naming the variable, the value and what was
// expected) and keeps the default. Returns the number of invalid values.
int parse_config(Config* c, const char* (*get)(const char*));
// Parses a signal name ("SIGUSR2", "USR2"), number, or "none" (0); -1 if bad.
int parse_signal(const char* s);

// own_malloc: the library's exported malloc, to detect a malloc that
// precedes ours in symbol lookup. The library constructor calls it.
void control_init(void* own_malloc);
// Starts recording at an allocation made before our constructor ran (another
// library's constructor): options, tables and unwinder, nothing that needs a
// thread. False when it cannot start now (not yet single-threaded libc, the
// re-entry guard, AT_SECURE): the block is then forwarded unrecorded. Cold.
HS_NOINLINE bool control_start_early();
// Where control_init reads the HEAPSCOPE_* options: getenv when null (the
// default); heapscope attach sets its own (attach/attach.cpp).
extern const char* (*g_option_source)(const char*);
// Writes the exit snapshot once (HEAPSCOPE_AT_EXIT=1), from main's return,
// exit(), quick_exit() or the library destructor, whichever comes first.
void control_exit_snapshot();
// Refreshes the module list before a dlclose is forwarded.
void control_before_dlclose();
void control_after_dlclose();  // drops cached unwind rules of unmapped code

// Makes the helper's control channel (channel.h) follow the run state at
// once: open while tracking, closed once detached (a request in between is
// answered "err ... detached"). Wakes the helper with a byte on its pipe and
// does not wait: attach/detach run on a thread the injector hijacked, where a
// sleep could replace the interrupted system call's restart. Cold.
void control_channel_follow();

// Snapshot requests (the signal) not yet served; set by the handler.
extern std::atomic<int> g_snapshot_requests;
// Serves a pending request on the calling thread when there is no helper
// thread (single-threaded programs) and the signal handler could not
// (it interrupted a hook): called at the end of that hook, with no lock held
// and the allocator returned. Cold; preserves errno.
HS_NOINLINE void control_serve_requests();
// HOT PATH: the last thing every hook does (one TLS load).
HS_INLINE void serve_if_poked() {
  ThreadState& t = tls;
  if (HS_UNLIKELY(t.poked) && !t.guard) control_serve_requests();
}
// The interposed pthread_create calls this first: the program's first thread
// brings the helper thread (glibc has left its single-thread mode anyway).
void control_before_thread_create();
using PthreadCreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
PthreadCreateFn next_pthread_create();  // libc's (the one after heapscope's); null if none
using ThrdCreateFn = int (*)(void*, int (*)(void*), void*);  // C11 thrd_create (thrd_t* as void*)
ThrdCreateFn next_thrd_create();
}  // namespace hs
