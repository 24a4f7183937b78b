// test_mmap.cpp -- HEAPSCOPE_MMAP=1 end to end: programs/mmap_arena runs with
// the real profiler preloaded; the exit snapshot's mapped books must be exact
// (bytes and ranges), attributed to the function that called mmap, apart
// from the heap, and absent without the variable. The allocator's own
// mappings (glibc's big blocks, jemalloc's extents) are heap, never mapped.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "reader/reader.h"
#include "test_util.h"

using nlohmann::json;

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kProg = std::string(HS_TEST_PROGRAMS_DIR) + "/mmap_arena";

struct MmapRun {
  TempDir dir;
  RunResult r;
  std::string snap;  // the exit snapshot
};

// mmap_arena MODE with the library preloaded (and `preload_after`, e.g. jemalloc).
void run_prog(MmapRun& run, const std::string& mode, bool mmap_on, const std::string& preload_after = "") {
  std::string env = "LD_PRELOAD='" + std::string(HS_PROFILER_LIB) + (preload_after.empty() ? "" : ":" + preload_after) +
                    "' HEAPSCOPE_OUT='" + run.dir.path + "/snap' " + (mmap_on ? "HEAPSCOPE_MMAP=1 " : "");
  run.r = run_command(env + kProg + " " + mode, run.dir.path);
  DIR* d = opendir(run.dir.path.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 11 && n.compare(n.size() - 11, 11, ".exit.hsnap") == 0) run.snap = run.dir.path + "/" + n;
  }
  closedir(d);
  ASSERT_EQ(run.r.status, 0) << run.r.err;
  ASSERT_FALSE(run.snap.empty()) << "no exit snapshot in " << run.dir.path << "\n" << run.r.err;
}

json report_json(const MmapRun& run) {
  RunResult r = run_command(kHeapscope + " report --json --top 0 '" + run.snap + "'", run.dir.path);
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out);
}

// Sum of the live figures of the sites of kind `kind` whose origin function
// contains `fn` ("" = every site of that kind).
std::pair<int64_t, int64_t> live_of(const json& j, const std::string& kind, const std::string& fn) {
  int64_t bytes = 0, count = 0;
  for (const json& s : j["sites"]) {
    if (s["kind"] != kind) continue;
    if (!fn.empty()) {
      if (s["origin"].is_null() || s["origin"]["function"].is_null()) continue;
      if (s["origin"]["function"].get<std::string>().find(fn) == std::string::npos) continue;
    }
    bytes += s["inuse_bytes"].get<int64_t>();
    count += s["inuse_count"].get<int64_t>();
  }
  return {bytes, count};
}

class Mmap : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    ASSERT_EQ(stat(HS_PROFILER_LIB, &st), 0) << "profiler library not built: " << HS_PROFILER_LIB;
  }
};

TEST_F(Mmap, ArenaLeakIsAttributedToItsFunctionWithMmapOne) {
  MmapRun run;
  run_prog(run, "leak", true);
  EXPECT_EQ(run.r.out, "mapped 655360 10 heap-kept 1000 10\n");
  heapscope::Profile p = heapscope::read_profile(run.snap);
  EXPECT_TRUE(p.mapped_tracked);
  EXPECT_EQ(p.mapped_totals.inuse_bytes, 655360);
  EXPECT_EQ(p.mapped_totals.inuse_count, 10);
  EXPECT_EQ(p.mapped_totals.alloc_count, 10);
  json j = report_json(run);
  EXPECT_EQ(j["mapped_totals"]["inuse_bytes"], 655360);
  EXPECT_EQ(j["mapped_totals"]["inuse_count"], 10);
  EXPECT_EQ(live_of(j, "mapped", "arena_chunk"), std::make_pair(int64_t(655360), int64_t(10))) << j.dump(1);
  EXPECT_EQ(live_of(j, "mapped", ""), std::make_pair(int64_t(655360), int64_t(10)));  // nothing else mapped
  // The heap beside it: the 10 kept blocks of 100 bytes, and no mapped byte in the heap totals.
  bool kept = false;
  for (const json& s : j["sites"])
    kept |= s["kind"] == "heap" && s["inuse_bytes"] == 1000 && s["inuse_count"] == 10;
  EXPECT_TRUE(kept) << j.dump(1);
  EXPECT_EQ(j["totals"]["inuse_bytes"].get<int64_t>(), live_of(j, "heap", "").first);
  RunResult text = run_command(kHeapscope + " report '" + run.snap + "'", run.dir.path);
  EXPECT_NE(text.out.find("; mapped: 640.0 KiB in 10 mappings;"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("[mmap] arena_chunk"), std::string::npos) << text.out;
}

TEST_F(Mmap, PprofLabelsMappedSamplesKindMapped) {
  MmapRun run;
  run_prog(run, "leak", true);
  const std::string out = run.dir.path + "/p.pb.gz";
  RunResult e = run_command(kHeapscope + " export --format pprof -o '" + out + "' '" + run.snap + "'", run.dir.path);
  ASSERT_EQ(e.status, 0) << e.err;
  RunResult t = run_command("go tool pprof -tags '" + out + "'", run.dir.path);
  ASSERT_EQ(t.status, 0) << t.err;
  // Only the arena's 640 KiB carry the label: the heap samples have no kind.
  EXPECT_NE(t.out.find("kind: Total 640.0kB"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("640.0kB (  100%): mapped"), std::string::npos) << t.out;
}

// collapsed, svg and speedscope fold stacks the same way (render/stacks.cpp):
// a mapped site's stack hangs under its own root frame "[mmap]", so a flame
// graph shows the mapped 640 KiB apart from the heap.
TEST_F(Mmap, FoldedExportsPutMappedStacksUnderTheirOwnRoot) {
  MmapRun run;
  run_prog(run, "leak", true);
  RunResult e = run_command(kHeapscope + " export --format collapsed -o - '" + run.snap + "'", run.dir.path);
  ASSERT_EQ(e.status, 0) << e.err;
  int64_t mapped = 0, heap_arena = 0;
  size_t at = 0;
  while (at < e.out.size()) {
    size_t nl = e.out.find('\n', at);
    if (nl == std::string::npos) nl = e.out.size();
    std::string line = e.out.substr(at, nl - at);
    at = nl + 1;
    size_t sp = line.rfind(' ');
    if (sp == std::string::npos) continue;
    int64_t v = std::stoll(line.substr(sp + 1));
    if (line.rfind("[mmap];", 0) == 0) {
      EXPECT_NE(line.find("arena_chunk"), std::string::npos) << line;
      mapped += v;
    } else if (line.find("arena_chunk") != std::string::npos) {
      heap_arena += v;
    }
  }
  EXPECT_EQ(mapped, 655360) << e.out;
  EXPECT_EQ(heap_arena, 0) << e.out;
}

TEST_F(Mmap, ArenaLeakIsInvisibleWithoutTheVariable) {
  MmapRun run;
  run_prog(run, "leak", false);
  heapscope::Profile p = heapscope::read_profile(run.snap);
  EXPECT_FALSE(p.mapped_tracked);
  for (const auto& s : p.sites) {
    EXPECT_FALSE(s.mapped);
    EXPECT_NE(s.counts.inuse_bytes, 655360);
  }
  json j = report_json(run);
  EXPECT_TRUE(j["mapped_totals"].is_null());
  EXPECT_EQ(live_of(j, "heap", "arena_chunk"), std::make_pair(int64_t(0), int64_t(0)));
  RunResult text = run_command(kHeapscope + " report '" + run.snap + "'", run.dir.path);
  EXPECT_EQ(text.out.find("mapped"), std::string::npos) << text.out;
}

TEST_F(Mmap, PartialUnmapRemapAndFixedOverwriteKeepExactBooks) {
  MmapRun run;
  run_prog(run, "books", true);
  EXPECT_EQ(run.r.out, "mapped 20480 3 books_map 12288 2\n");
  heapscope::Profile p = heapscope::read_profile(run.snap);
  EXPECT_EQ(p.mapped_totals.inuse_bytes, 20480);
  EXPECT_EQ(p.mapped_totals.inuse_count, 3);
  json j = report_json(run);
  EXPECT_EQ(live_of(j, "mapped", ""), std::make_pair(int64_t(20480), int64_t(3))) << j.dump(1);
  EXPECT_EQ(live_of(j, "mapped", "books_map"), std::make_pair(int64_t(12288), int64_t(2))) << j.dump(1);
  EXPECT_EQ(p.meta.count("cmdline"), 1u);
  for (const auto& [name, value] : p.stats)
    if (name == "dropped_events") EXPECT_EQ(value, 0u);
}

TEST_F(Mmap, GlibcBigBlocksAreHeapNotMapped) {
  MmapRun run;
  run_prog(run, "big", true);
  heapscope::Profile p = heapscope::read_profile(run.snap);
  EXPECT_TRUE(p.mapped_tracked);
  EXPECT_EQ(p.mapped_totals.inuse_bytes, 0);
  EXPECT_EQ(p.mapped_totals.alloc_count, 0);
  json j = report_json(run);
  bool big = false;
  for (const json& s : j["sites"]) big |= s["kind"] == "heap" && s["inuse_bytes"] == 10 << 20 && s["inuse_count"] == 1;
  EXPECT_TRUE(big) << j.dump(1);
}

TEST_F(Mmap, JemallocOwnMappingsAreNotMapped) {
  MmapRun run;
  run_prog(run, "big", true, "libjemalloc.so.2");
  heapscope::Profile p = heapscope::read_profile(run.snap);
  EXPECT_EQ(p.meta["allocator"], "jemalloc");
  EXPECT_TRUE(p.mapped_tracked);
  EXPECT_EQ(p.mapped_totals.inuse_bytes, 0);
  EXPECT_EQ(p.mapped_totals.alloc_count, 0);
  json j = report_json(run);
  bool big = false;
  for (const json& s : j["sites"]) big |= s["kind"] == "heap" && s["inuse_bytes"] == 10 << 20;
  EXPECT_TRUE(big) << j.dump(1);
}

TEST_F(Mmap, ThreadsMappingAndUnmappingEndExact) {
  MmapRun run;
  run_prog(run, "threads", true);
  EXPECT_EQ(run.r.out, "mapped 163840 20\n");
  heapscope::Profile p = heapscope::read_profile(run.snap);
  // Exactly the program's own: the threads' stacks (glibc maps them itself) are not counted.
  EXPECT_EQ(p.mapped_totals.inuse_bytes, 163840);
  EXPECT_EQ(p.mapped_totals.inuse_count, 20);
  json j = report_json(run);
  EXPECT_EQ(live_of(j, "mapped", "thread_map"), std::make_pair(int64_t(163840), int64_t(20))) << j.dump(1);
}

}  // namespace
