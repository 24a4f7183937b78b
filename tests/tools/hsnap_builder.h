// hsnap_builder.h -- test-only writer of .hsnap snapshot files, straight from
// profiler/format/hsnap_format.h (independent of the profiler's writer, so the
// reader is tested against the format, not against one implementation).
//
// Owns: building valid files and deliberately broken ones (every field is
// public; bytes() serializes exactly what is set). Header-only, C++17, used by
// the tools tests, the test programs in tests/tools/programs and (read-only)
// by the export tests. Not for production; allocates freely.
//
// Versions: by default it writes version 1 (fixed STACKS and SITES records:
// the tests of the reader's version-1 path, and the tests that were written
// before version 2). With `v2 = true` it writes version 2 (CHAIN, FRAMES,
// STACKS2, SITES2); with `base` set as well, a chained file on top of that
// builder's file: `stacks` must then start with the base's stacks (same
// numbers), and only new frames, new stacks and changed or removed sites are
// written.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
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
  // Version 2 (v2 = true): the chain.
  bool v2 = false;
  const Builder* base = nullptr;  // the predecessor (chained), or none (self-contained)
  std::string base_name;          // CHAIN's predecessor name (default: none)
  uint64_t run_id = 0x5eed;
  int64_t end_size_adjust = 0;  // added to the size END records
  // Offsets of each section header in the last bytes() result.
  mutable std::vector<size_t> section_offsets;

  Builder() {
    std::memcpy(header.magic, HS_MAGIC, HS_MAGIC_LEN);
    header.version = 1;  // bytes() writes 2 when v2 is set
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
    HsFileHeader h = header;
    if (v2 && h.version == 1) h.version = 2;
    put(out, &h, sizeof h);
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
    if (v2) {
      v2_sections(out);
    } else {
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
    }
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
  // The frame tree of stacks[0, n): node ids in order of first use, each
  // stack inserted outermost frame first.
  struct Tree {
    std::vector<uint32_t> parent{0};
    std::vector<uint64_t> pc{0};
    std::vector<uint32_t> keys;  // leaf << 2 | flags
    uint64_t frames_hash = 0, stacks_hash = 0;
  };
  Tree tree(size_t n) const {
    Tree t;
    std::map<std::pair<uint32_t, uint64_t>, uint32_t> child;
    for (size_t i = 0; i < n; ++i) {
      uint32_t node = 0;
      const auto& pcs = stacks[i].pcs;
      for (size_t k = pcs.size(); k-- > 0;) {
        auto [it, added] = child.try_emplace({node, pcs[k]}, uint32_t(t.parent.size()));
        if (added) {
          t.parent.push_back(node);
          t.pc.push_back(pcs[k]);
          t.frames_hash = hs_hash_step(t.frames_hash, node, pcs[k]);
        }
        node = it->second;
      }
      t.keys.push_back(node << 2 | (stacks[i].flags & 3u));
      t.stacks_hash = hs_hash_step(t.stacks_hash, t.keys.back(), 0);
    }
    return t;
  }
  static std::map<uint32_t, HsSite> site_map(const std::vector<HsSite>& v) {
    std::map<uint32_t, HsSite> m;
    for (const auto& s : v) m[s.stack] = s;
    return m;
  }
  static uint64_t sites_hash(const std::vector<HsSite>& v) {
    uint64_t h = 0;
    for (const auto& s : v)
      h += hs_site_hash(s.stack, s.inuse_bytes, s.inuse_count, s.alloc_bytes, s.alloc_count,
                        s.sampled_inuse_count, s.sampled_alloc_count);
    return h;
  }
  static void varint(std::string& out, uint64_t v) {
    uint8_t b[10];
    out.append(reinterpret_cast<const char*>(b), hs_put_varint(b, v));
  }
  void run(std::string& out, uint32_t kind, uint32_t first, uint32_t count, const std::string& stream) const {
    std::string p;
    HsRun r{first, count, stream.size()};
    put(p, &r, sizeof r);
    p += stream;
    p.append(hs_pad8(p.size()) - p.size(), '\0');
    section(out, kind, p);
  }
  void v2_sections(std::string& out) const {
    const size_t nb = base ? base->stacks.size() : 0;
    Tree b = tree(nb), t = tree(stacks.size());
    HsChain ch{};
    ch.run_id = run_id;
    ch.frames = uint32_t(t.parent.size() - 1);
    ch.stacks = uint32_t(stacks.size());
    ch.sites = uint32_t(site_map(sites).size());
    ch.frames_hash = t.frames_hash;
    ch.stacks_hash = t.stacks_hash;
    ch.sites_hash = sites_hash(sites);
    std::string name = base_name;
    if (base) {
      ch.base_seq = base->header.seq;
      ch.base_frames = uint32_t(b.parent.size() - 1);
      ch.base_stacks = uint32_t(nb);
      ch.base_frames_hash = b.frames_hash;
      ch.base_stacks_hash = b.stacks_hash;
      ch.base_sites_hash = sites_hash(base->sites);
    }
    ch.base_name_len = uint32_t(name.size());
    std::string p;
    put(p, &ch, sizeof ch);
    str(p, name);
    section(out, HS_SEC_CHAIN, p);
    std::string f;
    std::map<uint64_t, uint64_t> last;  // parent pc -> latest child pc: the address prediction
    for (size_t id = 1; id < t.parent.size(); ++id) {
      const uint64_t ppc = t.pc[t.parent[id]];
      auto it = last.find(ppc);
      const uint64_t predicted = it == last.end() ? ppc : it->second;
      last[ppc] = t.pc[id];
      if (id < b.parent.size()) continue;  // the base's nodes: in the predecessor
      const bool miss = t.pc[id] != predicted;
      varint(f, uint64_t(id - t.parent[id]) << 1 | miss);
      if (miss) varint(f, hs_zigzag(int64_t(t.pc[id] - predicted)));
    }
    run(out, HS_SEC_FRAMES, ch.base_frames + 1, ch.frames - ch.base_frames, f);
    f.clear();
    int64_t leaf = nb ? int64_t(t.keys[nb - 1] >> 2) : 0;
    for (size_t i = nb; i < t.keys.size(); ++i) {
      varint(f, hs_zigzag(int64_t(t.keys[i] >> 2) - leaf) << 2 | (t.keys[i] & 3u));
      leaf = int64_t(t.keys[i] >> 2);
    }
    run(out, HS_SEC_STACKS2, ch.base_stacks, ch.stacks - ch.base_stacks, f);
    f.clear();
    std::map<uint32_t, HsSite> now = site_map(sites), was;
    if (base) was = site_map(base->sites);
    for (const auto& [n, s] : was)
      if (!now.count(n)) now[n] = HsSite{n, 0, 0, 0, 0, 0, 0, 0};  // removed: all-zero figures
    const bool sampled = header.mode == HS_MODE_SAMPLED;
    int64_t prev = -1;
    uint32_t count = 0;
    for (const auto& [n, s] : now) {
      auto w = was.find(n);
      if (w != was.end() && std::memcmp(&w->second, &s, sizeof s) == 0) continue;  // unchanged
      varint(f, hs_zigzag(int64_t(n) - prev - 1));
      for (uint64_t v : {s.inuse_bytes, s.inuse_count, s.alloc_bytes, s.alloc_count}) varint(f, v);
      if (sampled) varint(f, s.sampled_inuse_count), varint(f, s.sampled_alloc_count);
      prev = n;
      ++count;
    }
    run(out, HS_SEC_SITES2, 0, count, f);
  }

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
