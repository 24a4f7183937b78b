// test_memory.cpp -- what RSS is made of (issue 14): the composition of one
// snapshot's memory STATS with exact figures, its report line and --json
// shape, old snapshots without the figures, trend's diagnosis when RSS grows
// while the live heap does not (generated series), and end to end under the
// real profiler: programs/arena_growth frag (glibc arenas keep freed memory:
// the diagnosis, no suspect) and leak (a suspect, no diagnosis).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "analyze/memory.h"
#include "analyze/report.h"
#include "analyze/trend.h"
#include "reader/reader.h"
#include "render/json.h"
#include "render/text.h"
#include "series.h"
#include "test_util.h"

using namespace heapscope;
using nlohmann::json;

namespace {
constexpr uint64_t MiB = 1024 * 1024;

struct Figures {
  uint64_t anon, file, shmem, inuse, free_held, stacks;
  bool allocator = true;
};

hsnap_test::Builder with_memory(hsnap_test::Builder b, const Figures& f) {
  b.meta.push_back({"allocator", "glibc"});
  b.stats = {{"rss_bytes", f.anon + f.file + f.shmem},
             {"allocator_inuse_bytes", f.allocator ? f.inuse : 0},
             {"rss_anon_bytes", f.anon},
             {"rss_file_bytes", f.file},
             {"rss_shmem_bytes", f.shmem},
             {"thread_stack_bytes", f.stacks},
             {"thread_stacks", 3}};
  if (f.allocator) {
    b.stats.push_back({"allocator_held_bytes", f.inuse + f.free_held});
    b.stats.push_back({"allocator_free_held_bytes", f.free_held});
    b.stats.push_back({"glibc_arena_bytes", f.inuse + f.free_held});
  }
  return b;
}

Profile one(const Figures& f) {
  return read_hsnap(with_memory(series::snapshot(series::bias_for(0), 1, 1, {{0, 1000, 1, 1000, 1}}), f).bytes(),
                    "m.hsnap");
}

std::string report_text(const Profile& p) {
  SymbolizedProfile sp = symbolize_profile(p);
  std::ostringstream out;
  render_report_text(out, sp, make_report(sp, 0));
  return out.str();
}
json report_j(const Profile& p) {
  SymbolizedProfile sp = symbolize_profile(p);
  return json::parse(json_text(report_json(sp, make_report(sp, 0))));
}
}  // namespace

TEST(Memory, CompositionAddsUpToRss) {
  Profile p = one({100 * MiB, 20 * MiB, 1 * MiB, 30 * MiB, 50 * MiB, 2 * MiB});
  ASSERT_TRUE(p.memory.rss_anon_bytes.has_value());
  EXPECT_EQ(p.memory.allocator_figures, (std::vector<std::pair<std::string, uint64_t>>{{"glibc_arena_bytes", 80 * MiB}}));
  MemoryComposition c = memory_composition(p);
  ASSERT_TRUE(c.present);
  EXPECT_TRUE(c.allocator_known);
  EXPECT_EQ(c.rss, 121 * MiB);
  EXPECT_EQ(c.heap_in_use, 30 * MiB);
  EXPECT_EQ(c.held_free, 50 * MiB);
  EXPECT_EQ(c.stacks, 2 * MiB);
  EXPECT_EQ(c.other_anon, 18 * MiB);
  EXPECT_EQ(c.files, 21 * MiB);
  EXPECT_EQ(c.heap_in_use + c.held_free + c.stacks + c.other_anon + c.files, c.rss);
  EXPECT_EQ(c.not_resident, 0u);
  EXPECT_EQ(c.live_heap, 1000u);
  EXPECT_NE(report_text(p).find("\nmemory: RSS 121.0 MiB = heap in use 30.0 MiB + held free by the allocator "
                                "(glibc) 50.0 MiB + thread stacks 2.0 MiB + other anonymous 18.0 MiB + files "
                                "21.0 MiB\n"),
            std::string::npos)
      << report_text(p);
  json m = report_j(p)["memory"];
  EXPECT_EQ(m["rss_bytes"], 121 * MiB);
  EXPECT_EQ(m["heap_in_use_bytes"], 30 * MiB);
  EXPECT_EQ(m["held_free_bytes"], 50 * MiB);
  EXPECT_EQ(m["thread_stack_bytes"], 2 * MiB);
  EXPECT_EQ(m["other_anon_bytes"], 18 * MiB);
  EXPECT_EQ(m["files_bytes"], 21 * MiB);
  EXPECT_EQ(m["anon_bytes"], 100 * MiB);
  EXPECT_EQ(m["file_bytes"], 20 * MiB);
  EXPECT_EQ(m["shmem_bytes"], 1 * MiB);
  EXPECT_EQ(m["live_heap_bytes"], 1000);
  EXPECT_EQ(m["thread_stacks"], 3);
  EXPECT_EQ(m["allocator"], "glibc");
  EXPECT_EQ(m["allocator_figures"]["glibc_arena_bytes"], 80 * MiB);
}

// The allocator counts more than is resident (a reservation never touched):
// the terms still add up to RSS, the excess is said.
TEST(Memory, AllocatorFiguresAboveAnonymousRssAreClamped) {
  MemoryComposition c = memory_composition(one({100 * MiB, 10 * MiB, 0, 90 * MiB, 50 * MiB, 1 * MiB}));
  EXPECT_EQ(c.heap_in_use, 90 * MiB);
  EXPECT_EQ(c.held_free, 10 * MiB);
  EXPECT_EQ(c.stacks, 0u);
  EXPECT_EQ(c.other_anon, 0u);
  EXPECT_EQ(c.not_resident, 41 * MiB);
  EXPECT_EQ(c.heap_in_use + c.held_free + c.stacks + c.other_anon + c.files, c.rss);
}

// A snapshot written in the signal handler has no allocator figures: the line
// says so and the JSON has null there, not 0.
TEST(Memory, WithoutAllocatorFiguresTheHeapIsInAnonymous) {
  Figures f{100 * MiB, 10 * MiB, 0, 0, 0, 1 * MiB};
  f.allocator = false;
  Profile p = one(f);
  MemoryComposition c = memory_composition(p);
  EXPECT_FALSE(c.allocator_known);
  EXPECT_EQ(c.other_anon, 99 * MiB);
  EXPECT_NE(report_text(p).find("memory: RSS 110.0 MiB = thread stacks 1.0 MiB + anonymous 99.0 MiB + files "
                                "10.0 MiB (the allocator's figures are not in this snapshot"),
            std::string::npos)
      << report_text(p);
  json m = report_j(p)["memory"];
  EXPECT_TRUE(m["heap_in_use_bytes"].is_null());
  EXPECT_TRUE(m["held_free_bytes"].is_null());
  EXPECT_EQ(m["other_anon_bytes"], 99 * MiB);
}

TEST(Memory, OldSnapshotWithoutTheFiguresHasNoLine) {
  Profile p = read_hsnap(series::snapshot(series::bias_for(0), 1, 1, {{0, 1000, 1, 1000, 1}}).bytes(), "old.hsnap");
  EXPECT_FALSE(memory_composition(p).present);
  EXPECT_EQ(report_text(p).find("memory:"), std::string::npos);
  EXPECT_TRUE(report_j(p)["memory"].is_null());
}

namespace {
struct TrendRun {
  std::vector<Profile> profiles;
  std::vector<SymbolizedProfile> sym;
  std::vector<const SymbolizedProfile*> inputs;
  TrendResult t;
  // 5 snapshots 2 s apart; RSS (held free) grows by rss_step, the live site by live_step.
  TrendRun(uint64_t rss_step, uint64_t held_step, uint64_t live_step) {
    for (int i = 0; i < 5; ++i) {
      uint64_t live = 1000 + live_step * uint64_t(i);
      auto b = series::snapshot(series::bias_for(i), uint64_t(2 * i + 1), uint64_t(i + 1),
                                {{0, live, uint64_t(i + 1), live, uint64_t(i + 1)}});
      profiles.push_back(read_hsnap(
          with_memory(b, {50 * MiB + rss_step * uint64_t(i), 10 * MiB, 0, 5 * MiB + live_step * uint64_t(i),
                          20 * MiB + held_step * uint64_t(i), 1 * MiB})
              .bytes(),
          "t" + std::to_string(i) + ".hsnap"));
    }
    sym = symbolize_profiles(profiles);
    for (const auto& s : sym) inputs.push_back(&s);
    t = make_trend(inputs, 0);
  }
};
}  // namespace

// RSS +10 MiB a snapshot, all of it held free by the allocator, while the
// live heap grows 100 B a snapshot (a steady site that would be a suspect):
// the diagnosis names the allocator and no site is a suspect.
TEST(Memory, TrendSaysTheAllocatorKeepsMemoryAndNamesNoSuspect) {
  TrendRun r(10 * MiB, 10 * MiB, 100);
  const MemoryTrend& m = r.t.memory;
  ASSERT_TRUE(m.present);
  EXPECT_EQ(m.grows, "held_free");
  EXPECT_DOUBLE_EQ(m.rss_slope, 5.0 * MiB);  // 10 MiB per 2 s
  EXPECT_DOUBLE_EQ(m.held_free_slope, 5.0 * MiB);
  EXPECT_DOUBLE_EQ(m.live_heap_slope, 50.0);
  ASSERT_EQ(r.t.sites.size(), 1u);
  EXPECT_FALSE(r.t.sites[0].suspect);
  EXPECT_NE(m.diagnosis.find("not a leak in the heap"), std::string::npos) << m.diagnosis;
  std::ostringstream out;
  render_trend_text(out, r.t);
  std::string text = out.str();
  EXPECT_NE(text.find("memory: RSS 60.0 MiB -> 100.0 MiB (+5.0 MiB/s), held free by the allocator +5.0 MiB/s, "
                      "live heap +50 B/s\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("diagnosis: RSS grew 40.0 MiB and the live heap 0.0 MiB over the series: not a leak in the "
                      "heap; the allocator keeps memory the program freed"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("try: call malloc_trim(0)"), std::string::npos) << text;
  EXPECT_NE(text.find("MALLOC_ARENA_MAX=2"), std::string::npos) << text;
  EXPECT_NE(text.find("0 leak suspects"), std::string::npos) << text;
  EXPECT_EQ(text.find("leak suspect:"), std::string::npos) << text;
  json j = json::parse(json_text(trend_json(r.t)));
  EXPECT_EQ(j["memory"]["grows"], "held_free");
  EXPECT_EQ(j["memory"]["slope_unit"], "bytes/s");
  EXPECT_DOUBLE_EQ(j["memory"]["held_free_slope"].get<double>(), 5.0 * MiB);
  EXPECT_EQ(j["memory"]["series"].size(), 5u);
  EXPECT_EQ(j["memory"]["advice"].size(), 3u);
  EXPECT_EQ(j["sites"][0]["suspect"], false);
}

// A real leak: the live heap grows as RSS does: a suspect, no diagnosis.
TEST(Memory, TrendKeepsTheSuspectWhenTheHeapGrowsWithRss) {
  TrendRun r(10 * MiB, 0, 10 * MiB);
  EXPECT_TRUE(r.t.memory.present);
  EXPECT_EQ(r.t.memory.grows, "");
  ASSERT_EQ(r.t.sites.size(), 1u);
  EXPECT_TRUE(r.t.sites[0].suspect);
  json j = json::parse(json_text(trend_json(r.t)));
  EXPECT_TRUE(j["memory"]["grows"].is_null());
  EXPECT_TRUE(j["memory"]["diagnosis"].is_null());
}

// Flat RSS, a steady small site: the existing suspect logic alone decides.
TEST(Memory, TrendWithFlatRssKeepsTheSuspect) {
  TrendRun r(0, 0, 100);
  EXPECT_EQ(r.t.memory.grows, "");
  EXPECT_TRUE(r.t.sites.at(0).suspect);
}

namespace {
const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kArena = std::string(HS_TEST_PROGRAMS_DIR) + "/arena_growth";

// arena_growth MODE 6 under `heapscope run`; the six snapshot paths.
std::vector<std::string> run_arena(const TempDir& dir, const std::string& mode) {
  RunResult r = run_command("MALLOC_ARENA_MAX=64 HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) + "' " +
                                kHeapscope + " run --out '" + dir.path + "/ag' -- " + kArena + " " + mode + " 6",
                            dir.path);
  EXPECT_EQ(r.status, 0) << r.err;
  std::vector<std::string> paths;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);)
    if (line.find(".hsnap") != std::string::npos) paths.push_back(line);
  EXPECT_EQ(paths.size(), 6u) << r.out << r.err;
  return paths;
}
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& p : v) s += " '" + p + "'";
  return s;
}
}  // namespace

TEST(Memory, FragmentationProgramGetsTheAllocatorDiagnosisAndNoSuspect) {
  TempDir dir;
  std::vector<std::string> paths = run_arena(dir, "frag");
  ASSERT_EQ(paths.size(), 6u);
  RunResult r = run_command(kHeapscope + " trend --json" + joined(paths), dir.path);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  const json& m = j["memory"];
  ASSERT_TRUE(m.is_object()) << r.out;
  EXPECT_EQ(m["grows"], "held_free") << m.dump(1);
  EXPECT_GT(m["held_free_slope"].get<double>(), 0.0);
  for (const auto& s : j["sites"]) EXPECT_EQ(s["suspect"], false) << s.dump(1);
  // Each round the allocator holds about 8 MiB more free: at least 6 MiB a round.
  const json& first = m["series"][0];
  const json& last = m["series"][5];
  EXPECT_GE(last["held_free_bytes"].get<uint64_t>() - first["held_free_bytes"].get<uint64_t>(), 5 * 6 * MiB);
  EXPECT_LE(last["live_heap_bytes"].get<uint64_t>() - first["live_heap_bytes"].get<uint64_t>(), 64 * 1024u);
  // The report of the last one: the composition line adds up.
  RunResult rep = run_command(kHeapscope + " report --json '" + paths.back() + "'", dir.path);
  ASSERT_EQ(rep.status, 0) << rep.err;
  json rm = json::parse(rep.out)["memory"];
  EXPECT_EQ(rm["heap_in_use_bytes"].get<uint64_t>() + rm["held_free_bytes"].get<uint64_t>() +
                rm["thread_stack_bytes"].get<uint64_t>() + rm["other_anon_bytes"].get<uint64_t>() +
                rm["files_bytes"].get<uint64_t>(),
            rm["rss_bytes"].get<uint64_t>());
  EXPECT_GE(rm["held_free_bytes"].get<uint64_t>(), 6 * 6 * MiB);
  RunResult text = run_command(kHeapscope + " trend" + joined(paths), dir.path);
  EXPECT_NE(text.out.find("diagnosis: RSS grew"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("malloc_trim(0)"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("leak suspect:"), std::string::npos) << text.out;
}

TEST(Memory, LeakProgramKeepsItsSuspectAndGetsNoDiagnosis) {
  TempDir dir;
  std::vector<std::string> paths = run_arena(dir, "leak");
  ASSERT_EQ(paths.size(), 6u);
  RunResult r = run_command(kHeapscope + " trend --json" + joined(paths), dir.path);
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_TRUE(j["memory"].is_object()) << r.out;
  EXPECT_TRUE(j["memory"]["grows"].is_null()) << j["memory"].dump(1);
  const json& top = j["sites"][0];
  EXPECT_EQ(top["suspect"], true);
  EXPECT_EQ(top["origin"]["line"], marked_line(std::string(HS_TEST_SOURCE_DIR) + "/programs/arena_growth.c", "LINE:leak"));
  EXPECT_EQ(top["delta_bytes"], 5 * 8 * MiB);
}
