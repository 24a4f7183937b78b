// memory_test.cpp -- the snapshot's memory-composition STATS against known
// programs (programs/memory_prog.c) under glibc, jemalloc and tcmalloc, and
// on the signal handler's path (programs/snap_moment.c).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "hsnap_parse.h"
#include "run_util.h"

using namespace hstest;

namespace {
const std::string kLib = HS_LIB;

struct ProgRun {
  Snapshot snap;
  std::map<std::string, uint64_t> prog;  // the program's own reading
};

ProgRun run_prog(const std::string& tag, std::vector<std::string> argv, std::string preload_after = "",
             std::vector<std::string> extra = {}) {
  ProgRun out;
  std::string dir = make_temp_dir(tag);
  std::vector<std::string> env = {"LD_PRELOAD=" + kLib + (preload_after.empty() ? "" : ":" + preload_after),
                                  "HEAPSCOPE_OUT=" + dir + "/snap", "HEAPSCOPE_AT_EXIT=0"};
  env.insert(env.end(), extra.begin(), extra.end());
  RunResult r = run(argv, env, dir);
  EXPECT_TRUE(r.exited(0)) << r.err;
  std::istringstream in(r.out);
  std::string path;
  in >> path;
  std::string name;
  uint64_t v;
  while (in >> name >> v) out.prog[name] = v;
  EXPECT_EQ(parse(path, &out.snap), "") << r.out << r.err;
  return out;
}

uint64_t stat_or_fail(const Snapshot& s, const std::string& name) {
  auto it = s.stats.find(name);
  EXPECT_NE(it, s.stats.end()) << "no STATS entry " << name;
  return it == s.stats.end() ? 0 : it->second;
}

const HsSite* find_site(const Snapshot& s, uint64_t bytes, uint64_t count) {
  for (const HsSite& x : s.sites)
    if (x.inuse_bytes == bytes && x.inuse_count == count) return &x;
  return nullptr;
}

// The RSS split adds up to the kernel's RSS (statm, read a moment apart) and
// holds at least what the program touched.
void expect_rss_split(const Snapshot& s, uint64_t touched) {
  uint64_t anon = stat_or_fail(s, "rss_anon_bytes"), file = stat_or_fail(s, "rss_file_bytes"),
           shmem = stat_or_fail(s, "rss_shmem_bytes"), rss = stat_or_fail(s, "rss_bytes");
  EXPECT_GE(anon, touched);
  EXPECT_GT(file, 0u);  // the program's own text and libc's are file-backed
  uint64_t sum = anon + file + shmem;
  EXPECT_LE(std::max(sum, rss) - std::min(sum, rss), 1u << 20) << "anon+file+shmem " << sum << " rss " << rss;
}
}  // namespace

// glibc: the live heap holds exactly the N*K bytes, and every mallinfo2
// figure in the snapshot equals what the program read just before asking for
// it (the snapshot path allocates nothing through malloc before it reads).
TEST(Memory, GlibcFiguresEqualTheProgramsMallinfo2) {
  const uint64_t n = 1000, k = 1000;
  ProgRun r = run_prog("mem_glibc", {HS_PROG_MEMORY, "blocks", std::to_string(n), std::to_string(k)});
  const Snapshot& s = r.snap;
  EXPECT_EQ(s.meta.at("allocator"), "glibc");
  EXPECT_EQ(r.prog.at("live_delta"), n * k);
  EXPECT_NE(find_site(s, n * k, n), nullptr);
  for (const char* name : {"glibc_arena_bytes", "glibc_mmapped_bytes", "glibc_mmapped_blocks", "glibc_free_bytes",
                           "glibc_fastbin_free_bytes", "glibc_free_chunks", "glibc_keepcost_bytes",
                           "allocator_inuse_bytes"})
    EXPECT_EQ(stat_or_fail(s, name), r.prog.at(name)) << name;
  // held = arena + mmapped; free held = held - in use = fordblks.
  EXPECT_EQ(stat_or_fail(s, "allocator_held_bytes"), r.prog["glibc_arena_bytes"] + r.prog["glibc_mmapped_bytes"]);
  EXPECT_EQ(stat_or_fail(s, "allocator_free_held_bytes"), r.prog["glibc_free_bytes"]);
  EXPECT_GE(stat_or_fail(s, "allocator_inuse_bytes"), n * k);
  expect_rss_split(s, n * k);
  EXPECT_EQ(s.stats.count("jemalloc_resident_bytes"), 0u);
}

// jemalloc preloaded after heapscope: its stats.* under jemalloc_* names. The
// program's reading and the snapshot's are two epochs apart (heapscope's own
// cold-path allocations in between): equal within a page run.
TEST(Memory, JemallocPreloadedReportsJemallocsStats) {
  const uint64_t n = 2000, k = 3000;
  ProgRun r = run_prog("mem_je", {HS_PROG_MEMORY, "blocks", std::to_string(n), std::to_string(k)}, HS_JEMALLOC_SO);
  const Snapshot& s = r.snap;
  EXPECT_EQ(s.meta.at("allocator"), "jemalloc");
  EXPECT_NE(find_site(s, n * k, n), nullptr);
  for (const char* name : {"jemalloc_allocated_bytes", "jemalloc_active_bytes", "jemalloc_resident_bytes",
                           "jemalloc_mapped_bytes", "jemalloc_retained_bytes"}) {
    uint64_t a = stat_or_fail(s, name), b = r.prog.at(name);
    EXPECT_LE(std::max(a, b) - std::min(a, b), 256u << 10) << name << ": snapshot " << a << " program " << b;
  }
  EXPECT_GE(stat_or_fail(s, "jemalloc_allocated_bytes"), n * k);
  EXPECT_EQ(stat_or_fail(s, "allocator_inuse_bytes"), s.stats.at("jemalloc_allocated_bytes"));
  EXPECT_EQ(stat_or_fail(s, "allocator_held_bytes"), s.stats.at("jemalloc_resident_bytes"));
  EXPECT_EQ(stat_or_fail(s, "allocator_free_held_bytes"),
            s.stats.at("jemalloc_resident_bytes") - s.stats.at("jemalloc_allocated_bytes"));
  EXPECT_EQ(s.stats.count("glibc_arena_bytes"), 0u);
  expect_rss_split(s, n * k);
}

TEST(Memory, TcmallocPreloadedReportsTcmallocsProperties) {
  const uint64_t n = 2000, k = 3000;
  ProgRun r = run_prog("mem_tc", {HS_PROG_MEMORY, "blocks", std::to_string(n), std::to_string(k)}, HS_TCMALLOC_SO);
  const Snapshot& s = r.snap;
  EXPECT_EQ(s.meta.at("allocator"), "tcmalloc");
  EXPECT_NE(find_site(s, n * k, n), nullptr);
  for (const char* name : {"tcmalloc_current_allocated_bytes", "tcmalloc_heap_size_bytes",
                           "tcmalloc_pageheap_free_bytes", "tcmalloc_pageheap_unmapped_bytes"}) {
    uint64_t a = stat_or_fail(s, name), b = r.prog.at(name);
    EXPECT_LE(std::max(a, b) - std::min(a, b), 1u << 20) << name << ": snapshot " << a << " program " << b;
  }
  EXPECT_EQ(stat_or_fail(s, "allocator_held_bytes"),
            s.stats.at("tcmalloc_heap_size_bytes") - s.stats.at("tcmalloc_pageheap_unmapped_bytes"));
  expect_rss_split(s, n * k);
}

// Paired runs, 0 and 8 threads that each touch 256 KiB of stack (heapscope's
// own helper thread started in both): the second finds exactly 8 more stacks, holding at least the 8 * 256 KiB touched and
// not more than 64 KiB more each (the thread's TLS and descriptor, the frames).
TEST(Memory, ThreadStacksAreCountedWithTheirResidentBytes) {
  const uint64_t t = 8, kib = 256;
  ProgRun none = run_prog("mem_st0", {HS_PROG_MEMORY, "threads", "0", std::to_string(kib)}, "",
                     {"HEAPSCOPE_THREAD=always"});
  ProgRun some = run_prog("mem_st8", {HS_PROG_MEMORY, "threads", std::to_string(t), std::to_string(kib)}, "",
                     {"HEAPSCOPE_THREAD=always"});
  uint64_t n0 = stat_or_fail(none.snap, "thread_stacks"), n8 = stat_or_fail(some.snap, "thread_stacks");
  EXPECT_EQ(n0, 2u);  // the main thread's [stack] and heapscope's helper thread
  EXPECT_EQ(n8 - n0, t);
  uint64_t b0 = stat_or_fail(none.snap, "thread_stack_bytes"), b8 = stat_or_fail(some.snap, "thread_stack_bytes");
  EXPECT_GE(b8 - b0, t * kib * 1024);
  EXPECT_LE(b8 - b0, t * (kib + 64) * 1024);
  EXPECT_LE(b8, stat_or_fail(some.snap, "rss_anon_bytes"));
}

// A snapshot written inside the signal handler (no helper thread) must not ask
// the allocator (mallinfo2 takes the arena lock): its figures are absent, not
// wrong; the kernel's figures are read there safely.
TEST(Memory, SignalHandlerSnapshotLeavesAllocatorFiguresOut) {
  std::string dir = make_temp_dir("mem_sig");
  RunResult r = run({HS_PROG_SNAP_MOMENT, "probe8"},
                    {"LD_PRELOAD=" + kLib, "HEAPSCOPE_OUT=" + dir + "/snap", "HEAPSCOPE_THREAD=auto"}, dir);
  ASSERT_TRUE(r.exited(0)) << r.err;
  std::vector<std::string> snaps;
  for (auto& f : list_dir(dir))
    if (f.find(".exit.") == std::string::npos && f.size() > 6 && f.substr(f.size() - 6) == ".hsnap") snaps.push_back(f);
  ASSERT_EQ(snaps.size(), 1u);
  Snapshot s;
  ASSERT_EQ(parse(dir + "/" + snaps[0], &s), "");
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_SIGNAL);
  EXPECT_EQ(s.stats.count("allocator_held_bytes"), 0u);
  EXPECT_EQ(s.stats.count("glibc_arena_bytes"), 0u);
  EXPECT_EQ(s.stats.at("allocator_inuse_bytes"), 0u);
  expect_rss_split(s, 0);
  EXPECT_EQ(stat_or_fail(s, "thread_stacks"), 1u);
}
