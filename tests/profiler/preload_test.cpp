// preload_test.cpp -- integration tests: libheapscope.so preloaded into the
// programs under programs/, each run in its own temporary directory; the
// snapshots they leave are parsed with hsnap_parse.h and checked.
#include <fstream>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "hsnap_parse.h"
#include "run_util.h"

using namespace hstest;

namespace {
const std::string kLib = HS_LIB;

struct Env {
  std::string dir;
  std::vector<std::string> vars;
  explicit Env(const std::string& tag) : dir(make_temp_dir(tag)) {
    vars = {"LD_PRELOAD=" + kLib, "HEAPSCOPE_OUT=" + dir + "/snap"};
  }
  RunResult run(std::vector<std::string> argv, std::vector<std::string> extra = {}) const {
    std::vector<std::string> e = vars;
    e.insert(e.end(), extra.begin(), extra.end());
    return hstest::run(argv, e, dir);
  }
  // The numbered and exit snapshots; HEAPSCOPE_PEAK's PREFIX.PID.peak.hsnap (on by
  // default, tested in tests/tools/test_peak.cpp) is left out: peak_snaps().
  std::vector<std::string> snaps() const { return snaps_where(false); }
  std::vector<std::string> peak_snaps() const { return snaps_where(true); }
  std::vector<std::string> snaps_where(bool peak) const {
    std::vector<std::string> v;
    for (auto& n : list_dir(dir))
      if (n.size() > 6 && n.compare(n.size() - 6, 6, ".hsnap") == 0 &&
          (n.size() > 11 && n.compare(n.size() - 11, 11, ".peak.hsnap") == 0) == peak)
        v.push_back(n);
    std::sort(v.begin(), v.end());
    return v;
  }
  std::vector<std::string> all_files() const { return list_dir(dir); }
};

Snapshot must_parse(const std::string& path) {
  Snapshot s;
  std::string e = parse(path, &s);
  EXPECT_EQ(e, "");
  HsTotals sum = sum_sites(s);
  EXPECT_EQ(sum.inuse_bytes, s.totals.inuse_bytes) << path;
  EXPECT_EQ(sum.inuse_count, s.totals.inuse_count) << path;
  EXPECT_EQ(sum.alloc_bytes, s.totals.alloc_bytes) << path;
  EXPECT_EQ(sum.alloc_count, s.totals.alloc_count) << path;
  std::vector<uint32_t> order = {HS_SEC_META,   HS_SEC_TOTALS,  HS_SEC_STATS,  HS_SEC_MODULES, HS_SEC_CHAIN,
                                 HS_SEC_FRAMES, HS_SEC_STACKS2, HS_SEC_SITES2, HS_SEC_END};
  EXPECT_EQ(s.section_order, order) << path;
  // The chain identity is set at start-up (it was zeroed by the writer's
  // late static initialization once: every run then shared run_id 0).
  EXPECT_NE(s.chain.run_id, 0u) << path;
  EXPECT_GT(s.chain.start_unix_ns, 1600000000ull * 1000000000ull) << path;
  EXPECT_LE(s.chain.start_unix_ns, s.header.time_unix_ns) << path;
  return s;
}

const HsSite* find_site(const Snapshot& s, uint64_t inuse_bytes, uint64_t inuse_count) {
  for (const HsSite& x : s.sites)
    if (x.inuse_bytes == inuse_bytes && x.inuse_count == inuse_count) return &x;
  return nullptr;
}

// Every hook drops its own frames: no stack has a frame inside libheapscope, and
// the program's own call sites (one per hooked call) start stacks.
void expect_user_frames_first(const Snapshot& s) {
  const Module* self = nullptr;
  for (auto& m : s.modules)
    if (m.path.find("libheapscope") != std::string::npos) self = &m;
  ASSERT_NE(self, nullptr);
  size_t in_main = 0;
  for (const HsSite& x : s.sites) {
    const auto& pcs = s.stacks[x.stack];
    if (pcs.empty()) continue;
    for (uint64_t pc : pcs)  // no frame at all in libheapscope (main_then_exit_snapshot sat above main)
      for (auto& rg : self->ranges) EXPECT_FALSE(pc >= rg.start && pc < rg.end) << std::hex << pc;
    for (auto& m : s.modules)
      if (m.rec.flags & HS_MODULE_MAIN)
        for (auto& rg : m.ranges) in_main += pcs[0] >= rg.start && pcs[0] < rg.end;
  }
  EXPECT_GE(in_main, 20u);
}

std::string exit_snap_name(int pid) { return "snap." + std::to_string(pid) + ".exit.hsnap"; }
int first_pid(const std::vector<std::string>& names) {
  for (auto& n : names)
    if (n.rfind("snap.", 0) == 0) return atoi(n.c_str() + 5);
  return -1;
}
}  // namespace

TEST(Preload, EveryHookExactTotalsAndPlainSemantics) {
  Env env("every");
  RunResult plain = hstest::run({HS_PROG_EVERY_HOOK}, {}, env.dir);
  ASSERT_TRUE(plain.exited(0)) << plain.err;
  RunResult pre = env.run({HS_PROG_EVERY_HOOK});
  ASSERT_TRUE(pre.exited(0)) << pre.err;
  EXPECT_NE(pre.err.find("heapscope active"), std::string::npos) << pre.err;
  EXPECT_EQ(plain.out, pre.out);  // return values and errno, call by call
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 1u);
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_EXIT);
  EXPECT_EQ(s.header.mode, (uint32_t)HS_MODE_FULL);
  EXPECT_EQ(s.meta["allocator"], "glibc");
  EXPECT_EQ(s.meta["unwinder"], "cfi");
  EXPECT_NE(s.meta["cmdline"].find("hs_prog_every_hook"), std::string::npos);
  for (const char* k : {"hook_calls", "before_start_blocks", "before_start_bytes", "unknown_frees", "truncated_stacks",
                        "unwind_failures", "dropped_events", "stack_table_full", "self_memory_bytes", "snapshot_ns",
                        "live_table_entries", "stacks", "allocator_inuse_bytes", "rss_bytes", "threads_seen",
                        "signal_handler_replaced"})
    EXPECT_EQ(s.stats.count(k), 1u) << k;
  EXPECT_EQ(s.stats["live_table_entries"], s.totals.inuse_count);
  EXPECT_EQ(s.stats["dropped_events"], 0u);
  EXPECT_GT(s.stats["allocator_inuse_bytes"], 0u);
  bool main_found = false;
  for (auto& m : s.modules)
    if (m.rec.flags & HS_MODULE_MAIN) main_found = m.path.find("hs_prog_every_hook") != std::string::npos && !m.build_id.empty();
  EXPECT_TRUE(main_found);
  expect_user_frames_first(s);
}

TEST(Preload, EveryHookWithTheOtherUnwinders) {
  for (const char* unwind : {"fp", "libunwind"}) {
    Env env(std::string("every-") + unwind);
    RunResult pre = env.run({HS_PROG_EVERY_HOOK}, {std::string("HEAPSCOPE_UNWIND=") + unwind});
    ASSERT_TRUE(pre.exited(0)) << pre.err;
    auto snaps = env.snaps();
    ASSERT_EQ(snaps.size(), 1u);
    Snapshot s = must_parse(env.dir + "/" + snaps[0]);
    EXPECT_EQ(s.meta["unwinder"], unwind);
    expect_user_frames_first(s);
  }
}

TEST(Preload, CfiUnwinderAgreesWithLibunwind) {
  // HEAPSCOPE_UNWIND=check walks every stack both ways and reports differences.
  Env env("check");
  for (std::vector<std::string> argv : {std::vector<std::string>{HS_PROG_EVERY_HOOK},
                                        {HS_PROG_SCENARIOS, "threads"},
                                        {HS_PROG_SCENARIOS, "dlopen", HS_DL_LIB},
                                        {HS_PROG_SCENARIOS, "exit_map"}}) {
    RunResult r = env.run(argv, {"HEAPSCOPE_UNWIND=check", "HEAPSCOPE_AT_EXIT=0"});
    EXPECT_TRUE(r.exited(0)) << argv[0] << ": " << r.err;
    EXPECT_EQ(r.err.find("unwind check"), std::string::npos) << argv[0] << ": " << r.err;
  }
}

TEST(Preload, AttributionStartsAtTheUsersFrame) {
  for (const char* unwind : {"cfi", "libunwind", "fp"}) {
    Env env(std::string("attr-") + unwind);
    RunResult r = env.run({HS_PROG_SCENARIOS, "attribution"}, {std::string("HEAPSCOPE_UNWIND=") + unwind});
    ASSERT_TRUE(r.exited(0)) << r.err;
    unsigned long long marker = 0;
    char path[4096] = {};
    ASSERT_EQ(sscanf(r.out.c_str(), "%llx %4095s", &marker, path), 2) << r.out;
    Snapshot s = must_parse(path);
    EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_API);
    const HsSite* site = find_site(s, 12345, 1);
    ASSERT_NE(site, nullptr);
    const auto& pcs = s.stacks[site->stack];
    ASSERT_GE(pcs.size(), 2u);
    // Innermost frame: the return address inside attribution_marker, not a heapscope frame.
    EXPECT_GT(pcs[0], marker) << unwind;
    EXPECT_LT(pcs[0], marker + 256) << unwind;
  }
}

TEST(Preload, SampledModeWritesEstimates) {
  Env env("sampled");
  // A period of 1 byte samples every block with weight 1: estimates are exact.
  RunResult r = env.run({HS_PROG_SCENARIOS, "attribution"}, {"HEAPSCOPE_SAMPLE=1"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  char path[4096] = {};
  unsigned long long marker = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), "%llx %4095s", &marker, path), 2) << r.out;
  Snapshot s = must_parse(path);
  EXPECT_EQ(s.header.mode, (uint32_t)HS_MODE_SAMPLED);
  EXPECT_EQ(s.header.sample_period, 1u);
  const HsSite* site = find_site(s, 12345, 1);
  ASSERT_NE(site, nullptr);
  EXPECT_EQ(site->sampled_inuse_count, 1u);
  EXPECT_EQ(site->sampled_alloc_count, 1u);
}

TEST(Preload, SampledEstimatesAreCloseAndReturnToZero) {
  Env env("sampled-est");
  RunResult r = env.run({HS_PROG_SCENARIOS, "sampled"}, {"HEAPSCOPE_SAMPLE=4096"});
  ASSERT_TRUE(r.exited(0)) << r.err << r.out;
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 1u);
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_EQ(s.header.mode, (uint32_t)HS_MODE_SAMPLED);
  EXPECT_EQ(s.header.sample_period, 4096u);
  uint64_t sampled = 0;
  for (const HsSite& x : s.sites) sampled += x.sampled_alloc_count;
  EXPECT_GT(sampled, 1000u);          // about 20 MB + 60 MB (reallocs) / 4096 samples
  EXPECT_LT(sampled, 200000u);        // but far fewer than the blocks
}

TEST(Preload, ExitSnapshotSeesGlobalMapBeforeStaticDestructors) {
  for (const char* how : {"return", "exit"}) {
    Env env(std::string("exitmap-") + how);
    RunResult r = env.run({HS_PROG_SCENARIOS, "exit_map", how});
    ASSERT_TRUE(r.exited(0)) << r.err;
    auto snaps = env.snaps();
    ASSERT_EQ(snaps.size(), 1u) << how;
    Snapshot s = must_parse(env.dir + "/" + snaps[0]);
    EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_EXIT);
    EXPECT_EQ(s.header.seq, 0u);
    // 100 strings of 1000 chars (1001-byte buffers) live in the global map.
    EXPECT_NE(find_site(s, 100 * 1001, 100), nullptr) << how;
    bool nodes = false;
    for (const HsSite& x : s.sites) nodes |= x.inuse_count == 100 && x.inuse_bytes != 100 * 1001;
    EXPECT_TRUE(nodes) << "the 100 map nodes are live in the exit snapshot (" << how << ")";
    EXPECT_EQ(r.err.find("heapscope:"), std::string::npos) << r.err;
  }
}

TEST(Preload, AbnormalEndsDoNotCrash) {
  {
    Env env("_exit");
    RunResult r = env.run({HS_PROG_SCENARIOS, "_exit"});
    EXPECT_TRUE(r.exited(3)) << r.err;
    EXPECT_TRUE(env.snaps().empty());  // _exit: nothing runs
  }
  {
    Env env("quick_exit");
    RunResult r = env.run({HS_PROG_SCENARIOS, "quick_exit"});
    EXPECT_TRUE(r.exited(4)) << r.err;
    for (auto& n : env.snaps()) must_parse(env.dir + "/" + n);
  }
  {
    Env env("abort");
    RunResult r = env.run({HS_PROG_SCENARIOS, "abort"});
    EXPECT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT) << r.status;
    for (auto& n : env.all_files()) EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
  }
}

TEST(Preload, ThreadsFreeingEachOthersBlocks) {
  Env env("threads");
  RunResult r = env.run({HS_PROG_SCENARIOS, "threads"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 1u);
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_GE(s.stats["threads_seen"], 5u);
  EXPECT_EQ(s.stats["unknown_frees"], 0u);
}

TEST(Preload, ForkChildWritesUnderItsOwnPid) {
  Env env("fork");
  RunResult r = env.run({HS_PROG_SCENARIOS, "fork"});
  ASSERT_TRUE(r.exited(0)) << r.err << r.out;
  int parent = -1, child = -1;
  size_t at = r.out.find("parent ");
  ASSERT_NE(at, std::string::npos) << r.out;
  ASSERT_EQ(sscanf(r.out.c_str() + at, "parent %d child %d", &parent, &child), 2);
  EXPECT_NE(r.out.find("child " + std::to_string(child) + " OK"), std::string::npos) << r.out;
  auto names = env.snaps();
  std::set<std::string> have(names.begin(), names.end());
  EXPECT_TRUE(have.count(exit_snap_name(parent))) << r.out;
  EXPECT_TRUE(have.count(exit_snap_name(child))) << r.out;
  EXPECT_TRUE(have.count("snap." + std::to_string(child) + ".0001.hsnap"));
  Snapshot cs = must_parse(env.dir + "/snap." + std::to_string(child) + ".0001.hsnap");
  EXPECT_EQ(cs.header.pid, (uint64_t)child);
  EXPECT_NE(find_site(cs, 2222, 1), nullptr);  // the child's block
  EXPECT_NE(find_site(cs, 1111, 1), nullptr);  // inherited from the parent
}

// A single-threaded parent's fork child handler leaves the series alone (no
// page written, no getrandom); the child's first snapshot, seeing a new pid,
// starts its own: SEQ from 1, a new run id, a self-contained first file, and
// so does a grandchild's. The parent's series goes on where it was.
TEST(Preload, ForkChildOfOneThreadStartsItsOwnSeriesAtItsFirstSnapshot) {
  Env env("fork-series");
  RunResult r = env.run({HS_PROG_SCENARIOS, "fork_series"}, {"HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err << r.out;
  int parent = -1, child = -1, grand = -1;
  size_t at = r.out.find("series ");
  ASSERT_NE(at, std::string::npos) << r.out;
  ASSERT_EQ(sscanf(r.out.c_str() + at, "series %d %d %d", &parent, &child, &grand), 3) << r.out;
  auto name = [](int pid, int seq) {
    char b[64];
    snprintf(b, sizeof b, "snap.%d.%04d.hsnap", pid, seq);
    return std::string(b);
  };
  auto names = env.snaps();
  std::set<std::string> want = {name(parent, 1), name(parent, 2), name(parent, 3), name(child, 1), name(child, 2),
                                name(grand, 1)};
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want) << r.err;
  Snapshot p1 = must_parse(env.dir + "/" + name(parent, 1));
  Snapshot p3 = must_parse(env.dir + "/" + name(parent, 3));
  Snapshot c1 = must_parse(env.dir + "/" + name(child, 1));
  Snapshot c2 = must_parse(env.dir + "/" + name(child, 2));
  Snapshot g1 = must_parse(env.dir + "/" + name(grand, 1));
  EXPECT_EQ(p3.chain.run_id, p1.chain.run_id);
  EXPECT_EQ(p3.chain.base_seq, 2u);
  EXPECT_EQ(c1.header.pid, (uint64_t)child);
  EXPECT_EQ(c1.chain.base_seq, 0u);  // self-contained, though the parent's last file was 0002
  EXPECT_EQ(c1.chain_files, 1);
  EXPECT_NE(c1.chain.run_id, p1.chain.run_id);
  EXPECT_EQ(c2.chain.run_id, c1.chain.run_id);
  EXPECT_EQ(c2.chain.base_seq, 1u);
  EXPECT_EQ(g1.header.pid, (uint64_t)grand);
  EXPECT_EQ(g1.chain.base_seq, 0u);
  EXPECT_NE(g1.chain.run_id, c1.chain.run_id);
  EXPECT_NE(g1.chain.run_id, p1.chain.run_id);
  // The books: each holds its own block and its ancestors' (exactly one of each).
  EXPECT_NE(find_site(c1, 2222, 1), nullptr);
  EXPECT_NE(find_site(c1, 1111, 1), nullptr);
  EXPECT_NE(find_site(g1, 4444, 1), nullptr);
  EXPECT_NE(find_site(g1, 2222, 1), nullptr);
  EXPECT_NE(find_site(g1, 1111, 1), nullptr);
  EXPECT_EQ(find_site(p3, 2222, 1), nullptr);  // the child's block is not the parent's
}

TEST(Preload, ForkWhileThreadsAllocateAndSnapshotsRun) {
  Env env("fork-stress");
  RunResult r = env.run({HS_PROG_SCENARIOS, "fork_stress"}, {"HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;  // a deadlocked child would hang here: the ctest TIMEOUT catches it
  EXPECT_NE(r.out.find("OK fork_stress"), std::string::npos);
  for (auto& n : env.snaps()) must_parse(env.dir + "/" + n);
}

// The fork gate (profiler/src/fork_gate.h): 40 forks while three threads
// allocate and free hard, inserting new stacks all the while. Each child must
// inherit consistent tables with no lock held: it frees the parent's 50 blocks,
// keeps 100 of 123 blocks of its own, touches every shard, and snapshots; its
// books are exact for all of it (a child left a held shard would hang here).
TEST(Preload, ForkWhileThreadsAllocateLeavesChildBooksExact) {
  Env env("fork-books");
  RunResult r = env.run({HS_PROG_SCENARIOS, "fork_books"}, {"HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_NE(r.out.find("OK fork_books"), std::string::npos) << r.out;
  auto snaps = env.snaps();
  EXPECT_EQ(snaps.size(), 40u);
  for (auto& n : snaps) {
    Snapshot s = must_parse(env.dir + "/" + n);
    EXPECT_NE(n.find("." + std::to_string(s.header.pid) + ".0001."), std::string::npos) << n;
    const HsSite* mine = find_site(s, 100 * 5555, 100);
    ASSERT_NE(mine, nullptr) << n;
    EXPECT_EQ(mine->alloc_count, 123u) << n;
    EXPECT_EQ(mine->alloc_bytes, 123u * 5555) << n;
    bool inherited = false;  // the parent's site: 50 allocated, all freed by the child
    for (const HsSite& x : s.sites) inherited |= x.alloc_bytes == 50 * 3333 && x.alloc_count == 50 && x.inuse_count == 0;
    EXPECT_TRUE(inherited) << n;
    EXPECT_EQ(s.stats["unknown_frees"], 0u) << n;
    EXPECT_EQ(s.stats["dropped_events"], 0u) << n;
  }
}

TEST(Preload, SignalFramesAndTinyThreadStacks) {
  for (const char* unwind : {"cfi", "check", "libunwind", "fp"}) {
    Env env(std::string("odd-") + unwind);
    RunResult r = env.run({HS_PROG_SCENARIOS, "odd_stacks"}, {std::string("HEAPSCOPE_UNWIND=") + unwind});
    ASSERT_TRUE(r.exited(0)) << unwind << ": " << r.err;
    EXPECT_EQ(r.err.find("unwind check"), std::string::npos) << r.err;
    auto snaps = env.snaps();
    ASSERT_EQ(snaps.size(), 1u);
    Snapshot s = must_parse(env.dir + "/" + snaps[0]);
    // The handler's 4321-byte blocks form one site (the signal frame unwinds the same way each time).
    bool site = false;
    for (const HsSite& x : s.sites) site |= x.alloc_bytes == 100 * 4321 && x.alloc_count == 100;
    EXPECT_TRUE(site) << unwind;
  }
}

TEST(Preload, ProgramClosingAllDescriptorsKeepsSnapshotsAndItsFiles) {
  Env env("close-fds");
  // The helper thread's pipe is what a daemon closing descriptors can break.
  RunResult r = env.run({HS_PROG_SCENARIOS, "close_fds"}, {"HEAPSCOPE_AT_EXIT=0", "HEAPSCOPE_THREAD=always"});
  ASSERT_TRUE(r.exited(0)) << r.err << r.out;
  EXPECT_NE(r.out.find("OK close_fds"), std::string::npos);
}

// A program's own file dup2()ed onto the wake-up pipe's number: the signal
// handler must not write its byte into that file (it did, until the helper's
// once-a-second check), and the request is still served.
TEST(Preload, SignalNeverWritesIntoAFileOnThePipesNumber) {
  Env env("pipe-reused");
  RunResult r = env.run({HS_PROG_SCENARIOS, "pipe_reused"}, {"HEAPSCOPE_AT_EXIT=0", "HEAPSCOPE_THREAD=always"});
  ASSERT_TRUE(r.exited(0)) << r.err << r.out;
  EXPECT_NE(r.out.find("own file 0 bytes\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("OK pipe_reused"), std::string::npos) << r.out;
}

TEST(Preload, SignalSnapshotsWhileThreadsAllocate) {
  Env env("signal");
  RunResult r = env.run({HS_PROG_SCENARIOS, "signal"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  int pid = first_pid(env.snaps());
  for (int i = 1; i <= 3; ++i) {
    char name[64];
    snprintf(name, sizeof name, "snap.%d.%04d.hsnap", pid, i);
    Snapshot s = must_parse(env.dir + "/" + name);
    EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
    EXPECT_EQ(s.header.seq, (uint64_t)i);
  }
}

// HEAPSCOPE_THREAD=auto: a program that never creates a thread keeps one
// thread (glibc stays in its single-thread mode); the snapshot signal is
// served on the program's own thread, from the handler itself (the signal
// interrupted no hook), in full and in sampled mode: the file is there when
// raise() returns, before any further allocation.
TEST(Preload, SingleThreadedProgramGetsNoHelperAndAnswersFromTheHandler) {
  for (const char* sample : {"HEAPSCOPE_SAMPLE=0", "HEAPSCOPE_SAMPLE=1M"}) {
    Env env("lazy-single");
    RunResult r = env.run({HS_PROG_HELPER_THREAD, "single", "alloc"}, {sample});
    ASSERT_TRUE(r.exited(0)) << r.err;
    EXPECT_EQ(r.out, "tasks=1 helper=no single=1\nbefore_alloc=yes after_alloc=yes\n") << sample;
    auto snaps = env.snaps();
    ASSERT_EQ(snaps.size(), 2u) << sample;  // the signal's and the exit snapshot
    Snapshot s = must_parse(env.dir + "/" + snaps[0]);
    EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL) << sample;
    // Written inside the handler: the allocator is not asked (mallinfo2 takes its lock).
    EXPECT_EQ(s.stats["allocator_inuse_bytes"], 0u) << sample;
    if (std::string(sample) == "HEAPSCOPE_SAMPLE=0") EXPECT_NE(find_site(s, 1000, 1), nullptr);
  }
}

namespace {
// The live blocks of exactly `size` bytes in a snapshot (full mode).
uint64_t live_blocks_of(const Snapshot& s, uint64_t size) {
  uint64_t n = 0;
  for (const HsSite& x : s.sites)
    if (x.inuse_count && x.inuse_bytes == size * x.inuse_count) n += x.inuse_count;
  return n;
}
}  // namespace

// The snapshot holds the books at the request: 8 live blocks when the signal
// came, although 8 frees follow at once (before: 7, the first free was
// applied before the next hook served the request).
TEST(Preload, RequestedSnapshotHoldsTheBooksAtTheRequest) {
  Env env("moment8");
  RunResult r = env.run({HS_PROG_SNAP_MOMENT, "probe8"}, {"HEAPSCOPE_THREAD=auto"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(r.out, "done\n");
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 2u);
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
  EXPECT_EQ(live_blocks_of(s, 4242), 8u);
  EXPECT_EQ(s.stats["threads_seen"], 1u);
}

// Two requests around 2001 known allocations: the snapshots differ by exactly
// those (before: 1999).
TEST(Preload, TwoRequestsBracketExactlyTheAllocationsBetweenThem) {
  Env env("bracket");
  RunResult r = env.run({HS_PROG_SNAP_MOMENT, "bracket"}, {"HEAPSCOPE_THREAD=auto"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 3u);
  Snapshot a = must_parse(env.dir + "/" + snaps[0]), b = must_parse(env.dir + "/" + snaps[1]);
  EXPECT_EQ(a.header.seq, 1u);
  EXPECT_EQ(b.header.seq, 2u);
  EXPECT_EQ(b.totals.inuse_count - a.totals.inuse_count, 2001u);
  EXPECT_EQ(b.totals.alloc_count - a.totals.alloc_count, 2001u);
  EXPECT_EQ(b.totals.inuse_bytes - a.totals.inuse_bytes, 200100u);
  EXPECT_EQ(live_blocks_of(b, 100) - live_blocks_of(a, 100), 2001u);
}

// The signal interrupts a hook while it forwards to the allocator (the guard
// is held): the snapshot is written at the end of that hook, before the
// next operation. Inside malloc(4243): the 8 blocks and that one. Inside the
// forward of the first free (recorded before forwarding): 7 blocks, and not 6.
TEST(Preload, RequestInsideTheAllocatorIsServedAtTheEndOfThatHook) {
  struct Case {
    const char* mode;
    uint64_t blocks_4242, blocks_4243;
  } cases[] = {{"in_malloc", 8, 1}, {"in_free", 7, 0}};
  for (const Case& c : cases) {
    for (const char* sample : {"HEAPSCOPE_SAMPLE=0", "HEAPSCOPE_SAMPLE=1"}) {
      Env env("inhook");
      std::vector<std::string> vars = env.vars;
      vars[0] = "LD_PRELOAD=" + kLib + ":" + HS_SNAP_SHIM;
      vars.push_back("HEAPSCOPE_THREAD=auto");
      vars.push_back(sample);
      RunResult r = hstest::run({HS_PROG_SNAP_MOMENT, c.mode}, vars, env.dir);
      ASSERT_TRUE(r.exited(0)) << c.mode << " " << r.err;
      auto snaps = env.snaps();
      ASSERT_EQ(snaps.size(), 2u) << c.mode;
      Snapshot s = must_parse(env.dir + "/" + snaps[0]);
      EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
      // HEAPSCOPE_SAMPLE=1: every block of a few KiB is sampled (p ~ 1), weight 1.
      EXPECT_EQ(live_blocks_of(s, 4242), c.blocks_4242) << c.mode << " " << sample;
      EXPECT_EQ(live_blocks_of(s, 4243), c.blocks_4243) << c.mode << " " << sample;
    }
  }
}

// The signal arrives while the dynamic linker adds a library (LD_AUDIT's
// la_objopen: r_debug.r_state is RT_ADD). The handler writes the snapshot
// without re-reading the module list (dl_iterate_phdr could read it
// mid-update): that snapshot lacks the library; the one requested after
// dlopen returned has it. Nothing deadlocks.
TEST(Preload, RequestWhileTheLoaderAddsALibraryUsesTheLastModuleList) {
  Env env("indlopen");
  RunResult r = env.run({HS_PROG_SNAP_MOMENT, "in_dlopen", HS_DL_LIB},
                        {"HEAPSCOPE_THREAD=auto", std::string("LD_AUDIT=") + HS_SNAP_AUDIT});
  ASSERT_TRUE(r.exited(0)) << r.err;
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 3u) << r.err;
  auto has_lib = [](const Snapshot& s) {
    for (auto& m : s.modules)
      if (m.path.find("hs_dl_lib") != std::string::npos) return true;
    return false;
  };
  Snapshot during = must_parse(env.dir + "/" + snaps[0]), after = must_parse(env.dir + "/" + snaps[1]);
  EXPECT_EQ(during.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
  EXPECT_FALSE(has_lib(during));
  EXPECT_TRUE(has_lib(after));
}

// Allocations made by a library's constructor that runs before heapscope's
// own (a DT_NEEDED library of the program) are recorded from the first hook
// call, with their stacks: the exit snapshot holds the 40 kept blocks, inside
// early_lib's constructor, and the 25 freed later are no unknown frees
// (before: not recorded, and 25 "frees of blocks never seen").
TEST(Preload, AllocationsBeforeOurConstructorAreRecorded) {
  Env env("early");
  RunResult r = env.run({HS_PROG_EARLY});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(r.out, "blocks=65\n");
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 1u);
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_EQ(live_blocks_of(s, 3217), 40u);
  EXPECT_EQ(live_blocks_of(s, 3218), 0u);
  EXPECT_EQ(s.stats["unknown_frees"], 0u);
  EXPECT_EQ(s.stats["before_start_blocks"], 0u);
  const Module* lib = nullptr;
  for (auto& m : s.modules)
    if (m.path.find("libhs_early_lib") != std::string::npos) lib = &m;
  ASSERT_NE(lib, nullptr);
  uint64_t in_lib = 0;
  for (const HsSite& x : s.sites) {
    if (x.inuse_bytes != 3217u * x.inuse_count || !x.inuse_count) continue;
    const auto& pcs = s.stacks[x.stack];
    ASSERT_FALSE(pcs.empty());
    for (auto& rg : lib->ranges)
      if (pcs[0] - 1 >= rg.start && pcs[0] - 1 < rg.end) in_lib += x.inuse_count;
  }
  EXPECT_EQ(in_lib, 40u);  // the innermost frame is early_allocate
}

// The program's first thread brings the helper, which answers while every
// program thread is idle; HEAPSCOPE_THREAD=always starts it at once.
TEST(Preload, HelperThreadStartsWithTheProgramsFirstThreadOrAlways) {
  struct Case {
    const char* mode;
    const char* thread_opt;
    const char* want;
  } cases[] = {
      {"threads", "HEAPSCOPE_THREAD=auto", "tasks=3 helper=yes single=0\nidle=yes\n"},
      {"c11", "HEAPSCOPE_THREAD=auto", "tasks=3 helper=yes single=0\nidle=yes\n"},
      {"single", "HEAPSCOPE_THREAD=always", "tasks=2 helper=yes single=0\nidle=yes\n"},
      {"single", "HEAPSCOPE_INTERVAL=60", "tasks=2 helper=yes single=0\nidle=yes\n"},
  };
  for (const Case& c : cases) {
    Env env("lazy-threads");
    RunResult r = env.run({HS_PROG_HELPER_THREAD, c.mode, "wait"}, {c.thread_opt});
    ASSERT_TRUE(r.exited(0)) << r.err;
    EXPECT_EQ(r.out, c.want) << c.mode << " " << c.thread_opt;
    auto snaps = env.snaps();
    ASSERT_EQ(snaps.size(), 2u) << c.thread_opt;
    EXPECT_EQ(must_parse(env.dir + "/" + snaps[0]).header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
  }
}

// Sampled mode without a helper: the signal cuts the interrupted thread's
// countdown so its next allocation serves the request. When the request is
// served elsewhere (here by the free of a tracked block), the cut must not
// turn the next small block into a certain sample worth ~64 MiB.
TEST(Preload, SnapshotSignalLeavesSamplingUnbiased) {
  Env env("cut");
  RunResult r = env.run({HS_PROG_HELPER_THREAD, "cut"}, {"HEAPSCOPE_SAMPLE=64M", "HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(r.out, "inuse_mib=0\n");
  EXPECT_EQ(env.snaps().size(), 200u);  // one per signal, each served by the free
}

TEST(Preload, IntervalSnapshotsHaveIncreasingSequence) {
  Env env("interval");
  RunResult r = env.run({HS_PROG_SCENARIOS, "run", "1200"}, {"HEAPSCOPE_INTERVAL=0.2"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  auto snaps = env.snaps();
  ASSERT_GE(snaps.size(), 3u);  // at least two interval snapshots + exit
  int pid = first_pid(snaps);
  uint64_t last_time = 0;
  for (size_t i = 1; i + 1 <= snaps.size() - 1; ++i) {
    char name[64];
    snprintf(name, sizeof name, "snap.%d.%04zu.hsnap", pid, i);
    Snapshot s = must_parse(env.dir + "/" + name);
    EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_INTERVAL);
    EXPECT_EQ(s.header.seq, i);
    EXPECT_GT(s.header.time_unix_ns, last_time);
    last_time = s.header.time_unix_ns;
  }
  EXPECT_TRUE(std::count(snaps.begin(), snaps.end(), exit_snap_name(pid)));
  for (auto& n : env.all_files()) EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
}

// An earlier process with the same PID and prefix (containers: PID 1; PID
// reuse) left PREFIX.PID.0001.hsnap and, killed mid-write, a stale
// PREFIX.PID.0002.hsnap.tmp: both are kept, the new snapshot takes SEQ 0002
// through another temporary name.
TEST(Preload, EarlierProcessFilesWithTheSamePidAreKept) {
  Env env("samepid");
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  std::string out = env.dir + "/stdout.txt";
  std::vector<std::string> e = env.vars;
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(125);
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    for (const std::string& kv : e) putenv(const_cast<char*>(kv.c_str()));
    execl(HS_PROG_SCENARIOS, HS_PROG_SCENARIOS, "attribution", (char*)nullptr);
    _exit(126);
  }
  close(go[0]);
  std::string base = env.dir + "/snap." + std::to_string(pid);
  { std::ofstream(base + ".0001.hsnap") << "earlier run 1"; }
  { std::ofstream(base + ".0002.hsnap.tmp") << "earlier run tmp"; }
  ASSERT_EQ(write(go[1], "x", 1), 1);
  close(go[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string printed, content;
  ASSERT_TRUE(hstest::read_file(out, &printed));
  EXPECT_NE(printed.find(base + ".0002.hsnap\n"), std::string::npos) << printed;
  ASSERT_TRUE(hstest::read_file(base + ".0001.hsnap", &content));
  EXPECT_EQ(content, "earlier run 1");
  ASSERT_TRUE(hstest::read_file(base + ".0002.hsnap.tmp", &content));
  EXPECT_EQ(content, "earlier run tmp");
  Snapshot s = must_parse(base + ".0002.hsnap");
  EXPECT_EQ(s.header.seq, 2u);
  must_parse(base + ".exit.hsnap");
  EXPECT_EQ(env.all_files().size(), 5u);  // 0001, 0002, 0002.tmp, exit, stdout.txt
}

TEST(Preload, StatsLinesAndGrowthAlert) {
  Env env("alert");
  RunResult r = env.run({HS_PROG_SCENARIOS, "hold", "4000000", "1000"},
                        {"HEAPSCOPE_STATS=0.1", "HEAPSCOPE_ALERT=1M", "HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_GE(count_substr(r.err, "heapscope: rss="), 2) << r.err;
  EXPECT_NE(r.err.find("heap_used="), std::string::npos);
  EXPECT_NE(r.err.find("tracked_live="), std::string::npos);
  EXPECT_EQ(count_substr(r.err, "heapscope: alert:"), 1) << r.err;
  auto snaps = env.snaps();
  ASSERT_EQ(snaps.size(), 1u);  // the alert snapshot; no exit snapshot (AT_EXIT=0)
  Snapshot s = must_parse(env.dir + "/" + snaps[0]);
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_ALERT);
  EXPECT_NE(find_site(s, 4000000, 1), nullptr);
}

TEST(Preload, AtExitOffWritesNothing) {
  Env env("noexit");
  RunResult r = env.run({HS_PROG_SCENARIOS, "exit_map"}, {"HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_TRUE(env.snaps().empty());
}

// A failed alert snapshot moves the alert baseline: it is not retried every
// tick (which would also write it once the directory appears).
TEST(Preload, FailedAlertSnapshotIsNotRetried) {
  Env env("alertfail");
  std::string later = env.dir + "/later";
  RunResult r = env.run({HS_PROG_SCENARIOS, "alert_dir", later}, {"HEAPSCOPE_OUT=" + later + "/snap", "HEAPSCOPE_ALERT=1M"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(count_substr(r.err, "heapscope: cannot write snapshot"), 1) << r.err;
  EXPECT_EQ(count_substr(r.err, "heapscope: alert:"), 0) << r.err;
  std::vector<std::string> files = list_dir(later);
  ASSERT_EQ(files.size(), 1u) << r.err;  // only the exit snapshot
  Snapshot s = must_parse(later + "/" + files[0]);
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_EXIT);
}

TEST(Preload, UnwritableOutputIsReportedOnceAndTheProgramRunsOn) {
  Env env("unwritable");
  RunResult r = env.run({HS_PROG_SCENARIOS, "run", "600"},
                        {"HEAPSCOPE_OUT=" + env.dir + "/missing/dir/snap", "HEAPSCOPE_INTERVAL=0.1"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(count_substr(r.err, "heapscope: cannot write snapshot"), 1) << r.err;
  EXPECT_NE(r.err.find(env.dir + "/missing/dir/snap."), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("errno 2"), std::string::npos) << r.err;
}

TEST(Preload, InvalidOptionNamesVariableAndValue) {
  Env env("badopt");
  RunResult r = env.run({HS_PROG_SCENARIOS, "run", "10"}, {"HEAPSCOPE_INTERVAL=soon", "HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_NE(r.err.find("heapscope: HEAPSCOPE_INTERVAL=soon: expected seconds"), std::string::npos) << r.err;
}

TEST(Preload, DlopenedLibraryFramesResolveAfterDlclose) {
  Env env("dlopen");
  RunResult r = env.run({HS_PROG_SCENARIOS, "dlopen", HS_DL_LIB});
  ASSERT_TRUE(r.exited(0)) << r.err;
  char p1[4096] = {}, p2[4096] = {};
  ASSERT_EQ(sscanf(r.out.c_str(), "%4095s %4095s", p1, p2), 2) << r.out;
  Snapshot before = must_parse(p1), after = must_parse(p2);
  auto find_mod = [](const Snapshot& s) -> const Module* {
    for (auto& m : s.modules)
      if (m.path.find("hs_dl_lib") != std::string::npos) return &m;
    return nullptr;
  };
  const Module* mb = find_mod(before);
  const Module* ma = find_mod(after);
  ASSERT_NE(mb, nullptr);
  ASSERT_NE(ma, nullptr);
  EXPECT_FALSE(mb->rec.flags & HS_MODULE_UNLOADED);
  EXPECT_TRUE(ma->rec.flags & HS_MODULE_UNLOADED);
  EXPECT_FALSE(ma->build_id.empty());
  for (uint64_t size : {7777u, 8888u}) {
    const HsSite* site = find_site(after, size, 1);
    ASSERT_NE(site, nullptr) << size;
    const auto& pcs = after.stacks[site->stack];
    ASSERT_FALSE(pcs.empty());
    bool inside = false;
    for (auto& rg : ma->ranges) inside |= pcs[0] >= rg.start && pcs[0] < rg.end;
    EXPECT_TRUE(inside) << "innermost frame of the " << size << "-byte block is in the unloaded library";
  }
}

TEST(Preload, SpawnVforkAndSystemRunNormally) {
  Env env("spawn");
  RunResult r = env.run({HS_PROG_SCENARIOS, "spawn"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_NE(r.out.find("OK spawn"), std::string::npos);
  EXPECT_EQ(r.err.find("heapscope:"), std::string::npos) << r.err;
  for (auto& n : env.snaps()) must_parse(env.dir + "/" + n);  // children (true) write their own exit snapshots
}

TEST(Preload, StopAndStartRecording) {
  Env env("stopstart");
  RunResult r = env.run({HS_PROG_SCENARIOS, "stopstart"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_NE(r.out.find("OK stopstart"), std::string::npos);
}

TEST(Preload, DepthLimitTruncatesAndCounts) {
  Env env("depth");
  RunResult r = env.run({HS_PROG_SCENARIOS, "attribution"}, {"HEAPSCOPE_DEPTH=2"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  char path[4096] = {};
  unsigned long long marker = 0;
  ASSERT_EQ(sscanf(r.out.c_str(), "%llx %4095s", &marker, path), 2) << r.out;
  Snapshot s = must_parse(path);
  const HsSite* site = find_site(s, 12345, 1);
  ASSERT_NE(site, nullptr);
  EXPECT_EQ(s.stacks[site->stack].size(), 2u);
  EXPECT_EQ(s.stack_headers[site->stack].flags & HS_STACK_TRUNCATED, (uint32_t)HS_STACK_TRUNCATED);
  EXPECT_GT(s.stats["truncated_stacks"], 0u);
  for (const auto& st : s.stacks) EXPECT_LE(st.size(), 2u);
}

TEST(Preload, ManyShortThreadsDoNotGrowTheProfiler) {
  Env env("short-threads");
  RunResult r = env.run({HS_PROG_SCENARIOS, "short_threads", "2000"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  char p1[4096] = {}, p2[4096] = {};
  ASSERT_EQ(sscanf(r.out.c_str(), "%4095s %4095s", p1, p2), 2) << r.out;
  Snapshot a = must_parse(p1), b = must_parse(p2);
  EXPECT_EQ(b.totals.inuse_count, a.totals.inuse_count);  // nothing left behind by 1900 threads
  EXPECT_EQ(b.totals.inuse_bytes, a.totals.inuse_bytes);
  EXPECT_LE(b.stats["self_memory_bytes"], a.stats["self_memory_bytes"] + (64u << 10));
  EXPECT_GE(b.stats["threads_seen"], 2000u);
  EXPECT_EQ(b.stats["unknown_frees"], 0u);
}

TEST(Preload, SaysOnceWhenTheExecutableDefinesMalloc) {
  Env env("own-malloc");
  RunResult r = env.run({HS_PROG_OWN_MALLOC}, {"HEAPSCOPE_AT_EXIT=0"});
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(r.out, "own malloc works\n");
  EXPECT_EQ(count_substr(r.err, "heapscope: malloc is defined by "), 1) << r.err;
  EXPECT_NE(r.err.find("hs_prog_own_malloc"), std::string::npos) << r.err;
}

TEST(Preload, RelativeOutputPrefixIsTheStartDirectory) {
  Env env("chdir");
  std::vector<std::string> vars = {"LD_PRELOAD=" + kLib, "HEAPSCOPE_OUT=rel", "HEAPSCOPE_AT_EXIT=0"};
  RunResult r = hstest::run({HS_PROG_SCENARIOS, "chdir"}, vars, env.dir, env.dir);
  ASSERT_TRUE(r.exited(0)) << r.err;
  EXPECT_EQ(r.out.rfind(env.dir + "/rel.", 0), 0u) << r.out;
  auto files = list_dir(env.dir);
  EXPECT_EQ(std::count_if(files.begin(), files.end(), [](const std::string& n) { return n.rfind("rel.", 0) == 0; }), 1);
}

TEST(Preload, ChainsToJemallocIncludingItsOperatorNew) {
  Env env("jemalloc");
  RunResult r = env.run({HS_PROG_JEMALLOC});
  ASSERT_TRUE(r.exited(0)) << r.err;
  char path[4096] = {};
  ASSERT_EQ(sscanf(r.out.c_str(), "%4095s", path), 1) << r.out;
  Snapshot s = must_parse(path);
  EXPECT_EQ(s.meta["allocator"], "jemalloc");
  EXPECT_GT(s.stats["allocator_inuse_bytes"], 0u);
  EXPECT_NE(find_site(s, 1000, 1), nullptr);  // new int[250], through jemalloc's operator new[]
}

TEST(Library, ExportsOnlyHooksAndApiAndUsesInitialExecTls) {
  std::string relocs, syms;
  FILE* f = popen(("readelf -rW " + kLib).c_str(), "r");
  ASSERT_NE(f, nullptr);
  char line[4096];
  while (fgets(line, sizeof line, f)) relocs += line;
  pclose(f);
  EXPECT_FALSE(relocs.empty());
  for (const char* bad : {"DTPMOD64", "DTPOFF64", "TLSGD", "TLSLD", "TLSDESC"})
    EXPECT_EQ(relocs.find(bad), std::string::npos) << "global-dynamic TLS relocation " << bad;
  f = popen(("nm -D --defined-only " + kLib).c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::set<std::string> got;
  while (fgets(line, sizeof line, f)) {
    char addr[64], type[8], name[512];
    if (sscanf(line, "%63s %7s %511s", addr, type, name) == 3) got.insert(name);
  }
  pclose(f);
  std::set<std::string> want = {
      "malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign", "valloc",
      "pvalloc", "malloc_usable_size", "free_sized", "free_aligned_sized", "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t",
      "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
      "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t",
      "_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t",
      "_ZdaPvmSt11align_val_t", "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
      "dlclose", "exit", "quick_exit", "__libc_start_main", "pthread_create", "thrd_create",
      "mmap", "mmap64", "munmap", "mremap",  // HEAPSCOPE_MMAP (mmap_hooks.cpp)
      "heapscope_active", "heapscope_snapshot",
      "heapscope_totals", "heapscope_start", "heapscope_stop", "heapscope_active_impl", "heapscope_snapshot_impl",
      "heapscope_totals_impl", "heapscope_start_impl", "heapscope_stop_impl",
      "heapscope_attach_start", "heapscope_attach_stop",  // heapscope attach (profiler/src/attach)
      "heapscope_totals_under", "heapscope_totals_under_impl", "heapscope_sample_period",
      "heapscope_sample_period_impl"};  // heapscope/gtest.h
  EXPECT_EQ(got, want);
}
