// test_analyze.cpp -- report, diff and trend on generated snapshots with
// exact figures: diff matches sites across ASLR by symbolized frames;
// trend ranks a steady leak first and loud churn last; exit snapshots and
// out-of-order inputs are handled with notes.
#include <gtest/gtest.h>

#include <cmath>

#include "analyze/diff.h"
#include "analyze/report.h"
#include "analyze/trend.h"
#include "reader/reader.h"
#include "series.h"

using namespace heapscope;
using series::SiteFigures;

namespace {

Profile load(const hsnap_test::Builder& b, const std::string& name) {
  return read_hsnap(b.bytes(), name);
}

// Index of the site (by its innermost offset) in a list of views.
int site_of(const SiteView& v) {
  const Frame& f = v.frames.at(0);
  return int((f.rel_address - 0x1000) / 0x40);
}

}  // namespace

TEST(Report, RanksByLiveBytesAndMergesEqualStacks) {
  auto b = series::snapshot(series::bias_for(0), 1, 1,
                            {{0, 100, 1, 100, 1}, {1, 5000, 5, 9000, 9}, {2, 300, 3, 300, 3},
                             {0, 50, 2, 70, 3}, {3, 0, 0, 8000, 8}});
  Profile p = load(b, "r.hsnap");
  SymbolizedProfile sp = symbolize_profile(p);
  ASSERT_EQ(sp.sites.size(), 4u);  // the two stacks of site 0 merged
  ReportResult r = make_report(sp, 0);
  ASSERT_EQ(r.sites.size(), 4u);
  EXPECT_EQ(site_of(r.sites[0]), 1);
  EXPECT_EQ(site_of(r.sites[1]), 2);
  EXPECT_EQ(site_of(r.sites[2]), 0);
  EXPECT_EQ(r.sites[2].counts.inuse_bytes, 150);
  EXPECT_EQ(r.sites[2].counts.inuse_count, 3);
  EXPECT_EQ(r.sites[2].counts.alloc_count, 4);
  EXPECT_EQ(site_of(r.sites[3]), 3);  // freed everything: ranks by alloc last
  EXPECT_EQ(r.totals.inuse_bytes, 5450);
  EXPECT_EQ(make_report(sp, 2).sites.size(), 2u);
  EXPECT_EQ(make_report(sp, 2).total_sites, 4u);
  // The module is missing: one note naming it, frames keep module + offset.
  ASSERT_EQ(sp.notes.size(), 1u);
  EXPECT_EQ(sp.notes[0], "/nonexistent/app: not found; its frames show addresses");
  EXPECT_EQ(r.sites[0].frames[0].module, "/nonexistent/app");
  EXPECT_EQ(r.sites[0].origin, 0);
}

TEST(Diff, MatchesAcrossAslrAndRanksByGrowth) {
  auto base = series::snapshot(series::bias_for(0), 10, 1,
                               {{0, 1000, 10, 1000, 10}, {1, 500, 5, 600, 6}, {2, 400, 4, 400, 4},
                                {4, 64, 1, 64, 1}});
  auto now = series::snapshot(series::bias_for(1), 20, 2,
                              {{0, 5000, 50, 5000, 50}, {1, 200, 2, 900, 9}, {3, 700, 7, 700, 7},
                               {4, 64, 1, 128, 2}});
  Profile pb = load(base, "base.hsnap"), pn = load(now, "new.hsnap");
  ASSERT_NE(pb.sites[0].pcs[0], pn.sites[0].pcs[0]);  // raw addresses differ
  SymbolizedProfile sb = symbolize_profile(pb), sn = symbolize_profile(pn);
  DiffResult d = make_diff(sb, sn, 0);
  ASSERT_EQ(d.sites.size(), 4u);  // site 4 is unchanged and left out
  struct Want {
    int site;
    int64_t delta_bytes, delta_count, inuse_bytes;
    Change change;
  };
  const Want want[] = {{0, 4000, 40, 5000, Change::Grown},
                       {3, 700, 7, 700, Change::New},
                       {1, -300, -3, 200, Change::Shrunk},
                       {2, -400, -4, 0, Change::Gone}};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(site_of(d.sites[i].site), want[i].site);
    EXPECT_EQ(d.sites[i].delta_bytes, want[i].delta_bytes);
    EXPECT_EQ(d.sites[i].delta_count, want[i].delta_count);
    EXPECT_EQ(d.sites[i].site.counts.inuse_bytes, want[i].inuse_bytes);
    EXPECT_EQ(d.sites[i].change, want[i].change);
  }
  EXPECT_EQ(d.sites[2].delta_alloc_bytes, 300);
  EXPECT_EQ(d.count[int(Change::New)], 1u);
  EXPECT_EQ(d.count[int(Change::Grown)], 1u);
  EXPECT_EQ(d.count[int(Change::Shrunk)], 1u);
  EXPECT_EQ(d.count[int(Change::Gone)], 1u);
  EXPECT_EQ(d.count[int(Change::Same)], 1u);
  EXPECT_EQ(d.base_totals.inuse_bytes, 1964);
  EXPECT_EQ(d.new_totals.inuse_bytes, 5964);
  EXPECT_EQ(make_diff(sb, sn, 1).sites.size(), 1u);
}

namespace {
struct Series {
  std::vector<Profile> profiles;
  std::vector<SymbolizedProfile> sym;
  std::vector<const SymbolizedProfile*> inputs;
  void build(const std::vector<hsnap_test::Builder>& builders) {
    for (size_t i = 0; i < builders.size(); ++i)
      profiles.push_back(read_hsnap(builders[i].bytes(), "s" + std::to_string(i) + ".hsnap"));
    sym = symbolize_profiles(profiles);
    for (const auto& s : sym) inputs.push_back(&s);
  }
};
}  // namespace

TEST(Trend, SteadyLeakFirstChurnLast) {
  // site 0: steady leak, 1000 B/s; site 1: slow steady leak, 100 B/s;
  // site 2: loud churn, sawtooth live bytes, megabytes allocated.
  const uint64_t leak[] = {1000, 2000, 3000, 4000, 5000};
  const uint64_t slow[] = {100, 200, 300, 400, 500};
  const uint64_t churn[] = {40000, 0, 41000, 0, 42000};
  std::vector<hsnap_test::Builder> b;
  for (int i = 0; i < 5; ++i)
    b.push_back(series::snapshot(series::bias_for(i), uint64_t(2 * i + 1), uint64_t(i + 1),
                                 {{2, churn[i], churn[i] / 1000, 1000000ull * (i + 1), 1000ull * (i + 1)},
                                  {0, leak[i], uint64_t(i + 1), leak[i], uint64_t(i + 1)},
                                  {1, slow[i], uint64_t(i + 1), slow[i], uint64_t(i + 1)}}));
  Series s;
  s.build(b);
  TrendResult t = make_trend(s.inputs, 0);
  EXPECT_EQ(t.time_basis, "uptime");
  EXPECT_EQ(t.times_s, (std::vector<double>{0, 2, 4, 6, 8}));
  ASSERT_EQ(t.sites.size(), 3u);
  EXPECT_EQ(site_of(t.sites[0].site), 0);
  EXPECT_EQ(site_of(t.sites[1].site), 1);
  EXPECT_EQ(site_of(t.sites[2].site), 2);
  EXPECT_NEAR(t.sites[0].slope_bytes_per_s, 500.0, 1e-9);  // 1000 B per 2 s
  EXPECT_NEAR(t.sites[0].slope_bytes_per_snapshot, 1000.0, 1e-9);
  EXPECT_NEAR(t.sites[0].r2, 1.0, 1e-12);
  EXPECT_EQ(t.sites[0].monotonic, 1.0);
  EXPECT_EQ(t.sites[0].delta_bytes, 4000);
  EXPECT_EQ(t.sites[0].delta_count, 4);
  EXPECT_TRUE(t.sites[0].suspect);
  EXPECT_TRUE(t.sites[1].suspect);
  EXPECT_NEAR(t.sites[1].slope_bytes_per_s, 50.0, 1e-9);
  EXPECT_FALSE(t.sites[2].suspect);
  EXPECT_NEAR(t.sites[2].slope_bytes_per_snapshot, 400.0, 1e-9);
  EXPECT_LT(t.sites[2].r2, 0.01);
  EXPECT_EQ(t.sites[2].monotonic, 0.5);
  EXPECT_EQ(t.sites[2].site.counts.alloc_bytes, 5000000);
  EXPECT_EQ(t.totals.inuse_bytes, 47500);
  EXPECT_TRUE(t.notes.empty());
}

TEST(Trend, ShrinkingAndFlatRankBelowGrowth) {
  const uint64_t grow[] = {0, 10, 20, 30};
  const uint64_t flat[] = {800, 800, 800, 800};
  const uint64_t shrink[] = {4000, 3000, 2000, 1000};
  std::vector<hsnap_test::Builder> b;
  for (int i = 0; i < 4; ++i)
    b.push_back(series::snapshot(series::bias_for(i), uint64_t(i + 1), uint64_t(i + 1),
                                 {{5, shrink[i], 4, 4000, 4}, {6, flat[i], 1, 800, 1},
                                  {7, grow[i], uint64_t(i), grow[i], uint64_t(i)}}));
  Series s;
  s.build(b);
  TrendResult t = make_trend(s.inputs, 0);
  ASSERT_EQ(t.sites.size(), 3u);
  EXPECT_EQ(site_of(t.sites[0].site), 7);
  EXPECT_EQ(site_of(t.sites[1].site), 6);
  EXPECT_EQ(site_of(t.sites[2].site), 5);
  EXPECT_EQ(t.sites[1].r2, 0.0);
  EXPECT_EQ(t.sites[1].slope_bytes_per_s, 0.0);
  EXPECT_NEAR(t.sites[2].slope_bytes_per_s, -1000.0, 1e-9);
  EXPECT_EQ(t.sites[2].delta_bytes, -3000);
}

TEST(Trend, SortsByTimeAndLeavesOutExitSnapshots) {
  std::vector<hsnap_test::Builder> b;
  for (int i = 0; i < 4; ++i)
    b.push_back(series::snapshot(series::bias_for(i), uint64_t(i + 1), uint64_t(i + 1),
                                 {{0, uint64_t(100 * (i + 1)), 1, 1, 1}}));
  b.push_back(series::snapshot(series::bias_for(4), 9, 0, {{0, 0, 0, 1, 1}}, HS_TRIGGER_EXIT));
  // Given order: s2, s0, exit, s1, s3.
  std::vector<hsnap_test::Builder> given = {b[2], b[0], b[4], b[1], b[3]};
  Series s;
  s.build(given);
  TrendResult t = make_trend(s.inputs, 0);
  ASSERT_EQ(t.order.size(), 4u);
  EXPECT_EQ(t.order[0]->path, "s1.hsnap");
  EXPECT_EQ(t.order[1]->path, "s3.hsnap");
  EXPECT_EQ(t.order[2]->path, "s0.hsnap");
  EXPECT_EQ(t.order[3]->path, "s4.hsnap");
  ASSERT_EQ(t.notes.size(), 2u);
  EXPECT_EQ(t.notes[0],
            "s2.hsnap: exit snapshot left out of the trend (taken at exit, after the program began "
            "cleaning up)");
  EXPECT_EQ(t.notes[1],
            "snapshots were not given in time order; sorted by uptime: s1.hsnap, s3.hsnap, "
            "s0.hsnap, s4.hsnap");
  EXPECT_NEAR(t.sites[0].slope_bytes_per_s, 100.0, 1e-9);
  EXPECT_EQ(t.sites[0].delta_bytes, 300);

  Series few;
  few.build({b[0], b[1], b[4]});
  try {
    make_trend(few.inputs, 0);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "trend needs at least 3 snapshots taken while the program ran; 3 given, 1 of them "
              "exit snapshots left out");
  }
}

TEST(Notes, SampledAndProfilerWarningsAreNeverSilent) {
  auto b = series::snapshot(series::bias_for(0), 1, 1, {{0, 10, 1, 10, 1}});
  b.header.mode = HS_MODE_SAMPLED;
  b.header.sample_period = 524288;
  b.stats = {{"hook_calls", 100}, {"dropped_events", 3}, {"unwind_failures", 0},
             {"truncated_stacks", 2}, {"signal_handler_replaced", 1}};
  Profile p = read_hsnap(b.bytes(), "n.hsnap");
  EXPECT_EQ(profile_notes(p),
            (std::vector<std::string>{
                "n.hsnap: sampled profile (one sample per 524288 bytes on average); figures are "
                "unbiased estimates",
                "n.hsnap: profiler reports dropped_events = 3: allocation events were dropped; "
                "figures are incomplete",
                "n.hsnap: profiler reports truncated_stacks = 2: stacks were cut at the depth limit",
                "n.hsnap: profiler reports signal_handler_replaced = 1: the program replaced the "
                "profiler's snapshot signal handler"}));
}
