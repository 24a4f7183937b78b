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
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string_view>
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

constexpr double kMiB = 1024.0 * 1024.0;

// See MemoryTrend in trend.h.
MemoryTrend memory_trend(const std::vector<const SymbolizedProfile*>& used, const std::vector<double>& times) {
  MemoryTrend m;
  for (auto* s : used) m.series.push_back(memory_composition(*s->profile));
  m.present = std::all_of(m.series.begin(), m.series.end(), [](const auto& c) { return c.present; });
  if (!m.present) {
    m.series.clear();
    return m;
  }
  m.allocator_known = std::all_of(m.series.begin(), m.series.end(), [](const auto& c) { return c.allocator_known; });
  auto slope = [&](auto field) {
    std::vector<double> y;
    for (const auto& c : m.series) y.push_back(double(field(c)));
    return least_squares(times, y).slope;
  };
  m.rss_slope = slope([](const MemoryComposition& c) { return c.rss; });
  m.held_free_slope = slope([](const MemoryComposition& c) { return c.held_free; });
  m.heap_in_use_slope = slope([](const MemoryComposition& c) { return c.heap_in_use; });
  m.live_heap_slope = slope([](const MemoryComposition& c) { return c.live_heap; });
  m.thread_stacks_slope = slope([](const MemoryComposition& c) { return c.stacks; });
  m.other_anon_slope = slope([](const MemoryComposition& c) { return c.other_anon; });
  m.files_slope = slope([](const MemoryComposition& c) { return c.files; });
  const double span = times.back() - times.front();
  const double held_slope = m.allocator_known ? m.heap_in_use_slope + m.held_free_slope : 0;
  const double grew = std::max(m.rss_slope, held_slope) * span;
  const double heap_grew = std::max(m.live_heap_slope, m.allocator_known ? m.heap_in_use_slope : 0.0) * span;
  if (grew < 4 * kMiB || grew < 0.05 * double(m.series.front().rss) || heap_grew > 0.25 * grew) return m;
  std::pair<double, const char*> terms[] = {{m.allocator_known ? m.held_free_slope : -1, "held_free"},
                                            {m.thread_stacks_slope, "thread_stacks"},
                                            {m.other_anon_slope, "other_anon"},
                                            {m.files_slope, "files"}};
  auto top = std::max_element(std::begin(terms), std::end(terms),
                              [](const auto& a, const auto& b) { return a.first < b.first; });
  m.grows = top->second;
  char nums[160];
  std::snprintf(nums, sizeof nums, "RSS grew %.1f MiB and the live heap %.1f MiB over the series", grew / kMiB,
                heap_grew / kMiB);
  const std::string head = std::string(nums) + ": not a leak in the heap; ";
  if (m.grows == "held_free") {
    m.diagnosis = head + "the allocator keeps memory the program freed (fragmentation, per-thread arenas)";
    m.advice = {"call malloc_trim(0) after a burst of frees (glibc) to give free pages back",
                "set MALLOC_ARENA_MAX=2 when many threads allocate (glibc makes up to 8 arenas per core)",
                "another allocator: LD_PRELOAD=libjemalloc.so.2 (or tcmalloc) returns freed pages on its own"};
  } else if (m.grows == "thread_stacks") {
    m.diagnosis = head + "thread stacks grow: more threads run (or exited ones are not joined)";
    m.advice = {"join or detach finished threads; bound the thread pool; smaller stacks (pthread_attr_setstacksize)"};
  } else if (m.grows == "other_anon") {
    m.diagnosis = head + "anonymous memory outside the allocator grows (the program's or a library's own mmap)";
    m.advice = {"run with HEAPSCOPE_MMAP=1 to attribute the program's own mmap calls"};
  } else {
    m.diagnosis = head + "file-backed memory grows (files mapped into memory)";
    m.advice = {"look for files the program maps and reads (mmap) without unmapping them"};
  }
  return m;
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
  t.wrappers = used.back()->wrappers;
  t.memory = memory_trend(used, t.times_s);

  // Union of sites by key, in first-seen order; the newest view of each wins.
  const size_t n = used.size();
  struct Entry {
    const SiteView* view = nullptr;
    std::vector<int64_t> bytes, counts;
    bool in_last = false;
    double slope_s = 0, slope_snap = 0, r2 = 0, monotonic = 0, score = 0;
    bool suspect = false;
  };
  std::unordered_map<std::string_view, size_t> index;
  std::vector<Entry> entries;
  for (size_t k = 0; k < n; ++k) {
    for (const auto& s : used[k]->sites) {
      auto [it, inserted] = index.emplace(view_of(s.key), entries.size());
      if (inserted) {
        entries.emplace_back();
        entries.back().bytes.assign(n, 0);
        entries.back().counts.assign(n, 0);
      }
      Entry& e = entries[it->second];
      e.view = &s;
      e.bytes[k] = s.counts.inuse_bytes;
      e.counts[k] = s.counts.inuse_count;
      if (k == n - 1) e.in_last = true;
    }
  }
  std::vector<double> index_x(n);
  for (size_t k = 0; k < n; ++k) index_x[k] = double(k);
  std::vector<double> y(n);
  for (Entry& e : entries) {
    for (size_t k = 0; k < n; ++k) y[k] = double(e.bytes[k]);
    Fit ft = least_squares(t.times_s, y);
    e.slope_s = ft.slope;
    e.r2 = ft.r2;
    e.slope_snap = least_squares(index_x, y).slope;
    size_t up = 0;
    for (size_t k = 1; k < n; ++k)
      if (y[k] >= y[k - 1]) ++up;
    e.monotonic = double(up) / double(n - 1);
    int64_t delta = e.bytes.back() - e.bytes.front();
    e.score = e.slope_s > 0 ? e.slope_s * e.r2 * e.monotonic : e.slope_s;
    // RSS grows while the live heap does not (t.memory.grows): no heap site explains it.
    e.suspect = t.memory.grows.empty() && e.slope_s > 0 && delta > 0 && e.r2 >= 0.8 && e.monotonic >= 0.8;
  }

  std::vector<Entry*> ranked;
  for (Entry& e : entries) ranked.push_back(&e);
  std::stable_sort(ranked.begin(), ranked.end(), [](const Entry* a, const Entry* b) {
    if (a->suspect != b->suspect) return a->suspect;
    if (a->score != b->score) return a->score > b->score;
    int64_t da = a->bytes.back() - a->bytes.front(), db = b->bytes.back() - b->bytes.front();
    if (da != db) return da > db;
    return a->view->key < b->view->key;
  });
  t.total_sites = ranked.size();
  if (top && ranked.size() > top) ranked.resize(top);
  for (const Entry* e : ranked) {
    TrendSite ts;
    ts.site = *e->view;
    if (!e->in_last) ts.site.counts = Counts{};  // figures are the newest snapshot's
    fill_frames(ts.site);
    ts.inuse_bytes = e->bytes;
    ts.delta_bytes = e->bytes.back() - e->bytes.front();
    ts.delta_count = e->counts.back() - e->counts.front();
    ts.slope_bytes_per_s = e->slope_s;
    ts.slope_bytes_per_snapshot = e->slope_snap;
    ts.r2 = e->r2;
    ts.monotonic = e->monotonic;
    ts.score = e->score;
    ts.suspect = e->suspect;
    t.sites.push_back(std::move(ts));
  }
  return t;
}

}  // namespace heapscope
