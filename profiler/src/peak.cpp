// peak.cpp -- see peak.h.
#include "peak.h"

#include <errno.h>
#include <time.h>

#include "config.h"
#include "control.h"
#include "hsnap_format.h"
#include "log.h"
#include "memlimit.h"
#include "snapshot_writer.h"
#include "thread_state.h"

namespace hs {
std::atomic<uint64_t> g_live_total{0};
std::atomic<uint64_t> g_peak_bytes{0};

namespace {
constexpr uint64_t kPeakFloor = (uint64_t)1 << 20;  // no peak file below 1 MiB of live heap
constexpr uint64_t kOomStepPpm = 2500;             // threadless limit check: every 0.25% of growth
std::atomic<uint64_t> g_peak_mono_ns{0};
// The one threshold peak_raise compares with: the lower of the two below.
std::atomic<uint64_t> g_next{UINT64_MAX};
uint64_t g_file_next = UINT64_MAX;  // the next peak file (written by the claimer of g_due only)
uint64_t g_oom_next = UINT64_MAX;   // the next threadless memory-limit check
std::atomic<bool> g_due{false};     // a thread crossed g_next and serves it at the end of its hook
std::atomic<uint64_t> g_files{0};
std::atomic<uint64_t> g_file_bytes{0};

uint64_t mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t grown(uint64_t level, uint32_t ppm) {
  if (level < kPeakFloor) level = kPeakFloor;
  const unsigned __int128 v = (unsigned __int128)level * (1000000u + ppm) / 1000000u;
  return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}
void set_next() {
  g_next.store(g_file_next < g_oom_next ? g_file_next : g_oom_next, std::memory_order_relaxed);
}
}  // namespace

void peak_init() {
  g_file_next = g_cfg.peak_ppm ? kPeakFloor : UINT64_MAX;
  g_oom_next = g_cfg.oom_ppm ? kPeakFloor : UINT64_MAX;
  set_next();
}

void peak_reset() {
  g_live_total.store(0);
  g_peak_bytes.store(0);
  g_peak_mono_ns.store(0);
  peak_init();
}

void peak_raise(uint64_t now) {
  uint64_t cur = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > cur && !g_peak_bytes.compare_exchange_weak(cur, now, std::memory_order_relaxed)) {
  }
  if (now <= cur) return;  // another thread raised it further meanwhile
  g_peak_mono_ns.store(mono_ns(), std::memory_order_relaxed);
  if (HS_UNLIKELY(now >= g_next.load(std::memory_order_relaxed)) && !g_due.load(std::memory_order_relaxed) &&
      !g_due.exchange(true))
    tls.poked = 1;  // this thread serves it: serve_if_poked at the end of the hook
}

void peak_serve(bool threadless) {
  if (!g_due.load()) return;
  if (tls.fork_owner) {  // inside fork's handlers (the writer lock is held): at the next hook end
    tls.poked = 1;
    return;
  }
  const int outer = tls.guard;
  tls.guard = 1;  // not nested in the allocator: the writer may ask it for its figures
  int saved = errno;
  // Bounded: each round moves a threshold up by at least (1 + f).
  for (int round = 0; round < 4; ++round) {
    const uint64_t hwm = g_peak_bytes.load();
    bool did = false;
    if (hwm >= g_file_next) {
      did = true;
      uint64_t level = g_live_total.load();
      if (write_snapshot(HS_TRIGGER_PEAK, nullptr, 0) == 0) {
        level = last_peak_snapshot_live_bytes();
        g_file_bytes.store(level);
        g_files.fetch_add(1, std::memory_order_relaxed);
      } else if (errno == ECANCELED) {  // the exit snapshot began: no more
        g_file_next = UINT64_MAX;
        break;
      }
      // A failed write is not retried at every allocation either.
      const uint64_t base = level > g_file_next ? level : g_file_next;
      g_file_next = grown(base, g_cfg.peak_ppm);
    }
    if (hwm >= g_oom_next) {
      did = true;
      if (threadless) memlimit_check();
      g_oom_next = grown(hwm, kOomStepPpm);
    }
    if (!did) break;
  }
  set_next();
  g_due.store(false);
  errno = saved;
  tls.guard = outer;
}

PeakFigures peak_figures(uint64_t start_ns) {
  PeakFigures f;
  f.inuse_bytes = g_peak_bytes.load(std::memory_order_relaxed);
  const uint64_t at = g_peak_mono_ns.load(std::memory_order_relaxed);
  f.uptime_ns = at > start_ns ? at - start_ns : 0;
  f.unix_ns = 0;
  if (at) {
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    const uint64_t now_rt = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec, now_m = mono_ns();
    const uint64_t ago = now_m > at ? now_m - at : 0;
    f.unix_ns = now_rt > ago ? now_rt - ago : 0;
  }
  f.snapshots = g_files.load(std::memory_order_relaxed);
  f.snapshot_bytes = g_file_bytes.load(std::memory_order_relaxed);
  return f;
}
}  // namespace hs
