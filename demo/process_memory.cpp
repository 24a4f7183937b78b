// process_memory.cpp -- see process_memory.h.
#define HEAPSCOPE_WEAK  // weak declarations: no link-time dependency on libheapscope
#include "process_memory.h"

#include <heapscope/heapscope.h>
#include <malloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace demo {

namespace {

uint64_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size_pages = 0, resident_pages = 0;
  int n = std::fscanf(f, "%lu %lu", &size_pages, &resident_pages);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<uint64_t>(resident_pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// RssFile + RssShmem from /proc/self/status, in bytes; 0 if unreadable.
uint64_t rss_not_anonymous_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  unsigned long long kib = 0, total = 0;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "RssFile: %llu kB", &kib) == 1 || std::sscanf(line, "RssShmem: %llu kB", &kib) == 1)
      total += kib;
  std::fclose(f);
  return static_cast<uint64_t>(total) * 1024;
}

}  // namespace

MemoryFigures read_memory() {
  MemoryFigures m;
  m.rss_bytes = rss_bytes();
  struct mallinfo2 mi = mallinfo2();
  m.heap_used_bytes = mi.uordblks + mi.hblkhd;
  m.heap_total_bytes = mi.arena + mi.hblkhd;
  m.external_bytes = rss_not_anonymous_bytes();
  m.heapscope_active = heapscope_active_or_inactive() == 1;
  struct heapscope_totals totals {};
  if (m.heapscope_active && heapscope_totals_or_inactive(&totals) == 0) {
    m.tracked_live_bytes = totals.inuse_bytes;
    m.tracked_live_blocks = totals.inuse_count;
  }
  return m;
}

std::optional<std::string> write_snapshot(std::string& error, bool& library_absent) {
  library_absent = false;
  char path[4096] = {0};
  if (heapscope_snapshot_or_inactive(path, sizeof path) == 0) return std::string(path);
  int err = errno;
  library_absent = (err == ENOSYS);
  error = library_absent ? "heapscope is not loaded: start the server with `heapscope run -- leaky_server ...`"
                         : std::string("heapscope_snapshot failed: ") + std::strerror(err);
  return std::nullopt;
}

}  // namespace demo
