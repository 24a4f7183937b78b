// attach.cpp -- the in-process side of `heapscope attach` / `heapscope detach`
// (libheapscope.so only).
// Owns: noticing that the library was dlopen'd into a running process rather
// than preloaded or linked (attach_loaded_late, from the constructor), the two
// entry points the injector calls (heapscope_attach_start / _stop), the
// forwarding targets (each the definition the program's own slots were bound
// to, never dlsym(RTLD_NEXT) from heapscope's position), the hooked-name list
// (the 13 malloc-family functions, the 20 operator new/delete forms,
// dlopen and dlclose) whose slots point at the preload's own hook bodies
// (hooks.cpp), the dlopen wrapper that patches modules loaded later, and the
// generations (each attach starts with empty books; detach writes a final
// snapshot, puts every slot back and leaves the library mapped and inert).
// Blocks from before the attach are unknown to the live table: their frees,
// reallocs and malloc_usable_size are forwarded untouched and counted in
// unknown_frees (record.cpp), never subtracted.
// Safety: cold path. start/stop run on a thread the injector stopped outside
// the allocator and the loader, serialised by g_mu; they call no hook.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach_state.h"
#include "attach/search_path.h"
#include "attach/slots.h"
#include "control.h"
#include "counters.h"
#include "heapinfo.h"
#include "live_table.h"
#include "log.h"
#include "next_alloc.h"
#include "peak.h"
#include "record.h"
#include "snapshot_writer.h"
#include "stack_table.h"
#include "thread_state.h"

using namespace hs;

extern "C" {
HS_EXPORT int heapscope_attach_start(const char* config, char* msg, size_t msg_len);
HS_EXPORT int heapscope_attach_stop(char* msg, size_t msg_len);
}

namespace {
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
bool g_loaded_late = false;
bool g_initialised = false;  // control_init ran (first attach)
bool g_attached = false;

// The attach options, "HEAPSCOPE_NAME=value" lines turned into NUL-separated strings.
char g_options[8192];
size_t g_options_len = 0;
char g_signal_value[16] = "none";
int g_signal = 0;  // the snapshot signal while attached (0: none)
struct sigaction g_our_action;  // heapscope's handler, put back at a re-attach

const char* option_get(const char* name) {
  // Always a helper thread: an idle single-threaded target must answer too.
  if (!strcmp(name, "HEAPSCOPE_THREAD")) return "always";
  if (!strcmp(name, "HEAPSCOPE_SIGNAL")) return g_signal_value;
  size_t n = strlen(name);
  for (size_t at = 0; at < g_options_len; at += strlen(g_options + at) + 1)
    if (!strncmp(g_options + at, name, n) && g_options[at + n] == '=') return g_options + at + n + 1;
  return nullptr;
}

void set_options(const char* config) {
  size_t n = strlen(config);
  if (n >= sizeof g_options) n = sizeof g_options - 1;
  memcpy(g_options, config, n);
  g_options[n] = 0;
  for (size_t i = 0; i < n; ++i)
    if (g_options[i] == '\n') g_options[i] = 0;
  g_options_len = n;
}

// Every hooked name, with the hook's address once known.
HookedName g_names[kMaxHooked];
int g_name_count = 0;
using DlopenFn = void* (*)(const char*, int);
DlopenFn g_real_dlopen = nullptr;

uintptr_t self_inside() { return (uintptr_t)&self_inside; }

void refresh_slots();

}  // namespace

// Modules loaded by path are patched at once. A bare name is looked up in the
// caller's RPATH / LD_LIBRARY_PATH / RUNPATH first (the loader would search
// heapscope's instead, since we call it): found there, it is opened by that
// path and patched at once. Otherwise it is passed on as a tail call, so the
// loader sees the program as the caller, and is patched at the next dlopen or
// snapshot.
extern "C" __attribute__((visibility("hidden"))) void* hs_attach_dlopen(const char* file, int mode) {
  char path[4096];
  if (file && !strchr(file, '/') && g_attached) {
    // Already loaded under that name: the loader answers that without a search.
    if (void* h = g_real_dlopen(file, mode | RTLD_NOLOAD)) return h;
    if (search_like_caller(file, (uintptr_t)__builtin_return_address(0), path, sizeof path)) file = path;
  }
  if (file && strchr(file, '/')) {
    void* h = g_real_dlopen(file, mode);
    int saved = errno;
    refresh_slots();
    errno = saved;
    return h;
  }
  return g_real_dlopen(file, mode);  // a sibling call: jmp, no frame of ours
}

namespace {
void refresh_slots() {
  if (!g_attached) return;
  Guard guard;
  PatchCounts c = slots_patch(g_names, g_name_count);
  g_attach.slots_patched.store(c.slots_now, std::memory_order_relaxed);
  g_attach.modules_patched.store(c.modules_patched, std::memory_order_relaxed);
  g_attach.modules_skipped.store(c.modules_skipped, std::memory_order_relaxed);
}

// g_next.X = the definition a lookup from the program finds: dlsym on the
// main program's handle (the global scope; heapscope, loaded RTLD_LOCAL, is
// not in it). A non-PIE program that takes a function's address gets the
// address of its own PLT stub there, which jumps through a slot we patch: then
// the next definition in load order is taken instead (ddprof's rule: defined,
// st_size > 0).
uintptr_t original(void* main_handle, const char* name) {
  uintptr_t a = (uintptr_t)dlsym(main_handle, name);
  if (!a) return 0;
  if (module_defined(a, name) == a) return a;
  return first_definition(name, a);
}

void resolve_originals() {
  void* main_handle = dlopen(nullptr, RTLD_LAZY);
#define HS_ORIGINAL(field, name, type, req) \
  if (uintptr_t a = original(main_handle, name)) g_next.field = (Id<type>)a;
  HS_INTERPOSED(HS_ORIGINAL)
#undef HS_ORIGINAL
  g_real_dlopen = (DlopenFn)original(main_handle, "dlopen");
  if (!g_real_dlopen) g_real_dlopen = (DlopenFn)dlsym(RTLD_DEFAULT, "dlopen");
}

// The hooked names and their hooks: our own definitions (hooks.cpp), found
// in our own dynamic symbol table (inside the library, &malloc would be the
// program's malloc, bound through our GOT).
void build_names() {
  static const char* const kMallocFamily[] = {
      "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
      "valloc", "pvalloc", "malloc_usable_size", "free_sized", "free_aligned_sized"};
  g_name_count = 0;
  for (const char* n : kMallocFamily) g_names[g_name_count++] = {n, module_defined(self_inside(), n)};
#define HS_CXX_NAME(field, name, type, req) \
  if (name[0] == '_' && name[1] == 'Z') g_names[g_name_count++] = {name, module_defined(self_inside(), name)};
  HS_INTERPOSED(HS_CXX_NAME)  // the 20 operator new/delete forms
#undef HS_CXX_NAME
  g_names[g_name_count++] = {"dlopen", (uintptr_t)&hs_attach_dlopen};
  g_names[g_name_count++] = {"dlclose", module_defined(self_inside(), "dlclose")};
}

// Each generation starts with empty books: blocks recorded in an earlier
// generation may have been freed while detached, unseen.
void reset_books() {
  g_live.clear();
  peak_reset();
  uint32_t n = g_stacks.ids_issued();
  for (uint32_t id = 0; id < n; ++id) {
    StackRec* r = id == 0 ? g_stacks.overflow() : g_stacks.by_id(id);
    if (!r) continue;
    r->alloc_bytes.store(0, std::memory_order_relaxed);
    r->alloc_count.store(0, std::memory_order_relaxed);
    r->free_bytes.store(0, std::memory_order_relaxed);
    r->free_count.store(0, std::memory_order_relaxed);
    if (r->side) {
      r->side->sampled_inuse.store(0, std::memory_order_relaxed);
      r->side->sampled_alloc.store(0, std::memory_order_relaxed);
    }
  }
  for (std::atomic<uint64_t>* c : {&g_counters.hook_calls, &g_counters.unknown_frees, &g_counters.truncated_stacks,
                                   &g_counters.unwind_failures, &g_counters.dropped_events,
                                   &g_counters.free_count})
    c->store(0, std::memory_order_relaxed);
  writer_set_start_time();
}

// The snapshot signal only if the program neither catches nor ignores it:
// heapscope must not take over a signal the program uses.
void choose_signal() {
  const char* wanted = nullptr;
  for (size_t at = 0; at < g_options_len; at += strlen(g_options + at) + 1)
    if (!strncmp(g_options + at, "HEAPSCOPE_SIGNAL=", 17)) wanted = g_options + at + 17;
  int sig = wanted ? parse_signal(wanted) : SIGUSR2;
  struct sigaction cur;
  if (sig > 0 && sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler == SIG_DFL && !(cur.sa_flags & SA_SIGINFO)) {
    format(g_signal_value, sizeof g_signal_value, "%d", sig);
    g_signal = sig;
  } else {
    memcpy(g_signal_value, "none", 5);
    g_signal = 0;
  }
}

uint64_t unix_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
}  // namespace

namespace hs {
bool attach_loaded_late() {
  Guard guard;  // dlopen/dlsym may allocate: never recorded
  void* main_handle = dlopen(nullptr, RTLD_LAZY);
  void* f = main_handle ? dlsym(main_handle, "heapscope_attach_start") : nullptr;
  g_loaded_late = f != (void*)&heapscope_attach_start;
  return g_loaded_late;
}
}  // namespace hs

extern "C" {
namespace {
// The allocator's own in-use figure at the attach. mallinfo2 takes every arena
// lock and walks the bins: 1.4 s on a 2-core machine with 16 threads
// allocating, all of it with the injector holding this thread. So a short
// thread of its own takes it, just after; a snapshot that comes first takes it
// itself (attach_stats).
void* allocator_figures_thread(void*) {
  Guard guard;
  attach_take_allocator_figures();
  return nullptr;
}

void start_allocator_figures() {
  g_attach.allocator_inuse_bytes.store(0);
  g_attach.allocator_figures_pending.store(true);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  if (next_pthread_create()(&th, &attr, allocator_figures_thread, nullptr) != 0) attach_take_allocator_figures();
  pthread_attr_destroy(&attr);
}
}  // namespace

HS_EXPORT int heapscope_attach_start(const char* config, char* msg, size_t msg_len) {
  if (!g_loaded_late) {
    format(msg, msg_len, "heapscope was started with this process (LD_PRELOAD or linked), not attached; "
                         "use `heapscope snapshot`");
    return -1;
  }
  pthread_mutex_lock(&g_mu);
  Guard guard;
  int rc = 0;
  if (g_attached) {
    format(msg, msg_len, "already attached (generation %lu); use `heapscope snapshot`, or `heapscope detach` first",
           (unsigned long)g_attach.generation.load());
    rc = -1;
  } else {
    bool first = !g_initialised;
    if (first) {
      set_options(config ? config : "");
      choose_signal();
      resolve_originals();
      build_names();
      g_option_source = option_get;
      control_init(nullptr);  // nullptr: no "malloc defined ahead of heapscope" check (it is, by design)
      g_initialised = true;
      if (g_signal) sigaction(g_signal, nullptr, &g_our_action);
    } else {
      reset_books();
      choose_signal();
      if (g_signal) sigaction(g_signal, &g_our_action, nullptr);
      g_cfg.signal = g_signal;
      g_run_state.store(kActive);
    }
    if (g_run_state.load() != kActive) {
      format(msg, msg_len, "tracking could not start in this process (setuid/AT_SECURE, or no memory for the "
                           "tables; see its stderr); nothing was patched");
      rc = -1;
    } else {
      start_allocator_figures();
      g_attach.time_unix_ms.store(unix_ms());
      g_attach.generation.fetch_add(1);
      g_attach.mode.store(1);
      g_attached = true;
      g_attach_refresh = refresh_slots;
      refresh_slots();
      char signame[32];
      if (g_signal) format(signame, sizeof signame, "signal %d", g_signal);
      else format(signame, sizeof signame, "no signal (the program uses it)");
      format(msg, msg_len, "%lu slots in %lu modules point at heapscope (%lu skipped: loader, vdso, heapscope); "
                           "snapshots %s.%d.*.hsnap on %s; blocks from before the attach are not in the books",
             (unsigned long)g_attach.slots_patched.load(), (unsigned long)g_attach.modules_patched.load(),
             (unsigned long)g_attach.modules_skipped.load(), g_cfg.out_prefix, (int)getpid(), signame);
    }
  }
  pthread_mutex_unlock(&g_mu);
  if (rc == 0) control_channel_follow();  // the control channel opens with the attach
  return rc;
}

HS_EXPORT int heapscope_attach_stop(char* msg, size_t msg_len) {
  pthread_mutex_lock(&g_mu);
  Guard guard;
  int rc = 0;
  if (!g_attached) {
    format(msg, msg_len, "not attached (heapscope is loaded but inert); nothing to detach");
    rc = -1;
  } else {
    refresh_slots();  // modules loaded by bare name since the last walk
    char path[4200] = "";
    int err = write_snapshot(HS_TRIGGER_API, path, sizeof path);
    g_attach_refresh = nullptr;
    PatchCounts c = slots_restore(g_names, g_name_count);
    g_attached = false;
    g_run_state.store(kDisabled);  // hook pointers the program kept only forward from now on
    g_attach.mode.store(0);
    g_attach.slots_patched.store(0);
    if (g_signal) {  // the program's disposition (SIG_DFL) back
      struct sigaction dfl;
      memset(&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      sigaction(g_signal, &dfl, nullptr);
    }
    g_cfg.signal = 0;  // the helper thread's handler check is off while detached
    if (err) format(msg, msg_len, "final snapshot failed (errno %d); %lu slots put back", err,
                    (unsigned long)c.slots_changed);
    else format(msg, msg_len, "final snapshot %s; %lu slots put back", path, (unsigned long)c.slots_changed);
  }
  pthread_mutex_unlock(&g_mu);
  if (rc == 0) control_channel_follow();  // ... and closes with the detach
  return rc;
}
}  // extern "C"
