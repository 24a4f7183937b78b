// test_peak.cpp -- the peak snapshot (HEAPSCOPE_PEAK) and the memory-limit
// trigger (HEAPSCOPE_OOM) end to end: programs/peak_prog runs with the real
// profiler preloaded; its files are read with the reader and with
// `heapscope report/diff --json`. The limits come from fixture cgroup trees
// in the test's temporary directory (HEAPSCOPE_CGROUP_ROOT/_FILE) and from a
// low RLIMIT_AS set in the child shell (ulimit -v); nothing here touches the
// machine's own cgroups.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"

using nlohmann::json;

namespace {
const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kProg = std::string(HS_TEST_PROGRAMS_DIR) + "/peak_prog";
constexpr uint64_t kMiB = 1 << 20;

std::string env_for(const TempDir& d, const std::string& extra) {
  return "LD_PRELOAD='" + std::string(HS_PROFILER_LIB) + "' HEAPSCOPE_OUT='" + d.path + "/snap' " + extra + " ";
}

std::vector<std::string> files_ending(const std::string& dir, const std::string& tail) {
  std::vector<std::string> v;
  if (DIR* dp = opendir(dir.c_str())) {
    while (dirent* e = readdir(dp)) {
      std::string n = e->d_name;
      if (n.size() > tail.size() && n.compare(n.size() - tail.size(), tail.size(), tail) == 0)
        v.push_back(dir + "/" + n);
    }
    closedir(dp);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// The periodic-series snapshots written by HEAPSCOPE_OOM.
std::vector<heapscope::Profile> oom_snaps(const std::string& dir) {
  std::vector<heapscope::Profile> v;
  for (const std::string& f : files_ending(dir, ".hsnap")) {
    if (f.find(".exit.") != std::string::npos || f.find(".peak.") != std::string::npos) continue;
    heapscope::Profile p = heapscope::read_profile(f);
    if (p.trigger == "oom") v.push_back(std::move(p));
  }
  return v;
}

json hs_json(const std::string& args, const std::string& dir) {
  RunResult r = run_command(kHeapscope + " " + args, dir);
  EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
  return r.status == 0 ? json::parse(r.out) : json();
}

// The site whose origin is `fn` (null json if none).
json site_of(const json& report, const std::string& fn) {
  for (const json& s : report["sites"])
    if (!s["origin"].is_null() && s["origin"]["function"].is_string() &&
        s["origin"]["function"].get<std::string>().find(fn) != std::string::npos)
      return s;
  return json();
}

// At most 1 + ceil(ln(peak / 1 MiB) / ln(1 + f)) peak files (peak.h).
uint64_t peak_file_bound(uint64_t peak, double f) {
  return 1 + (uint64_t)std::ceil(std::log(double(peak) / double(kMiB)) / std::log(1 + f));
}

void write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".new";  // renamed into place: the profiler never reads half a value
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

int count_lines_with(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

bool wait_for(const std::function<bool()>& cond) {
  for (int i = 0; i < 1500; ++i) {  // up to 30 s
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

TEST(Peak, HeldPeakIsInThePeakFileAndGoneAtExit) {
  TempDir d;
  RunResult r = run_command(env_for(d, "") + kProg + " peak", d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  auto peaks = files_ending(d.path, ".peak.hsnap"), exits = files_ending(d.path, ".exit.hsnap");
  ASSERT_EQ(peaks.size(), 1u) << r.err;
  ASSERT_EQ(exits.size(), 1u) << r.err;
  struct stat st;
  ASSERT_EQ(stat(peaks[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(files_ending(d.path, ".tmp").empty());

  heapscope::Profile peak = heapscope::read_profile(peaks[0]), last = heapscope::read_profile(exits[0]);
  EXPECT_EQ(peak.trigger, "peak");
  EXPECT_EQ(peak.seq, 0u);
  // Nothing is allocated after hold_peak's last malloc and nothing but its
  // 300 blocks is freed after it: the high-water mark is exactly what is
  // live at exit plus those 300 MiB.
  EXPECT_EQ(last.stat("peak_inuse_bytes"), last.totals.inuse_bytes + 300 * kMiB);
  EXPECT_EQ(peak.stat("peak_snapshot_inuse_bytes"), peak.totals.inuse_bytes);
  EXPECT_LE(peak.totals.inuse_bytes, last.stat("peak_inuse_bytes"));
  EXPECT_GE(peak.totals.inuse_bytes * 1.05, double(last.stat("peak_inuse_bytes")));
  EXPECT_GT(last.stat("peak_uptime_ns"), 0u);
  EXPECT_LE(last.stat("peak_uptime_ns"), last.uptime_ns);
  EXPECT_LE(last.stat("peak_unix_ns"), last.time_unix_ns);
  EXPECT_GE(last.stat("peak_unix_ns") + 60'000'000'000ull, last.time_unix_ns);
  EXPECT_EQ(last.stat("peak_snapshots"), peak.stat("peak_snapshots"));
  EXPECT_GE(last.stat("peak_snapshots"), 1u);
  EXPECT_LE(last.stat("peak_snapshots"), peak_file_bound(last.stat("peak_inuse_bytes"), 0.05));

  json rep = hs_json("report --json '" + peaks[0] + "'", d.path);
  EXPECT_EQ(rep["trigger"], "peak");
  EXPECT_EQ(rep["peak"]["inuse_bytes"], peak.stat("peak_inuse_bytes"));
  EXPECT_EQ(rep["peak"]["snapshot_inuse_bytes"], peak.totals.inuse_bytes);
  ASSERT_FALSE(rep["sites"].empty());
  const json& top = rep["sites"][0];
  ASSERT_TRUE(top["origin"]["function"].is_string()) << top.dump(1);
  EXPECT_NE(top["origin"]["function"].get<std::string>().find("hold_peak"), std::string::npos) << top.dump(1);
  EXPECT_GE(top["inuse_bytes"].get<uint64_t>(), uint64_t(0.95 * 300 * kMiB));
  EXPECT_EQ(top["inuse_bytes"].get<uint64_t>() % kMiB, 0u);
  json cache = site_of(rep, "keep_cache");
  ASSERT_FALSE(cache.is_null());
  EXPECT_EQ(cache["inuse_bytes"], 64u * 16384u);

  RunResult text = run_command(kHeapscope + " report '" + peaks[0] + "'", d.path);
  EXPECT_NE(text.out.find("the peak: "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(" UTC)"), std::string::npos) << text.out;

  json end = hs_json("report --json '" + exits[0] + "'", d.path);
  EXPECT_EQ(end["trigger"], "exit");
  // At exit hold_peak holds nothing (report lists it only for what it allocated).
  json gone = site_of(end, "hold_peak");
  EXPECT_TRUE(gone.is_null() || gone["inuse_bytes"] == 0) << end.dump(1);
  EXPECT_NE(end["sites"][0]["origin"]["function"].dump().find("keep_cache"), std::string::npos) << end.dump(1);
  EXPECT_EQ(site_of(end, "keep_cache")["inuse_bytes"], 64u * 16384u);

  // What was freed after the peak: hold_peak's blocks, all of them, and nothing of the cache.
  json diff = hs_json("diff --json '" + peaks[0] + "' '" + exits[0] + "'", d.path);
  json freed = site_of(diff, "hold_peak");
  ASSERT_FALSE(freed.is_null()) << diff.dump(1);
  EXPECT_EQ(freed["delta_bytes"].get<int64_t>(), -top["inuse_bytes"].get<int64_t>());
  EXPECT_EQ(freed["inuse_bytes"], 0u);
  EXPECT_EQ(diff["sites"][0]["delta_bytes"], freed["delta_bytes"]);
  EXPECT_TRUE(site_of(diff, "keep_cache").is_null() || site_of(diff, "keep_cache")["delta_bytes"] == 0);
}

TEST(Peak, SampledModeCatchesThePeakFromItsEstimates) {
  TempDir d;
  RunResult r = run_command(env_for(d, "HEAPSCOPE_SAMPLE=256K") + kProg + " peak", d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  auto peaks = files_ending(d.path, ".peak.hsnap");
  ASSERT_EQ(peaks.size(), 1u) << r.err;
  json rep = hs_json("report --json '" + peaks[0] + "'", d.path);
  ASSERT_FALSE(rep["sites"].empty());
  EXPECT_NE(rep["sites"][0]["origin"]["function"].dump().find("hold_peak"), std::string::npos) << rep.dump(1);
  heapscope::Profile last = heapscope::read_profile(files_ending(d.path, ".exit.hsnap").at(0));
  EXPECT_TRUE(last.sampled);
  // An estimate: 1 MiB blocks sampled at a mean of 256 KiB are each kept with
  // probability 1 - e^-4 and weighted back, so 300 MiB is estimated within a few %.
  EXPECT_GT(last.stat("peak_inuse_bytes"), 250 * kMiB);
  EXPECT_LT(last.stat("peak_inuse_bytes"), 350 * kMiB);
}

TEST(Peak, ZeroWritesNoPeakFileButKeepsThePeakFigure) {
  TempDir d;
  RunResult r = run_command(env_for(d, "HEAPSCOPE_PEAK=0") + kProg + " peak", d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(files_ending(d.path, ".peak.hsnap").empty());
  heapscope::Profile last = heapscope::read_profile(files_ending(d.path, ".exit.hsnap").at(0));
  EXPECT_EQ(last.stat("peak_inuse_bytes"), last.totals.inuse_bytes + 300 * kMiB);
  EXPECT_EQ(last.stat("peak_snapshots"), 0u);
  EXPECT_EQ(r.err.find("HEAPSCOPE_PEAK"), std::string::npos) << r.err;
}

TEST(Peak, BadValuesAreNamedWithWhatWasExpected) {
  TempDir d;
  RunResult r = run_command(env_for(d, "HEAPSCOPE_PEAK=lots HEAPSCOPE_OOM=150%") + kProg + " rise 10", d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("heapscope: HEAPSCOPE_PEAK=lots: expected a fraction of growth between peak snapshots "
                       "(e.g. 0.05 or 5%; 0 = off; at most 1000%); using 5%"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("heapscope: HEAPSCOPE_OOM=150%: expected a fraction of the memory limit below 1 "
                       "(e.g. 0.9 or 90%; 0 = off); using 90%"),
            std::string::npos)
      << r.err;
}

TEST(Peak, RisingProgramWritesABoundedNumberOfPeakFiles) {
  for (const auto& [value, f] : std::vector<std::pair<std::string, double>>{{"", 0.05}, {"20%", 0.20}, {"0.2", 0.2}}) {
    TempDir d;
    RunResult r = run_command(env_for(d, value.empty() ? "" : "HEAPSCOPE_PEAK=" + value) + kProg + " rise 10000",
                              d.path);
    ASSERT_EQ(r.status, 0) << r.err;
    heapscope::Profile last = heapscope::read_profile(files_ending(d.path, ".exit.hsnap").at(0));
    heapscope::Profile peak = heapscope::read_profile(files_ending(d.path, ".peak.hsnap").at(0));
    // Nothing freed: the high-water mark is what is live at exit.
    EXPECT_EQ(last.stat("peak_inuse_bytes"), last.totals.inuse_bytes);
    EXPECT_GE(last.totals.inuse_bytes, 10000u * 65536u);
    const uint64_t n = last.stat("peak_snapshots"), bound = peak_file_bound(last.totals.inuse_bytes, f);
    EXPECT_LE(n, bound) << value;
    // Each file at least (1 + f) above the one before, and at most one 64 KiB step more.
    EXPECT_GE(n, uint64_t(std::log(double(last.totals.inuse_bytes) / kMiB) / std::log(1 + f + 0.0625))) << value;
    EXPECT_EQ(peak.stat("peak_snapshots"), n);
    EXPECT_GE(double(peak.totals.inuse_bytes) * (1 + f), double(last.totals.inuse_bytes)) << value;
  }
}

// A cgroup v2 fixture: ROOT/a/b is the process's cgroup ("0::/a/b"); b has
// no limit of its own ("max"), a has memory.max = 1e9 and memory.current,
// rewritten by the test to cross the thresholds.
struct V2Fixture {
  TempDir d;
  std::string root = d.path + "/cg", current = root + "/a/memory.current";
  explicit V2Fixture(const std::string& max = "1000000000") {
    std::system(("mkdir -p '" + root + "/a/b'").c_str());
    std::ofstream(d.path + "/cgroup") << "0::/a/b\n";
    std::ofstream(root + "/a/memory.max") << max << "\n";
    std::ofstream(root + "/a/memory.high") << "max\n";
    std::ofstream(root + "/a/b/memory.max") << "max\n";
    std::ofstream(root + "/a/b/memory.current") << "1000\n";
    std::ofstream(current) << "100000000\n";
  }
  std::string env(const std::string& extra = "") const {
    return env_for(d, "HEAPSCOPE_THREAD=always HEAPSCOPE_CGROUP_ROOT='" + root + "' HEAPSCOPE_CGROUP_FILE='" +
                          d.path + "/cgroup' " + extra);
  }
};

// Starts `peak_prog wait STOP` in the background; stop() ends it and waits.
struct Waiting {
  std::string dir, stop_file;
  Waiting(const std::string& env, const std::string& d) : dir(d), stop_file(d + "/stop") {
    std::system((env + kProg + " wait '" + stop_file + "' 2>'" + d + "/err' & echo $! >'" + d + "/pid'").c_str());
  }
  std::string err() const { return read_text(dir + "/err"); }
  void stop() {
    std::ofstream(stop_file) << "\n";
    wait_for([&] { return !files_ending(dir, ".exit.hsnap").empty(); });
  }
  ~Waiting() { stop(); }
};

TEST(Oom, CgroupV2ThresholdsEachWriteOneSnapshot) {
  V2Fixture fx;
  Waiting prog(fx.env(), fx.d.path);
  const char* usage[] = {"910000000", "960000000", "995000000"};
  for (size_t i = 0; i < 3; ++i) {
    write_file(fx.current, std::string(usage[i]) + "\n");
    ASSERT_TRUE(wait_for([&] { return oom_snaps(fx.d.path).size() == i + 1; })) << i << "\n" << prog.err();
  }
  write_file(fx.current, "999000000\n");  // past 99%: nothing more to cross
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  prog.stop();
  auto snaps = oom_snaps(fx.d.path);
  ASSERT_EQ(snaps.size(), 3u) << prog.err();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(snaps[i].stat("mem_limit_bytes"), 1000000000u);
    EXPECT_EQ(snaps[i].stat("mem_limit_kind"), 1u);  // cgroup v2 memory.max
    EXPECT_EQ(snaps[i].stat("mem_usage_bytes"), std::stoull(usage[i]));
    EXPECT_EQ(snaps[i].stat("oom_snapshots"), i + 1);
    EXPECT_EQ(snaps[i].meta.at("mem_limit_source"), fx.root + "/a/memory.max");
  }
  const std::string err = prog.err();
  EXPECT_EQ(count_lines_with(err, "of its limit 1000000000 bytes (cgroup v2 memory.max, " + fx.root +
                                      "/a/memory.max; HEAPSCOPE_OOM threshold "),
            3)
      << err;
  EXPECT_NE(err.find("memory usage 910000000 bytes is 91.0% of its limit"), std::string::npos) << err;
  EXPECT_NE(err.find("threshold 99.0%): wrote "), std::string::npos) << err;
  heapscope::Profile last = heapscope::read_profile(files_ending(fx.d.path, ".exit.hsnap").at(0));
  EXPECT_EQ(last.stat("mem_usage_bytes"), 999000000u);
  EXPECT_EQ(last.stat("oom_snapshots"), 3u);
  json rep = hs_json("report --json '" + files_ending(fx.d.path, ".0001.hsnap").at(0) + "'", fx.d.path);
  EXPECT_EQ(rep["trigger"], "oom");
  EXPECT_EQ(rep["memory_limit"]["limit_bytes"], 1000000000u);
  EXPECT_EQ(rep["memory_limit"]["kind"], "cgroup v2 memory.max");
  EXPECT_EQ(rep["memory_limit"]["usage_bytes"], 910000000u);
}

TEST(Oom, ZeroIsOffButTheLimitIsStillRecorded) {
  V2Fixture fx;
  write_file(fx.current, "995000000\n");
  RunResult r = run_command(fx.env("HEAPSCOPE_OOM=0") + kProg + " rise 10", fx.d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(oom_snaps(fx.d.path).empty());
  EXPECT_EQ(r.err.find("of its limit"), std::string::npos) << r.err;
  heapscope::Profile last = heapscope::read_profile(files_ending(fx.d.path, ".exit.hsnap").at(0));
  EXPECT_EQ(last.stat("mem_limit_bytes"), 1000000000u);
  EXPECT_EQ(last.stat("mem_usage_bytes"), 995000000u);
  EXPECT_EQ(last.stat("oom_snapshots"), 0u);
}

TEST(Oom, CgroupV1TightestAncestorAndAJumpOverAThreshold) {
  TempDir d;
  std::string root = d.path + "/cg", a = root + "/memory/a";
  std::system(("mkdir -p '" + a + "/b'").c_str());
  std::ofstream(d.path + "/cgroup") << "12:cpu,cpuacct:/x\n5:memory:/a/b\n0::/\n";
  std::ofstream(a + "/b/memory.limit_in_bytes") << "9223372036854771712\n";  // v1 "unlimited"
  std::ofstream(a + "/b/memory.usage_in_bytes") << "1000\n";
  std::ofstream(a + "/memory.limit_in_bytes") << "500000000\n";
  std::ofstream(a + "/memory.usage_in_bytes") << "250000000\n";
  Waiting prog(env_for(d, "HEAPSCOPE_THREAD=always HEAPSCOPE_OOM=0.9 HEAPSCOPE_CGROUP_ROOT='" + root +
                              "' HEAPSCOPE_CGROUP_FILE='" + d.path + "/cgroup'"),
               d.path);
  write_file(a + "/memory.usage_in_bytes", "455000000\n");  // 91%
  ASSERT_TRUE(wait_for([&] { return oom_snaps(d.path).size() == 1; })) << prog.err();
  write_file(a + "/memory.usage_in_bytes", "497500000\n");  // 99.5%: 95% and 99% at once, one snapshot
  ASSERT_TRUE(wait_for([&] { return oom_snaps(d.path).size() == 2; })) << prog.err();
  prog.stop();
  auto snaps = oom_snaps(d.path);
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_EQ(snaps[1].stat("mem_limit_kind"), 3u);
  EXPECT_EQ(snaps[1].stat("mem_limit_bytes"), 500000000u);
  EXPECT_EQ(snaps[1].stat("mem_usage_bytes"), 497500000u);
  EXPECT_EQ(snaps[1].meta.at("mem_limit_source"), a + "/memory.limit_in_bytes");
  EXPECT_NE(prog.err().find("threshold 99.0%)"), std::string::npos) << prog.err();
}

TEST(Oom, MalformedLimitIsReportedOnceAndIgnored) {
  V2Fixture fx("12abc");
  Waiting prog(fx.env(), fx.d.path);
  const std::string want = fx.root + "/a/memory.max holds \"12abc\": expected a number of bytes or max; that "
                                     "limit is ignored";
  ASSERT_TRUE(wait_for([&] { return prog.err().find(want) != std::string::npos; })) << prog.err();
  write_file(fx.current, "995000000\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a few more polls
  prog.stop();
  EXPECT_EQ(count_lines_with(prog.err(), want), 1) << prog.err();
  EXPECT_TRUE(oom_snaps(fx.d.path).empty());
  heapscope::Profile last = heapscope::read_profile(files_ending(fx.d.path, ".exit.hsnap").at(0));
  EXPECT_EQ(last.stat("mem_limit_bytes"), 0u);
}

// Single-threaded, no helper thread: the limit is checked at each 0.25% rise
// of the live heap's high-water mark, on the allocating thread.
TEST(Oom, RlimitAsOfAThreadlessProgram) {
  TempDir d;
  RunResult r = run_command("bash -c \"ulimit -v 1048576 && " + env_for(d, "HEAPSCOPE_PEAK=0") + kProg + " grow\"",
                            d.path);
  ASSERT_EQ(r.status, 0) << r.err;
  auto snaps = oom_snaps(d.path);
  ASSERT_EQ(snaps.size(), 3u) << r.err;
  for (const auto& s : snaps) {
    EXPECT_EQ(s.stat("mem_limit_kind"), 4u);
    EXPECT_EQ(s.stat("mem_limit_bytes"), 1073741824u);
    EXPECT_EQ(s.meta.at("mem_limit_source"), "RLIMIT_AS");
  }
  EXPECT_GE(snaps[0].stat("mem_usage_bytes"), 1073741824u * 0.90);
  EXPECT_GE(snaps[2].stat("mem_usage_bytes"), 1073741824u * 0.99);
  EXPECT_EQ(count_lines_with(r.err, "of its limit 1073741824 bytes (RLIMIT_AS; HEAPSCOPE_OOM threshold "), 3) << r.err;
}
}  // namespace
