// live.cpp -- see live.h.
#include "analyze/live.h"

namespace heapscope {

void LiveSeries::add(Profile profile) {
  auto p = std::make_unique<Profile>(std::move(profile));
  if (!sym_ || !same_modules(*sym_owner_, *p)) {
    sym_owner_ = std::make_unique<Profile>();
    sym_owner_->modules = p->modules;
    sym_ = std::make_unique<Symbolizer>(*sym_owner_);
    ++symbolizers_;
  }
  SymbolizedProfile sp = symbolize_profile(*p, *sym_, false);
  if (!first_) {
    first_ = std::move(p);
    first_sp_ = std::move(sp);
    latest_sp_ = first_sp_;
    latest_sp_.profile = first_.get();
  } else {
    latest_ = std::move(p);
    latest_sp_ = std::move(sp);
  }
  ++count_;
  const Profile& now = latest_ ? *latest_ : *first_;
  latest_sp_.profile = &now;
  live_ = make_report(latest_sp_, top_);
  growth_ = make_diff(first_sp_, latest_sp_, top_);
}

}  // namespace heapscope
