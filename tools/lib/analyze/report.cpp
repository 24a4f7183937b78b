// report.cpp -- rank sites by live bytes. See report.h. Pure; thread-safe.
#include "analyze/report.h"

#include <algorithm>

namespace heapscope {

ReportResult make_report(const SymbolizedProfile& profile, size_t top) {
  ReportResult r;
  r.totals = profile.profile ? profile.profile->totals : Counts{};
  if (profile.profile) r.memory = memory_composition(*profile.profile);
  std::vector<const SiteView*> ranked;
  for (const auto& s : profile.sites)
    if (s.counts.inuse_bytes != 0 || s.counts.alloc_bytes != 0 || s.counts.inuse_count != 0)
      ranked.push_back(&s);
  std::stable_sort(ranked.begin(), ranked.end(), [](const SiteView* a, const SiteView* b) {
    if (a->counts.inuse_bytes != b->counts.inuse_bytes)
      return a->counts.inuse_bytes > b->counts.inuse_bytes;
    if (a->counts.alloc_bytes != b->counts.alloc_bytes)
      return a->counts.alloc_bytes > b->counts.alloc_bytes;
    return a->key < b->key;
  });
  r.total_sites = ranked.size();
  if (top && ranked.size() > top) ranked.resize(top);
  for (const SiteView* s : ranked) {
    r.sites.push_back(*s);
    fill_frames(r.sites.back());
  }
  return r;
}

}  // namespace heapscope
