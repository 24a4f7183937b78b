// process_memory.h -- the memory figures /status and the monitor report.
//
// Owns: reading RSS (/proc/self/statm) and its file-backed and shared parts
// (/proc/self/status RssFile, RssShmem), the allocator's view (glibc mallinfo2) and, when libheapscope is loaded, the profiler's own totals
// through its C API (declared weak: the server runs the same without it).
// Thread-safe; not async-signal-safe (reads a file, takes malloc's locks).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace demo {

struct MemoryFigures {
  uint64_t rss_bytes = 0;         // resident pages * page size
  uint64_t heap_used_bytes = 0;   // mallinfo2: uordblks + hblkhd (in use, incl. mmapped blocks)
  uint64_t heap_total_bytes = 0;  // mallinfo2: arena + hblkhd (obtained from the OS)
  uint64_t external_bytes = 0;    // resident but not anonymous: code, mapped files, shared memory (RssFile + RssShmem)
  bool heapscope_active = false;  // libheapscope loaded and tracking
  std::optional<uint64_t> tracked_live_bytes;   // heapscope_totals().inuse_bytes
  std::optional<uint64_t> tracked_live_blocks;  // heapscope_totals().inuse_count
};

MemoryFigures read_memory();

// Writes a snapshot through libheapscope. Returns its path, or nullopt with
// `error` set ("heapscope is not loaded" when the library is absent).
std::optional<std::string> write_snapshot(std::string& error, bool& library_absent);

}  // namespace demo
