// control.cpp -- see control.h.
#include "control.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/auxv.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "capture.h"
#include "cfi_unwind.h"
#include "channel.h"
#include "own_fd.h"
#include "stack_memo.h"
#include "counters.h"
#include "fork_gate.h"
#include "mmap_book.h"
#include "heapinfo.h"
#include "live_table.h"
#include "log.h"
#include "memlimit.h"
#include "modules.h"
#include "next_alloc.h"
#include "peak.h"
#include "record.h"
#include "sampler.h"
#include "snapshot_writer.h"
#include "stack_table.h"
#include "thread_state.h"

namespace hs {
std::atomic<int> g_snapshot_requests{0};

PthreadCreateFn next_pthread_create() {
  static std::atomic<PthreadCreateFn> next{nullptr};
  PthreadCreateFn f = next.load(std::memory_order_acquire);
  if (!f) {
    Guard guard;  // dlsym may allocate
    // Never &pthread_create: inside the library that is heapscope's own.
    f = (PthreadCreateFn)dlsym(RTLD_NEXT, "pthread_create");
    if (f) next.store(f, std::memory_order_release);
  }
  return f;
}

ThrdCreateFn next_thrd_create() {
  static std::atomic<ThrdCreateFn> next{nullptr};
  ThrdCreateFn f = next.load(std::memory_order_acquire);
  if (!f) {
    Guard guard;
    f = (ThrdCreateFn)dlsym(RTLD_NEXT, "thrd_create");
    if (f) next.store(f, std::memory_order_release);
  }
  return f;
}

namespace {
int g_pipe[2] = {-1, -1};
std::atomic<int> g_pipe_w{-1};  // what the signal handler writes to
FdId g_pipe_id[2];               // identity of our two pipe ends (own_fd.h)

// Programs (daemons) close every descriptor they do not know, and may reuse
// the numbers: the thread checks the pipe is still ours and makes a new one,
// so the handler never writes into the program's files.
bool pipe_is_ours() { return fd_is(g_pipe[0], g_pipe_id[0]) && fd_is(g_pipe[1], g_pipe_id[1]); }

// One byte to the helper's pipe, when its write end is still ours: a program
// may have closed the number and put its own file there (dup2) since the
// helper's last check, and the byte must never land in it. The request flag is
// set already; without the byte the helper serves it at its next check (<= 1 s)
// and makes a new pipe. Async-signal-safe (fstat, write).
void wake_helper(int fd) {
  if (!fd_is(fd, g_pipe_id[1])) return;
  char c = 1;
  (void)!write(fd, &c, 1);
}

// A new pipe at high numbers. Both ends must be the one pipe made here (the
// program may take a number between pipe2 and the move, see own_fd.h): a
// few tries, then the next check (<= 1 s) tries again.
bool make_pipe() {
  g_pipe_w.store(-1);
  for (int attempt = 0; attempt < 4; ++attempt) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) break;
    FdId id[2];
    int r = fd_move_high(fds[0], S_IFIFO, &id[0]);
    int w = fd_move_high(fds[1], S_IFIFO, &id[1]);
    if (r >= 0 && w >= 0 && id[0].ino == id[1].ino && id[0].dev == id[1].dev) {
      g_pipe_id[0] = id[0];
      g_pipe_id[1] = id[1];
      g_pipe[0] = r;
      g_pipe[1] = w;
      g_pipe_w.store(w);
      return true;
    }
    if (r >= 0 && fd_is(r, id[0])) close(r);
    if (w >= 0 && fd_is(w, id[1])) close(w);
  }
  g_pipe[0] = g_pipe[1] = -1;  // poll() ignores -1; retried at the next check
  return false;
}
bool g_thread_wanted = false;  // some trigger needs the helper thread sooner or later
bool g_thread_eager = false;   // ... from the start (a timer, HEAPSCOPE_THREAD=always, threads exist)
std::atomic<bool> g_helper_started{false};  // start_helper() ran (once per process)
std::atomic<bool> g_helper_running{false};  // the helper thread exists and answers requests
std::atomic<bool> g_channel_follow{false};  // control_channel_follow asks the helper to sync now
std::atomic<int> g_exit_done{0};
bool g_limit_found = false;  // a memory limit applied at start-up: polled every 500 ms (else every 10 s)
std::atomic<bool> g_exiting{false};
struct sigaction g_our_action;

uint64_t mono_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// "12", "1.5", "0.25" seconds -> milliseconds; false on anything else.
bool parse_seconds(const char* s, uint64_t* ms) {
  uint64_t whole = 0, frac = 0, scale = 1000;
  const char* p = s;
  if (!*p) return false;
  for (; *p >= '0' && *p <= '9'; ++p) {
    whole = whole * 10 + (uint64_t)(*p - '0');
    if (whole > 100000000) return false;
  }
  if (*p == '.') {
    ++p;
    if (!(*p >= '0' && *p <= '9') && p - 1 == s) return false;
    for (; *p >= '0' && *p <= '9'; ++p) {
      if (scale > 1) scale /= 10, frac += (uint64_t)(*p - '0') * scale;
    }
  }
  if (*p) return false;
  *ms = whole * 1000 + frac;
  if (*ms == 0 && (whole || frac)) *ms = 1;
  return true;
}

// Decimal bytes with an optional K/M/G suffix (binary units).
bool parse_bytes(const char* s, uint64_t* out) {
  uint64_t v = 0;
  const char* p = s;
  if (!(*p >= '0' && *p <= '9')) return false;
  for (; *p >= '0' && *p <= '9'; ++p) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  int shift = 0;
  switch (*p) {
    case 'k': case 'K': shift = 10; ++p; break;
    case 'm': case 'M': shift = 20; ++p; break;
    case 'g': case 'G': shift = 30; ++p; break;
    default: break;
  }
  if (*p == 'i' && shift) ++p;
  if ((*p == 'b' || *p == 'B') && shift) ++p;
  if (*p) return false;
  if (shift && v > (UINT64_MAX >> shift)) return false;
  *out = v << shift;
  return true;
}

// A fraction: "0.05", "5%", "12.5%", "0" -> parts per million; false on
// anything else or above max_ppm.
bool parse_fraction(const char* s, uint32_t max_ppm, uint32_t* ppm) {
  uint64_t whole = 0, frac = 0, scale = 1000000;
  const char* p = s;
  if (!(*p >= '0' && *p <= '9') && *p != '.') return false;
  for (; *p >= '0' && *p <= '9'; ++p)
    if ((whole = whole * 10 + (uint64_t)(*p - '0')) > 100000) return false;
  if (*p == '.') {
    if (!(p[1] >= '0' && p[1] <= '9')) return false;
    for (++p; *p >= '0' && *p <= '9'; ++p)
      if (scale > 1) scale /= 10, frac += (uint64_t)(*p - '0') * scale;
  }
  uint64_t v = whole * 1000000 + frac;  // millionths of the number as written
  if (*p == '%') v /= 100, ++p;
  if (*p || v > max_ppm) return false;
  *ppm = (uint32_t)v;
  return true;
}

// Copies an option's path into dst (cap bytes); false when it does not fit.
bool copy_path(char* dst, size_t cap, const char* v) {
  size_t n = strlen(v);
  if (!n || n + 64 >= cap) return false;
  memcpy(dst, v, n + 1);
  return true;
}

// The dynamic linker's debugger interface (r_debug in <link.h>): r_state is
// RT_CONSISTENT except while dlopen/dlclose change the list of loaded objects
// (RT_ADD / RT_DELETE). It exists so that a debugger stopping the process at
// any instant can tell whether the list may be read; a signal handler is in
// the same position. Looked up once at start (nullptr if the loader lacks it).
const volatile r_debug* g_r_debug = nullptr;

bool loader_consistent() { return g_r_debug && g_r_debug->r_state == r_debug::RT_CONSISTENT; }

// Unused stack below the handler's frame that the writer may take (it keeps a
// few 4 KiB path buffers on the stack; measured peak well under this).
constexpr uintptr_t kHandlerStackNeed = 64 * 1024;

// No helper thread (a single-threaded program): the request is served on the
// interrupted thread, at the very point it arrived, so the snapshot holds the
// books as they were then. What the handler may do depends on what it
// interrupted:
//  - the re-entry guard is set: a heapscope hook (maybe holding a live-table
//    shard, maybe inside the allocator it forwards to) or heapscope's own cold
//    path. The request is left to the end of that hook (serve_if_poked in
//    every hook, control.h), after its own operation and before any other.
//  - fork's handlers are running on this thread (fork_owner), or the writer
//    mutex is taken (trylock): this thread may hold our locks; same as above.
//  - the handler runs on a stack other than the thread's own (a fiber or an
//    alternate signal stack) or close to its end: same as above.
//  - otherwise the thread is in the program's own code or in a libc function
//    that is not an allocation entry point (they are all hooks). The snapshot
//    is written here, by code that is async-signal-safe in that state: the
//    tables are read lock-free (this thread holds no shard: shards are only
//    held under the guard), the image is built in mmap'd memory, the file is
//    written with open/write/fsync/rename (cancellation disabled). Two things
//    would not be safe and are skipped: mallinfo2 (it takes the arena lock,
//    which the program may hold inside malloc_trim/malloc_stats/mallinfo2
//    themselves, or another thread may hold: allocator_inuse_bytes is then 0,
//    "not known"), and re-reading the module list while the dynamic linker is
//    changing it: dl_iterate_phdr takes the loader's write lock, recursively,
//    so it would not block on this thread's own dlopen but could read a list
//    mid-update. It is re-read only when r_state says the list is consistent;
//    otherwise the snapshot carries the list of the last refresh (a library
//    being loaded has run no code yet; one being unloaded was recorded by the
//    dlclose hook before the loader got it).
void serve_in_handler() {
  ThreadState& t = tls;
  uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
  const bool stack_ok = t.stack_known != 1 || (sp > t.stack_lo + kHandlerStackNeed && sp < t.stack_hi);
  if (t.guard || t.fork_owner || t.resolving || !stack_ok) {
    t.poked = 1;  // served by the hook that was interrupted, at its end
    return;
  }
  if (g_run_state.load(std::memory_order_relaxed) != kActive || g_exiting.load(std::memory_order_relaxed)) return;
  if (!g_snapshot_requests.exchange(0)) return;
  // Taken before the module lock: a thread that holds the writer mutex may
  // hold the module mutex too (fork's handlers), and then we must not wait.
  t.guard = 1;
  if (loader_consistent() && writer_trylock()) {
    modules_refresh();
    writer_unlock();
  }
  t.guard = 2;  // "nested": the writer asks no allocator and waits for no module lock
  int rc = write_snapshot_if_free(HS_TRIGGER_SIGNAL);
  t.guard = 0;
  if (rc != 0 && errno == EBUSY) {  // the writer is ours on this thread (fork) or another's: later
    g_snapshot_requests.store(1, std::memory_order_relaxed);
    t.poked = 1;
  }
}

// Sets the request flag, then either wakes the helper thread (one byte to its
// pipe) or, with no helper (a single-threaded program), serves the request on
// the thread it interrupted (serve_in_handler).
void on_signal(int) {
  int saved = errno;
  g_snapshot_requests.store(1, std::memory_order_relaxed);
  int fd = g_pipe_w.load(std::memory_order_relaxed);
  if (fd >= 0) wake_helper(fd);
  else serve_in_handler();
  errno = saved;
}

// Says once that the program took over the snapshot signal (checked by the
// helper thread every second, and before the exit snapshot).
std::atomic<bool> g_replaced_reported{false};
void check_handler() {
  struct sigaction cur;
  if (g_cfg.signal && !g_replaced_reported.load() && sigaction(g_cfg.signal, nullptr, &cur) == 0 &&
      cur.sa_handler != on_signal && !g_replaced_reported.exchange(true)) {
    bump(g_counters.signal_handler_replaced);
    log_line("the program replaced heapscope's handler for signal %d; snapshots on that signal are off "
             "(set HEAPSCOPE_SIGNAL to a signal the program does not use)",
             g_cfg.signal);
  }
}

// A `snapshot` request on the control channel (channel.h), on the helper thread.
bool channel_snapshot(char* out, size_t out_len) {
  if (g_exiting.load()) {
    format(out, out_len, "the process is exiting (its exit snapshot is being written)");
    return false;
  }
  if (g_run_state.load() != kActive) {
    format(out, out_len, "heapscope is not tracking this process (detached)");
    return false;
  }
  if (write_snapshot(HS_TRIGGER_SIGNAL, out, out_len) == 0) return true;
  int e = errno;
  const char* what = strerrordesc_np(e);
  format(out, out_len, "writing the snapshot under %s failed: %s (errno %d)", g_cfg.out_prefix,
         what ? what : "unknown error", e);
  return false;
}

// A `snapshot-fd` request on the control channel (channel.h), on the helper
// thread: the snapshot in a memfd, nothing written to HEAPSCOPE_OUT.
int channel_snapshot_fd(uint64_t* len, char* out, size_t out_len) {
  if (g_exiting.load()) {
    format(out, out_len, "the process is exiting (its exit snapshot is being written)");
    return -1;
  }
  if (g_run_state.load() != kActive) {
    format(out, out_len, "heapscope is not tracking this process (detached)");
    return -1;
  }
  int fd = write_snapshot_memfd(len);
  if (fd >= 0) return fd;
  int e = errno;
  const char* what = strerrordesc_np(e);
  format(out, out_len, "building the snapshot in memory failed: %s (errno %d)", what ? what : "unknown error", e);
  return -1;
}

void stats_line() {
  HeapFigures hf = allocator_figures();
  Totals t = current_totals();
  log_line("rss=%lu heap_used=%lu heap_total=%lu tracked_live=%lu blocks=%lu", (unsigned long)rss_bytes(),
           (unsigned long)hf.used, (unsigned long)hf.total, (unsigned long)t.inuse_bytes, (unsigned long)t.inuse_count);
}

void* thread_main(void*) {
  tls.guard = 1;  // for good: nothing this thread allocates is recorded
  channel_set_snapshot_fd(channel_snapshot_fd);
  if (g_cfg.signal) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, g_cfg.signal);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  }
  uint64_t now = mono_ms();
  uint64_t next_interval = g_cfg.interval_ms ? now + g_cfg.interval_ms : UINT64_MAX;
  uint64_t next_stats = g_cfg.stats_ms ? now + g_cfg.stats_ms : UINT64_MAX;
  uint64_t next_check = now + 1000;
  const uint64_t limit_every = g_limit_found ? 500 : 10000;
  uint64_t next_limit = g_cfg.oom_ppm ? now : UINT64_MAX;
  bool alert_failed = false;  // the last alert snapshot failed (see below)
  uint64_t alert_failed_live = 0, alert_failed_writer_base = 0;
  for (;;) {
    now = mono_ms();
    uint64_t wake = next_interval < next_stats ? next_interval : next_stats;
    if (next_check < wake) wake = next_check;
    if (next_limit < wake) wake = next_limit;
    if (g_cfg.alert_bytes && now + 200 < wake) wake = now + 200;
    // The control channel follows the run state (closed while detached or
    // exiting); a request from attach/detach (control_channel_follow) or the
    // once-a-second check also re-checks that its descriptors are still ours.
    const bool serve = g_run_state.load(std::memory_order_relaxed) == kActive &&
                       !g_exiting.load(std::memory_order_relaxed);
    const bool follow = g_channel_follow.exchange(false);
    if (follow || serve != channel_serving() || now >= next_check) channel_sync(serve);
    struct pollfd pfds[1 + kChannelPollFds];
    pfds[0] = {g_pipe[0], POLLIN, 0};
    const int nch = channel_pollfds(pfds + 1, &wake);
    int timeout = wake <= now ? 0 : (int)(wake - now);
    int pr = poll(pfds, 1 + nch, timeout);
    struct pollfd& pfd = pfds[0];
    if (pr > 0 && (pfd.revents & (POLLNVAL | POLLERR | POLLHUP))) {
      if (!pipe_is_ours()) make_pipe();  // closed under us: a new one (the old numbers are not ours)
      continue;
    }
    bool exiting = g_exiting.load(std::memory_order_relaxed);
    if (pr > 0 && (pfd.revents & POLLIN) && !pipe_is_ours()) {
      make_pipe();  // the program reused the descriptor: never read from its file
      continue;
    }
    if (pr > 0 && (pfd.revents & POLLIN)) {
      // Bounded: should the number have become the program's file since the
      // check (a /dev/zero never runs dry), the helper reads no further.
      char drain[64];
      for (int i = 0; i < 16 && read(g_pipe[0], drain, sizeof drain) > 0; ++i) {
      }
    }
    // Checked at every wake, not only on a byte: a request whose byte found
    // the pipe being remade is served at the next tick.
    if (g_snapshot_requests.exchange(0) && !exiting) write_snapshot(HS_TRIGGER_SIGNAL, nullptr, 0);
    channel_serve(pfds + 1, nch, mono_ms(), channel_snapshot);  // requests, then connections past their time
    now = mono_ms();
    if (now >= next_interval) {
      if (!exiting) write_snapshot(HS_TRIGGER_INTERVAL, nullptr, 0);
      next_interval += g_cfg.interval_ms;
      if (next_interval <= now) next_interval = now + g_cfg.interval_ms;
    }
    if (now >= next_stats) {
      stats_line();
      next_stats += g_cfg.stats_ms;
      if (next_stats <= now) next_stats = now + g_cfg.stats_ms;
    }
    if (g_cfg.alert_bytes && !exiting) {
      uint64_t live = current_totals().inuse_bytes, base = last_snapshot_live_bytes();
      // After a failed alert snapshot the baseline is the live figure it saw, until
      // some snapshot succeeds: a failing write is not retried every tick.
      if (alert_failed && base == alert_failed_writer_base) base = alert_failed_live;
      if (live >= base && live - base >= g_cfg.alert_bytes) {
        char path[4200];
        if (write_snapshot(HS_TRIGGER_ALERT, path, sizeof path) == 0) {
          alert_failed = false;
          log_line("alert: tracked live heap grew by %lu bytes since the last snapshot (HEAPSCOPE_ALERT=%lu); wrote %s",
                   (unsigned long)(live - base), (unsigned long)g_cfg.alert_bytes, path);
        } else {
          alert_failed = true;
          alert_failed_live = live;
          alert_failed_writer_base = last_snapshot_live_bytes();
        }
      }
    }
    if (now >= next_limit) {  // HEAPSCOPE_OOM (memlimit.h)
      if (!exiting) memlimit_check();
      next_limit = mono_ms() + limit_every;
    }
    if (now >= next_check) {
      next_check = now + 1000;
      if (!pipe_is_ours()) make_pipe();
      check_handler();
    }
  }
  return nullptr;
}

bool start_thread() {
  if (!make_pipe()) {
    g_pipe[0] = g_pipe[1] = -1;
    log_line("cannot create the snapshot pipe: errno %d; signal, interval, stats and alert triggers are off", errno);
    return false;
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);  // the thread starts with every signal blocked
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t th;
  PthreadCreateFn create = next_pthread_create();
  int rc = create ? create(&th, &attr, thread_main, nullptr) : ENOSYS;
  pthread_attr_destroy(&attr);
  // Named before anyone can look (`heapscope snapshot` checks for it).
  if (rc == 0) pthread_setname_np(th, "heapscope");
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    log_line("cannot start the heapscope thread: errno %d; signal, interval, stats and alert triggers are off", rc);
    g_pipe_w.store(-1);
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
    return false;
  }
  g_helper_running.store(true);
  return true;
}

// Starts the helper thread once per process, when some trigger wants it.
void start_helper() {
  if (!g_thread_wanted || g_run_state.load() != kActive || g_helper_started.exchange(true)) return;
  Guard guard;
  int saved = errno;
  start_thread();
  errno = saved;
}

void install_signal() {
  if (!g_cfg.signal) return;
  memset(&g_our_action, 0, sizeof g_our_action);
  g_our_action.sa_handler = on_signal;
  g_our_action.sa_flags = SA_RESTART;
  sigemptyset(&g_our_action.sa_mask);
  struct sigaction old;
  if (sigaction(g_cfg.signal, &g_our_action, &old) != 0) {
    log_line("cannot install a handler for signal %d: errno %d", g_cfg.signal, errno);
    return;
  }
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)
    log_line("signal %d already had a handler; heapscope replaced it (set HEAPSCOPE_SIGNAL to choose another)",
             g_cfg.signal);
}

// fork runs prepare handlers in reverse order of registration and parent/
// child handlers in order, so the handlers of libraries whose constructors
// ran before heapscope's run while the fork gate is closed (fork_gate.h) on
// this thread, marked fork_owner: it passes the gate, so their allocations
// and frees are recorded (no memo, no snapshot). Prepare closes the gate and
// waits until no table lock is held; it writes no table, so fork has no
// table page to copy for heapscope's sake. A fork from inside heapscope on
// this thread (a signal handler that interrupted a hook, which may hold a
// shard) closes nothing: the child is then left untracked, since this
// thread's interrupted hook may be mid-update.
bool g_fork_alone = false;  // prepare found one thread: it took nothing
template <class T>
void clear_if_set(std::atomic<T>& a) {
  if (a.load(std::memory_order_relaxed)) a.store(T{});
}
void atfork_prepare() {
  if (g_run_state.load() != kActive) return;
  if (tls.guard > 0) {
    tls.fork_skipped = 1;
    return;
  }
  // First: a signal handler that allocates on this thread from here on
  // passes the gate instead of waiting for it.
  tls.fork_owner = 1;
  // A process with one thread (glibc's own flag: no thread was ever
  // created; glibc's malloc skips its own locks on it too) has nobody to
  // hold a lock or to stop at the gate: nothing to take, and nothing is
  // written that fork would then have to copy.
  const bool alone = __libc_single_threaded;
  if (g_fork_alone != alone) g_fork_alone = alone;  // unchanged: no write, no page to copy
  if (alone) return;
  writer_lock();
  modules_lock();
  fork_gate_close();
  memo_wait_unlocked();
  g_stacks.wait_unlocked();
  g_live.wait_unlocked();
  mapped_wait_unlocked();
}
void atfork_parent() {
  if (tls.fork_skipped) tls.fork_skipped = 0;
  if (!tls.fork_owner) return;  // prepare took nothing
  tls.fork_owner = 0;
  if (g_fork_alone) return;
  fork_gate_open();
  modules_unlock();
  writer_unlock();
}
// The child does here only what must hold before its first hook or signal
// (locks, the parent's descriptors), and writes a word only when it differs:
// a child that execs or _exits at once (a shell's, popen's) then pays no
// copy-on-write fault, no syscall and no code page of heapscope's beyond this
// function. The rest is lazy: the writer starts the child's own series at its
// first snapshot (writer_adopt_if_forked, by pid).
void atfork_child() {
  // The parent's socket: never served from the child (control channel). Only
  // the helper thread opens it.
  if (g_helper_running.load(std::memory_order_relaxed)) channel_after_fork_child();
  if (tls.fork_skipped) {
    tls.fork_skipped = 0;
    g_run_state.store(kDisabled);  // hooks only forward from now on
    log_line("fork from a signal handler that interrupted an allocation: the child (pid %d) is not tracked",
             (int)getpid());
    return;
  }
  if (!tls.fork_owner) return;
  tls.fork_owner = 0;
  if (!g_fork_alone) {
    g_live.clear_held_after_fork();
    g_stacks.clear_held_after_fork();
    memo_clear_held_after_fork();
    mapped_clear_held_after_fork();
    fork_gate_open();
  }
  if (!g_fork_alone) modules_after_fork_child();  // alone, nobody held the module mutex
  // Alone, prepare took no writer lock and no thread was inside the writer
  // (this one would be under the guard: fork_skipped); only an exit under way
  // (g_exiting, set with the writer's exit flag) leaves something to reset.
  if (!g_fork_alone || g_exiting.load(std::memory_order_relaxed)) writer_after_fork_child(!g_fork_alone);
  // Written only when set: every page the child writes is a copy-on-write
  // fault (these usually hold their reset values already).
  clear_if_set(g_exit_done);
  clear_if_set(g_exiting);
  clear_if_set(g_snapshot_requests);  // the parent's requests are the parent's
  if (tls.poked) tls.poked = 0;
  if (g_helper_running.load()) {
    Guard guard;
    g_pipe_w.store(-1);
    if (pipe_is_ours()) {  // never close a descriptor the program has reused
      close(g_pipe[0]);
      close(g_pipe[1]);
    }
    g_pipe[0] = g_pipe[1] = -1;
  }
  // The child has one thread. glibc stays in its multi-threaded mode in the
  // child of a multi-threaded parent, so there a helper costs nothing more;
  // otherwise the same rule as at start.
  clear_if_set(g_helper_running);
  clear_if_set(g_helper_started);
  if (g_thread_eager || !__libc_single_threaded) start_helper();
}

struct SigName {
  const char* name;
  int num;
};
const SigName kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
                            {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},   {"TERM", SIGTERM},
                            {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
                            {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
                            {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
                            {"PWR", SIGPWR},   {"SYS", SIGSYS}};
}  // namespace

// Names are case-insensitive, with or without SIG (usr1, SIGUSR1, Usr2);
// RTMIN and RTMIN+N; numbers 1..SIGRTMAX. SIGKILL, SIGSTOP, 0 and glibc's
// internal signals (between 31 and SIGRTMIN) are rejected (-1).
int parse_signal(const char* s) {
  if (!strcasecmp(s, "none")) return 0;
  int v = -1;
  if (*s >= '0' && *s <= '9') {
    v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) {
      v = v * 10 + (*s - '0');
      if (v > 1000) return -1;
    }
    if (*s) return -1;
  } else {
    if (!strncasecmp(s, "SIG", 3)) s += 3;
    if (!strncasecmp(s, "RTMIN", 5)) {
      const char* p = s + 5;
      int n = 0;
      if (*p == '+') {
        if (!*++p) return -1;
        for (; *p >= '0' && *p <= '9'; ++p)
          if ((n = n * 10 + (*p - '0')) > 1000) return -1;
      }
      if (*p) return -1;
      v = SIGRTMIN + n;
    } else {
      for (const SigName& n : kSignals)
        if (!strcasecmp(s, n.name)) v = n.num;
    }
  }
  if (v < 1 || v > SIGRTMAX || v == SIGKILL || v == SIGSTOP || (v > SIGSYS && v < SIGRTMIN)) return -1;
  return v;
}

int parse_config(Config* c, const char* (*get)(const char*)) {
  int bad = 0;
  const char* v;
  if ((v = get("HEAPSCOPE_OUT")) && *v) {
    size_t n = strlen(v);
    if (n + 64 >= sizeof c->out_prefix) {
      log_line("HEAPSCOPE_OUT is %zu bytes long; expected under %zu; using ./heapscope", n, sizeof c->out_prefix - 64);
      ++bad;
    } else {
      memcpy(c->out_prefix, v, n + 1);
    }
  }
  if ((v = get("HEAPSCOPE_INTERVAL")) && !parse_seconds(v, &c->interval_ms)) {
    log_line("HEAPSCOPE_INTERVAL=%s: expected seconds (e.g. 10 or 0.5; 0 = off); interval snapshots are off", v);
    c->interval_ms = 0, ++bad;
  }
  if ((v = get("HEAPSCOPE_STATS")) && !parse_seconds(v, &c->stats_ms)) {
    log_line("HEAPSCOPE_STATS=%s: expected seconds (0 = off); stats lines are off", v);
    c->stats_ms = 0, ++bad;
  }
  if ((v = get("HEAPSCOPE_SAMPLE")) && !parse_bytes(v, &c->sample_period)) {
    log_line("HEAPSCOPE_SAMPLE=%s: expected mean bytes between samples (e.g. 524288 or 512K; 0 = every "
             "allocation); tracking every allocation",
             v);
    c->sample_period = 0, ++bad;
  }
  if ((v = get("HEAPSCOPE_ALERT")) && !parse_bytes(v, &c->alert_bytes)) {
    log_line("HEAPSCOPE_ALERT=%s: expected bytes of growth (e.g. 104857600 or 100M; 0 = off); alerts are off", v);
    c->alert_bytes = 0, ++bad;
  }
  if ((v = get("HEAPSCOPE_SIGNAL"))) {
    int s = parse_signal(v);
    if (s < 0) {
      log_line("HEAPSCOPE_SIGNAL=%s: expected a signal name (SIGUSR2), a number, or none; using SIGUSR2", v);
      ++bad;
    } else {
      c->signal = s;
    }
  }
  if ((v = get("HEAPSCOPE_AT_EXIT"))) {
    if (!strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "true")) c->at_exit = true;
    else if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false")) c->at_exit = false;
    else log_line("HEAPSCOPE_AT_EXIT=%s: expected 1 or 0; using 1", v), ++bad;
  }
  if ((v = get("HEAPSCOPE_DEPTH"))) {
    uint64_t d = 0;
    if (!parse_bytes(v, &d) || d < 1 || d > HS_MAX_DEPTH) {
      log_line("HEAPSCOPE_DEPTH=%s: expected 1..%u frames; using 64", v, HS_MAX_DEPTH);
      ++bad;
    } else {
      c->depth = (uint32_t)d;
    }
  }
  if ((v = get("HEAPSCOPE_UNWIND"))) {
    if (!strcmp(v, "fp")) c->unwinder = Unwinder::fp;
    else if (!strcmp(v, "libunwind")) c->unwinder = Unwinder::libunwind;
    else if (!strcmp(v, "cfi")) c->unwinder = Unwinder::cfi;
    else if (!strcmp(v, "check")) c->unwinder = Unwinder::check;
    else log_line("HEAPSCOPE_UNWIND=%s: expected cfi, libunwind or fp; using cfi", v), ++bad;
  }
  if ((v = get("HEAPSCOPE_PEAK")) && !parse_fraction(v, 10000000, &c->peak_ppm)) {
    log_line("HEAPSCOPE_PEAK=%s: expected a fraction of growth between peak snapshots (e.g. 0.05 or 5%%; "
             "0 = off; at most 1000%%); using 5%%",
             v);
    c->peak_ppm = 50000, ++bad;
  }
  if ((v = get("HEAPSCOPE_OOM")) && (!parse_fraction(v, 999999, &c->oom_ppm))) {
    log_line("HEAPSCOPE_OOM=%s: expected a fraction of the memory limit below 1 (e.g. 0.9 or 90%%; 0 = off); "
             "using 90%%",
             v);
    c->oom_ppm = 900000, ++bad;
  }
  if ((v = get("HEAPSCOPE_CGROUP_ROOT")) && !copy_path(c->cgroup_root, sizeof c->cgroup_root, v)) {
    log_line("HEAPSCOPE_CGROUP_ROOT=%s: expected a directory path of 1..%zu bytes; using /sys/fs/cgroup", v,
             sizeof c->cgroup_root - 65);
    ++bad;
  }
  if ((v = get("HEAPSCOPE_CGROUP_FILE")) && !copy_path(c->cgroup_file, sizeof c->cgroup_file, v)) {
    log_line("HEAPSCOPE_CGROUP_FILE=%s: expected a file path of 1..%zu bytes; using /proc/self/cgroup", v,
             sizeof c->cgroup_file - 65);
    ++bad;
  }
  if ((v = get("HEAPSCOPE_THREAD"))) {
    if (!strcmp(v, "always")) c->thread_always = true;
    else if (!strcmp(v, "auto")) c->thread_always = false;
    else log_line("HEAPSCOPE_THREAD=%s: expected auto or always; using auto", v), ++bad;
  }
  if ((v = get("HEAPSCOPE_MMAP"))) {
    if (!strcmp(v, "1")) c->track_mmap = true;
    else if (!strcmp(v, "0")) c->track_mmap = false;
    else log_line("HEAPSCOPE_MMAP=%s: expected 1 or 0; mmap tracking is off", v), ++bad;
  }
  return bad;
}

static const char* env_get(const char* name) { return getenv(name); }
const char* (*g_option_source)(const char*) = nullptr;

// A relative HEAPSCOPE_OUT is taken relative to the start-up directory, so a
// program that chdir()s (daemons do) still writes where the user looks.
static void make_prefix_absolute(Config* c) {
  if (c->out_prefix[0] == '/') return;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return;
  const char* rel = c->out_prefix;
  if (rel[0] == '.' && rel[1] == '/') rel += 2;
  char joined[sizeof c->out_prefix];
  size_t n = format(joined, sizeof joined, "%s/%s", cwd, rel);
  if (n + 64 < sizeof joined) memcpy(c->out_prefix, joined, n + 1);
}

// Everything the hooks need to record, once: the first allocation that finds
// heapscope not started (a constructor of a library initialised before ours,
// see record_alloc) or our constructor, whichever comes first.
static bool control_start() {
  static std::atomic<int> once{0};
  int expected = 0;
  if (!once.compare_exchange_strong(expected, 1)) return g_run_state.load() == kActive;
  next_resolve();
  if (getauxval(AT_SECURE)) {
    // setuid/setgid/capabilities: read no option, write nothing, only forward.
    g_run_state.store(kDisabled);
    return false;
  }
  Guard guard;
  int saved = errno;
  parse_config(&g_cfg, g_option_source ? g_option_source : env_get);
  make_prefix_absolute(&g_cfg);
  writer_set_start_time();
  peak_init();
  arena_use_huge_pages(g_cfg.sample_period == 0);
  capture_init();
  if ((g_cfg.unwinder == Unwinder::cfi || g_cfg.unwinder == Unwinder::check) && !cfi_init())
    g_cfg.unwinder = Unwinder::libunwind;
  memo_init();
  if (!record_init()) {
    log_line("cannot map memory for the tracking tables (errno %d); tracking is off", errno);
    g_run_state.store(kDisabled);
    errno = saved;
    return false;
  }
  g_r_debug = (const volatile r_debug*)dlsym(RTLD_DEFAULT, "_r_debug");
  (void)allocator_name();  // asks dladdr once, now: the signal handler's snapshot may not
  modules_refresh();
  g_run_state.store(kActive);
  errno = saved;
  return true;
}

bool control_start_early() {
  // Before libc's own early initialisation (the dynamic linker's allocations)
  // __libc_single_threaded is still 0, as it is once threads exist: both wait
  // for the constructor. In a constructor of another library, single-threaded,
  // everything control_start uses is ready.
  if (!__libc_single_threaded || tls.guard) return false;
  return control_start();
}

void control_init(void* own_malloc) {
  if (!control_start()) return;
  Guard guard;
  void* first = dlsym(RTLD_DEFAULT, "malloc");
  if (own_malloc && first && first != own_malloc) {
    Dl_info info;
    const char* who = dladdr(first, &info) && info.dli_fname && *info.dli_fname ? info.dli_fname : "the executable";
    log_line("malloc is defined by %s, ahead of heapscope in symbol lookup; allocations through it are not seen "
             "(preload heapscope, or link -lheapscope before it)",
             who);
  }
  modules_refresh();  // the libraries loaded since an early start
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  next_pthread_create();
  next_thrd_create();
  // The helper thread is started when something needs it: at once for a
  // timer (interval, stats, alert), HEAPSCOPE_THREAD=always, or a program
  // that already has threads; otherwise with the program's first thread
  // (control_before_thread_create). A single-threaded program stays single-
  // threaded, so glibc keeps its lock-free single-thread paths (a second
  // thread alone costs an allocation-heavy C program ~25%); its snapshot
  // requests are served on its own thread from the signal handler
  // (serve_in_handler).
  // HEAPSCOPE_OOM alone does not start the thread of a single-threaded program:
  // it checks the limit at each 0.25% rise of its live heap instead (peak.h).
  g_limit_found = g_cfg.oom_ppm && memlimit_init();
  g_thread_wanted = g_cfg.signal || g_cfg.interval_ms || g_cfg.stats_ms || g_cfg.alert_bytes || g_cfg.thread_always ||
                    g_cfg.oom_ppm;
  g_thread_eager = g_cfg.interval_ms || g_cfg.stats_ms || g_cfg.alert_bytes || g_cfg.thread_always ||
                   !__libc_single_threaded;
  install_signal();
  if (g_thread_eager) start_helper();
}

void control_before_thread_create() {
  if (!g_helper_started.load(std::memory_order_relaxed)) start_helper();
}

void control_channel_follow() {
  if (!g_helper_running.load()) return;
  g_channel_follow.store(true);
  int fd = g_pipe_w.load();
  if (fd >= 0) wake_helper(fd);
}

void control_serve_requests() {
  tls.poked = 0;
  if (g_run_state.load(std::memory_order_relaxed) == kActive && !g_exiting.load(std::memory_order_relaxed))
    peak_serve(!g_helper_running.load(std::memory_order_relaxed));  // peak.h: a threshold this thread crossed
  if (tls.fork_owner) return;  // inside fork's handlers (writer lock held): served later
  if (g_helper_running.load(std::memory_order_relaxed) || g_exiting.load(std::memory_order_relaxed)) return;
  if (g_run_state.load(std::memory_order_relaxed) != kActive || !g_snapshot_requests.exchange(0)) return;
  // Called from a hook after the allocator returned: not nested in it, so the
  // writer may ask it for its figures (it does when the guard is exactly 1).
  const int outer = tls.guard;
  tls.guard = 1;
  int saved = errno;
  write_snapshot(HS_TRIGGER_SIGNAL, nullptr, 0);
  errno = saved;
  tls.guard = outer;
}

void control_exit_snapshot() {
  if (g_run_state.load() != kActive || !g_cfg.at_exit) return;
  if (g_exit_done.exchange(1)) return;
  g_exiting.store(true);
  check_handler();
  writer_begin_exit();
  Guard guard;
  write_snapshot(HS_TRIGGER_EXIT, nullptr, 0);
}

void control_before_dlclose() {
  if (g_run_state.load(std::memory_order_relaxed) != kActive) return;
  Guard guard;
  modules_refresh();
  cfi_forget_all();  // the unwind rules of the library going away
  memo_forget_all();
}

void control_after_dlclose() {
  if (g_run_state.load(std::memory_order_relaxed) == kActive) {
    cfi_forget_all();
    memo_forget_all();
  }
}
}  // namespace hs
