// hsnap_reader.cpp -- strict, bounded parser of heapscope snapshots
// (profiler/format/hsnap_format.h) into a Profile.
//
// Safety contract: every length and count is checked against the bytes that
// remain before it is used (checked arithmetic, no overflow), so a truncated,
// corrupted or hostile file ends in a FormatError "FILE: offset N: what"
// (N = absolute file offset of the bad field) and never in a crash, a hang or
// an allocation larger than the file. Unknown section kinds are skipped
// (forward compatibility within a version); a newer version is refused.
#include <cstring>
#include <string>
#include <vector>

#include "hsnap_format.h"
#include "reader/reader.h"

namespace heapscope {
namespace {

const char* section_name(uint32_t kind) {
  switch (kind) {
    case HS_SEC_META: return "META";
    case HS_SEC_TOTALS: return "TOTALS";
    case HS_SEC_STATS: return "STATS";
    case HS_SEC_MODULES: return "MODULES";
    case HS_SEC_STACKS: return "STACKS";
    case HS_SEC_SITES: return "SITES";
    case HS_SEC_END: return "END";
    default: return "unknown";
  }
}

// A bounded view [pos, end) over the file bytes; offsets are absolute.
class Cursor {
 public:
  Cursor(std::string_view data, size_t pos, size_t end, const std::string& path)
      : data_(data), pos_(pos), end_(end), path_(path) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }

  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }
  [[noreturn]] void fail_at(size_t off, const std::string& what) const {
    throw FormatError(path_ + ": offset " + std::to_string(off) + ": " + what);
  }

  void need(uint64_t n, const char* what) const {
    if (n > remaining())
      fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes, " +
           std::to_string(remaining()) + " remain");
  }
  uint32_t u32(const char* what) {
    need(4, what);
    uint32_t v;
    std::memcpy(&v, data_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* what) {
    need(8, what);
    uint64_t v;
    std::memcpy(&v, data_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  // n bytes, then skip the zero padding up to a multiple of 8.
  std::string_view padded_bytes(uint64_t n, const char* what) {
    uint64_t padded = hs_pad8(n);  // n <= HS_MAX_STRING checked by callers, no overflow
    need(padded, what);
    std::string_view v = data_.substr(pos_, n);
    pos_ += padded;
    return v;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  template <typename T>
  T record(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  // Count of records of at least min_size bytes each: must fit what remains.
  uint64_t count(const char* what, uint64_t min_size) {
    size_t at = pos_;
    uint64_t n = u64(what);
    if (n > remaining() / min_size)
      fail_at(at, std::string(what) + " " + std::to_string(n) + " does not fit in the " +
                      std::to_string(remaining()) + " bytes that remain in the section");
    return n;
  }
  void expect_end(const char* section) const {
    if (remaining() != 0)
      fail(std::to_string(remaining()) + " unexpected bytes at the end of the " + section +
           " section");
  }

 private:
  std::string_view data_;
  size_t pos_, end_;
  const std::string& path_;
};

int64_t figure(const Cursor& c, size_t off, uint64_t v, const char* what) {
  if (v > uint64_t(INT64_MAX))
    c.fail_at(off, std::string(what) + " " + std::to_string(v) + " is larger than 2^63-1");
  return int64_t(v);
}

std::string hex(std::string_view raw) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

const char* trigger_name(uint32_t t) {
  switch (t) {
    case HS_TRIGGER_SIGNAL: return "signal";
    case HS_TRIGGER_INTERVAL: return "interval";
    case HS_TRIGGER_API: return "api";
    case HS_TRIGGER_EXIT: return "exit";
    case HS_TRIGGER_ALERT: return "alert";
    default: return "unknown";
  }
}

void parse_meta(Cursor c, Profile& p) {
  while (c.remaining() > 0) {
    size_t at = c.pos();
    uint32_t klen = c.u32("META key length");
    uint32_t vlen = c.u32("META value length");
    if (klen > HS_MAX_STRING || vlen > HS_MAX_STRING)
      c.fail_at(at, "META string length " + std::to_string(std::max(klen, vlen)) +
                        " exceeds the limit " + std::to_string(HS_MAX_STRING));
    std::string key(c.padded_bytes(klen, "META key"));
    std::string value(c.padded_bytes(vlen, "META value"));
    p.meta[key] = value;
  }
}

void parse_stats(Cursor c, Profile& p) {
  while (c.remaining() > 0) {
    size_t at = c.pos();
    uint64_t value = c.u64("STATS value");
    uint32_t nlen = c.u32("STATS name length");
    c.u32("STATS reserved");
    if (nlen > HS_MAX_STRING)
      c.fail_at(at, "STATS name length " + std::to_string(nlen) + " exceeds the limit " +
                        std::to_string(HS_MAX_STRING));
    p.stats.emplace_back(std::string(c.padded_bytes(nlen, "STATS name")), value);
  }
}

void parse_totals(Cursor c, Profile& p) {
  size_t at = c.pos();
  auto t = c.record<HsTotals>("TOTALS record");
  c.expect_end("TOTALS");
  p.totals.inuse_bytes = figure(c, at, t.inuse_bytes, "total inuse_bytes");
  p.totals.inuse_count = figure(c, at + 8, t.inuse_count, "total inuse_count");
  p.totals.alloc_bytes = figure(c, at + 16, t.alloc_bytes, "total alloc_bytes");
  p.totals.alloc_count = figure(c, at + 24, t.alloc_count, "total alloc_count");
}

void parse_modules(Cursor c, Profile& p) {
  uint64_t n = c.count("module count", sizeof(HsModule));
  p.modules.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    size_t at = c.pos();
    auto m = c.record<HsModule>("module record");
    if (m.range_count > HS_MAX_RANGES)
      c.fail_at(at, "module " + std::to_string(i) + " has " + std::to_string(m.range_count) +
                        " ranges, more than the limit " + std::to_string(HS_MAX_RANGES));
    if (m.path_len > HS_MAX_STRING)
      c.fail_at(at, "module " + std::to_string(i) + " path length " + std::to_string(m.path_len) +
                        " exceeds the limit " + std::to_string(HS_MAX_STRING));
    if (m.build_id_len > 256)
      c.fail_at(at, "module " + std::to_string(i) + " build-id length " +
                        std::to_string(m.build_id_len) + " exceeds the limit 256");
    Module mod;
    mod.load_bias = m.load_bias;
    mod.main = m.flags & HS_MODULE_MAIN;
    mod.unloaded = m.flags & HS_MODULE_UNLOADED;
    mod.vdso = m.flags & HS_MODULE_VDSO;
    c.need(uint64_t(m.range_count) * sizeof(HsRange), "module ranges");
    for (uint32_t r = 0; r < m.range_count; ++r) {
      size_t rat = c.pos();
      auto hr = c.record<HsRange>("module range");
      if (hr.end < hr.start)
        c.fail_at(rat, "module " + std::to_string(i) + " range end " + std::to_string(hr.end) +
                           " is below its start " + std::to_string(hr.start));
      mod.ranges.push_back({hr.start, hr.end, hr.file_offset, hr.flags});
    }
    mod.path = std::string(c.padded_bytes(m.path_len, "module path"));
    mod.build_id = hex(c.padded_bytes(m.build_id_len, "module build-id"));
    p.modules.push_back(std::move(mod));
  }
  c.expect_end("MODULES");
}

struct RawStacks {
  std::vector<std::vector<uint64_t>> pcs;
  std::vector<bool> truncated;
};

void parse_stacks(Cursor c, RawStacks& s) {
  uint64_t n = c.count("stack count", sizeof(HsStack));
  s.pcs.reserve(n);
  s.truncated.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    size_t at = c.pos();
    auto st = c.record<HsStack>("stack record");
    if (st.depth > HS_MAX_DEPTH)
      c.fail_at(at, "stack " + std::to_string(i) + " depth " + std::to_string(st.depth) +
                        " exceeds the limit " + std::to_string(HS_MAX_DEPTH));
    c.need(uint64_t(st.depth) * 8, "stack frames");
    std::vector<uint64_t> pcs(st.depth);
    for (auto& pc : pcs) pc = c.u64("stack frame");
    s.pcs.push_back(std::move(pcs));
    s.truncated.push_back(st.flags & HS_STACK_TRUNCATED);
  }
  c.expect_end("STACKS");
}

struct RawSite {
  size_t offset;
  HsSite rec;
};

void parse_sites(Cursor c, std::vector<RawSite>& sites) {
  uint64_t n = c.count("site count", sizeof(HsSite));
  sites.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    size_t at = c.pos();
    sites.push_back({at, c.record<HsSite>("site record")});
  }
  c.expect_end("SITES");
}

}  // namespace

Profile read_hsnap(std::string_view data, const std::string& path) {
  Cursor c(data, 0, data.size(), path);
  if (data.size() < HS_MAGIC_LEN || std::memcmp(data.data(), HS_MAGIC, HS_MAGIC_LEN) != 0)
    throw FormatError(path + ": not a heapscope snapshot (wrong magic)");
  if (data.size() < sizeof(HsFileHeader))
    c.fail_at(data.size(), "truncated: the file header needs " +
                               std::to_string(sizeof(HsFileHeader)) + " bytes, the file has " +
                               std::to_string(data.size()));
  auto h = c.record<HsFileHeader>("file header");
  if (h.version > HS_VERSION)
    throw FormatError(path + ": format version " + std::to_string(h.version) +
                      " is newer than this heapscope reads (" + std::to_string(HS_VERSION) + ")");
  if (h.version == 0) c.fail_at(8, "format version 0 is invalid (expected 1)");
  if (h.header_size < sizeof(HsFileHeader) || h.header_size % 8 != 0 ||
      h.header_size > data.size())
    c.fail_at(12, "header_size " + std::to_string(h.header_size) + " is invalid (expected " +
                      std::to_string(sizeof(HsFileHeader)) +
                      " or more, a multiple of 8, within the file)");
  c.skip(h.header_size - sizeof(HsFileHeader), "file header extension");
  if (h.mode > HS_MODE_SAMPLED)
    c.fail_at(40, "mode " + std::to_string(h.mode) + " is unknown (expected 0 or 1)");

  Profile p;
  p.path = path;
  p.format = "hsnap";
  p.pid = h.pid;
  p.time_unix_ns = h.time_unix_ns;
  p.uptime_ns = h.uptime_ns;
  p.seq = h.seq;
  p.trigger = trigger_name(h.trigger);
  p.sampled = h.mode == HS_MODE_SAMPLED;
  p.sample_period = h.sample_period;

  RawStacks stacks;
  std::vector<RawSite> sites;
  bool seen[8] = {};
  bool end_seen = false;
  while (c.remaining() > 0) {
    size_t at = c.pos();
    auto sh = c.record<HsSectionHeader>("section header");
    if (sh.size > c.remaining())
      c.fail_at(at + 8, std::string("truncated: ") + section_name(sh.kind) + " section size " +
                            std::to_string(sh.size) + " exceeds the " +
                            std::to_string(c.remaining()) + " bytes that remain");
    if (sh.size % 8 != 0)
      c.fail_at(at + 8, std::string(section_name(sh.kind)) + " section size " +
                            std::to_string(sh.size) + " is not a multiple of 8");
    Cursor payload(data, c.pos(), c.pos() + sh.size, path);
    if (sh.kind >= 1 && sh.kind <= 6) {
      if (seen[sh.kind])
        c.fail_at(at, std::string("duplicate ") + section_name(sh.kind) + " section");
      seen[sh.kind] = true;
    }
    switch (sh.kind) {
      case HS_SEC_META: parse_meta(payload, p); break;
      case HS_SEC_TOTALS: parse_totals(payload, p); break;
      case HS_SEC_STATS: parse_stats(payload, p); break;
      case HS_SEC_MODULES: parse_modules(payload, p); break;
      case HS_SEC_STACKS: parse_stacks(payload, stacks); break;
      case HS_SEC_SITES: parse_sites(payload, sites); break;
      case HS_SEC_END: {
        if (sh.size != 8)
          c.fail_at(at + 8, "END section size " + std::to_string(sh.size) + " is not 8");
        uint64_t total = payload.u64("END file size");
        if (total != data.size())
          c.fail_at(at + 16, "truncated or padded: END says the file has " +
                                 std::to_string(total) + " bytes, it has " +
                                 std::to_string(data.size()));
        end_seen = true;
        break;
      }
      default: break;  // unknown kind: skip (forward compatible)
    }
    c.skip(sh.size, "section payload");
    if (end_seen) break;
  }
  if (!end_seen)
    c.fail_at(data.size(), "truncated: the file ends without an END section");
  if (c.remaining() != 0) c.fail("data after the END section");
  for (uint32_t k : {HS_SEC_TOTALS, HS_SEC_MODULES, HS_SEC_STACKS, HS_SEC_SITES})
    if (!seen[k])
      throw FormatError(path + ": the " + section_name(k) +
                        " section is missing (a complete snapshot has one)");

  p.sites.reserve(sites.size());
  for (size_t i = 0; i < sites.size(); ++i) {
    const auto& [at, r] = sites[i];
    if (r.stack >= stacks.pcs.size())
      c.fail_at(at, "site " + std::to_string(i) + " refers to stack " + std::to_string(r.stack) +
                        ", but there are " + std::to_string(stacks.pcs.size()) + " stacks");
    Site s;
    s.pcs = stacks.pcs[r.stack];
    s.truncated = stacks.truncated[r.stack];
    s.counts.inuse_bytes = figure(c, at + 8, r.inuse_bytes, "site inuse_bytes");
    s.counts.inuse_count = figure(c, at + 16, r.inuse_count, "site inuse_count");
    s.counts.alloc_bytes = figure(c, at + 24, r.alloc_bytes, "site alloc_bytes");
    s.counts.alloc_count = figure(c, at + 32, r.alloc_count, "site alloc_count");
    p.sites.push_back(std::move(s));
  }
  return p;
}

}  // namespace heapscope
