// sites.cpp -- symbolize a Profile into SiteViews; site identity keys; notes.
// See sites.h. Not thread-safe (uses the caller's Symbolizer).
#include "analyze/sites.h"

#include <cstdio>
#include <memory>
#include <unordered_map>

#include "analyze/origin.h"

namespace heapscope {

namespace {
std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

std::string site_key(const std::vector<Frame>& frames) {
  std::string key;
  char buf[40];
  for (const auto& f : frames) {
    if (f.resolved) {
      key += f.function;
      key += '|';
      key += f.file;
      key += ':';
      key += std::to_string(f.line);
    } else {
      std::snprintf(buf, sizeof buf, "+0x%llx", static_cast<unsigned long long>(f.rel_address));
      key += basename_of(f.module);
      key += f.module.empty() ? std::string(f.function) : std::string(buf);
    }
    key += f.inlined ? "\ni" : "\n";
  }
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
      {"unwind_failures", "stacks could not be unwound; their allocations have short stacks"},
      {"truncated_stacks", "stacks were cut at the depth limit"},
      {"stack_table_full", "the profiler's stack table was full; some sites are merged"},
      {"unknown_frees", "frees of blocks the profiler never saw (allocated before it started?)"},
      {"signal_handler_replaced", "the program replaced the profiler's snapshot signal handler"},
  };
  for (const auto& w : warns)
    if (uint64_t v = stat(w.stat))
      notes.push_back(p.path + ": " + std::to_string(v) + " " + w.text + " (" + w.stat + ")");
  return notes;
}

SymbolizedProfile symbolize_profile(const Profile& profile, Symbolizer& symbolizer) {
  SymbolizedProfile out;
  out.profile = &profile;
  std::unordered_map<std::string, size_t> by_key;
  for (size_t i = 0; i < profile.sites.size(); ++i) {
    const Site& site = profile.sites[i];
    std::vector<Frame> frames = symbolizer.stack(site.pcs);
    std::string key = site_key(frames);
    auto [it, inserted] = by_key.emplace(key, out.sites.size());
    if (!inserted) {
      SiteView& v = out.sites[it->second];
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
    v.site_indices.push_back(i);
    v.origin = find_origin(frames);
    v.container = find_container(frames, v.origin);
    v.frames = std::move(frames);
    v.key = std::move(key);
    out.sites.push_back(std::move(v));
  }
  out.notes = profile_notes(profile);
  for (const auto& p : symbolizer.problems()) out.notes.push_back(p);
  return out;
}

SymbolizedProfile symbolize_profile(const Profile& profile) {
  Symbolizer s(profile);
  return symbolize_profile(profile, s);
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

std::vector<SymbolizedProfile> symbolize_profiles(const std::vector<Profile>& profiles) {
  std::vector<SymbolizedProfile> out;
  std::vector<std::pair<const Profile*, std::unique_ptr<Symbolizer>>> symbolizers;
  for (const auto& p : profiles) {
    Symbolizer* sym = nullptr;
    for (auto& [owner, s] : symbolizers)
      if (same_modules(*owner, p)) sym = s.get();
    if (!sym) {
      symbolizers.emplace_back(&p, std::make_unique<Symbolizer>(p));
      sym = symbolizers.back().second.get();
    }
    out.push_back(symbolize_profile(p, *sym));
  }
  return out;
}

}  // namespace heapscope
