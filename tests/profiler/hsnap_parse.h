// hsnap_parse.h -- a minimal, strict .hsnap parser for the profiler's tests.
// Owns: reading a snapshot file written by libheapscope back into plain
// structs, checking every structural rule of profiler/format/hsnap_format.h
// (magic, version, 8-byte alignment, section sizes, counts, END last and equal
// to the file size, stack ids in range). Independent of tools/lib/reader on
// purpose: the profiler is tested against the header, not against the tool.
// Version 2 (the profiler writes nothing else): the frame tree, STACKS2 and
// SITES2 are decoded into the same stacks and sites (stack = stack number,
// sites in stack order), following a chained file's predecessors in its
// directory and checking the state hashes each file promises.
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
  // Version 2
  HsChain chain{};
  std::string base_name;           // the predecessor named by CHAIN ("" if self-contained)
  int chain_files = 0;             // files read to rebuild this one (1: self-contained)
  std::vector<uint32_t> node_parent{0};
  std::vector<uint64_t> node_pc{0};
  std::vector<uint32_t> keys;      // per stack number: leaf << 2 | flags
  std::map<uint32_t, HsSite> site_of;  // stack number -> site
  std::string raw[11];             // payloads of CHAIN, FRAMES, STACKS2, SITES2
};

// A bounded LEB128 read from [*p, end); false when it runs past end.
inline bool get_varint(const char** p, const char* end, uint64_t* v) {
  *v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = (uint8_t)*(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

inline bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

inline std::string parse(const std::string& path, Snapshot* s, int depth = 0);

// Decodes s's version-2 sections on top of its predecessor's state.
inline std::string decode_v2(const std::string& path, Snapshot* s, int depth) {
  auto err = [&](const std::string& what) { return path + ": " + what; };
  const std::string& c = s->raw[HS_SEC_CHAIN];
  if (c.size() < sizeof(HsChain)) return err("CHAIN too short");
  memcpy(&s->chain, c.data(), sizeof s->chain);
  const HsChain& ch = s->chain;
  if (c.size() != sizeof(HsChain) + hs_pad8(ch.base_name_len)) return err("CHAIN size");
  s->base_name.assign(c.data() + sizeof(HsChain), ch.base_name_len);
  s->chain_files = 1;
  if (ch.base_seq) {
    if (depth > (int)HS_MAX_CHAIN) return err("chain too long");
    size_t slash = path.rfind('/');
    std::string base = (slash == std::string::npos ? std::string() : path.substr(0, slash + 1)) + s->base_name;
    Snapshot b;
    std::string e = parse(base, &b, depth + 1);
    if (!e.empty()) return err("predecessor: " + e);
    if (b.header.seq != ch.base_seq || b.header.pid != s->header.pid || b.chain.run_id != ch.run_id)
      return err("predecessor " + base + " is not seq " + std::to_string(ch.base_seq) + " of this run");
    if (b.node_parent.size() - 1 != ch.base_frames || b.keys.size() != ch.base_stacks ||
        b.chain.frames_hash != ch.base_frames_hash || b.chain.stacks_hash != ch.base_stacks_hash ||
        b.chain.sites_hash != ch.base_sites_hash)
      return err("predecessor " + base + " does not hold the base this file names");
    s->node_parent = std::move(b.node_parent);
    s->node_pc = std::move(b.node_pc);
    s->keys = std::move(b.keys);
    s->site_of = std::move(b.site_of);
    s->chain_files = b.chain_files + 1;
  } else if (ch.base_frames || ch.base_stacks) {
    return err("self-contained file with a base");
  }
  auto run = [&](uint32_t kind, HsRun* r, const char** p, const char** end) -> bool {
    const std::string& x = s->raw[kind];
    if (x.size() < sizeof(HsRun)) return false;
    memcpy(r, x.data(), sizeof *r);
    if (hs_pad8(r->bytes) != x.size() - sizeof(HsRun)) return false;
    *p = x.data() + sizeof(HsRun);
    *end = *p + r->bytes;
    return true;
  };
  HsRun r;
  const char *p, *end;
  uint64_t h = ch.base_seq ? ch.base_frames_hash : 0;
  if (!run(HS_SEC_FRAMES, &r, &p, &end) || r.first != ch.base_frames + 1 || r.count != ch.frames - ch.base_frames)
    return err("FRAMES run");
  std::map<uint64_t, uint64_t> last;  // the address predictions, replayed from node 1
  for (size_t id = 1; id < s->node_parent.size(); ++id) last[s->node_pc[s->node_parent[id]]] = s->node_pc[id];
  for (uint32_t i = 0; i < r.count; ++i) {
    uint64_t head, z = 0;
    const uint64_t id = s->node_parent.size();
    if (!get_varint(&p, end, &head) || ((head & 1) && !get_varint(&p, end, &z))) return err("FRAMES node");
    const uint64_t d = head >> 1;
    if (d == 0 || d > id) return err("FRAMES node parent");
    const uint32_t parent = (uint32_t)(id - d);
    auto it = last.find(s->node_pc[parent]);
    const uint64_t pc = (it != last.end() ? it->second : s->node_pc[parent]) + (uint64_t)hs_unzigzag(z);
    last[s->node_pc[parent]] = pc;
    s->node_parent.push_back(parent);
    s->node_pc.push_back(pc);
    h = hs_hash_step(h, parent, pc);
  }
  if (p != end || h != ch.frames_hash) return err("FRAMES end or hash");
  h = ch.base_seq ? ch.base_stacks_hash : 0;
  if (!run(HS_SEC_STACKS2, &r, &p, &end) || r.first != ch.base_stacks || r.count != ch.stacks - ch.base_stacks)
    return err("STACKS2 run");
  int64_t leaf = s->keys.empty() ? 0 : (int64_t)(s->keys.back() >> 2);
  for (uint32_t i = 0; i < r.count; ++i) {
    uint64_t u;
    if (!get_varint(&p, end, &u)) return err("STACKS2 entry");
    leaf += hs_unzigzag(u >> 2);
    if (leaf < 0 || (uint64_t)leaf >= s->node_parent.size()) return err("STACKS2 leaf");
    s->keys.push_back((uint32_t)leaf << 2 | (uint32_t)(u & 3));
    h = hs_hash_step(h, s->keys.back(), 0);
  }
  if (p != end || h != ch.stacks_hash) return err("STACKS2 end or hash");
  if (!run(HS_SEC_SITES2, &r, &p, &end)) return err("SITES2 run");
  const bool sampled = s->header.mode == HS_MODE_SAMPLED;
  int64_t num = -1;
  for (uint32_t i = 0; i < r.count; ++i) {
    uint64_t z, f[6] = {};
    if (!get_varint(&p, end, &z)) return err("SITES2 entry");
    num += 1 + hs_unzigzag(z);
    if (num < 0 || (uint64_t)num >= s->keys.size()) return err("SITES2 stack");
    for (int k = 0; k < (sampled ? 6 : 4); ++k)
      if (!get_varint(&p, end, &f[k])) return err("SITES2 figure");
    if (!sampled) f[4] = f[1], f[5] = f[3];
    if (!(f[0] | f[1] | f[2] | f[3] | f[4] | f[5])) {
      if (!s->site_of.erase((uint32_t)num)) return err("SITES2 removes a missing site");
    } else {
      s->site_of[(uint32_t)num] = HsSite{(uint32_t)num, 0, f[0], f[1], f[2], f[3], f[4], f[5]};
    }
  }
  if (p != end) return err("SITES2 end");
  uint64_t sh = 0;
  for (const auto& [n, x] : s->site_of)
    sh += hs_site_hash(n, x.inuse_bytes, x.inuse_count, x.alloc_bytes, x.alloc_count, x.sampled_inuse_count,
                       x.sampled_alloc_count);
  if (sh != ch.sites_hash || s->site_of.size() != ch.sites) return err("sites hash or count");
  // The flat view the tests use: every stack by number, sites in stack order.
  s->stacks.clear();
  s->stack_headers.clear();
  for (uint32_t key : s->keys) {
    std::vector<uint64_t> pcs;
    for (uint32_t n = key >> 2; n; n = s->node_parent[n]) pcs.push_back(s->node_pc[n]);
    s->stack_headers.push_back(HsStack{(uint32_t)pcs.size(), key & 3u});
    s->stacks.push_back(std::move(pcs));
  }
  s->sites.clear();
  for (const auto& [n, x] : s->site_of) s->sites.push_back(x);
  return "";
}

// Returns "" on success, else "path: offset N: what".
inline std::string parse(const std::string& path, Snapshot* s, int depth) {
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
      case HS_SEC_CHAIN:
      case HS_SEC_FRAMES:
      case HS_SEC_STACKS2:
      case HS_SEC_SITES2:
        s->raw[sh.kind].assign(p, sh.size);
        break;
      default:
        break;  // unknown sections are skipped
    }
    off += sizeof sh + sh.size;
  }
  if (!seen_end) return err(off, "no END section");
  if (s->header.version >= 2) {
    std::string e = decode_v2(path, s, depth);
    if (!e.empty()) return e;
  }
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
