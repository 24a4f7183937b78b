// diff.cpp -- growth per site between two snapshots, matched by symbolized
// frames (SiteView::key). See diff.h. Pure; thread-safe.
//
// Categories: new = held nothing in BASE (or absent) and holds memory in NEW;
// gone = held memory in BASE and nothing in NEW; otherwise grown/shrunk by the
// sign of delta_bytes (delta 0 = same, left out).
#include "analyze/diff.h"

#include <algorithm>
#include <string_view>
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
  std::unordered_map<std::string_view, const SiteView*> in_base, in_new;
  for (const auto& s : base.sites) in_base.emplace(view_of(s.key), &s);
  for (const auto& s : now.sites) in_new.emplace(view_of(s.key), &s);
  auto classify = [](const Counts& b, const Counts& n) {
    bool held_before = b.inuse_bytes > 0 || b.inuse_count > 0;
    bool holds_now = n.inuse_bytes > 0 || n.inuse_count > 0;
    if (!held_before && holds_now) return Change::New;
    if (held_before && !holds_now) return Change::Gone;
    if (n.inuse_bytes > b.inuse_bytes) return Change::Grown;
    if (n.inuse_bytes < b.inuse_bytes) return Change::Shrunk;
    return Change::Same;
  };
  struct Entry {
    const SiteView* view;
    Counts base, now;
    Change change;
    int64_t delta_bytes, delta_count;
  };
  std::vector<Entry> entries;
  auto add = [&](const SiteView* view, const Counts& b, const Counts& n) {
    Change c = classify(b, n);
    d.count[int(c)]++;
    if (c != Change::Same)
      entries.push_back({view, b, n, c, n.inuse_bytes - b.inuse_bytes, n.inuse_count - b.inuse_count});
  };
  for (const auto& s : now.sites) {
    auto it = in_base.find(view_of(s.key));
    add(&s, it == in_base.end() ? Counts{} : it->second->counts, s.counts);
  }
  for (const auto& s : base.sites)
    if (!in_new.count(view_of(s.key))) add(&s, s.counts, Counts{});
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.delta_bytes != b.delta_bytes) return a.delta_bytes > b.delta_bytes;
    if (a.delta_count != b.delta_count) return a.delta_count > b.delta_count;
    return a.view->key < b.view->key;
  });
  d.total_sites = entries.size();
  if (top && entries.size() > top) entries.resize(top);
  for (const Entry& e : entries) {
    DiffSite ds;
    ds.site = *e.view;
    ds.site.counts = e.now;
    fill_frames(ds.site);
    ds.base = e.base;
    ds.delta_bytes = e.delta_bytes;
    ds.delta_count = e.delta_count;
    ds.delta_alloc_bytes = e.now.alloc_bytes - e.base.alloc_bytes;
    ds.delta_alloc_count = e.now.alloc_count - e.base.alloc_count;
    ds.change = e.change;
    d.sites.push_back(std::move(ds));
  }
  return d;
}

}  // namespace heapscope
