// hsnap_builder.h -- test-only writer of .hsnap snapshot files, straight from
// profiler/format/hsnap_format.h (independent of the profiler's writer, so the
// reader is tested against the format, not against one implementation).
//
// Owns: building valid files and deliberately broken ones (every field is
// public; bytes() serializes exactly what is set). Header-only, C++17, used by
// the tools tests, the test programs in tests/tools/programs and (read-only)
// by the export tests. Not for production; allocates freely.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "hsnap_format.h"

namespace hsnap_test {

struct ModuleSpec {
  std::string path;
  std::string build_id;  // raw bytes
  uint64_t load_bias = 0;
  std::vector<HsRange> ranges;
  uint32_t flags = 0;
};

struct StackSpec {
  std::vector<uint64_t> pcs;  // innermost first
  uint32_t flags = 0;
  uint32_t depth_override = 0;  // nonzero: written as depth instead of pcs.size()
};

class Builder {
 public:
  HsFileHeader header{};
  std::vector<std::pair<std::string, std::string>> meta;
  HsTotals totals{};
  bool auto_totals = true;  // totals = sum of sites when true
  std::vector<std::pair<std::string, uint64_t>> stats;
  std::vector<ModuleSpec> modules;
  std::vector<StackSpec> stacks;
  std::vector<HsSite> sites;
  bool write_end = true;
  int64_t end_size_adjust = 0;  // added to the size END records
  // Offsets of each section header in the last bytes() result.
  mutable std::vector<size_t> section_offsets;

  Builder() {
    std::memcpy(header.magic, HS_MAGIC, HS_MAGIC_LEN);
    header.version = HS_VERSION;
    header.header_size = sizeof(HsFileHeader);
    header.pid = 4242;
    header.mode = HS_MODE_FULL;
    header.trigger = HS_TRIGGER_SIGNAL;
    header.seq = 1;
  }

  uint32_t add_stack(std::vector<uint64_t> pcs, uint32_t flags = 0) {
    stacks.push_back({std::move(pcs), flags, 0});
    return uint32_t(stacks.size() - 1);
  }
  void add_site(uint32_t stack, uint64_t inuse_bytes, uint64_t inuse_count, uint64_t alloc_bytes,
                uint64_t alloc_count) {
    HsSite s{};
    s.stack = stack;
    s.inuse_bytes = inuse_bytes;
    s.inuse_count = inuse_count;
    s.alloc_bytes = alloc_bytes;
    s.alloc_count = alloc_count;
    s.sampled_inuse_count = inuse_count;
    s.sampled_alloc_count = alloc_count;
    sites.push_back(s);
  }
  // A module covering [start, end) with load bias `bias`, executable.
  void add_module(std::string path, uint64_t start, uint64_t end, uint64_t bias = 0,
                  uint32_t flags = 0, std::string build_id = {}) {
    ModuleSpec m;
    m.path = std::move(path);
    m.load_bias = bias;
    m.flags = flags;
    m.build_id = std::move(build_id);
    m.ranges.push_back(HsRange{start, end, start - bias, 5});
    modules.push_back(std::move(m));
  }

  std::string bytes() const {
    std::string out;
    section_offsets.clear();
    put(out, &header, sizeof header);
    HsTotals t = totals;
    if (auto_totals) {
      t = HsTotals{};
      for (const auto& s : sites) {
        t.inuse_bytes += s.inuse_bytes;
        t.inuse_count += s.inuse_count;
        t.alloc_bytes += s.alloc_bytes;
        t.alloc_count += s.alloc_count;
      }
      t.free_count = t.alloc_count - t.inuse_count;
    }
    std::string p;
    for (const auto& [k, v] : meta) {
      HsStringPair sp{uint32_t(k.size()), uint32_t(v.size())};
      put(p, &sp, sizeof sp);
      str(p, k);
      str(p, v);
    }
    section(out, HS_SEC_META, p);
    p.clear();
    put(p, &t, sizeof t);
    section(out, HS_SEC_TOTALS, p);
    p.clear();
    for (const auto& [name, value] : stats) {
      HsStat st{value, uint32_t(name.size()), 0};
      put(p, &st, sizeof st);
      str(p, name);
    }
    section(out, HS_SEC_STATS, p);
    p.clear();
    u64(p, modules.size());
    for (const auto& m : modules) {
      HsModule hm{m.load_bias, uint32_t(m.path.size()), uint32_t(m.build_id.size()),
                  uint32_t(m.ranges.size()), m.flags};
      put(p, &hm, sizeof hm);
      for (const auto& r : m.ranges) put(p, &r, sizeof r);
      str(p, m.path);
      str(p, m.build_id);
    }
    section(out, HS_SEC_MODULES, p);
    p.clear();
    u64(p, stacks.size());
    for (const auto& s : stacks) {
      HsStack hs{s.depth_override ? s.depth_override : uint32_t(s.pcs.size()), s.flags};
      put(p, &hs, sizeof hs);
      for (uint64_t pc : s.pcs) u64(p, pc);
    }
    section(out, HS_SEC_STACKS, p);
    p.clear();
    u64(p, sites.size());
    for (const auto& s : sites) put(p, &s, sizeof s);
    section(out, HS_SEC_SITES, p);
    if (write_end) {
      section_offsets.push_back(out.size());
      HsSectionHeader sh{HS_SEC_END, 0, 8};
      put(out, &sh, sizeof sh);
      u64(out, uint64_t(int64_t(out.size() + 8) + end_size_adjust));
    }
    return out;
  }

  bool write(const std::string& path) const { return write_file(path, bytes()); }

  static bool write_file(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
  }

 private:
  static void put(std::string& out, const void* p, size_t n) {
    out.append(static_cast<const char*>(p), n);
  }
  static void u64(std::string& out, uint64_t v) { put(out, &v, 8); }
  static void str(std::string& out, const std::string& s) {
    out += s;
    out.append(hs_pad8(s.size()) - s.size(), '\0');
  }
  void section(std::string& out, uint32_t kind, const std::string& payload) const {
    section_offsets.push_back(out.size());
    HsSectionHeader sh{kind, 0, payload.size()};
    put(out, &sh, sizeof sh);
    out += payload;
  }
};

}  // namespace hsnap_test
