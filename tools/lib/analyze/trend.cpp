// trend.cpp -- leak suspects from a series of snapshots. See trend.h.
//
// Time: uptime_ns when every snapshot has one and all come from one process,
// else time_unix_ns when all have one, else the order given (one unit per
// snapshot). Per site: least-squares slope of inuse_bytes over time, r2 of
// that fit, and the fraction of steps that do not decrease. Suspects (steady
// growth) rank first by slope * r2 * monotonic; then the rest by the same
// score, so flat or sawtooth churn ranks low however much it allocates.
// Pure; thread-safe.
#include "analyze/trend.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

namespace heapscope {
namespace {

struct Fit {
  double slope = 0, r2 = 0;
};

Fit least_squares(const std::vector<double>& x, const std::vector<double>& y) {
  size_t n = x.size();
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
  double my = std::accumulate(y.begin(), y.end(), 0.0) / double(n);
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  Fit f;
  if (sxx > 0) f.slope = sxy / sxx;
  if (sxx > 0 && syy > 0) f.r2 = (sxy * sxy) / (sxx * syy);
  return f;
}

}  // namespace

TrendResult make_trend(const std::vector<const SymbolizedProfile*>& inputs, size_t top) {
  TrendResult t;
  std::vector<const SymbolizedProfile*> used;
  size_t exits = 0;
  for (const auto* sp : inputs) {
    if (sp->profile->is_exit()) {
      ++exits;
      t.notes.push_back(sp->profile->path +
                        ": exit snapshot left out of the trend (taken at exit, after the program "
                        "began cleaning up)");
      continue;
    }
    used.push_back(sp);
  }
  if (used.size() < 3)
    throw std::invalid_argument(
        "trend needs at least 3 snapshots taken while the program ran; " +
        std::to_string(inputs.size()) + " given" +
        (exits ? ", " + std::to_string(exits) + " of them exit snapshots left out" : std::string()));

  bool same_pid = std::all_of(used.begin(), used.end(),
                              [&](auto* s) { return s->profile->pid == used[0]->profile->pid; });
  bool all_uptime = std::all_of(used.begin(), used.end(), [](auto* s) { return s->profile->uptime_ns > 0; });
  bool all_wall = std::all_of(used.begin(), used.end(), [](auto* s) { return s->profile->time_unix_ns > 0; });
  auto when = [&](const SymbolizedProfile* s) -> uint64_t {
    return t.time_basis == "uptime" ? s->profile->uptime_ns : s->profile->time_unix_ns;
  };
  if (same_pid && all_uptime) t.time_basis = "uptime";
  else if (all_wall) t.time_basis = "wall clock";
  else t.time_basis = "file order";
  if (t.time_basis != "file order") {
    std::vector<const SymbolizedProfile*> sorted = used;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](auto* a, auto* b) { return when(a) < when(b); });
    if (sorted != used) {
      std::string order;
      for (auto* s : sorted) order += (order.empty() ? "" : ", ") + s->profile->path;
      t.notes.push_back("snapshots were not given in time order; sorted by " + t.time_basis +
                        ": " + order);
      used = sorted;
    }
  } else {
    t.notes.push_back("snapshots carry no usable timestamps; using the order given, one unit per "
                      "snapshot");
  }
  for (auto* s : used) {
    t.order.push_back(s->profile);
    if (t.time_basis == "file order") t.times_s.push_back(double(t.times_s.size()));
    else t.times_s.push_back(double(when(s) - when(used[0])) / 1e9);
  }
  t.totals = used.back()->profile->totals;

  // Union of sites by key, in first-seen order.
  const size_t n = used.size();
  std::unordered_map<std::string, size_t> index;
  std::vector<TrendSite> sites;
  std::vector<std::vector<int64_t>> counts;
  std::vector<bool> in_last;
  for (size_t k = 0; k < n; ++k) {
    for (const auto& s : used[k]->sites) {
      auto [it, inserted] = index.emplace(s.key, sites.size());
      if (inserted) {
        sites.emplace_back();
        sites.back().inuse_bytes.assign(n, 0);
        counts.emplace_back(n, 0);
        in_last.push_back(false);
      }
      TrendSite& ts = sites[it->second];
      ts.site = s;  // the newest view wins
      ts.inuse_bytes[k] = s.counts.inuse_bytes;
      counts[it->second][k] = s.counts.inuse_count;
      if (k == n - 1) in_last[it->second] = true;
    }
  }
  std::vector<double> index_x(n);
  for (size_t k = 0; k < n; ++k) index_x[k] = double(k);
  for (size_t i = 0; i < sites.size(); ++i) {
    TrendSite& ts = sites[i];
    // Figures are the newest snapshot's (zero when the site is gone by then).
    if (!in_last[i]) ts.site.counts = Counts{};
    ts.delta_bytes = ts.inuse_bytes.back() - ts.inuse_bytes.front();
    ts.delta_count = counts[i].back() - counts[i].front();
    std::vector<double> y(ts.inuse_bytes.begin(), ts.inuse_bytes.end());
    Fit ft = least_squares(t.times_s, y);
    ts.slope_bytes_per_s = ft.slope;
    ts.r2 = ft.r2;
    ts.slope_bytes_per_snapshot = least_squares(index_x, y).slope;
    size_t up = 0;
    for (size_t k = 1; k < n; ++k)
      if (y[k] >= y[k - 1]) ++up;
    ts.monotonic = double(up) / double(n - 1);
    ts.score = ts.slope_bytes_per_s > 0 ? ts.slope_bytes_per_s * ts.r2 * ts.monotonic
                                        : ts.slope_bytes_per_s;
    ts.suspect = ts.slope_bytes_per_s > 0 && ts.delta_bytes > 0 && ts.r2 >= 0.8 &&
                 ts.monotonic >= 0.8;
  }
  std::stable_sort(sites.begin(), sites.end(), [](const TrendSite& a, const TrendSite& b) {
    if (a.suspect != b.suspect) return a.suspect;
    if (a.score != b.score) return a.score > b.score;
    if (a.delta_bytes != b.delta_bytes) return a.delta_bytes > b.delta_bytes;
    return a.site.key < b.site.key;
  });
  t.total_sites = sites.size();
  if (top && sites.size() > top) sites.resize(top);
  t.sites = std::move(sites);
  return t;
}

}  // namespace heapscope
