// diff.cpp -- growth per site between two snapshots, matched by symbolized
// frames (SiteView::key). See diff.h. Pure; thread-safe.
//
// Categories: new = held nothing in BASE (or absent) and holds memory in NEW;
// gone = held memory in BASE and nothing in NEW; otherwise grown/shrunk by the
// sign of delta_bytes (delta 0 = same, left out).
#include "analyze/diff.h"

#include <algorithm>
#include <unordered_map>

namespace heapscope {

const char* change_name(Change c) {
  switch (c) {
    case Change::New: return "new";
    case Change::Grown: return "grown";
    case Change::Shrunk: return "shrunk";
    case Change::Gone: return "gone";
    case Change::Same: return "same";
  }
  return "same";
}

DiffResult make_diff(const SymbolizedProfile& base, const SymbolizedProfile& now, size_t top) {
  DiffResult d;
  if (base.profile) d.base_totals = base.profile->totals;
  if (now.profile) d.new_totals = now.profile->totals;
  std::unordered_map<std::string, const SiteView*> in_base;
  for (const auto& s : base.sites) in_base.emplace(s.key, &s);
  std::unordered_map<std::string, bool> in_new;
  auto classify = [](const Counts& b, const Counts& n) {
    bool held_before = b.inuse_bytes > 0 || b.inuse_count > 0;
    bool holds_now = n.inuse_bytes > 0 || n.inuse_count > 0;
    if (!held_before && holds_now) return Change::New;
    if (held_before && !holds_now) return Change::Gone;
    if (n.inuse_bytes > b.inuse_bytes) return Change::Grown;
    if (n.inuse_bytes < b.inuse_bytes) return Change::Shrunk;
    return Change::Same;
  };
  auto add = [&](const SiteView& view, const Counts& b, const Counts& n) {
    DiffSite ds;
    ds.site = view;
    ds.site.counts = n;
    ds.base = b;
    ds.delta_bytes = n.inuse_bytes - b.inuse_bytes;
    ds.delta_count = n.inuse_count - b.inuse_count;
    ds.delta_alloc_bytes = n.alloc_bytes - b.alloc_bytes;
    ds.delta_alloc_count = n.alloc_count - b.alloc_count;
    ds.change = classify(b, n);
    d.count[int(ds.change)]++;
    if (ds.change != Change::Same) d.sites.push_back(std::move(ds));
  };
  for (const auto& s : now.sites) {
    in_new[s.key] = true;
    auto it = in_base.find(s.key);
    add(s, it == in_base.end() ? Counts{} : it->second->counts, s.counts);
  }
  for (const auto& s : base.sites)
    if (!in_new.count(s.key)) add(s, s.counts, Counts{});
  std::stable_sort(d.sites.begin(), d.sites.end(), [](const DiffSite& a, const DiffSite& b) {
    if (a.delta_bytes != b.delta_bytes) return a.delta_bytes > b.delta_bytes;
    if (a.delta_count != b.delta_count) return a.delta_count > b.delta_count;
    return a.site.key < b.site.key;
  });
  d.total_sites = d.sites.size();
  if (top && d.sites.size() > top) d.sites.resize(top);
  return d;
}

}  // namespace heapscope
