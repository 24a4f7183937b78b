// report.cpp -- rank sites by live bytes. See report.h. Pure; thread-safe.
#include "analyze/report.h"

#include <algorithm>

namespace heapscope {

ReportResult make_report(const SymbolizedProfile& profile, size_t top) {
  ReportResult r;
  r.totals = profile.profile ? profile.profile->totals : Counts{};
  for (const auto& s : profile.sites)
    if (s.counts.inuse_bytes != 0 || s.counts.alloc_bytes != 0 || s.counts.inuse_count != 0)
      r.sites.push_back(s);
  std::stable_sort(r.sites.begin(), r.sites.end(), [](const SiteView& a, const SiteView& b) {
    if (a.counts.inuse_bytes != b.counts.inuse_bytes) return a.counts.inuse_bytes > b.counts.inuse_bytes;
    if (a.counts.alloc_bytes != b.counts.alloc_bytes) return a.counts.alloc_bytes > b.counts.alloc_bytes;
    return a.key < b.key;
  });
  r.total_sites = r.sites.size();
  if (top && r.sites.size() > top) r.sites.resize(top);
  return r;
}

}  // namespace heapscope
