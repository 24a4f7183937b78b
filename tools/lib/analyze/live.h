// live.h -- a running process watched snapshot after snapshot (heapscope top):
// the first snapshot is the baseline, the latest is ranked by live bytes
// (report.h) and by growth since the baseline (diff.h). Sites match by their
// symbolized frames, as in diff.
// Owns: the series' state and its symbolizer cache: one Symbolizer serves
// every snapshot while the process's modules stay the same (a dlopen makes a
// new one), so each address is symbolized once however many refreshes.
// Not thread-safe.
#pragma once

#include <memory>

#include "analyze/diff.h"
#include "analyze/report.h"

namespace heapscope {

class LiveSeries {
 public:
  explicit LiveSeries(size_t top) : top_(top) {}
  // Adds the next snapshot of the process (the first one is the baseline).
  void add(Profile profile);
  size_t count() const { return count_; }
  size_t symbolizers_made() const { return symbolizers_; }
  const Profile& first() const { return *first_; }
  const Profile& latest() const { return latest_ ? *latest_ : *first_; }
  const ReportResult& live() const { return live_; }      // latest, by live bytes
  const DiffResult& growth() const { return growth_; }    // first -> latest, by growth

 private:
  size_t top_;
  size_t count_ = 0, symbolizers_ = 0;
  std::unique_ptr<Profile> first_, latest_, sym_owner_;  // sym_owner_: the modules sym_ points into
  std::unique_ptr<Symbolizer> sym_;
  SymbolizedProfile first_sp_, latest_sp_;
  ReportResult live_;
  DiffResult growth_;
};

}  // namespace heapscope
