// config.h -- the profiler's options, parsed once from the environment.
// Owns: struct Config and the process-wide g_cfg plus the run state.
// Safety: g_cfg is written only by control_init() (constructor, one thread)
// and read everywhere afterwards without synchronization.
#pragma once
#include <atomic>
#include <stdint.h>

namespace hs {
// check: cfi, verified against libunwind on every capture (a debugging aid:
// mismatches are reported on stderr; slow).
enum class Unwinder : uint8_t { cfi, libunwind, fp, check };

struct Config {
  char out_prefix[4096] = "./heapscope";  // HEAPSCOPE_OUT
  uint64_t interval_ms = 0;               // HEAPSCOPE_INTERVAL (seconds, fractions allowed)
  int signal = 12;                        // HEAPSCOPE_SIGNAL (SIGUSR2); 0 = none
  uint64_t sample_period = 0;             // HEAPSCOPE_SAMPLE; 0 = full tracking
  bool at_exit = true;                    // HEAPSCOPE_AT_EXIT
  uint64_t stats_ms = 0;                  // HEAPSCOPE_STATS
  uint64_t alert_bytes = 0;               // HEAPSCOPE_ALERT
  uint32_t depth = 64;                    // HEAPSCOPE_DEPTH (1..HS_MAX_DEPTH)
  Unwinder unwinder = Unwinder::cfi;      // HEAPSCOPE_UNWIND=cfi|libunwind|fp|check
  bool thread_always = false;             // HEAPSCOPE_THREAD=always (default auto)
  uint32_t peak_ppm = 50000;              // HEAPSCOPE_PEAK (parts per million of growth; 0 = off)
  uint32_t oom_ppm = 900000;              // HEAPSCOPE_OOM (parts per million of the limit; 0 = off)
  char cgroup_root[1024] = "/sys/fs/cgroup";    // HEAPSCOPE_CGROUP_ROOT (for tests)
  char cgroup_file[1024] = "/proc/self/cgroup";  // HEAPSCOPE_CGROUP_FILE (for tests)
  bool track_mmap = false;                // HEAPSCOPE_MMAP=1: the program's own anonymous mmaps too (mmap_book.h)
};
extern Config g_cfg;

// Run state: hooks record only when kActive.
enum RunState : int { kNotStarted = 0, kActive = 1, kDisabled = 2 };
extern std::atomic<int> g_run_state;
extern std::atomic<bool> g_recording;  // heapscope_start()/heapscope_stop()
}  // namespace hs
