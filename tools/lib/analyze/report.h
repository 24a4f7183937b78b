// report.h -- the sites holding the most live memory (heapscope report).
// Pure function over a SymbolizedProfile; thread-safe.
#pragma once

#include <vector>

#include "analyze/memory.h"
#include "analyze/sites.h"

namespace heapscope {

struct ReportResult {
  Counts totals;                // the profile's totals
  std::vector<SiteView> sites;  // ranked by inuse_bytes desc, then alloc_bytes desc
  size_t total_sites = 0;       // sites before --top
  MemoryComposition memory;     // what RSS was made of (present == false: not in the file)
};

// top == 0 keeps every site with any live or allocated memory.
ReportResult make_report(const SymbolizedProfile& profile, size_t top);

}  // namespace heapscope
