// profile.h -- the tool's in-memory heap profile, shaped after pprof.
//
// Owns: the data every reader produces and every analysis consumes. Readers
// (tools/lib/reader) fill it from .hsnap, gperftools and jemalloc files; the
// symbolizer (tools/lib/symbolize) turns Site::pcs into Frames; analyses and
// renderers never look at file formats. Plain values, no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace heapscope {

// A file that cannot be read: what() is "FILE: offset N: what is wrong" (or
// "FILE: what is wrong" where no offset applies). Tools print it as one line.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Counts {
  int64_t inuse_bytes = 0;
  int64_t inuse_count = 0;
  int64_t alloc_bytes = 0;
  int64_t alloc_count = 0;
};

struct Range {
  uint64_t start = 0, end = 0, file_offset = 0, flags = 0;
};

struct Module {
  std::string path;
  std::string build_id;  // lowercase hex, empty if unknown
  uint64_t load_bias = 0;
  std::vector<Range> ranges;
  bool main = false;
  bool unloaded = false;
  bool vdso = false;
};

// One call stack with its figures. pcs are raw return addresses, innermost
// first (the symbolizer applies the "minus one" adjustment).
struct Site {
  std::vector<uint64_t> pcs;
  Counts counts;
  bool truncated = false;
  // Kind "mapped": the program's own anonymous mmap (HEAPSCOPE_MMAP=1);
  // counts are bytes and ranges mapped, not heap blocks. false: heap.
  bool mapped = false;
};

// STATS mem_limit_kind (profiler/format/hsnap_format.h) as text.
inline const char* memory_limit_kind(uint64_t kind) {
  switch (kind) {
    case 1: return "cgroup v2 memory.max";
    case 2: return "cgroup v2 memory.high";
    case 3: return "cgroup v1 memory.limit_in_bytes";
    case 4: return "RLIMIT_AS";
    default: return "none";
  }
}

// What the process's memory was made of when the snapshot was taken: the
// hsnap STATS of docs/snapshot-format.md ("Memory composition"), nullopt
// where the snapshot does not have a figure (older files, the allocator not
// asked on the signal handler's path, an allocator heapscope cannot read).
struct MemoryStats {
  std::optional<uint64_t> rss_anon_bytes, rss_file_bytes, rss_shmem_bytes;
  std::optional<uint64_t> allocator_inuse_bytes, allocator_held_bytes, allocator_free_held_bytes;
  std::optional<uint64_t> thread_stack_bytes, thread_stacks;
  // The allocator's own figures under their STATS names (glibc_*, jemalloc_*, tcmalloc_*).
  std::vector<std::pair<std::string, uint64_t>> allocator_figures;
};

struct Profile {
  std::string path;    // file it was read from
  std::string format;  // "hsnap", "gperftools", "jemalloc"
  uint64_t pid = 0;
  uint64_t time_unix_ns = 0;  // when taken (0 if the format does not say)
  uint64_t uptime_ns = 0;     // ns since the profiler started (0 if unknown)
  uint64_t seq = 0;
  std::string trigger;        // "signal", "interval", "api", "exit", "alert", "peak", "oom", "unknown"
  bool sampled = false;
  uint64_t sample_period = 0; // mean bytes between samples when sampled
  std::map<std::string, std::string> meta;   // cmdline, exe, allocator, ...
  std::vector<std::pair<std::string, uint64_t>> stats;  // profiler's own counters
  MemoryStats memory;                                    // from stats (hsnap only)
  Counts totals;               // the heap (mapped sites are not in it)
  bool mapped_tracked = false;  // HEAPSCOPE_MMAP=1 was on: mapped_totals are known
  Counts mapped_totals;         // the program's own anonymous mappings (counts: ranges)
  std::vector<Module> modules;
  std::vector<Site> sites;

  bool is_exit() const { return trigger == "exit"; }
  // A STATS figure by name (peak_inuse_bytes, mem_limit_bytes, ...); 0 when absent.
  uint64_t stat(const std::string& name) const {
    for (const auto& [k, v] : stats)
      if (k == name) return v;
    return 0;
  }
};

}  // namespace heapscope
