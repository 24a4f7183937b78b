// foreign_text.cpp -- see foreign_text.h. Safety: bounded, checked parsing;
// errors as FormatError "FILE: line N: what".
#include "reader/foreign_text.h"

#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <map>

namespace heapscope::foreign {

bool Lines::next(std::string_view& line) {
  if (pos_ >= data_.size()) return false;
  size_t nl = data_.find('\n', pos_);
  size_t end = nl == std::string_view::npos ? data_.size() : nl;
  line = data_.substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = nl == std::string_view::npos ? data_.size() : nl + 1;
  ++number_;
  return true;
}

void Lines::fail(const std::string& what) const {
  throw FormatError(path_ + ": line " + std::to_string(number_) + ": " + what);
}

static std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 60)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 60) out += "...";
  return out + "'";
}

void Cursor::skip_spaces() {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
}

bool Cursor::at_end() {
  skip_spaces();
  return pos >= s.size();
}

bool Cursor::eat(char c) {
  skip_spaces();
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

void Cursor::expect(char c, const char* what) {
  if (!eat(c))
    lines.fail(std::string("expected '") + c + "' " + what + ", found " +
               (pos < s.size() ? quote(s.substr(pos)) : std::string("end of line")));
}

bool Cursor::eat_word(std::string_view w) {
  skip_spaces();
  if (s.substr(pos, w.size()) == w) {
    pos += w.size();
    return true;
  }
  return false;
}

int64_t Cursor::count(const char* what) {
  skip_spaces();
  if (pos < s.size() && s[pos] == '-') {
    size_t e = pos + 1;
    while (e < s.size() && s[e] >= '0' && s[e] <= '9') ++e;
    lines.fail(std::string("negative ") + what + " " + quote(s.substr(pos, e - pos)));
  }
  size_t start = pos;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  if (pos == start)
    lines.fail(std::string("expected ") + what + " (a decimal number), found " +
               (pos < s.size() ? quote(s.substr(pos)) : std::string("end of line")));
  uint64_t v = 0;
  for (size_t i = start; i < pos; ++i) {
    if (v > (uint64_t(INT64_MAX) - uint64_t(s[i] - '0')) / 10)
      lines.fail(std::string(what) + " " + quote(s.substr(start, pos - start)) + " overflows a signed 64-bit count");
    v = v * 10 + uint64_t(s[i] - '0');
  }
  return static_cast<int64_t>(v);
}

uint64_t Cursor::hex(const char* what) {
  skip_spaces();
  if (s.substr(pos, 2) != "0x" && s.substr(pos, 2) != "0X")
    lines.fail(std::string("expected ") + what + " (0x...), found " + quote(s.substr(pos)));
  pos += 2;
  size_t start = pos;
  uint64_t v = 0;
  while (pos < s.size() && isxdigit(static_cast<unsigned char>(s[pos]))) {
    if (pos - start >= 16) lines.fail(std::string(what) + " " + quote(s.substr(start - 2)) + " exceeds 64 bits");
    char c = s[pos];
    unsigned d = c <= '9' ? unsigned(c - '0') : unsigned((c | 0x20) - 'a' + 10);
    v = (v << 4) | d;
    ++pos;
  }
  if (pos == start) lines.fail(std::string("expected hex digits in ") + what);
  return v;
}

std::string_view Cursor::rest() {
  skip_spaces();
  std::string_view r = s.substr(pos);
  while (!r.empty() && (r.back() == ' ' || r.back() == '\t')) r.remove_suffix(1);
  pos = s.size();
  return r;
}

uint64_t parse_rate(std::string_view digits, const Lines& lines, const char* what) {
  if (digits.empty()) lines.fail(std::string("missing ") + what);
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') lines.fail(std::string("bad ") + what + " " + quote(digits) + " (expected a decimal number)");
    if (v > (uint64_t(INT64_MAX) - uint64_t(c - '0')) / 10)
      lines.fail(std::string(what) + " " + quote(digits) + " overflows 64 bits");
    v = v * 10 + uint64_t(c - '0');
  }
  return v;
}

void check_pair(int64_t count, int64_t bytes, const Lines& lines, const char* what) {
  if (count == 0 && bytes != 0)
    lines.fail(std::string(what) + ": " + std::to_string(bytes) + " bytes in 0 blocks (expected 0 bytes)");
  if (count > 0 && bytes / count > kMaxBlockBytes)
    lines.fail(std::string(what) + ": average block of " + std::to_string(bytes / count) +
               " bytes exceeds the address space (expected at most 2^47)");
}

void unsample(int64_t& count, int64_t& bytes, uint64_t rate, const Lines& lines) {
  if (count == 0 || bytes == 0 || rate <= 1) return;
  double avg = static_cast<double>(bytes) / static_cast<double>(count);
  double scale = 1.0 / (1.0 - std::exp(-avg / static_cast<double>(rate)));
  double c = static_cast<double>(count) * scale, b = static_cast<double>(bytes) * scale;
  if (!(c < 9.2e18) || !(b < 9.2e18))
    lines.fail("unsampled figures (" + std::to_string(count) + " blocks, " + std::to_string(bytes) +
               " bytes at 1 sample per " + std::to_string(rate) + " bytes) overflow a 64-bit count");
  count = static_cast<int64_t>(c);
  bytes = static_cast<int64_t>(b);
}

namespace {

struct ElfInfo {
  bool ok = false;
  std::string build_id;
  struct Load {
    uint64_t vaddr, offset, filesz;
  };
  std::vector<Load> loads;
};

ElfInfo read_elf(const std::string& path) {
  ElfInfo info;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  // Fuzz runs stay deterministic and never touch files the input names.
  (void)path;
  return info;
#endif
  if (path.rfind("/proc/", 0) == 0 || path.rfind("/sys/", 0) == 0 || path.rfind("/dev/", 0) == 0) return info;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 64) return info;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return info;
  struct stat fst {};
  if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode)) {
    close(fd);
    return info;
  }
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  if (elf && elf_kind(elf) == ELF_K_ELF) {
    size_t n = 0;
    if (elf_getphdrnum(elf, &n) == 0 && n < 4096) {
      for (size_t i = 0; i < n; ++i) {
        GElf_Phdr ph;
        if (gelf_getphdr(elf, static_cast<int>(i), &ph) && ph.p_type == PT_LOAD)
          info.loads.push_back({ph.p_vaddr, ph.p_offset, ph.p_filesz});
      }
      info.ok = true;
    }
    const void* id = nullptr;
    ssize_t len = dwelf_elf_gnu_build_id(elf, &id);
    if (len > 0 && len <= 64 && id) {
      static const char* hexd = "0123456789abcdef";
      for (ssize_t i = 0; i < len; ++i) {
        unsigned char b = static_cast<const unsigned char*>(id)[i];
        info.build_id += hexd[b >> 4];
        info.build_id += hexd[b & 15];
      }
    }
  }
  if (elf) elf_end(elf);
  close(fd);
  return info;
}

}  // namespace

void parse_maps(Lines& lines, Profile& profile) {
  std::map<std::string, size_t> index;  // path -> module
  std::string_view line;
  bool first_file = true;
  while (lines.next(line)) {
    Cursor c{line, 0, lines};
    if (c.at_end()) continue;
    // gperftools may add "build=PATH" lines (pprof ignores what it cannot use).
    if (line.substr(c.pos, 6) == "build=") continue;
    uint64_t start = 0, end = 0, offset = 0;
    auto hexfield = [&](const char* what) {
      c.skip_spaces();
      size_t s0 = c.pos;
      uint64_t v = 0;
      while (c.pos < line.size() && isxdigit(static_cast<unsigned char>(line[c.pos]))) {
        if (c.pos - s0 >= 16) lines.fail(std::string("maps: ") + what + " exceeds 64 bits");
        char ch = line[c.pos];
        v = (v << 4) | (ch <= '9' ? unsigned(ch - '0') : unsigned((ch | 0x20) - 'a' + 10));
        ++c.pos;
      }
      if (c.pos == s0) lines.fail(std::string("maps: expected ") + what + " (hex) in " + quote(line));
      return v;
    };
    start = hexfield("start address");
    if (c.pos >= line.size() || line[c.pos] != '-') lines.fail("maps: expected 'START-END' in " + quote(line));
    ++c.pos;
    end = hexfield("end address");
    if (end <= start) lines.fail("maps: empty or inverted range " + quote(line));
    c.skip_spaces();
    std::string_view perms = line.substr(c.pos, 4);
    if (perms.size() != 4) lines.fail("maps: expected permissions like 'r-xp' in " + quote(line));
    for (size_t i = 0; i < 4; ++i)
      if (std::string_view("rwxp").find(perms[i]) == std::string_view::npos && perms[i] != '-' && perms[i] != 's')
        lines.fail("maps: bad permissions " + quote(perms));
    c.pos += 4;
    offset = hexfield("file offset");
    c.skip_spaces();
    // device "MM:mm" and inode
    hexfield("device major");
    if (c.pos >= line.size() || line[c.pos] != ':') lines.fail("maps: expected device 'MM:mm' in " + quote(line));
    ++c.pos;
    hexfield("device minor");
    c.count("inode");
    std::string path(c.rest());
    const std::string_view deleted = " (deleted)";
    if (path.size() > deleted.size() && path.compare(path.size() - deleted.size(), deleted.size(), deleted) == 0)
      path.resize(path.size() - deleted.size());
    if (path.empty() || path[0] != '/') continue;  // anonymous, [heap], [stack], [vdso]
    uint64_t flags = (perms[0] == 'r' ? 4 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 1 : 0);
    auto [it, inserted] = index.try_emplace(path, profile.modules.size());
    if (inserted) {
      Module m;
      m.path = path;
      m.main = first_file;
      first_file = false;
      profile.modules.push_back(std::move(m));
    }
    Module& m = profile.modules[it->second];
    if (m.ranges.size() >= 4096) lines.fail("maps: more than 4096 ranges for " + quote(path));
    m.ranges.push_back({start, end, offset, flags});
  }
  // Load bias and build-id: from the ELF program headers when the file is
  // there (the bias maps a runtime address to an ELF virtual address);
  // otherwise assume vaddr == file offset, as GNU ld lays out PIE files.
  for (Module& m : profile.modules) {
    if (m.ranges.empty()) continue;
    ElfInfo elf = read_elf(m.path);
    m.build_id = elf.build_id;
    bool found = false;
    for (const Range& r : m.ranges) {
      for (const auto& l : elf.loads) {
        // The kernel maps a PT_LOAD from its page-aligned offset to its
        // page-aligned vaddr.
        const uint64_t page = ~uint64_t(0xfff);
        if ((l.offset & page) == r.file_offset) {
          m.load_bias = r.start - (l.vaddr & page);
          found = true;
          break;
        }
      }
      if (found) break;
    }
    if (!found) {
      const Range* low = &m.ranges[0];
      for (const Range& r : m.ranges)
        if (r.start < low->start) low = &r;
      m.load_bias = low->start - low->file_offset;
    }
  }
}

void sum_totals(Profile& profile) {
  Counts t;
  for (const Site& s : profile.sites) {
    if (__builtin_add_overflow(t.inuse_bytes, s.counts.inuse_bytes, &t.inuse_bytes) ||
        __builtin_add_overflow(t.inuse_count, s.counts.inuse_count, &t.inuse_count) ||
        __builtin_add_overflow(t.alloc_bytes, s.counts.alloc_bytes, &t.alloc_bytes) ||
        __builtin_add_overflow(t.alloc_count, s.counts.alloc_count, &t.alloc_count))
      throw FormatError(profile.path + ": the sites' total overflows a 64-bit count");
  }
  profile.totals = t;
}

void set_time_from_file(Profile& profile) {
  struct stat st {};
  if (stat(profile.path.c_str(), &st) == 0 && st.st_mtim.tv_sec > 0) {
    profile.time_unix_ns = uint64_t(st.st_mtim.tv_sec) * 1000000000ull + uint64_t(st.st_mtim.tv_nsec);
    profile.meta["time_source"] = "file modification time";
  }
}

}  // namespace heapscope::foreign
