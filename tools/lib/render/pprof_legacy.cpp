// pprof_legacy.cpp -- see pprof_legacy.h.
#include "render/pprof_legacy.h"

#include <cinttypes>
#include <cstdio>

namespace heapscope {
namespace {
std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "%#" PRIx64, v);
  return b;
}

// "<n>: <B> [<n>: <B>]" with Go's bump of alloc_B when it equals inuse_B.
std::string figures(const Counts& c) {
  int64_t alloc_b = c.alloc_bytes == c.inuse_bytes ? c.alloc_bytes + 1 : c.alloc_bytes;
  return std::to_string(c.inuse_count) + ": " + std::to_string(c.inuse_bytes) + " [" +
         std::to_string(c.alloc_count) + ": " + std::to_string(alloc_b) + "]";
}
}  // namespace

std::string render_pprof_legacy_text(const ExportInput& in) {
  const Profile& p = *in.profile;
  std::string out = "heap profile: " + figures(p.totals) + " @ " +
                    (p.sampled && p.sample_period > 1 ? std::string("heapprofile") : std::string("heap/2")) + "\n";
  for (const Site& s : p.sites) {
    if (s.mapped) continue;  // the heap only, as Go's heap profile
    out += figures(s.counts) + " @";
    for (uint64_t pc : s.pcs) out += " " + hex(pc);
    out += "\n";
    for (uint64_t pc : s.pcs) {
      for (const Frame& f : in.lookup(pc)) {
        out += "#\t" + hex(pc) + "\t" + (f.function.empty() ? hex(pc) : f.function);
        if (f.symbol_offset >= 0 && !f.function.empty()) out += "+" + hex(uint64_t(f.symbol_offset));  // Go's +0xoff
        out += "\t" + (f.file.empty() ? f.module : f.file) + ":" + std::to_string(f.line) + "\n";
      }
    }
    out += "\n";
  }
  out += "# heapscope\n";
  out += "# InuseBytes = " + std::to_string(p.totals.inuse_bytes) + "\n";
  out += "# InuseObjects = " + std::to_string(p.totals.inuse_count) + "\n";
  out += "# AllocBytes = " + std::to_string(p.totals.alloc_bytes) + "\n";
  out += "# AllocObjects = " + std::to_string(p.totals.alloc_count) + "\n";
  out += "# Frees = " + std::to_string(p.totals.alloc_count - p.totals.inuse_count) + "\n";
  out += "# SamplePeriod = " + std::to_string(p.sampled ? p.sample_period : 0) + "\n";
  out += "\nMAPPED_LIBRARIES:\n";
  for (const Module& m : p.modules) {
    for (const Range& r : m.ranges) {
      char line[160];
      std::snprintf(line, sizeof line, "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " 00:00 0 ", r.start, r.end,
                    (r.flags & 1) ? "r-xp" : "r--p", r.file_offset);
      out += line + m.path + "\n";
    }
  }
  return out;
}

}  // namespace heapscope
