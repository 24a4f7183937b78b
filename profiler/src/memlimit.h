// memlimit.h -- the memory limit that applies to the process, and the
// HEAPSCOPE_OOM trigger ("before the OOM").
// Owns: reading the limits (cgroup v2 memory.max and memory.high of the
// process's cgroup and every ancestor; cgroup v1 memory.limit_in_bytes of the
// memory controller's cgroup and its ancestors; RLIMIT_AS) with the usage
// each is measured against (v2 memory.current, v1 memory.usage_in_bytes, the
// process's VmSize for RLIMIT_AS), choosing the one closest to its limit;
// and the crossing state of the thresholds (HEAPSCOPE_OOM, then 95% and 99%
// above it), each crossing writing one snapshot (HS_TRIGGER_OOM, in the
// periodic series PREFIX.PID.SEQ.hsnap) and one line on stderr.
// The cgroup root (HEAPSCOPE_CGROUP_ROOT, default /sys/fs/cgroup) and the
// cgroup membership file (HEAPSCOPE_CGROUP_FILE, default /proc/self/cgroup)
// are options for tests (fixture trees).
// Polled on the helper thread every 500 ms (every 10 s while no limit was
// found), never on the allocation path; a process without a helper thread
// checks at each 0.25% rise of its tracked live heap's high-water mark (peak.h).
// Safety: memlimit_read is async-signal-safe (open/read/close, fixed
// buffers); memlimit_check is cold (writes a snapshot).
#pragma once
#include <stdint.h>

namespace hs {
enum MemLimitKind : uint32_t {
  kLimitNone = 0,
  kLimitCgroup2Max = 1,   // cgroup v2 memory.max
  kLimitCgroup2High = 2,  // cgroup v2 memory.high
  kLimitCgroup1 = 3,      // cgroup v1 memory.limit_in_bytes
  kLimitRlimitAs = 4,     // RLIMIT_AS (usage: VmSize)
};
struct MemLimit {
  uint64_t limit;  // bytes; 0 = no limit found
  uint64_t usage;  // bytes, measured as the limit counts them
  uint32_t kind;   // MemLimitKind
  char source[1024];  // the limit's file (or "RLIMIT_AS")
  char bad[1200];     // the first malformed file met and its value ("" when none)
};
// Reads every limit and keeps the one whose usage is nearest to it.
void memlimit_read(MemLimit* out);
const char* memlimit_kind_name(uint32_t kind);
// True when some limit applied at start-up (the helper then polls every 500 ms).
bool memlimit_init();
// One poll: a crossing writes the OOM snapshot and says so on stderr; a
// malformed limit file is reported once. Cold; call with the re-entry guard held.
void memlimit_check();
uint64_t memlimit_snapshots();  // OOM snapshots written (STATS oom_snapshots)
}  // namespace hs
