// diff.h -- sites ranked by growth between two snapshots (heapscope diff).
// Sites are matched by SiteView::key (symbolized frames), never by raw
// addresses. Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "analyze/sites.h"

namespace heapscope {

enum class Change { New, Grown, Shrunk, Gone, Same };
const char* change_name(Change c);  // "new", "grown", "shrunk", "gone", "same"

struct DiffSite {
  SiteView site;        // NEW's view (BASE's when gone); counts = NEW's figures
  Counts base;          // BASE's figures (zero when new)
  int64_t delta_bytes = 0;  // inuse_bytes NEW - BASE
  int64_t delta_count = 0;  // inuse_count NEW - BASE
  int64_t delta_alloc_bytes = 0;
  int64_t delta_alloc_count = 0;
  Change change = Change::Same;
};

struct DiffResult {
  Counts base_totals, new_totals;
  std::vector<DiffSite> sites;  // ranked by delta_bytes desc (growth first), then |delta|
  size_t total_sites = 0;       // before --top
  size_t count[5] = {0, 0, 0, 0, 0};  // per Change, before --top
};

// top == 0 keeps all sites that changed (Same sites are dropped).
DiffResult make_diff(const SymbolizedProfile& base, const SymbolizedProfile& now, size_t top);

}  // namespace heapscope
