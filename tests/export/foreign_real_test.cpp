// foreign_real_test.cpp -- the gperftools and jemalloc readers on real heap
// profiles written by tcmalloc (HEAPPROFILE, GetHeapSample) and jemalloc
// (prof:true) from foreign_alloc.cpp, generated at test time: exact figures
// where every allocation is recorded, figures equal to `go tool pprof`'s where
// sampled, modules with load bias and build-id, jemalloc's t* vs tN lines.
#include <gtest/gtest.h>

#include <glob.h>

#include "foreign_util.h"
#include "reader/reader.h"

using namespace heapscope;
using namespace heapscope::testing;

namespace {

std::string glob_one(const std::string& pattern) {
  glob_t g{};
  std::string out;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc == 1) out = g.gl_pathv[0];
  globfree(&g);
  return out;
}

void expect_counts(const Counts& c, int64_t inuse_b, int64_t inuse_n, int64_t alloc_b, int64_t alloc_n,
                   const char* what) {
  EXPECT_EQ(c.inuse_bytes, inuse_b) << what;
  EXPECT_EQ(c.inuse_count, inuse_n) << what;
  EXPECT_EQ(c.alloc_bytes, alloc_b) << what;
  EXPECT_EQ(c.alloc_count, alloc_n) << what;
}

void expect_main_module(const Profile& p, const std::string& exe, uint64_t base) {
  const Module* main = nullptr;
  for (const auto& m : p.modules)
    if (m.main) main = &m;
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->path, exe);
  EXPECT_EQ(main->load_bias, base);  // PIE: dladdr's dli_fbase
  EXPECT_EQ(main->build_id.size(), 40u) << main->build_id;
  EXPECT_GE(main->ranges.size(), 2u);
  bool has_exec = false;
  for (const auto& r : main->ranges) has_exec = has_exec || (r.flags & 1);
  EXPECT_TRUE(has_exec);
  bool has_libc = false;
  for (const auto& m : p.modules) has_libc = has_libc || m.path.find("libc.so") != std::string::npos;
  EXPECT_TRUE(has_libc);
}

}  // namespace

TEST(GperftoolsReal, HeapprofileFiguresAreExact) {
  TempDir tmp;
  std::string out = shell("HEAPPROFILE='" + tmp.path + "/gp' '" FOREIGN_TC "' 2>/dev/null");
  auto fns = parse_addresses(out);
  ASSERT_TRUE(fns.count("keep_small")) << out;
  std::string file = tmp.path + "/gp.0001.heap";
  Profile p = read_profile(file);
  EXPECT_EQ(p.format, "gperftools");
  EXPECT_FALSE(p.sampled);
  EXPECT_EQ(p.sample_period, 0u);
  EXPECT_EQ(p.seq, 1u);
  EXPECT_GT(p.time_unix_ns, 0u);
  expect_counts(sum_counts(sites_in(p, fns, "keep_small")), 10000, 10, 10000, 10, "keep_small");
  expect_counts(sum_counts(sites_in(p, fns, "keep_big")), 12288, 3, 12288, 3, "keep_big");
  expect_counts(sum_counts(sites_in(p, fns, "churn")), 0, 0, 500, 5, "churn");
  expect_counts(sum_counts(sites_in(p, fns, "thread_keep")), 8000, 4, 8000, 4, "thread_keep");
  // gperftools stacks start at the allocating function's return address.
  ASSERT_EQ(sites_in(p, fns, "keep_small").size(), 1u);
  const Site* s = sites_in(p, fns, "keep_small")[0];
  EXPECT_GT(s->pcs[0], fns["keep_small"]);
  EXPECT_LT(s->pcs[0], fns["keep_big"]);
  // The header's figures are the sites' sums.
  EXPECT_EQ(p.meta["header_totals"], std::to_string(p.totals.inuse_count) + ": " +
                                         std::to_string(p.totals.inuse_bytes) + " [" +
                                         std::to_string(p.totals.alloc_count) + ": " +
                                         std::to_string(p.totals.alloc_bytes) + "]");
  expect_main_module(p, FOREIGN_TC, fns["base"]);
  // Every figure equals what pprof itself reads from the file.
  EXPECT_EQ(site_values(p), pprof_raw_values(file, tmp.path));
}

TEST(GperftoolsReal, SampledHeapIsUnsampledAsPprofDoes) {
  TempDir tmp;
  std::string file = tmp.path + "/sample.heap";
  std::string out = shell("TCMALLOC_SAMPLE_PARAMETER=65536 GPERF_SAMPLE='" + file + "' '" FOREIGN_TC "' many 2>/dev/null");
  auto fns = parse_addresses(out);
  ASSERT_TRUE(fns.count("many")) << out;
  Profile p = read_profile(file);
  EXPECT_TRUE(p.sampled);
  EXPECT_EQ(p.sample_period, 65536u);
  auto many = sites_in(p, fns, "many");
  ASSERT_GT(many.size(), 10u);  // ~20 MB sampled every 64 KiB
  // One sampled 1000-byte block weighs 1 / (1 - exp(-1000/65536)) = 66.037.
  EXPECT_EQ(many[0]->counts.inuse_count, 66);
  EXPECT_EQ(many[0]->counts.inuse_bytes, 66037);
  Counts c = sum_counts(many);
  EXPECT_EQ(c.inuse_bytes, 66037 * static_cast<int64_t>(many.size()));  // an estimate, not raw 1000s
  // tcmalloc's sample has equal in-use and allocation figures, so pprof
  // shows in-use only; it merges equal stacks, as site_values does.
  EXPECT_EQ(site_values(p, true), pprof_raw_values(file, tmp.path));
}

TEST(JemallocReal, ExactFiguresUseOnlyTheTStarLines) {
  TempDir tmp;
  std::string out = shell("MALLOC_CONF='prof:true,prof_accum:true,lg_prof_sample:0,prof_final:true,prof_prefix:" +
                          tmp.path + "/je' '" FOREIGN_JE "' 2>&1");
  auto fns = parse_addresses(out);
  ASSERT_TRUE(fns.count("keep_small")) << out;
  ASSERT_EQ(out.find("<jemalloc>"), std::string::npos) << "jemalloc warned (built without profiling?): " << out;
  std::string file = glob_one(tmp.path + "/je.*.0.f.heap");
  ASSERT_FALSE(file.empty()) << "jemalloc wrote no final profile";
  Profile p = read_profile(file);
  EXPECT_EQ(p.format, "jemalloc");
  EXPECT_FALSE(p.sampled);
  EXPECT_EQ(p.trigger, "exit");
  EXPECT_EQ(p.seq, 0u);
  EXPECT_GT(p.pid, 0u);
  // jemalloc records the size class: 1000 -> 1024, 100 -> 112, 2000 -> 2048.
  expect_counts(sum_counts(sites_in(p, fns, "keep_small")), 10240, 10, 10240, 10, "keep_small");
  expect_counts(sum_counts(sites_in(p, fns, "keep_big")), 12288, 3, 12288, 3, "keep_big");
  expect_counts(sum_counts(sites_in(p, fns, "churn")), 0, 0, 560, 5, "churn");
  // jemalloc's own frames are dropped: the stack starts in keep_small.
  ASSERT_EQ(sites_in(p, fns, "keep_small").size(), 1u);
  const Site* ks = sites_in(p, fns, "keep_small")[0];
  EXPECT_GT(ks->pcs[0], fns["keep_small"]);
  EXPECT_LT(ks->pcs[0], fns["keep_big"]);
  EXPECT_GT(std::stoi(p.meta["allocator_frames_dropped"]), 0);
  // Allocated in the second thread: a t1 line repeats the t* figures.
  expect_counts(sum_counts(sites_in(p, fns, "thread_keep")), 8192, 4, 8192, 4, "thread_keep");
  // Totals are the t* lines' sums, equal to the dump's own t* total.
  EXPECT_EQ(p.meta["header_totals"], std::to_string(p.totals.inuse_count) + ": " +
                                         std::to_string(p.totals.inuse_bytes) + " [" +
                                         std::to_string(p.totals.alloc_count) + ": " +
                                         std::to_string(p.totals.alloc_bytes) + "]");
  expect_main_module(p, FOREIGN_JE, fns["base"]);
}

// jemalloc's dump rewritten in gperftools' syntax, which pprof reads, to get
// pprof's own unsampled figures for the same t* lines.
static std::string jemalloc_as_gperftools(const std::string& text) {
  std::istringstream in(text);
  std::string line, out, stack;
  std::getline(in, line);
  // Header figures that differ make pprof keep the allocation pair too.
  out = "heap profile: 1: 1 [2: 2] @ " + line + "\n";
  while (std::getline(in, line)) {
    if (line.rfind("MAPPED_LIBRARIES:", 0) == 0) {
      out += "\n" + line + "\n";
      while (std::getline(in, line)) out += line + "\n";
      break;
    }
    if (line.rfind("@", 0) == 0) stack = line;
    auto star = line.find("t*:");
    if (star != std::string::npos && !stack.empty()) {
      std::string figs = line.substr(star + 3);
      auto rb = figs.find(']');
      // "N: B [A: AB]" -> "A... " order as gperftools: inuse first, as jemalloc.
      out += figs.substr(0, rb + 1) + " " + stack + "\n";
    }
  }
  return out;
}

TEST(JemallocReal, SampledFiguresEqualPprofs) {
  TempDir tmp;
  std::string out = shell("MALLOC_CONF='prof:true,prof_accum:true,lg_prof_sample:14,prof_final:true,prof_prefix:" +
                          tmp.path + "/js' '" FOREIGN_JE "' many 2>&1");
  auto fns = parse_addresses(out);
  ASSERT_TRUE(fns.count("many")) << out;
  std::string file = glob_one(tmp.path + "/js.*.0.f.heap");
  ASSERT_FALSE(file.empty());
  Profile p = read_profile(file);
  EXPECT_TRUE(p.sampled);
  EXPECT_EQ(p.sample_period, 16384u);
  Counts many = sum_counts(sites_in(p, fns, "many"));
  EXPECT_GT(many.inuse_bytes, 20480000 / 2);  // 20000 x 1024 B, estimated
  EXPECT_LT(many.inuse_bytes, 20480000 * 2);
  std::string converted = tmp.path + "/as-gperftools.heap";
  std::ofstream(converted) << jemalloc_as_gperftools(read_file(file));
  EXPECT_EQ(site_values(p), pprof_raw_values(converted, tmp.path));
}

TEST(GperftoolsReal, AllocationIntervalDumpsFormAGrowingSeries) {
  TempDir tmp;
  std::string out = shell("HEAPPROFILE='" + tmp.path + "/gi' HEAP_PROFILE_ALLOCATION_INTERVAL=4000000 '" FOREIGN_TC
                          "' many 2>/dev/null");
  auto fns = parse_addresses(out);
  ASSERT_TRUE(fns.count("many")) << out;
  std::vector<int64_t> many_bytes;
  for (int seq = 1;; ++seq) {
    char name[32];
    snprintf(name, sizeof name, "/gi.%04d.heap", seq);
    if (access((tmp.path + name).c_str(), R_OK) != 0) break;
    Profile p = read_profile(tmp.path + name);
    EXPECT_EQ(p.seq, static_cast<uint64_t>(seq));
    EXPECT_FALSE(p.sampled);
    many_bytes.push_back(sum_counts(sites_in(p, fns, "many")).inuse_bytes);
  }
  // 20 MB allocated by many(), a dump every 4 MB: at least 4 dumps that grow
  // in whole 1000-byte blocks, the last holding all 20000.
  ASSERT_GE(many_bytes.size(), 4u);
  for (size_t i = 1; i < many_bytes.size(); ++i) EXPECT_GE(many_bytes[i], many_bytes[i - 1]);
  for (int64_t b : many_bytes) EXPECT_EQ(b % 1000, 0);
  EXPECT_EQ(many_bytes.back(), 20000000);
}
