// unit_test.cpp -- GoogleTest of heapscope_core linked directly (no preloading):
// live table, stack table, sampler, snapshot writer, options, log formatting.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "cfi_unwind.h"
#include "channel.h"
#include "config.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <algorithm>
#include "control.h"
#include "counters.h"
#include "hsnap_parse.h"
#include "live_table.h"
#include "log.h"
#include "record.h"
#include "run_util.h"
#include "sampler.h"
#include "snapshot_writer.h"
#include "stack_table.h"

using namespace hs;

// ---- live table ---------------------------------------------------------------------

TEST(LiveTable, InsertEraseGrowWithExactCounts) {
  static LiveTable t;  // 256 shards: static, like the real one
  ASSERT_TRUE(t.init(false));
  LiveInfo old;
  const uintptr_t base = 0x10000000;
  const int N = 200000;  // forces every shard to grow several times
  for (int i = 0; i < N; ++i) ASSERT_EQ(t.insert(base + (uintptr_t)i * 16, (uint64_t)i + 1, (uint32_t)(i % 1000), &old), 1);
  EXPECT_EQ(t.entries(), (uint64_t)N);
  // Re-inserting a live address replaces it and reports the old entry.
  ASSERT_EQ(t.insert(base, 999, 7, &old), 2);
  EXPECT_EQ(old.size, 1u);
  EXPECT_EQ(old.ref, 0u);
  EXPECT_EQ(t.entries(), (uint64_t)N);
  LiveInfo info;
  for (int i = 1; i < N; i += 2) {
    ASSERT_TRUE(t.erase(base + (uintptr_t)i * 16, &info)) << i;
    ASSERT_EQ(info.size, (uint64_t)i + 1);
    ASSERT_EQ(info.ref, (uint32_t)(i % 1000));
  }
  EXPECT_EQ(t.entries(), (uint64_t)N / 2);
  EXPECT_FALSE(t.erase(base + 16, &info));       // erased already
  EXPECT_FALSE(t.erase(0xdead0000, &info));      // never seen
  // Every remaining entry is still found after the backward-shift deletions.
  for (int i = 2; i < N; i += 2) {
    ASSERT_TRUE(t.erase(base + (uintptr_t)i * 16, &info)) << i;
    ASSERT_EQ(info.size, (uint64_t)i + 1);
  }
  ASSERT_TRUE(t.erase(base, &info));
  EXPECT_EQ(info.size, 999u);
  EXPECT_EQ(t.entries(), 0u);
}

TEST(LiveTable, CollidingAddressesInOneShard) {
  static LiveTable t;
  ASSERT_TRUE(t.init(false));
  // Pick addresses that all land in shard 0 with the same home slot bits, so
  // they form one long probe run; then delete from the middle of the run.
  std::vector<uintptr_t> same;
  for (uintptr_t a = 0x1000; same.size() < 40; a += 16) {
    uint64_t h = hash_addr(a);
    if ((h & 255) == 0 && ((h >> 8) & 255) == 0) same.push_back(a);
  }
  LiveInfo old, info;
  for (size_t i = 0; i < same.size(); ++i) ASSERT_EQ(t.insert(same[i], i + 100, (uint32_t)i, &old), 1);
  for (size_t i = 0; i < same.size(); i += 3) ASSERT_TRUE(t.erase(same[i], &info));
  for (size_t i = 0; i < same.size(); ++i) {
    bool found = t.erase(same[i], &info);
    EXPECT_EQ(found, i % 3 != 0) << i;
    if (found) EXPECT_EQ(info.size, i + 100);
  }
  EXPECT_EQ(t.entries(), 0u);
}

TEST(LiveTable, SampledFilterSkipsUntrackedFrees) {
  static LiveTable t;
  ASSERT_TRUE(t.init(true));
  LiveInfo old, info;
  EXPECT_FALSE(t.erase(0x5000, &info));
  ASSERT_EQ(t.insert(0x5000, 10, 1, &old), 1);
  ASSERT_TRUE(t.erase(0x5000, &info));
  EXPECT_FALSE(t.erase(0x5000, &info));
}

TEST(LiveTable, ConcurrentInsertErase) {
  static LiveTable t;
  ASSERT_TRUE(t.init(false));
  std::vector<std::thread> th;
  std::atomic<int> bad{0};
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&, k] {
      LiveInfo old, info;
      for (int round = 0; round < 5; ++round) {
        for (uintptr_t i = 1; i <= 20000; ++i) t.insert(((uintptr_t)k << 40) + i * 32, i, 0, &old);
        for (uintptr_t i = 1; i <= 20000; ++i)
          if (!t.erase(((uintptr_t)k << 40) + i * 32, &info) || info.size != i) bad.fetch_add(1);
      }
    });
  for (auto& x : th) x.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(t.entries(), 0u);
}

// ---- stack table --------------------------------------------------------------------

TEST(StackTable, DedupAndFull) {
  static StackTable t;
  ASSERT_TRUE(t.init(4, 1 << 20));  // 16 index entries: at most 8 ids (overflow included)
  uintptr_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4};
  StackRec* ra = t.intern(a, 3, 0);
  EXPECT_EQ(t.intern(a, 3, 0), ra);
  StackRec* rb = t.intern(b, 3, 0);
  EXPECT_NE(ra, rb);
  EXPECT_NE(t.intern(a, 2, 0), ra);                   // a prefix is another stack
  EXPECT_NE(t.intern(a, 3, HS_STACK_TRUNCATED), ra);  // so is a truncated one
  EXPECT_EQ(ra->depth, 3);
  EXPECT_EQ(ra->pcs()[2], 3u);
  EXPECT_EQ(t.from_ref(t.ref_of(rb)), rb);
  uint64_t full_before = g_counters.stack_table_full.load();
  std::set<StackRec*> seen;
  for (uintptr_t i = 100; i < 120; ++i) seen.insert(t.intern(&i, 1, 0));
  EXPECT_TRUE(seen.count(t.overflow()));
  EXPECT_GT(g_counters.stack_table_full.load(), full_before);
  EXPECT_EQ(t.overflow()->flags, HS_STACK_OVERFLOW);
  EXPECT_EQ(t.overflow()->depth, 0);
}

TEST(StackTable, ConcurrentInsertsAgree) {
  static StackTable t;
  ASSERT_TRUE(t.init(14, 1 << 24));
  const int kStacks = 300;
  std::vector<std::vector<StackRec*>> got(4, std::vector<StackRec*>(kStacks));
  std::vector<std::thread> th;
  for (int k = 0; k < 4; ++k)
    th.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round)
        for (int s = 0; s < kStacks; ++s) {
          int i = (s * 7 + k * 13) % kStacks;
          uintptr_t pcs[5] = {0x400000u + (uintptr_t)i, 0x500000, 0x600000u + (uintptr_t)(i % 10), 0x700000, 0x800000};
          StackRec* r = t.intern(pcs, 5, 0);
          if (round == 0) got[k][i] = r;
          else if (got[k][i] != r) got[k][i] = nullptr;
        }
    });
  for (auto& x : th) x.join();
  std::set<StackRec*> distinct;
  for (int s = 0; s < kStacks; ++s) {
    for (int k = 1; k < 4; ++k) ASSERT_EQ(got[k][s], got[0][s]) << s;
    distinct.insert(got[0][s]);
  }
  EXPECT_EQ(distinct.size(), (size_t)kStacks);
  // Enumeration by id finds each published stack exactly once (plus the overflow slot).
  std::set<StackRec*> listed;
  for (uint32_t id = 0; id < t.ids_issued(); ++id)
    if (StackRec* r = t.by_id(id)) EXPECT_TRUE(listed.insert(r).second);
  EXPECT_EQ(listed.size(), (size_t)kStacks + 1);
}

// ---- sampler ------------------------------------------------------------------------

TEST(Sampler, DrawMeanIsThePeriod) {
  ThreadState t{};
  const uint64_t period = 512 * 1024;
  const int N = 200000;
  double sum = 0;
  for (int i = 0; i < N; ++i) sum += (double)sampler_draw(t, period);
  double mean = sum / N;
  EXPECT_NEAR(mean / period, 1.0, 0.01);  // std error of the mean is 1/sqrt(N) = 0.22%
}

TEST(Sampler, EstimatesAreUnbiased) {
  const uint64_t period = 64 * 1024;
  for (uint64_t size : {16ull, 1000ull, 64ull * 1024, 1ull << 20}) {
    ThreadState t{};
    const uint64_t n = (64ull << 20) / size + 20000;  // enough bytes for many samples
    uint64_t est_bytes = 0, est_count_fp = 0, sampled = 0;
    for (uint64_t i = 0; i < n; ++i)
      if (sampler_take(t, size, period)) {
        SampleWeight w = sample_weight(size, period);
        est_bytes += w.bytes;
        est_count_fp += w.count_fp;
        ++sampled;
      }
    double true_bytes = (double)size * (double)n;
    double est_count = (double)est_count_fp / (1 << kCountFpShift);
    // Relative error shrinks as 1/sqrt(samples); 5 sigma.
    double tol = 5.0 / std::sqrt((double)std::max<uint64_t>(sampled, 1)) + 0.002;
    EXPECT_NEAR((double)est_bytes / true_bytes, 1.0, tol) << "size " << size << " samples " << sampled;
    EXPECT_NEAR(est_count / (double)n, 1.0, tol) << "size " << size;
  }
}

TEST(Sampler, WeightIsDeterministicAndExactForHugeBlocks) {
  SampleWeight a = sample_weight(1000, 65536), b = sample_weight(1000, 65536);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.count_fp, b.count_fp);
  SampleWeight big = sample_weight(100u << 20, 65536);  // p = 1
  EXPECT_EQ(big.bytes, 100u << 20);
  EXPECT_EQ(big.count_fp, 1u << kCountFpShift);
  SampleWeight full = sample_weight(123, 0);
  EXPECT_EQ(full.bytes, 123u);
}

// ---- snapshot writer ---------------------------------------------------------------

namespace {
struct Books {
  Books() {
    static bool once = [] {
      g_cfg = Config();
      EXPECT_TRUE(record_init());
      g_run_state.store(kActive);
      writer_set_start_time();
      return true;
    }();
    (void)once;
  }
};

__attribute__((noinline)) void record_here(void* p, size_t n) {
  record_alloc(p, n, (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_frame_address(0));
  asm volatile("");
}
}  // namespace

TEST(SnapshotWriter, RoundTripsThroughTheFormat) {
  Books books;
  std::string dir = hstest::make_temp_dir("unit-writer");
  Totals before = current_totals();
  for (uintptr_t i = 0; i < 10; ++i) record_here((void*)(0x7000000 + i * 64), 100 + i);
  record_here((void*)0x7100000, 5000);
  record_free((void*)0x7100000);
  Totals t = current_totals();
  EXPECT_EQ(t.inuse_count - before.inuse_count, 10u);
  EXPECT_EQ(t.inuse_bytes - before.inuse_bytes, 1045u);
  EXPECT_EQ(t.alloc_count - before.alloc_count, 11u);
  EXPECT_EQ(t.alloc_bytes - before.alloc_bytes, 6045u);

  std::string path = dir + "/one.hsnap";
  ASSERT_EQ(write_snapshot_to(path.c_str(), HS_TRIGGER_API, 7), 0);
  hstest::Snapshot s;
  ASSERT_EQ(hstest::parse(path, &s), "");
  EXPECT_EQ(s.header.version, HS_VERSION);
  EXPECT_EQ(s.header.pid, (uint64_t)getpid());
  EXPECT_EQ(s.header.seq, 7u);
  EXPECT_EQ(s.header.trigger, (uint32_t)HS_TRIGGER_API);
  EXPECT_EQ(s.header.mode, (uint32_t)HS_MODE_FULL);
  EXPECT_EQ(s.totals.inuse_bytes, t.inuse_bytes);
  EXPECT_EQ(s.totals.inuse_count, t.inuse_count);
  EXPECT_EQ(s.totals.free_count, t.alloc_count - t.inuse_count);
  HsTotals sum = hstest::sum_sites(s);
  EXPECT_EQ(sum.inuse_bytes, s.totals.inuse_bytes);
  EXPECT_EQ(sum.alloc_count, s.totals.alloc_count);
  std::vector<uint32_t> order = {HS_SEC_META,  HS_SEC_TOTALS, HS_SEC_STATS,   HS_SEC_MODULES, HS_SEC_CHAIN,
                                 HS_SEC_FRAMES, HS_SEC_STACKS2, HS_SEC_SITES2, HS_SEC_END};
  EXPECT_EQ(s.section_order, order);
  for (const char* k : {"cmdline", "exe", "allocator", "unwinder", "heapscope_version", "hostname"})
    EXPECT_EQ(s.meta.count(k), 1u) << k;
  EXPECT_NE(s.meta["cmdline"].find("profiler_unit_test"), std::string::npos);
  // 16, rss_anon/file/shmem, thread_stack_bytes, thread_stacks (the allocator is not asked here),
  // and peak_inuse_bytes, peak_uptime_ns, peak_unix_ns, peak_snapshots, peak_snapshot_inuse_bytes,
  // mem_limit_bytes, mem_limit_kind, mem_usage_bytes, oom_snapshots
  EXPECT_EQ(s.stats.size(), 30u);
  EXPECT_GT(s.stats["self_memory_bytes"], 0u);
  EXPECT_EQ(s.stats["stacks"], s.sites.size());
  EXPECT_EQ(s.chain_files, 1);  // a file written to a new directory is self-contained
  EXPECT_EQ(s.chain.base_seq, 0u);
  // All 10 live blocks come from one call site in this test: one site, 10 blocks.
  bool site = false;
  for (const HsSite& x : s.sites) site |= x.inuse_count == 10 && x.inuse_bytes == 1045 && x.alloc_count == 10;
  EXPECT_TRUE(site);
  // The module list holds this executable, with a build-id, and libc.
  bool main_mod = false, libc = false;
  for (auto& m : s.modules) {
    if (m.rec.flags & HS_MODULE_MAIN) main_mod = !m.build_id.empty() && !m.ranges.empty();
    libc |= m.path.find("libc.so") != std::string::npos;
  }
  EXPECT_TRUE(main_mod);
  EXPECT_TRUE(libc);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(stat((path + ".tmp").c_str(), &st), 0);  // no temporary left behind
  for (uintptr_t i = 0; i < 10; ++i) record_free((void*)(0x7000000 + i * 64));
}

namespace {
// A block allocated d frames below the caller: one distinct stack per depth.
__attribute__((noinline)) void record_deep(int d, void* p, size_t n) {
  if (d == 0) {
    record_alloc(p, n, (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_frame_address(0));
  } else {
    record_deep(d - 1, p, n);
  }
  asm volatile("" ::: "memory");  // not a tail call: one frame per level
}
void* chain_block(int step, int i) { return (void*)(uintptr_t)(0x9000000 + step * 0x1000 + i * 64); }

// Sites as the tests compare them: stack frames and figures, in stack order.
std::vector<std::pair<std::vector<uint64_t>, std::vector<uint64_t>>> site_list(const hstest::Snapshot& s) {
  std::vector<std::pair<std::vector<uint64_t>, std::vector<uint64_t>>> out;
  for (const HsSite& x : s.sites)
    out.push_back({s.stacks.at(x.stack), {x.inuse_bytes, x.inuse_count, x.alloc_bytes, x.alloc_count,
                                          x.sampled_inuse_count, x.sampled_alloc_count}});
  return out;
}
}  // namespace

// A periodic series: each file after the first names its predecessor, holds
// only what changed, and reads back exactly as a self-contained snapshot
// taken at the same moment (here: the exit-trigger file written right after
// it, with nothing recorded in between).
TEST(SnapshotWriter, ChainedSeriesReadsBackAsSelfContained) {
  Books books;
  std::string dir = hstest::make_temp_dir("unit-chain");
  std::vector<std::string> series;
  const int steps = 6;
  for (int step = 1; step <= steps; ++step) {
    for (int i = 0; i < 4; ++i) record_deep(step * 4 + i, chain_block(step, i), 16 * (step + i));  // new stacks
    if (step >= 2) record_deep(4, chain_block(step, 9), 1000);  // an old stack grows
    if (step >= 3) record_free(chain_block(step - 2, 0));       // an old site shrinks
    char name[4200];
    snprintf(name, sizeof name, "%s/p.%d.%04d.hsnap", dir.c_str(), (int)getpid(), 100 + step);
    ASSERT_EQ(write_snapshot_to(name, HS_TRIGGER_INTERVAL, 100 + step), 0);
    std::string ref = dir + "/ref." + std::to_string(step) + ".hsnap";
    ASSERT_EQ(write_snapshot_to(ref.c_str(), HS_TRIGGER_EXIT, 0), 0);
    series.push_back(name);
    hstest::Snapshot c, r;
    ASSERT_EQ(hstest::parse(name, &c), "");
    ASSERT_EQ(hstest::parse(ref, &r), "");
    EXPECT_EQ(c.chain_files, step) << name;
    EXPECT_EQ(r.chain_files, 1);
    EXPECT_EQ(c.chain.base_seq, step == 1 ? 0u : (uint64_t)(100 + step - 1));
    if (step > 1) EXPECT_EQ(c.base_name, series[step - 2].substr(dir.size() + 1));
    EXPECT_EQ(site_list(c), site_list(r)) << "step " << step;
    EXPECT_EQ(c.totals.inuse_bytes, r.totals.inuse_bytes);
    EXPECT_EQ(c.totals.alloc_count, r.totals.alloc_count);
    EXPECT_EQ(hstest::sum_sites(c).alloc_bytes, c.totals.alloc_bytes);
    if (step > 1) EXPECT_LT(c.file_size, r.file_size) << "a chained file holds only what changed";
  }
  // Only the sites that changed are in a chained file: step 6 changed 4 new
  // stacks, the growing stack and the shrinking one (6 sites).
  hstest::Snapshot last;
  ASSERT_EQ(hstest::parse(series.back(), &last), "");
  HsRun run;
  memcpy(&run, last.raw[HS_SEC_SITES2].data(), sizeof run);
  EXPECT_EQ(run.count, 6u);
  memcpy(&run, last.raw[HS_SEC_STACKS2].data(), sizeof run);
  EXPECT_EQ(run.count, 4u);
  // The predecessor missing: an error that names it.
  ASSERT_EQ(unlink(series[2].c_str()), 0);
  hstest::Snapshot broken;
  std::string e = hstest::parse(series.back(), &broken);
  EXPECT_NE(e.find(series[2]), std::string::npos) << e;
  // The writer notices the lost predecessor and starts a new chain.
  record_deep(3, chain_block(7, 0), 8);
  char name[4200];
  snprintf(name, sizeof name, "%s/p.%d.%04d.hsnap", dir.c_str(), (int)getpid(), 107);
  ASSERT_EQ(unlink(series.back().c_str()), 0);
  ASSERT_EQ(write_snapshot_to(name, HS_TRIGGER_INTERVAL, 107), 0);
  hstest::Snapshot fresh;
  ASSERT_EQ(hstest::parse(name, &fresh), "");
  EXPECT_EQ(fresh.chain_files, 1);
  for (int step = 1; step <= 7; ++step)
    for (int i : {0, 1, 2, 3, 9}) record_free(chain_block(step, i));
}

TEST(SnapshotWriter, DoesNotFollowAPlantedSymlink) {
  Books books;
  std::string dir = hstest::make_temp_dir("unit-symlink");
  std::string victim = dir + "/victim.txt";
  { std::ofstream(victim) << "keep me"; }
  std::string path = dir + "/snap.hsnap";
  ASSERT_EQ(symlink(victim.c_str(), (path + ".tmp").c_str()), 0);
  // The planted temporary name is skipped (another temporary is used), not followed.
  EXPECT_EQ(write_snapshot_to(path.c_str(), HS_TRIGGER_API, 1), 0);
  std::string content;
  ASSERT_TRUE(hstest::read_file(victim, &content));
  EXPECT_EQ(content, "keep me");
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(lstat((path + ".tmp").c_str(), &st), 0);     // the planted link is not ours to delete
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_NE(lstat((path + ".tmp.1").c_str(), &st), 0);   // our temporary is gone
  // A file (here a symlink) at a SEQ file's final name is neither replaced nor followed.
  std::string path2 = dir + "/snap2.hsnap";
  ASSERT_EQ(symlink(victim.c_str(), path2.c_str()), 0);
  EXPECT_EQ(write_snapshot_to(path2.c_str(), HS_TRIGGER_API, 2), EEXIST);
  ASSERT_TRUE(hstest::read_file(victim, &content));
  EXPECT_EQ(content, "keep me");
  ASSERT_EQ(lstat(path2.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_NE(lstat((path2 + ".tmp").c_str(), &st), 0);
  // The exit file's name is fixed by the contract: it replaces (never follows) what is there.
  ASSERT_EQ(write_snapshot_to(path2.c_str(), HS_TRIGGER_EXIT, 0), 0);
  ASSERT_TRUE(hstest::read_file(victim, &content));
  EXPECT_EQ(content, "keep me");
  ASSERT_EQ(lstat(path2.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(SnapshotWriter, UnwritableDirectoryReportsOnceAndLeavesNothing) {
  Books books;
  std::string dir = hstest::make_temp_dir("unit-unwritable");
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "%s/missing/x", dir.c_str());
  std::string errfile = dir + "/stderr.txt";
  fflush(stderr);
  int saved = dup(2);
  int fd = open(errfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  char path[4096];
  errno = 0;
  int rc1 = write_snapshot(HS_TRIGGER_API, path, sizeof path);
  int e1 = errno;
  int rc2 = write_snapshot(HS_TRIGGER_API, path, sizeof path);
  dup2(saved, 2);
  close(saved);
  close(fd);
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "./heapscope");
  EXPECT_EQ(rc1, -1);
  EXPECT_EQ(e1, ENOENT);
  EXPECT_EQ(rc2, -1);
  std::string err;
  ASSERT_TRUE(hstest::read_file(errfile, &err));
  EXPECT_EQ(hstest::count_substr(err, "heapscope: cannot write snapshot "), 1) << err;
  EXPECT_NE(err.find(dir + "/missing/x."), std::string::npos) << err;
  EXPECT_EQ(hstest::list_dir(dir).size(), 1u);  // only stderr.txt
}

TEST(SnapshotWriter, SequenceNumbersIncreaseAndNamesFollowTheContract) {
  Books books;
  std::string dir = hstest::make_temp_dir("unit-seq");
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "%s/p", dir.c_str());
  char a[4096], b[4096], x[4096];
  ASSERT_EQ(write_snapshot(HS_TRIGGER_API, a, sizeof a), 0);
  ASSERT_EQ(write_snapshot(HS_TRIGGER_SIGNAL, b, sizeof b), 0);
  ASSERT_EQ(write_snapshot(HS_TRIGGER_EXIT, x, sizeof x), 0);
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "./heapscope");
  hstest::Snapshot sa, sb, sx;
  ASSERT_EQ(hstest::parse(a, &sa), "");
  ASSERT_EQ(hstest::parse(b, &sb), "");
  ASSERT_EQ(hstest::parse(x, &sx), "");
  EXPECT_GT(sb.header.seq, sa.header.seq);
  char want[4200];
  snprintf(want, sizeof want, "%s/p.%d.%04llu.hsnap", dir.c_str(), (int)getpid(), (unsigned long long)sa.header.seq);
  EXPECT_STREQ(a, want);
  snprintf(want, sizeof want, "%s/p.%d.exit.hsnap", dir.c_str(), (int)getpid());
  EXPECT_STREQ(x, want);
  EXPECT_EQ(sx.header.seq, 0u);
  EXPECT_EQ(sx.header.trigger, (uint32_t)HS_TRIGGER_EXIT);
  // A path buffer too small for the path: -1/ERANGE and no file written.
  char tiny[8];
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "%s/q", dir.c_str());
  errno = 0;
  EXPECT_EQ(write_snapshot(HS_TRIGGER_API, tiny, sizeof tiny), -1);
  EXPECT_EQ(errno, ERANGE);
  snprintf(g_cfg.out_prefix, sizeof g_cfg.out_prefix, "./heapscope");
  for (const std::string& n : hstest::list_dir(dir)) EXPECT_NE(n[0], 'q') << n;
}

// ---- the cfi unwinder, cross-checked against libunwind ------------------------------

namespace {
struct Walks {
  std::vector<uintptr_t> cfi, unw;
  int cfi_n = -2;
};
__attribute__((noinline)) void walk_here(Walks* w) {
  // As a hook does: our own frame address; fp[1] is the return address into the caller.
  const uintptr_t* fp = (const uintptr_t*)__builtin_frame_address(0);
  uintptr_t buf[256];
  bool more = false;
  ThreadState ts{};
  w->cfi_n = cfi_walk(fp, buf, 256, &more, ts);
  if (w->cfi_n > 0) w->cfi.assign(buf, buf + w->cfi_n);
  void* ub[256];
  int n = unw_backtrace(ub, 256);
  for (int i = 0; i < n; ++i) w->unw.push_back((uintptr_t)ub[i]);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) int recurse(int d, Walks* w, char* scratch) {
  char local[64 + 16 * (d % 5)];  // frames of different sizes
  local[0] = (char)d;
  if (d == 0) {
    walk_here(w);
    return local[0] + scratch[0];
  }
  int r = recurse(d - 1, w, local) + 1;
  asm volatile("" ::"r"(local) : "memory");
  return r;
}
}  // namespace

TEST(CfiUnwind, MatchesLibunwind) {
  ASSERT_TRUE(cfi_init());
  for (int depth : {0, 3, 17, 40}) {
    Walks w;
    char s[1] = {0};
    recurse(depth, &w, s);
    ASSERT_GT(w.cfi_n, 0) << "depth " << depth;
    // libunwind's list starts inside walk_here; ours at its caller.
    auto at = std::find(w.unw.begin(), w.unw.end(), w.cfi[0]);
    ASSERT_NE(at, w.unw.end());
    std::vector<uintptr_t> tail(at, w.unw.end());
    EXPECT_EQ(w.cfi, tail) << "depth " << depth;
  }
}

TEST(CfiUnwind, ThreadsAndTruncation) {
  std::thread([] {
    Walks w;
    char s[1] = {0};
    recurse(10, &w, s);
    ASSERT_GT(w.cfi_n, 0);
    auto at = std::find(w.unw.begin(), w.unw.end(), w.cfi[0]);
    ASSERT_NE(at, w.unw.end());
    EXPECT_EQ(w.cfi, std::vector<uintptr_t>(at, w.unw.end()));
  }).join();
  uintptr_t buf[4];
  bool more = false;
  ThreadState ts{};
  EXPECT_EQ(cfi_walk((const uintptr_t*)__builtin_frame_address(0), buf, 4, &more, ts) , 1 > 0 ? 4 : 0);
  EXPECT_TRUE(more);
}

// ---- options and log ---------------------------------------------------------------

namespace {
std::map<std::string, std::string> g_env;
const char* fake_getenv(const char* k) {
  auto it = g_env.find(k);
  return it == g_env.end() ? nullptr : it->second.c_str();
}
}  // namespace

TEST(Options, ParsesEveryVariable) {
  g_env = {{"HEAPSCOPE_OUT", "/tmp/x/y"}, {"HEAPSCOPE_INTERVAL", "0.25"}, {"HEAPSCOPE_SIGNAL", "SIGUSR1"},
           {"HEAPSCOPE_SAMPLE", "512K"},  {"HEAPSCOPE_AT_EXIT", "0"},     {"HEAPSCOPE_STATS", "2"},
           {"HEAPSCOPE_ALERT", "100M"},   {"HEAPSCOPE_DEPTH", "128"},     {"HEAPSCOPE_UNWIND", "fp"},
           {"HEAPSCOPE_THREAD", "always"}};
  Config c;
  EXPECT_EQ(parse_config(&c, fake_getenv), 0);
  EXPECT_STREQ(c.out_prefix, "/tmp/x/y");
  EXPECT_EQ(c.interval_ms, 250u);
  EXPECT_EQ(c.signal, SIGUSR1);
  EXPECT_EQ(c.sample_period, 512u * 1024);
  EXPECT_FALSE(c.at_exit);
  EXPECT_EQ(c.stats_ms, 2000u);
  EXPECT_EQ(c.alert_bytes, 100u << 20);
  EXPECT_EQ(c.depth, 128u);
  EXPECT_EQ(c.unwinder, Unwinder::fp);
  EXPECT_TRUE(c.thread_always);
  Config d;
  g_env = {};
  EXPECT_EQ(parse_config(&d, fake_getenv), 0);
  EXPECT_STREQ(d.out_prefix, "./heapscope");
  EXPECT_EQ(d.signal, SIGUSR2);
  EXPECT_TRUE(d.at_exit);
  EXPECT_EQ(d.depth, 64u);
  EXPECT_FALSE(d.thread_always);
}

TEST(Options, InvalidValuesKeepDefaults) {
  g_env = {{"HEAPSCOPE_INTERVAL", "-1"}, {"HEAPSCOPE_SIGNAL", "SIGKILL"}, {"HEAPSCOPE_SAMPLE", "lots"},
           {"HEAPSCOPE_DEPTH", "100000"}, {"HEAPSCOPE_AT_EXIT", "maybe"}, {"HEAPSCOPE_UNWIND", "magic"},
           {"HEAPSCOPE_THREAD", "lazy"}};
  Config c;
  EXPECT_EQ(parse_config(&c, fake_getenv), 7);
  EXPECT_EQ(c.interval_ms, 0u);
  EXPECT_EQ(c.signal, SIGUSR2);
  EXPECT_EQ(c.sample_period, 0u);
  EXPECT_EQ(c.depth, 64u);
  EXPECT_TRUE(c.at_exit);
  EXPECT_EQ(c.unwinder, Unwinder::cfi);
  EXPECT_FALSE(c.thread_always);
}

TEST(Options, SignalNames) {
  EXPECT_EQ(parse_signal("none"), 0);
  EXPECT_EQ(parse_signal("USR2"), SIGUSR2);
  EXPECT_EQ(parse_signal("SIGHUP"), SIGHUP);
  EXPECT_EQ(parse_signal("10"), 10);
  EXPECT_EQ(parse_signal("SIGRTMIN+2"), SIGRTMIN + 2);
  EXPECT_EQ(parse_signal("9"), -1);
  EXPECT_EQ(parse_signal("SIGNOPE"), -1);
  // Case-insensitive, with or without SIG.
  EXPECT_EQ(parse_signal("usr1"), SIGUSR1);
  EXPECT_EQ(parse_signal("SIGUSR1"), SIGUSR1);
  EXPECT_EQ(parse_signal("Usr2"), SIGUSR2);
  EXPECT_EQ(parse_signal("sigterm"), SIGTERM);
  EXPECT_EQ(parse_signal("None"), 0);
  EXPECT_EQ(parse_signal("rtmin+3"), SIGRTMIN + 3);
  EXPECT_EQ(parse_signal("RTMIN"), SIGRTMIN);
  EXPECT_EQ(parse_signal("SIGRTMIN+"), -1);
  EXPECT_EQ(parse_signal("RTMIN+99"), -1);
  EXPECT_EQ(parse_signal(std::to_string(SIGRTMAX).c_str()), SIGRTMAX);
  // Uncatchable, zero, out of range, glibc-internal: rejected.
  for (const char* bad : {"KILL", "sigkill", "SIGSTOP", "stop", "19", "0", "65", "1001", "32", "", "SIG", "USR1x"})
    EXPECT_EQ(parse_signal(bad), -1) << bad;
}

TEST(Log, FormatsWithoutAllocating) {
  char buf[64];
  EXPECT_EQ(format(buf, sizeof buf, "a%sb%dc%uz%04lu%x%%", "X", -5, 7u, 42ul, 255u), 15u);
  EXPECT_STREQ(buf, "aXb-5c7z0042ff%");
  format(buf, 6, "%s", "truncated");
  EXPECT_STREQ(buf, "trunc");
  format(buf, sizeof buf, "%p", (void*)0x1234);
  EXPECT_STREQ(buf, "0x1234");
}

// The control channel's reply to one request line (profiler/src/channel.h):
// exactly one line, `ok` only for `HEAPSCOPE/1 snapshot`, which runs the
// request; a clear `err` for everything else, without running it.
namespace {
int g_channel_calls = 0;
bool channel_ok(char* out, size_t n) {
  ++g_channel_calls;
  hs::format(out, n, "/tmp/p.1.0001.hsnap");
  return true;
}
bool channel_fails(char* out, size_t n) {
  ++g_channel_calls;
  hs::format(out, n, "writing the snapshot under /x failed: No space left on device (errno 28)");
  return false;
}
std::string reply_to(const std::string& line, hs::ChannelSnapshotFn fn = channel_ok) {
  char out[512];
  size_t n = hs::channel_reply(line.data(), line.size(), out, sizeof out, fn);
  return std::string(out, n);
}
}  // namespace

TEST(Channel, RepliesOneLineToEachRequest) {
  g_channel_calls = 0;
  EXPECT_EQ(reply_to("HEAPSCOPE/1 snapshot"), "ok /tmp/p.1.0001.hsnap\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/1 snapshot\r"), "ok /tmp/p.1.0001.hsnap\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/1 snapshot", channel_fails),
            "err writing the snapshot under /x failed: No space left on device (errno 28)\n");
  EXPECT_EQ(g_channel_calls, 3);
  EXPECT_EQ(reply_to("HEAPSCOPE/1 snapshots"), "err unknown command 'snapshots' (expected: snapshot or snapshot-fd)\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/1 "), "err unknown command '' (expected: snapshot or snapshot-fd)\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/10 snapshot"),
            "err unsupported protocol 'HEAPSCOPE/10' (this process speaks HEAPSCOPE/1)\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/1"), "err no command after HEAPSCOPE/1 (expected: snapshot or snapshot-fd)\n");
  EXPECT_EQ(reply_to("heapscope/1 snapshot"),
            "err not a heapscope request 'heapscope/1 snapshot' (expected 'HEAPSCOPE/1 COMMAND')\n");
  EXPECT_EQ(reply_to(std::string("HEAPSCOPE/1 \x1b[2J")), "err unknown command '?[2J' (expected: snapshot or snapshot-fd)\n");
  EXPECT_EQ(reply_to("HEAPSCOPE/1 " + std::string(200, 'a')),
            "err unknown command '" + std::string(40, 'a') + "' (expected: snapshot or snapshot-fd)\n");
  EXPECT_EQ(g_channel_calls, 3);  // none of the bad lines ran a snapshot
}
