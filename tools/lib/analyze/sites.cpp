// sites.cpp -- symbolize a Profile into SiteViews; the process-wide frame
// table; site identity keys; notes. See sites.h.
//
// Cost model: each distinct return address is symbolized once (Symbolizer
// cache) and its frames interned once per profile; a site is then a list of
// frame ids, its key their bytes, its origin and container found from
// per-frame facts computed once per distinct frame. Frames are copied out
// only for sites that are shown. The frame table is guarded by a mutex;
// everything else here is single-threaded per SymbolizedProfile.
#include "analyze/sites.h"

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "analyze/origin.h"
#include "model/strings.h"

namespace heapscope {

namespace {

struct FrameInfo {
  Frame frame;
  bool system = false;
  bool alloc_entry = false;  // is_alloc_entry_frame(frame)
  std::string container;     // container_of_function(frame.function)
  std::string qualified;     // qualified_name(frame.function)
};

class FrameTable {
 public:
  uint32_t intern(const Frame& f) {
    std::string id = identity(f);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ids_.find(id);
    if (it != ids_.end()) return it->second;
    FrameInfo info;
    info.frame = f;
    info.frame.address = 0;  // per site, see SiteView::frame_addresses
    info.system = is_system_frame(f);
    info.alloc_entry = info.system && is_alloc_entry_frame(f);
    info.container = container_of_function(f.function);
    info.qualified = qualified_name(f.function);
    frames_.push_back(std::move(info));
    uint32_t n = uint32_t(frames_.size() - 1);
    ids_.emplace(std::move(id), n);
    return n;
  }
  const FrameInfo& get(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_.at(id);  // std::deque: references stay valid as it grows
  }

 private:
  static std::string identity(const Frame& f) {
    std::string id;
    if (f.resolved) {
      id.reserve(f.function.size() + f.file.size() + 32);
      id += f.function;
      id += '\0';
      id += f.file;
      id += '\0';
      id += std::to_string(f.line);
      id += f.inlined ? "\0i" : "\0o";
      id += '\0';
      id += basename_of(f.module);
    } else {
      char buf[40];
      std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(f.rel_address));
      id = "\1" + basename_of(f.module) + (f.module.empty() ? f.function : std::string(buf));
    }
    return id;
  }
  std::mutex mu_;
  std::deque<FrameInfo> frames_;
  std::unordered_map<std::string, uint32_t> ids_;
};

FrameTable& table() {
  static FrameTable* t = new FrameTable;  // never destroyed: frames outlive statics
  return *t;
}

void append_id(std::string& key, uint32_t id) {
  char b[4];
  std::memcpy(b, &id, 4);
  key.append(b, 4);
}

}  // namespace

const Frame& interned_frame(uint32_t id) { return table().get(id).frame; }
bool interned_is_system(uint32_t id) { return table().get(id).system; }
bool interned_is_alloc_entry(uint32_t id) { return table().get(id).alloc_entry; }
const std::string& interned_container(uint32_t id) { return table().get(id).container; }
const std::string& interned_qualified(uint32_t id) { return table().get(id).qualified; }

void fill_frames(SiteView& s) {
  if (!s.frames.empty() || s.frame_ids.empty()) return;
  s.frames.reserve(s.frame_ids.size());
  for (size_t i = 0; i < s.frame_ids.size(); ++i) {
    s.frames.push_back(interned_frame(s.frame_ids[i]));
    s.frames.back().address = i < s.frame_addresses.size() ? s.frame_addresses[i] : 0;
  }
}

std::string site_key(const std::vector<Frame>& frames) {
  std::string key;
  for (const auto& f : frames) append_id(key, table().intern(f));
  return key;
}

std::vector<std::string> profile_notes(const Profile& p) {
  std::vector<std::string> notes;
  if (p.sampled)
    notes.push_back(p.path + ": sampled profile (one sample per " +
                    std::to_string(p.sample_period) +
                    " bytes on average); figures are unbiased estimates");
  auto stat = [&](const char* name) -> uint64_t {
    for (const auto& [k, v] : p.stats)
      if (k == name) return v;
    return 0;
  };
  struct Warn {
    const char* stat;
    const char* text;
  };
  static const Warn warns[] = {
      {"dropped_events", "allocation events were dropped; figures are incomplete"},
      {"unwind_failures", "stacks could not be unwound; those allocations have short stacks"},
      {"truncated_stacks", "stacks were cut at the depth limit"},
      {"stack_table_full", "the profiler's stack table was full; some sites are merged"},
      {"unknown_frees", "frees of blocks the profiler never saw (allocated before it started)"},
      {"signal_handler_replaced", "the program replaced the profiler's snapshot signal handler"},
  };
  for (const auto& w : warns)
    if (uint64_t v = stat(w.stat))
      notes.push_back(p.path + ": profiler reports " + w.stat + " = " + std::to_string(v) + ": " +
                      w.text);
  return notes;
}

namespace {
using PcIds = std::unordered_map<uint64_t, std::vector<uint32_t>>;  // return address -> frame ids

// pc_ids caches per distinct return address; valid for one Symbolizer.
SymbolizedProfile symbolize_cached(const Profile& profile, Symbolizer& symbolizer, bool with_frames,
                                   PcIds& pc_ids) {
  SymbolizedProfile out;
  out.profile = &profile;
  FrameTable& t = table();
  std::unordered_map<std::string, size_t> by_key;
  std::string key;
  std::vector<uint32_t> ids;
  std::vector<uint64_t> addresses;
  for (size_t i = 0; i < profile.sites.size(); ++i) {
    const Site& site = profile.sites[i];
    key.clear();
    ids.clear();
    addresses.clear();
    for (uint64_t pc : site.pcs) {
      auto it = pc_ids.find(pc);
      if (it == pc_ids.end()) {
        std::vector<uint32_t> v;
        for (const Frame& f : symbolizer.frames(pc)) v.push_back(t.intern(f));
        it = pc_ids.emplace(pc, std::move(v)).first;
      }
      for (uint32_t id : it->second) {
        ids.push_back(id);
        addresses.push_back(pc);
        append_id(key, id);
      }
    }
    if (site.mapped) append_id(key, UINT32_MAX);  // its own kind: never merged with a heap site
    auto [kit, inserted] = by_key.emplace(key, out.sites.size());
    if (!inserted) {
      SiteView& v = out.sites[kit->second];
      v.counts.inuse_bytes += site.counts.inuse_bytes;
      v.counts.inuse_count += site.counts.inuse_count;
      v.counts.alloc_bytes += site.counts.alloc_bytes;
      v.counts.alloc_count += site.counts.alloc_count;
      v.truncated = v.truncated || site.truncated;
      v.site_indices.push_back(i);
      continue;
    }
    SiteView v;
    v.counts = site.counts;
    v.truncated = site.truncated;
    v.mapped = site.mapped;
    v.site_indices.push_back(i);
    v.key = key;
    v.frame_ids = ids;
    v.frame_addresses = addresses;
    // Origin and container: apply_wrappers(), once every site is known.
    if (with_frames) fill_frames(v);
    out.sites.push_back(std::move(v));
  }
  out.notes = profile_notes(profile);
  for (const auto& p : symbolizer.problems()) out.notes.push_back(p);
  out.debuginfod = symbolizer.debuginfod();
  return out;
}
}  // namespace

SymbolizedProfile symbolize_profile(const Profile& profile, Symbolizer& symbolizer,
                                    bool with_frames, const AllocFns& alloc_fns) {
  PcIds pc_ids;
  SymbolizedProfile out = symbolize_cached(profile, symbolizer, with_frames, pc_ids);
  apply_wrappers({&out}, alloc_fns);
  return out;
}

SymbolizedProfile symbolize_profile(const Profile& profile, bool with_frames,
                                    const AllocFns& alloc_fns) {
  Symbolizer s(profile);
  return symbolize_profile(profile, s, with_frames, alloc_fns);
}

namespace {
bool same_modules(const Profile& a, const Profile& b) {
  if (a.modules.size() != b.modules.size()) return false;
  for (size_t i = 0; i < a.modules.size(); ++i) {
    const Module &x = a.modules[i], &y = b.modules[i];
    if (x.path != y.path || x.build_id != y.build_id || x.load_bias != y.load_bias ||
        x.ranges.size() != y.ranges.size() || x.unloaded != y.unloaded)
      return false;
    for (size_t r = 0; r < x.ranges.size(); ++r)
      if (x.ranges[r].start != y.ranges[r].start || x.ranges[r].end != y.ranges[r].end) return false;
  }
  return true;
}
}  // namespace

std::vector<SymbolizedProfile> symbolize_profiles(const std::vector<Profile>& profiles,
                                                  bool with_frames, const AllocFns& alloc_fns) {
  std::vector<SymbolizedProfile> out;
  struct Shared {
    const Profile* owner;
    std::unique_ptr<Symbolizer> sym;
    PcIds pc_ids;
  };
  std::vector<std::unique_ptr<Shared>> shared;
  for (const auto& p : profiles) {
    Shared* use = nullptr;
    for (auto& sh : shared)
      if (same_modules(*sh->owner, p)) use = sh.get();
    if (!use) {
      shared.push_back(std::make_unique<Shared>(Shared{&p, std::make_unique<Symbolizer>(p), {}}));
      use = shared.back().get();
    }
    out.push_back(symbolize_cached(p, *use->sym, with_frames, use->pc_ids));
  }
  std::vector<SymbolizedProfile*> all;
  for (auto& sp : out) all.push_back(&sp);
  apply_wrappers(all, alloc_fns);
  return out;
}

}  // namespace heapscope
