// hsnap_parse.h -- a minimal, strict .hsnap parser for the profiler's tests.
// Owns: reading a snapshot file written by libheapscope back into plain
// structs, checking every structural rule of profiler/format/hsnap_format.h
// (magic, version, 8-byte alignment, section sizes, counts, END last and equal
// to the file size, stack ids in range). Independent of tools/lib/reader on
// purpose: the profiler is tested against the header, not against the tool.
// Safety: ordinary test code (throws nothing; reports errors as strings).
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "hsnap_format.h"

namespace hstest {
struct Module {
  HsModule rec;
  std::string path;
  std::string build_id;
  std::vector<HsRange> ranges;
};
struct Snapshot {
  HsFileHeader header{};
  std::map<std::string, std::string> meta;
  HsTotals totals{};
  std::map<std::string, uint64_t> stats;
  std::vector<Module> modules;
  std::vector<HsStack> stack_headers;
  std::vector<std::vector<uint64_t>> stacks;
  std::vector<HsSite> sites;
  std::vector<uint32_t> section_order;
  uint64_t file_size = 0;
};

inline bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

// Returns "" on success, else "path: offset N: what".
inline std::string parse(const std::string& path, Snapshot* s) {
  std::string d;
  if (!read_file(path, &d)) return path + ": cannot read";
  s->file_size = d.size();
  auto err = [&](size_t off, const std::string& what) { return path + ": offset " + std::to_string(off) + ": " + what; };
  if (d.size() < sizeof(HsFileHeader)) return err(0, "shorter than the file header");
  memcpy(&s->header, d.data(), sizeof s->header);
  if (memcmp(s->header.magic, HS_MAGIC, HS_MAGIC_LEN) != 0) return err(0, "bad magic");
  if (s->header.version != HS_VERSION) return err(8, "version " + std::to_string(s->header.version));
  if (s->header.header_size != sizeof(HsFileHeader)) return err(12, "header_size");
  size_t off = s->header.header_size;
  bool seen_end = false;
  while (off < d.size()) {
    if (seen_end) return err(off, "data after END");
    if (off % 8) return err(off, "section not 8-aligned");
    if (d.size() - off < sizeof(HsSectionHeader)) return err(off, "truncated section header");
    HsSectionHeader sh;
    memcpy(&sh, d.data() + off, sizeof sh);
    if (sh.size % 8) return err(off, "section size not a multiple of 8");
    if (sh.size > d.size() - off - sizeof sh) return err(off, "section runs past the end");
    const char* p = d.data() + off + sizeof sh;
    const char* end = p + sh.size;
    s->section_order.push_back(sh.kind);
    auto need = [&](size_t n) { return (size_t)(end - p) >= n; };
    switch (sh.kind) {
      case HS_SEC_META:
        while (p < end) {
          HsStringPair sp;
          if (!need(sizeof sp)) return err(p - d.data(), "truncated META pair");
          memcpy(&sp, p, sizeof sp);
          p += sizeof sp;
          if (!need(hs_pad8(sp.key_len) + hs_pad8(sp.value_len))) return err(p - d.data(), "META strings overrun");
          std::string k(p, sp.key_len);
          p += hs_pad8(sp.key_len);
          std::string v(p, sp.value_len);
          p += hs_pad8(sp.value_len);
          s->meta[k] = v;
        }
        break;
      case HS_SEC_TOTALS:
        if (sh.size != sizeof(HsTotals)) return err(off, "TOTALS size");
        memcpy(&s->totals, p, sizeof s->totals);
        break;
      case HS_SEC_STATS:
        while (p < end) {
          HsStat st;
          if (!need(sizeof st)) return err(p - d.data(), "truncated stat");
          memcpy(&st, p, sizeof st);
          p += sizeof st;
          if (!need(hs_pad8(st.name_len))) return err(p - d.data(), "stat name overrun");
          s->stats[std::string(p, st.name_len)] = st.value;
          p += hs_pad8(st.name_len);
        }
        break;
      case HS_SEC_MODULES: {
        uint64_t n;
        if (!need(8)) return err(off, "MODULES count");
        memcpy(&n, p, 8);
        p += 8;
        for (uint64_t i = 0; i < n; ++i) {
          Module m;
          if (!need(sizeof m.rec)) return err(p - d.data(), "truncated module");
          memcpy(&m.rec, p, sizeof m.rec);
          p += sizeof m.rec;
          if (m.rec.range_count > HS_MAX_RANGES) return err(p - d.data(), "range_count");
          size_t body = m.rec.range_count * sizeof(HsRange) + hs_pad8(m.rec.path_len) + hs_pad8(m.rec.build_id_len);
          if (!need(body)) return err(p - d.data(), "module overruns");
          m.ranges.resize(m.rec.range_count);
          if (m.rec.range_count) memcpy(m.ranges.data(), p, m.rec.range_count * sizeof(HsRange));
          p += m.rec.range_count * sizeof(HsRange);
          m.path.assign(p, m.rec.path_len);
          p += hs_pad8(m.rec.path_len);
          m.build_id.assign(p, m.rec.build_id_len);
          p += hs_pad8(m.rec.build_id_len);
          s->modules.push_back(m);
        }
        if (p != end) return err(p - d.data(), "MODULES has trailing bytes");
        break;
      }
      case HS_SEC_STACKS: {
        uint64_t n;
        if (!need(8)) return err(off, "STACKS count");
        memcpy(&n, p, 8);
        p += 8;
        for (uint64_t i = 0; i < n; ++i) {
          HsStack st;
          if (!need(sizeof st)) return err(p - d.data(), "truncated stack");
          memcpy(&st, p, sizeof st);
          p += sizeof st;
          if (st.depth > HS_MAX_DEPTH) return err(p - d.data(), "depth");
          if (!need(st.depth * 8ull)) return err(p - d.data(), "stack overruns");
          std::vector<uint64_t> pcs(st.depth);
          if (st.depth) memcpy(pcs.data(), p, st.depth * 8ull);
          p += st.depth * 8ull;
          s->stack_headers.push_back(st);
          s->stacks.push_back(pcs);
        }
        if (p != end) return err(p - d.data(), "STACKS has trailing bytes");
        break;
      }
      case HS_SEC_SITES: {
        uint64_t n;
        if (!need(8)) return err(off, "SITES count");
        memcpy(&n, p, 8);
        p += 8;
        if ((uint64_t)(end - p) != n * sizeof(HsSite)) return err(off, "SITES size != count * 56");
        s->sites.resize(n);
        if (n) memcpy(s->sites.data(), p, n * sizeof(HsSite));
        break;
      }
      case HS_SEC_END: {
        uint64_t v;
        if (sh.size != 8) return err(off, "END size");
        memcpy(&v, p, 8);
        if (v != d.size()) return err(off, "END says " + std::to_string(v) + ", file has " + std::to_string(d.size()));
        seen_end = true;
        break;
      }
      default:
        break;  // unknown sections are skipped
    }
    off += sizeof sh + sh.size;
  }
  if (!seen_end) return err(off, "no END section");
  for (const HsSite& site : s->sites)
    if (site.stack >= s->stacks.size()) return err(0, "site refers to stack " + std::to_string(site.stack));
  return "";
}

// Sum of per-site figures; must equal TOTALS.
inline HsTotals sum_sites(const Snapshot& s) {
  HsTotals t{};
  for (const HsSite& x : s.sites) {
    t.inuse_bytes += x.inuse_bytes;
    t.inuse_count += x.inuse_count;
    t.alloc_bytes += x.alloc_bytes;
    t.alloc_count += x.alloc_count;
  }
  return t;
}
}  // namespace hstest
