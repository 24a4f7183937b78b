// stacks.cpp -- folding profiles into symbolized stacks for the export
// renderers (see stacks.h). Safety: bounded by the profile's size; integer
// sums saturate; no recursion.
#include "render/stacks.h"
#include "model/strings.h"

#include <algorithm>
#include <limits>
#include <map>

namespace heapscope {

FrameLookup symbolizer_lookup(Symbolizer& symbolizer) {
  return [&symbolizer](uint64_t pc) -> const std::vector<Frame>& { return symbolizer.frames(pc); };
}

int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

int64_t sat_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

FrameKind frame_kind(const Frame& f) {
  const std::string mod = basename_of(f.module);
  const std::string& fn = f.function;
  if (starts_with(fn, "std::") || starts_with(fn, "__gnu_cxx::") || starts_with(fn, "__cxxabiv1::") ||
      starts_with(fn, "operator new") || starts_with(fn, "operator delete") ||
      starts_with(mod, "libstdc++") || starts_with(mod, "libgcc_s") || starts_with(mod, "libc++"))
    return FrameKind::std_lib;
  if (starts_with(mod, "libc.so") || starts_with(mod, "libc-") || starts_with(mod, "ld-linux") ||
      starts_with(mod, "libm.so") || starts_with(mod, "libpthread") || starts_with(mod, "libdl") ||
      starts_with(mod, "libtcmalloc") || starts_with(mod, "libjemalloc") ||
      starts_with(mod, "libheapscope") || starts_with(fn, "__libc_") || starts_with(fn, "_dl_") ||
      fn == "malloc" || fn == "calloc" || fn == "realloc" || fn == "_start")
    return FrameKind::system;
  if (!f.resolved && starts_with(fn, "0x")) return FrameKind::unknown;
  return FrameKind::user;
}

std::vector<Frame> expand_stack(const ExportInput& in, const std::vector<uint64_t>& pcs) {
  std::vector<Frame> out;
  for (uint64_t pc : pcs) {
    const auto& frames = in.lookup(pc);
    out.insert(out.end(), frames.begin(), frames.end());
  }
  return out;
}

// "libfoo.so+0x1234" for a frame no symbol names, which stays the same
// across runs (ASLR) where the raw "0x7f..." address does not.
static std::string module_offset(const Frame& f) {
  char buf[32];
  snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(f.rel_address));
  return basename_of(f.module) + buf;
}

static bool unnamed(const Frame& f) { return !f.resolved && starts_with(f.function, "0x"); }

std::string stack_key(const std::vector<Frame>& frames) {
  std::string key;
  for (const auto& f : frames) {
    if (!unnamed(f)) {
      key += f.function;
      key += '\x1f';
      key += f.file;
      key += '\x1f';
      key += std::to_string(f.line);
    } else {
      key += module_offset(f);
    }
    key += '\x1e';
  }
  return key;
}

static std::string flame_name(const std::string& fn) {
  std::string s = fn.empty() ? "??" : fn;
  for (char& c : s)
    if (c == ';') c = ':';
    else if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return s;
}

namespace {
struct Folded {
  std::vector<FlameFrame> frames;
  int64_t value = 0;
};
}  // namespace

static void fold_into(std::map<std::string, Folded>& out, const ExportInput& in, bool negate, FoldBy by) {
  for (const auto& site : in.profile->sites) {
    std::vector<Frame> frames = expand_stack(in, site.pcs);
    Folded f;
    std::string key;
    if (site.mapped) {  // the program's own mmap (HEAPSCOPE_MMAP=1): its own root, apart from the heap
      FlameFrame root;
      root.name = "[mmap]";
      root.kind = FrameKind::system;
      f.frames.push_back(std::move(root));
      key += "[mmap];";
    }
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      const bool by_offset = unnamed(*it) && !it->module.empty();
      FlameFrame ff{flame_name(by_offset ? module_offset(*it) : it->function), frame_kind(*it),
                    it->file, it->line, it->module, it->inlined};
      key += ff.name;
      if (by == FoldBy::location) {
        key += '\x1f';
        key += ff.file;
        key += '\x1f';
        key += std::to_string(ff.line);
      }
      key += ';';
      f.frames.push_back(std::move(ff));
    }
    auto [pos, inserted] = out.try_emplace(key, std::move(f));
    int64_t v = site.counts.inuse_bytes;
    pos->second.value = negate ? sat_sub(pos->second.value, v) : sat_add(pos->second.value, v);
  }
}

FlameData fold_flame(const ExportInput& now, const ExportInput* base, FoldBy by) {
  std::map<std::string, Folded> folded;
  fold_into(folded, now, false, by);
  if (base) fold_into(folded, *base, true, by);
  FlameData out;
  out.differential = base != nullptr;
  for (auto& [key, f] : folded) {
    if (f.value <= 0) {
      if (base) out.shrunk = sat_add(out.shrunk, f.value);
      continue;
    }
    out.total = sat_add(out.total, f.value);
    out.stacks.push_back({std::move(f.frames), f.value});
  }
  return out;
}

}  // namespace heapscope
