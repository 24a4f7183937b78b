// hsnap_reader.cpp -- strict, bounded parser of heapscope snapshots
// (profiler/format/hsnap_format.h) into a Profile.
//
// Safety contract: every length and count is checked against the bytes that
// remain before it is used (checked arithmetic, no overflow), so a truncated,
// corrupted or hostile file ends in a FormatError "FILE: offset N: what"
// (N = absolute file offset of the bad field) and never in a crash, a hang or
// an allocation larger than the file. Unknown section kinds are skipped
// (forward compatibility within a version); a newer version is refused.
//
// Versions: 1 (STACKS, SITES: fixed records) and 2 (CHAIN, FRAMES, STACKS2,
// SITES2: a frame tree and varints; a chained file is applied on top of the
// state its predecessors rebuild, read through the loader, each checked
// against the identity and state hashes the next file names). Expanding the
// tree into per-site stacks is bounded by kFramesPerByte frames per byte read.
#include <sys/stat.h>

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
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
    case HS_SEC_CHAIN: return "CHAIN";
    case HS_SEC_FRAMES: return "FRAMES";
    case HS_SEC_STACKS2: return "STACKS2";
    case HS_SEC_SITES2: return "SITES2";
    case HS_SEC_MAPPED: return "MAPPED";
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
  // An unsigned LEB128 of at most 10 bytes (the 10th holds only bit 63).
  uint64_t varint(const char* what) {
    size_t at = pos_;
    uint64_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
      if (pos_ >= end_) fail_at(at, std::string("truncated: ") + what + " (a varint) runs past its section");
      uint8_t b = uint8_t(data_[pos_++]);
      if (shift == 63 && b > 1) fail_at(at, std::string(what) + " is a varint longer than 64 bits");
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
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
    case HS_TRIGGER_PEAK: return "peak";
    case HS_TRIGGER_OOM: return "oom";
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

// The memory-composition STATS into Profile::memory (the last entry of a
// name wins). allocator_inuse_bytes is 0 where the allocator was not asked:
// it counts only beside allocator_held_bytes, which is then written.
MemoryStats memory_from_stats(const std::vector<std::pair<std::string, uint64_t>>& stats) {
  MemoryStats m;
  std::optional<uint64_t> inuse;
  const std::pair<const char*, std::optional<uint64_t>*> fields[] = {
      {"rss_anon_bytes", &m.rss_anon_bytes},
      {"rss_file_bytes", &m.rss_file_bytes},
      {"rss_shmem_bytes", &m.rss_shmem_bytes},
      {"allocator_inuse_bytes", &inuse},
      {"allocator_held_bytes", &m.allocator_held_bytes},
      {"allocator_free_held_bytes", &m.allocator_free_held_bytes},
      {"thread_stack_bytes", &m.thread_stack_bytes},
      {"thread_stacks", &m.thread_stacks}};
  for (const auto& [name, value] : stats) {
    bool known = false;
    for (const auto& [field, slot] : fields)
      if (name == field) *slot = value, known = true;
    if (!known && (name.rfind("glibc_", 0) == 0 || name.rfind("jemalloc_", 0) == 0 || name.rfind("tcmalloc_", 0) == 0))
      m.allocator_figures.emplace_back(name, value);
  }
  if (m.allocator_held_bytes) m.allocator_inuse_bytes = inuse;
  return m;
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


// ---- the container: header and sections, both versions -------------------------------

// One file's sections, parsed where they are version-independent, located
// where they are not.
struct Parsed {
  HsFileHeader h{};
  bool seen[HS_SEC_LAST + 1] = {};
  size_t off[HS_SEC_LAST + 1] = {}, len[HS_SEC_LAST + 1] = {};  // payload of each known section
};

void parse_container(std::string_view data, const std::string& path, Profile& p, Parsed& f) {
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
  if (h.version < HS_VERSION_MIN)
    c.fail_at(8, "format version " + std::to_string(h.version) + " is invalid (expected " +
                     std::to_string(HS_VERSION_MIN) + " to " + std::to_string(HS_VERSION) + ")");
  if (h.header_size < sizeof(HsFileHeader) || h.header_size % 8 != 0 ||
      h.header_size > data.size())
    c.fail_at(12, "header_size " + std::to_string(h.header_size) + " is invalid (expected " +
                      std::to_string(sizeof(HsFileHeader)) +
                      " or more, a multiple of 8, within the file)");
  c.skip(h.header_size - sizeof(HsFileHeader), "file header extension");
  if (h.mode > HS_MODE_SAMPLED)
    c.fail_at(40, "mode " + std::to_string(h.mode) + " is unknown (expected 0 or 1)");
  f.h = h;

  p.path = path;
  p.format = "hsnap";
  p.pid = h.pid;
  p.time_unix_ns = h.time_unix_ns;
  p.uptime_ns = h.uptime_ns;
  p.seq = h.seq;
  p.trigger = trigger_name(h.trigger);
  p.sampled = h.mode == HS_MODE_SAMPLED;
  p.sample_period = h.sample_period;

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
    if (sh.kind >= HS_SEC_META && sh.kind <= HS_SEC_LAST) {
      if (f.seen[sh.kind])
        c.fail_at(at, std::string("duplicate ") + section_name(sh.kind) + " section");
      const bool v2_only = sh.kind >= HS_SEC_CHAIN, v1_only = sh.kind == HS_SEC_STACKS || sh.kind == HS_SEC_SITES;
      if ((h.version == 1 && v2_only) || (h.version >= 2 && v1_only))
        c.fail_at(at, std::string("a ") + section_name(sh.kind) + " section does not belong in a version-" +
                          std::to_string(h.version) + " file");
      f.seen[sh.kind] = true;
      f.off[sh.kind] = c.pos();
      f.len[sh.kind] = sh.size;
    }
    switch (sh.kind) {
      case HS_SEC_META: parse_meta(payload, p); break;
      case HS_SEC_TOTALS: parse_totals(payload, p); break;
      case HS_SEC_STATS: parse_stats(payload, p); break;
      case HS_SEC_MODULES: parse_modules(payload, p); break;
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
      default: break;  // stacks and sites below; unknown kind: skip (forward compatible)
    }
    c.skip(sh.size, "section payload");
    if (end_seen) break;
  }
  if (!end_seen)
    c.fail_at(data.size(), "truncated: the file ends without an END section");
  if (c.remaining() != 0) c.fail("data after the END section");
  std::vector<uint32_t> needed = {HS_SEC_TOTALS, HS_SEC_MODULES, HS_SEC_STACKS, HS_SEC_SITES};
  if (h.version >= 2) needed = {HS_SEC_TOTALS, HS_SEC_MODULES, HS_SEC_CHAIN, HS_SEC_FRAMES, HS_SEC_STACKS2, HS_SEC_SITES2};
  for (uint32_t k : needed)
    if (!f.seen[k])
      throw FormatError(path + ": the " + section_name(k) +
                        " section is missing (a complete version-" + std::to_string(h.version) +
                        " snapshot has one)");
}

// ---- version 1 ------------------------------------------------------------------------

void read_v1(std::string_view data, const std::string& path, const Parsed& f, Profile& p) {
  RawStacks stacks;
  std::vector<RawSite> sites;
  parse_stacks(Cursor(data, f.off[HS_SEC_STACKS], f.off[HS_SEC_STACKS] + f.len[HS_SEC_STACKS], path), stacks);
  parse_sites(Cursor(data, f.off[HS_SEC_SITES], f.off[HS_SEC_SITES] + f.len[HS_SEC_SITES], path), sites);
  Cursor c(data, 0, data.size(), path);
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
}

// ---- version 2: the frame tree, stacks, sites and the chain ---------------------------

// Expanding stacks into per-site frame lists may cost at most this many
// frames per byte of the files read (a legitimate clang snapshot needs ~2).
constexpr uint64_t kFramesPerByte = 64;

struct V2Site {
  bool present = false;
  uint64_t fig[6] = {};  // inuse_bytes, inuse_count, alloc_bytes, alloc_count, sampled_inuse, sampled_alloc
  uint32_t file = 0;     // the file (1-based along the chain) that last wrote it
};

// The state a chain rebuilds, file by file from its self-contained start.
struct V2State {
  std::vector<uint32_t> parent{0};
  std::vector<uint64_t> pc{0};
  std::vector<uint16_t> depth{0};
  std::vector<uint32_t> keys;  // per stack: leaf << 2 | flags
  std::vector<uint8_t> mapped;  // per stack: 1 = kind mapped (MAPPED section)
  std::vector<V2Site> sites;   // per stack
  uint64_t frames_hash = 0, stacks_hash = 0;
  std::unordered_map<uint64_t, uint64_t> last_child;  // parent pc -> pc of its latest child (the prediction)
  uint32_t files = 0;
  uint64_t bytes_read = 0;
  uint64_t site_count() const {
    uint64_t n = 0;
    for (const auto& s : sites) n += s.present;
    return n;
  }
  uint64_t sites_hash() const {
    uint64_t h = 0;
    for (size_t i = 0; i < sites.size(); ++i)
      if (sites[i].present) {
        const uint64_t* f = sites[i].fig;
        h += hs_site_hash(i, f[0], f[1], f[2], f[3], f[4], f[5]);
      }
    return h;
  }
};

struct V2File {
  HsChain chain{};
  std::string base_name;
};

V2File parse_chain(std::string_view data, const std::string& path, const Parsed& f) {
  Cursor c(data, f.off[HS_SEC_CHAIN], f.off[HS_SEC_CHAIN] + f.len[HS_SEC_CHAIN], path);
  V2File v;
  size_t at = c.pos();
  v.chain = c.record<HsChain>("CHAIN record");
  const HsChain& ch = v.chain;
  if (ch.base_name_len > 4096)
    c.fail_at(at + 44, "predecessor name length " + std::to_string(ch.base_name_len) + " exceeds the limit 4096");
  v.base_name = std::string(c.padded_bytes(ch.base_name_len, "predecessor name"));
  c.expect_end("CHAIN");
  if (ch.base_frames > ch.frames || ch.frames > HS_MAX_FRAMES)
    c.fail_at(at + 28, "frame count " + std::to_string(ch.frames) + " is below the predecessor's " +
                           std::to_string(ch.base_frames) + " or above the limit " + std::to_string(HS_MAX_FRAMES));
  if (ch.base_stacks > ch.stacks || ch.sites > ch.stacks)
    c.fail_at(at + 36, "stack count " + std::to_string(ch.stacks) + " is below the predecessor's " +
                           std::to_string(ch.base_stacks) + " or the site count " + std::to_string(ch.sites));
  if (ch.base_seq == 0) {
    if (ch.base_frames || ch.base_stacks || ch.base_name_len)
      c.fail_at(at + 16, "a self-contained file (base_seq 0) names a predecessor or builds on its frames");
  } else {
    if (ch.base_seq >= f.h.seq)
      c.fail_at(at + 16, "predecessor seq " + std::to_string(ch.base_seq) + " is not below this file's seq " +
                             std::to_string(f.h.seq));
    if (v.base_name.empty() || v.base_name == "." || v.base_name == ".." ||
        v.base_name.find('/') != std::string::npos || v.base_name.find('\0') != std::string::npos)
      c.fail_at(at + 96, "predecessor name \"" + v.base_name + "\" is not a plain file name");
  }
  return v;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash + 1);
}

// The varint stream of a FRAMES, STACKS2 or SITES2 section: its HsRun must
// say `first` (and `count` when want_count >= 0), its stream must fill the
// section, and count entries of at least min_entry bytes must fit in it.
Cursor run_stream(std::string_view data, const std::string& path, const Parsed& f, uint32_t kind, uint64_t first,
                  int64_t want_count, uint64_t min_entry, HsRun& run) {
  const char* name = section_name(kind);
  Cursor c(data, f.off[kind], f.off[kind] + f.len[kind], path);
  size_t at = c.pos();
  run = c.record<HsRun>("run header");
  if (run.first != first || (want_count >= 0 && run.count != uint64_t(want_count)))
    c.fail_at(at, std::string(name) + " holds entries " + std::to_string(run.first) + " + " +
                      std::to_string(run.count) + ", CHAIN expects " + std::to_string(first) +
                      (want_count >= 0 ? " + " + std::to_string(want_count) : std::string()));
  if (run.bytes > c.remaining() || hs_pad8(run.bytes) != c.remaining())
    c.fail_at(at + 8, std::string(name) + " stream of " + std::to_string(run.bytes) + " bytes does not fill the " +
                          std::to_string(c.remaining()) + " bytes of its section");
  if (run.count > run.bytes / min_entry)
    c.fail_at(at + 4, std::string(name) + " count " + std::to_string(run.count) + " does not fit in " +
                          std::to_string(run.bytes) + " bytes (" + std::to_string(min_entry) + " or more each)");
  return Cursor(data, c.pos(), c.pos() + run.bytes, path);
}

// Applies one file's FRAMES, STACKS2 and SITES2 to st (its predecessors
// already applied), then checks the state hashes the file promises.
void apply_v2(std::string_view data, const std::string& path, const Parsed& f, const V2File& v, V2State& st) {
  const HsChain& ch = v.chain;
  const uint32_t file = ++st.files;
  st.bytes_read += data.size();
  // FRAMES
  {
    HsRun run;
    Cursor s = run_stream(data, path, f, HS_SEC_FRAMES, ch.base_frames + 1, ch.frames - ch.base_frames, 1, run);
    st.parent.reserve(st.parent.size() + run.count);
    st.pc.reserve(st.pc.size() + run.count);
    st.depth.reserve(st.depth.size() + run.count);
    for (uint32_t i = 0; i < run.count; ++i) {
      const uint64_t id = st.parent.size();
      size_t nat = s.pos();
      const uint64_t head = s.varint("frame parent distance");
      const uint64_t d = head >> 1;
      if (d == 0 || d > id)
        s.fail_at(nat, "frame " + std::to_string(id) + " has parent distance " + std::to_string(d) +
                           " (expected 1 to " + std::to_string(id) + ")");
      const uint32_t parent = uint32_t(id - d);
      if (st.depth[parent] >= HS_MAX_DEPTH)
        s.fail_at(nat, "frame " + std::to_string(id) + " is deeper than the limit " + std::to_string(HS_MAX_DEPTH));
      const uint64_t parent_pc = st.pc[parent];
      auto [it, first_child] = st.last_child.try_emplace(parent_pc, parent_pc);  // the prediction
      uint64_t pc = it->second;
      if (head & 1) pc += uint64_t(hs_unzigzag(s.varint("frame address delta")));
      it->second = pc;
      st.parent.push_back(parent);
      st.pc.push_back(pc);
      st.depth.push_back(uint16_t(st.depth[parent] + 1));
      st.frames_hash = hs_hash_step(st.frames_hash, parent, pc);
    }
    s.expect_end("FRAMES stream");
  }
  // STACKS2
  {
    HsRun run;
    Cursor s = run_stream(data, path, f, HS_SEC_STACKS2, ch.base_stacks, ch.stacks - ch.base_stacks, 1, run);
    int64_t leaf = st.keys.empty() ? 0 : int64_t(st.keys.back() >> 2);
    st.keys.reserve(st.keys.size() + run.count);
    for (uint32_t i = 0; i < run.count; ++i) {
      size_t sat = s.pos();
      uint64_t u = s.varint("stack");
      leaf += hs_unzigzag(u >> 2);
      if (leaf < 0 || uint64_t(leaf) >= st.parent.size())
        s.fail_at(sat, "stack " + std::to_string(st.keys.size()) + " ends at frame " + std::to_string(leaf) +
                           ", but there are " + std::to_string(st.parent.size()) + " frames");
      const uint32_t key = uint32_t(leaf) << 2 | uint32_t(u & 3);
      st.keys.push_back(key);
      st.stacks_hash = hs_hash_step(st.stacks_hash, key, 0);
    }
    s.expect_end("STACKS2 stream");
  }
  st.mapped.resize(st.keys.size());
  if (f.seen[HS_SEC_MAPPED]) {  // MAPPED: which of this file's new stacks are mmap'd ranges
    Cursor c(data, f.off[HS_SEC_MAPPED], f.off[HS_SEC_MAPPED] + f.len[HS_SEC_MAPPED], path);
    c.record<HsMapped>("MAPPED totals");
    HsRun run;
    size_t at = c.pos();
    run = c.record<HsRun>("MAPPED run header");
    if (run.first != ch.base_stacks)
      c.fail_at(at, "MAPPED starts at stack " + std::to_string(run.first) + ", CHAIN expects " +
                        std::to_string(ch.base_stacks));
    if (run.bytes > c.remaining() || hs_pad8(run.bytes) != c.remaining() || run.count > run.bytes)
      c.fail_at(at + 8, "MAPPED stream of " + std::to_string(run.bytes) + " bytes (" + std::to_string(run.count) +
                            " stacks) does not fill the " + std::to_string(c.remaining()) + " bytes of its section");
    Cursor s(data, c.pos(), c.pos() + run.bytes, path);
    uint64_t num = uint64_t(run.first) - 1;
    for (uint32_t i = 0; i < run.count; ++i) {
      size_t sat = s.pos();
      num += 1 + s.varint("mapped stack");
      if (num < ch.base_stacks || num >= st.keys.size())
        s.fail_at(sat, "mapped stack " + std::to_string(num) + " is not one this file adds (" +
                           std::to_string(ch.base_stacks) + " to " + std::to_string(st.keys.size()) + ")");
      st.mapped[size_t(num)] = 1;
    }
    s.expect_end("MAPPED stream");
  }
  st.sites.resize(st.keys.size());
  // SITES2
  {
    const bool sampled = f.h.mode == HS_MODE_SAMPLED;
    const unsigned nfig = sampled ? 6 : 4;
    HsRun run;
    Cursor s = run_stream(data, path, f, HS_SEC_SITES2, 0, -1, 1 + nfig, run);
    int64_t num = -1;
    static const char* names[6] = {"site inuse_bytes", "site inuse_count", "site alloc_bytes",
                                   "site alloc_count", "site sampled_inuse_count", "site sampled_alloc_count"};
    for (uint32_t i = 0; i < run.count; ++i) {
      size_t sat = s.pos();
      num += 1 + hs_unzigzag(s.varint("site stack"));
      if (num < 0 || uint64_t(num) >= st.keys.size())
        s.fail_at(sat, "site " + std::to_string(i) + " refers to stack " + std::to_string(num) + ", but there are " +
                           std::to_string(st.keys.size()) + " stacks");
      V2Site& site = st.sites[size_t(num)];
      if (site.file == file)
        s.fail_at(sat, "stack " + std::to_string(num) + " has two sites in this file");
      uint64_t fig[6];
      bool zero = true;
      for (unsigned k = 0; k < nfig; ++k) {
        size_t fat = s.pos();
        fig[k] = s.varint(names[k]);
        figure(s, fat, fig[k], names[k]);
        zero &= fig[k] == 0;
      }
      if (!sampled) fig[4] = fig[1], fig[5] = fig[3];
      if (zero) {
        if (!site.present)
          s.fail_at(sat, "site " + std::to_string(i) + " removes the site of stack " + std::to_string(num) +
                             ", which has none");
        site = V2Site{};
      } else {
        site.present = true;
        std::memcpy(site.fig, fig, sizeof fig);
      }
      site.file = file;
    }
    s.expect_end("SITES2 stream");
  }
  Cursor c(data, f.off[HS_SEC_CHAIN], f.off[HS_SEC_CHAIN] + f.len[HS_SEC_CHAIN], path);
  if (st.frames_hash != ch.frames_hash || st.stacks_hash != ch.stacks_hash)
    c.fail_at(c.pos() + 72, "the frames and stacks do not match the CHAIN's state hashes");
  if (st.site_count() != ch.sites)
    c.fail_at(c.pos() + 40, "CHAIN says " + std::to_string(ch.sites) + " sites, the file gives " +
                                std::to_string(st.site_count()));
  if (st.sites_hash() != ch.sites_hash)
    c.fail_at(c.pos() + 88, "the sites do not match the CHAIN's sites hash");
}

// The state after the chained file read last (with file access), so that a
// series read in order (trend, check) rebuilds each file from its predecessor
// once instead of from the last self-contained file every time. What the next
// file says of its predecessor (counts and state hashes) is checked against
// it exactly as against a state rebuilt from disk.
struct FileId {
  uint64_t dev = 0, ino = 0, size = 0, mtime_ns = 0;
  bool operator==(const FileId&) const = default;
};
// The file at path as it is now (ok false when it cannot be stat'ed): a file
// rewritten since it was read is not taken from memory.
FileId file_id(const std::string& path, bool* ok) {
  struct stat sb{};
  *ok = ::stat(path.c_str(), &sb) == 0;
  return {uint64_t(sb.st_dev), uint64_t(sb.st_ino), uint64_t(sb.st_size),
          uint64_t(sb.st_mtim.tv_sec) * 1000000000u + uint64_t(sb.st_mtim.tv_nsec)};
}

struct LastChainState {
  std::mutex mu;
  bool valid = false;
  std::string path;
  FileId id;
  uint64_t pid = 0, seq = 0, run_id = 0, mode = 0;
  V2State st;
};
LastChainState& last_chain_state() {
  static LastChainState c;
  return c;
}

// Whether st is the state the chain `ch` says its predecessor left.
bool is_base_of(const V2State& st, const HsChain& ch) {
  return st.parent.size() - 1 == ch.base_frames && st.keys.size() == ch.base_stacks &&
         st.frames_hash == ch.base_frames_hash && st.stacks_hash == ch.base_stacks_hash &&
         st.sites_hash() == ch.base_sites_hash;
}

// Takes the remembered state if it is the one after base_path (and what ch
// says of it); leaves st alone otherwise.
bool take_last_state(const std::string& base_path, const Parsed& f, const HsChain& ch, V2State& st) {
  LastChainState& c = last_chain_state();
  std::lock_guard<std::mutex> lock(c.mu);
  if (!c.valid || c.path != base_path || c.pid != f.h.pid || c.seq != ch.base_seq || c.run_id != ch.run_id ||
      c.mode != f.h.mode)
    return false;
  bool ok = false;
  if (!(file_id(base_path, &ok) == c.id) || !ok || !is_base_of(c.st, ch)) return false;
  st = std::move(c.st);
  c.valid = false;
  return true;
}

// Rebuilds the state after the file `path` (already parsed: f, v): its
// predecessors first (the remembered state after the previous file read, or
// read through `loader`), each checked against what the next file says of it.
void rebuild_v2(std::string_view data, const std::string& path, const Parsed& f, const V2File& v,
                const HsnapLoader& loader, V2State& st, unsigned depth) {
  const HsChain& ch = v.chain;
  if (ch.base_seq != 0 && take_last_state(dir_of(path) + v.base_name, f, ch, st)) {
    apply_v2(data, path, f, v, st);
    return;
  }
  if (ch.base_seq != 0) {
    const std::string base_path = dir_of(path) + v.base_name;
    if (depth + 1 >= HS_MAX_CHAIN)
      throw FormatError(path + ": its chain of predecessors is longer than the limit " +
                        std::to_string(HS_MAX_CHAIN) + " files (at " + base_path + ")");
    if (!loader)
      throw FormatError(path + ": its predecessor " + base_path + " (seq " + std::to_string(ch.base_seq) +
                        ") cannot be read here (no file access)");
    std::string bytes;
    try {
      bytes = loader(base_path);
    } catch (const FormatError& e) {
      throw FormatError(path + ": its predecessor " + base_path + " (seq " + std::to_string(ch.base_seq) +
                        ") is missing or unreadable (" + e.what() +
                        "); a chained snapshot needs every file back to a self-contained one");
    }
    try {
      Profile bp;
      Parsed bf;
      parse_container(bytes, base_path, bp, bf);
      if (bf.h.version < 2)
        throw FormatError(base_path + ": a version-" + std::to_string(bf.h.version) +
                          " file cannot be a predecessor (version 2 or later)");
      V2File bv = parse_chain(bytes, base_path, bf);
      if (bf.h.pid != f.h.pid || bf.h.seq != ch.base_seq || bv.chain.run_id != ch.run_id ||
          bf.h.mode != f.h.mode)
        throw FormatError(base_path + ": is not the predecessor named (pid " + std::to_string(bf.h.pid) + ", seq " +
                          std::to_string(bf.h.seq) + ", run " + std::to_string(bv.chain.run_id) + "; expected pid " +
                          std::to_string(f.h.pid) + ", seq " + std::to_string(ch.base_seq) + ", run " +
                          std::to_string(ch.run_id) + ", the same mode)");
      rebuild_v2(bytes, base_path, bf, bv, loader, st, depth + 1);
      if (!is_base_of(st, ch))
        throw FormatError(base_path + ": its content (" + std::to_string(st.parent.size() - 1) + " frames, " +
                          std::to_string(st.keys.size()) + " stacks) is not what the next file built on (" +
                          std::to_string(ch.base_frames) + " frames, " + std::to_string(ch.base_stacks) +
                          " stacks, and the state hashes)");
    } catch (const FormatError& e) {
      const std::string what = e.what();
      if (what.rfind(path + ": its predecessor", 0) == 0) throw;  // already says which file
      throw FormatError(path + ": its predecessor " + base_path + " is corrupt: " + what);
    }
  }
  apply_v2(data, path, f, v, st);
}

void read_v2(std::string_view data, const std::string& path, const Parsed& f, Profile& p,
             const HsnapLoader& loader) {
  V2File v = parse_chain(data, path, f);
  if (f.seen[HS_SEC_MAPPED]) {  // this file's mapped totals (the stacks follow in apply_v2)
    Cursor c(data, f.off[HS_SEC_MAPPED], f.off[HS_SEC_MAPPED] + f.len[HS_SEC_MAPPED], path);
    size_t at = c.pos();
    auto m = c.record<HsMapped>("MAPPED totals");
    p.mapped_tracked = true;
    p.mapped_totals.inuse_bytes = figure(c, at, m.inuse_bytes, "mapped inuse_bytes");
    p.mapped_totals.inuse_count = figure(c, at + 8, m.inuse_count, "mapped inuse_count");
    p.mapped_totals.alloc_bytes = figure(c, at + 16, m.alloc_bytes, "mapped alloc_bytes");
    p.mapped_totals.alloc_count = figure(c, at + 24, m.alloc_count, "mapped alloc_count");
  }
  V2State st;
  rebuild_v2(data, path, f, v, loader, st, 0);
  uint64_t frames = 0;
  for (size_t i = 0; i < st.sites.size(); ++i)
    if (st.sites[i].present) frames += st.depth[st.keys[i] >> 2];
  const uint64_t budget = kFramesPerByte * st.bytes_read + HS_MAX_DEPTH;
  if (frames > budget)
    throw FormatError(path + ": its stacks expand to " + std::to_string(frames) + " frames, more than the limit " +
                      std::to_string(budget) + " (" + std::to_string(kFramesPerByte) + " per byte read)");
  p.sites.reserve(size_t(v.chain.sites));
  for (size_t i = 0; i < st.sites.size(); ++i) {
    const V2Site& vs = st.sites[i];
    if (!vs.present) continue;
    Site s;
    const uint32_t key = st.keys[i];
    for (uint32_t n = key >> 2; n != 0; n = st.parent[n]) s.pcs.push_back(st.pc[n]);
    s.truncated = key & HS_STACK_TRUNCATED;
    s.mapped = st.mapped[i];
    s.counts.inuse_bytes = int64_t(vs.fig[0]);
    s.counts.inuse_count = int64_t(vs.fig[1]);
    s.counts.alloc_bytes = int64_t(vs.fig[2]);
    s.counts.alloc_count = int64_t(vs.fig[3]);
    p.sites.push_back(std::move(s));
  }
  bool ok = false;
  FileId id = loader ? file_id(path, &ok) : FileId{};
  if (ok) {  // remembered for the next file of the series (see LastChainState)
    LastChainState& c = last_chain_state();
    std::lock_guard<std::mutex> lock(c.mu);
    c.valid = true;
    c.id = id;
    c.path = path;
    c.pid = f.h.pid, c.seq = f.h.seq, c.run_id = v.chain.run_id, c.mode = f.h.mode;
    c.st = std::move(st);
  }
}

}  // namespace

Profile read_hsnap(std::string_view data, const std::string& path, const HsnapLoader& loader) {
  Profile p;
  Parsed f;
  parse_container(data, path, p, f);
  if (f.h.version == 1)
    read_v1(data, path, f, p);
  else
    read_v2(data, path, f, p, loader);
  p.memory = memory_from_stats(p.stats);
  return p;
}

}  // namespace heapscope
