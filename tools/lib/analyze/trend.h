// trend.h -- leak suspects from three or more snapshots (heapscope trend).
//
// Per site (matched by SiteView::key): least-squares slope of inuse_bytes over
// time, r2 of that fit, and the fraction of steps that do not decrease. The
// score = slope * r2 * monotonicity ranks steady growth first and churn
// (flat or sawtooth live bytes, however much is allocated) last.
// Pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "analyze/memory.h"
#include "analyze/sites.h"

namespace heapscope {

struct TrendSite {
  SiteView site;                // the newest snapshot's view that has the site
  std::vector<int64_t> inuse_bytes;  // per snapshot, in time order (0 when absent)
  int64_t delta_bytes = 0;      // last - first inuse_bytes
  int64_t delta_count = 0;      // last - first inuse_count
  double slope_bytes_per_s = 0; // least squares over time
  double slope_bytes_per_snapshot = 0;  // least squares over snapshot index
  double r2 = 0;                // of the time fit, 0..1 (0 when flat)
  double monotonic = 0;         // fraction of steps that do not decrease, 0..1
  double score = 0;             // ranking key
  bool suspect = false;         // keeps growing: slope > 0, r2 >= 0.8, monotonic >= 0.8, delta > 0
};

// What the process's memory did over the series. Slopes are least squares over
// the trend's time basis (bytes per s, or per snapshot in file order). `grows`
// is set when RSS or the allocator's holdings grew by at least 4 MiB and 5% of
// the first RSS over the series while the live heap (heapscope's tracked
// bytes and the allocator's in-use figure) grew by at most a quarter of that:
// the term of the composition that grew most ("held_free", "thread_stacks",
// "other_anon" or "files"). Then no site is a leak suspect: the memory is not
// in the heap's live blocks.
struct MemoryTrend {
  bool present = false;          // every snapshot used has the RSS split
  bool allocator_known = false;  // ... and the allocator's figures
  std::vector<MemoryComposition> series;  // per snapshot, in time order
  double rss_slope = 0, held_free_slope = 0, heap_in_use_slope = 0, live_heap_slope = 0;
  double thread_stacks_slope = 0, other_anon_slope = 0, files_slope = 0;
  std::string grows;               // "" when nothing grew apart from the heap
  std::string diagnosis;           // one sentence when grows is set
  std::vector<std::string> advice; // what to try, when grows is set
};

struct TrendResult {
  std::vector<const Profile*> order;  // snapshots used, in time order
  std::vector<double> times_s;        // their times, seconds from the first
  std::string time_basis;             // "uptime", "wall clock" or "file order"
  Counts totals;                      // the newest snapshot's totals
  std::vector<TrendSite> sites;       // ranked by score desc
  size_t total_sites = 0;             // before --top
  std::vector<std::string> notes;     // reordering, exit snapshots left out
  std::vector<Wrapper> wrappers;      // allocation wrappers skipped for origins
  MemoryTrend memory;                 // RSS and the allocator over the series
};

// inputs in the order given; exit snapshots are left out (noted) and the rest
// sorted by time. Throws CommandError-like std::invalid_argument when fewer
// than 3 remain. top == 0 keeps every site.
TrendResult make_trend(const std::vector<const SymbolizedProfile*>& inputs, size_t top);

}  // namespace heapscope
