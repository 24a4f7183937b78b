// test_e2e.cpp -- the real profiler end to end: programs/leaky (-O2 -g) runs
// under `heapscope run`, snapshots itself by signal after each step, and
// report/diff/trend --json must name the growing std::map<long, CacheEntry>
// at leaky.cpp's marked line with exact figures; run passes the exit status
// through; snapshot PID reaches a running process.
#include <dirent.h>
#include <fstream>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "hsnap_builder.h"
#include "test_util.h"

using nlohmann::json;

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kLeaky = std::string(HS_TEST_PROGRAMS_DIR) + "/leaky";
const std::string kSource = std::string(HS_TEST_SOURCE_DIR) + "/programs/leaky.cpp";

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// The pid leaky --serve writes once its steps are done (waits up to 10 s);
// 0 if it never appears.
int wait_for_pid_file(const std::string& path) {
  for (int i = 0; i < 1000; ++i) {
    std::string text = read_text(path);
    if (!text.empty() && text.back() == '\n') return std::atoi(text.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

// leaky --steps STEPS --serve DIR under `heapscope run RUN_ARGS`, in the
// background (from DIR when `from_dir`); pid is 0 if it never got going.
// stop() (or the destructor) tells it to exit and waits until it has.
struct ServedLeaky {
  std::string dir;
  int pid = 0;
  ServedLeaky(const std::string& dir_, const std::string& env, const std::string& run_args, int steps,
              bool from_dir = false)
      : dir(dir_) {
    std::string cmd = (from_dir ? "cd '" + dir + "' && " : std::string()) + env + " HEAPSCOPE_LIB='" +
                      std::string(HS_PROFILER_LIB) + "' " + kHeapscope + " run " + run_args + " -- " + kLeaky +
                      " --steps " + std::to_string(steps) + " --serve '" + dir + "' >/dev/null 2>&1 &";
    if (mkdir(dir.c_str(), 0700) != 0) error = "mkdir " + dir + ": " + std::strerror(errno);
    else if (std::system(cmd.c_str()) != 0) error = "could not start: " + cmd;
    else if ((pid = wait_for_pid_file(dir + "/pid")) <= 0) error = "no " + dir + "/pid within 10 s: " + cmd;
  }
  std::string error;  // why pid is 0
  void stop() {
    if (pid <= 0) return;
    FILE* f = std::fopen((dir + "/stop").c_str(), "w");
    if (f) std::fclose(f);
    for (int i = 0; i < 1000 && kill(pid, 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ~ServedLeaky() { stop(); }
};

// Runs leaky under heapscope once for the suite.
class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!exists(HS_PROFILER_LIB)) return;
    dir_ = new TempDir;
    prefix_ = dir_->path + "/leaky";
    run_ = new RunResult(run_command(
        "HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) + "' " + kHeapscope + " run --out '" +
            prefix_ + "' -- " + kLeaky,
        dir_->path));
    pid_ = 0;
    size_t at = run_->err.find("heapscope: snapshots go to " + prefix_ + ".");
    if (at != std::string::npos) pid_ = std::atoi(run_->err.c_str() + at + 28 + prefix_.size());
    size_t ns = run_->out.find("node_size ");
    if (ns != std::string::npos) node_ = std::atol(run_->out.c_str() + ns + 10);
  }
  static void TearDownTestSuite() {
    delete run_;
    delete dir_;
    run_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override {
    // The library is a target of the same build, so its absence is a failure, not a skip.
    ASSERT_TRUE(exists(HS_PROFILER_LIB)) << "profiler library not built: " << HS_PROFILER_LIB;
    ASSERT_EQ(run_->status, 0) << run_->err;
    ASSERT_GT(pid_, 0) << run_->err;
    ASSERT_GT(node_, 0) << run_->out;
  }
  static std::string snap(int seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ".%d.%04d.hsnap", pid_, seq);
    return prefix_ + buf;
  }
  static std::string exit_snap() { return prefix_ + "." + std::to_string(pid_) + ".exit.hsnap"; }
  json hs_json(const std::string& args) {
    RunResult r = run_command(kHeapscope + " " + args, dir_->path);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
    return json::parse(r.out);
  }
  // The first site with an origin in the program's own code. Since heapscope
  // records from the first hook call, libstdc++'s emergency exception pool
  // (72,704 bytes, allocated by its constructor before ours, live for good) is
  // in the books too, and outranks this small test leak; it has no frame in
  // the program, so this skips it.
  static const json& first_own_site(const json& j) {
    for (const json& s : j["sites"])
      if (!s["origin"].is_null()) return s;
    return j["sites"][0];
  }
  static void expect_leak_site(const json& s) {
    EXPECT_EQ(s["container"], "std::map<long, CacheEntry>") << s.dump(1);
    EXPECT_EQ(s["origin"]["file"], kSource);
    EXPECT_EQ(s["origin"]["line"], marked_line(kSource, "LINE:leak"));
    EXPECT_NE(s["origin"]["function"].get<std::string>().find("cache_put"), std::string::npos);
  }

  static TempDir* dir_;
  static std::string prefix_;
  static RunResult* run_;
  static int pid_;
  static long node_;
};
TempDir* EndToEnd::dir_ = nullptr;
std::string EndToEnd::prefix_;
RunResult* EndToEnd::run_ = nullptr;
int EndToEnd::pid_ = 0;
long EndToEnd::node_ = 0;

}  // namespace

TEST_F(EndToEnd, RunWritesEverySnapshot) {
  for (int seq = 1; seq <= 4; ++seq) EXPECT_TRUE(exists(snap(seq))) << snap(seq);
  EXPECT_TRUE(exists(exit_snap()));
  EXPECT_NE(run_->err.find("heapscope: 5 snapshots written, the last " + exit_snap()), std::string::npos)
      << run_->err;
  EXPECT_EQ(run_->out, "node_size " + std::to_string(node_) + "\n");  // CMD's stdout untouched
}

TEST_F(EndToEnd, ReportNamesTheMapAndTheLine) {
  json j = hs_json("report --json " + snap(4));
  const json& top = first_own_site(j);
  expect_leak_site(top);
  EXPECT_EQ(top["inuse_count"], 40);
  EXPECT_EQ(top["inuse_bytes"], 40 * node_);
  EXPECT_EQ(top["alloc_count"], 40);
  // Inlined std::map frames are expanded before the origin.
  bool inlined_map = false;
  for (const auto& f : top["frames"])
    if (f["inlined"] == true && f["function"].is_string() &&
        f["function"].get<std::string>().find("std::map<long, CacheEntry") != std::string::npos)
      inlined_map = true;
  EXPECT_TRUE(inlined_map) << top.dump(1);
}

TEST_F(EndToEnd, DiffRanksTheCacheFirst) {
  json j = hs_json("diff --json " + snap(1) + " " + snap(4));
  const json& top = j["sites"][0];
  expect_leak_site(top);
  EXPECT_EQ(top["delta_bytes"], 30 * node_);
  EXPECT_EQ(top["delta_count"], 30);
  EXPECT_EQ(top["change"], "grown");
  // The churn buffer was held at snapshot 1 and released at 4: it is gone.
  bool churn_gone = false;
  for (const auto& s : j["sites"])
    if (!s["origin"].is_null() && s["origin"]["line"] == marked_line(kSource, "LINE:churn")) {
      EXPECT_EQ(s["delta_bytes"], -50000);
      EXPECT_EQ(s["change"], "gone");
      EXPECT_EQ(s["container"], "std::vector<char>");
      churn_gone = true;
    }
  EXPECT_TRUE(churn_gone) << j.dump(1);
}

TEST_F(EndToEnd, TrendLeakFirstChurnLastExitLeftOut) {
  RunResult r = run_command(kHeapscope + " trend --json " + snap(1) + " " + snap(2) + " " + snap(3) +
                                " " + snap(4) + " " + exit_snap(),
                            dir_->path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("heapscope: note: " + exit_snap() + ": exit snapshot left out"), std::string::npos)
      << r.err;
  json j = json::parse(r.out);
  const json& top = j["sites"][0];
  expect_leak_site(top);
  EXPECT_EQ(top["suspect"], true);
  EXPECT_EQ(top["delta_bytes"], 30 * node_);
  EXPECT_DOUBLE_EQ(top["slope_bytes_per_snapshot"].get<double>(), 10.0 * double(node_));
  EXPECT_GT(top["slope_bytes_per_s"].get<double>(), 0.0);
  EXPECT_EQ(top["inuse_series"], json::array({10 * node_, 20 * node_, 30 * node_, 40 * node_}));
  const json& last = j["sites"].back();
  EXPECT_EQ(last["origin"]["line"], marked_line(kSource, "LINE:churn")) << j.dump(1);
  EXPECT_EQ(last["suspect"], false);
  for (const auto& s : j["sites"])
    if (s["origin"].is_object() && s["origin"]["line"] != marked_line(kSource, "LINE:leak"))
      EXPECT_EQ(s["suspect"], false) << s.dump(1);
}

namespace {
// The same profile as a version-1 file (the tests' own v1 writer): what the
// profiler wrote before version 2, figure for figure.
std::string as_version1(const heapscope::Profile& p) {
  hsnap_test::Builder b;
  b.header.pid = p.pid;
  b.header.seq = p.seq;
  b.header.time_unix_ns = p.time_unix_ns;
  b.header.uptime_ns = p.uptime_ns;
  b.header.mode = p.sampled ? HS_MODE_SAMPLED : HS_MODE_FULL;
  b.header.sample_period = p.sample_period;
  const char* triggers[] = {"unknown", "signal", "interval", "api", "exit", "alert"};
  for (uint32_t t = 0; t < 6; ++t)
    if (p.trigger == triggers[t]) b.header.trigger = t;
  b.auto_totals = false;
  b.totals.inuse_bytes = uint64_t(p.totals.inuse_bytes), b.totals.inuse_count = uint64_t(p.totals.inuse_count);
  b.totals.alloc_bytes = uint64_t(p.totals.alloc_bytes), b.totals.alloc_count = uint64_t(p.totals.alloc_count);
  b.totals.free_count = b.totals.alloc_count - b.totals.inuse_count;
  for (const auto& [k, v] : p.meta) b.meta.push_back({k, v});
  b.stats = p.stats;
  for (const auto& m : p.modules) {
    hsnap_test::ModuleSpec ms;
    ms.path = m.path, ms.load_bias = m.load_bias;
    ms.flags = (m.main ? HS_MODULE_MAIN : 0) | (m.unloaded ? HS_MODULE_UNLOADED : 0) | (m.vdso ? HS_MODULE_VDSO : 0);
    for (size_t i = 0; i + 1 < m.build_id.size(); i += 2) ms.build_id += char(std::stoi(m.build_id.substr(i, 2), nullptr, 16));
    for (const auto& r : m.ranges) ms.ranges.push_back(HsRange{r.start, r.end, r.file_offset, r.flags});
    b.modules.push_back(ms);
  }
  for (const auto& site : p.sites) {
    uint32_t id = b.add_stack(site.pcs, site.truncated ? HS_STACK_TRUNCATED : 0);
    b.add_site(id, uint64_t(site.counts.inuse_bytes), uint64_t(site.counts.inuse_count),
               uint64_t(site.counts.alloc_bytes), uint64_t(site.counts.alloc_count));
  }
  return b.bytes();
}
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
  return s;
}
}  // namespace

// The profiler's periodic snapshots are a chain (each names its predecessor
// and holds only what changed); report, diff and trend print exactly what
// they print for the same snapshots written as version 1.
TEST_F(EndToEnd, ChainedSnapshotsReportExactlyAsTheirVersion1Copies) {
  for (int seq = 2; seq <= 4; ++seq) {
    std::string bytes = read_text(snap(seq)), base = snap(seq - 1);
    EXPECT_NE(bytes.find(base.substr(base.rfind('/') + 1)), std::string::npos) << snap(seq) << " names no predecessor";
    EXPECT_LT(bytes.size(), read_text(exit_snap()).size()) << snap(seq);
  }
  TempDir v1;
  std::vector<std::string> names;
  for (int seq = 1; seq <= 4; ++seq) names.push_back(snap(seq));
  names.push_back(exit_snap());
  for (const std::string& n : names) {
    std::string copy = v1.path + n.substr(n.rfind('/'));
    ASSERT_TRUE(hsnap_test::Builder::write_file(copy, as_version1(heapscope::read_profile(n))));
  }
  const std::string v1_prefix = v1.path + "/leaky";
  for (const std::string& args :
       {"report " + snap(4), "report --json " + snap(2), "report " + exit_snap(), "diff " + snap(1) + " " + snap(4),
        "diff --json " + snap(2) + " " + exit_snap(),
        "trend " + snap(1) + " " + snap(2) + " " + snap(3) + " " + snap(4) + " " + exit_snap(),
        "trend --json " + snap(1) + " " + snap(2) + " " + snap(3) + " " + snap(4)}) {
    RunResult now = run_command(kHeapscope + " " + args, dir_->path);
    RunResult before = run_command(kHeapscope + " " + replace_all(args, prefix_, v1_prefix), dir_->path);
    ASSERT_EQ(now.status, 0) << args << "\n" << now.err;
    EXPECT_EQ(now.status, before.status) << args;
    EXPECT_EQ(replace_all(now.out, prefix_, v1_prefix), before.out) << args;
    EXPECT_EQ(replace_all(now.err, prefix_, v1_prefix), before.err) << args;
  }
}

TEST_F(EndToEnd, RunPassesExitStatusAndSignals) {
  std::string env = "HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) + "' ";
  RunResult code = run_command(env + kHeapscope + " run --out '" + dir_->path + "/c' -- " + kLeaky +
                                   " --steps 1 --exit 7",
                               dir_->path);
  EXPECT_EQ(code.status, 7) << code.err;
  RunResult killed = run_command(env + kHeapscope + " run --out '" + dir_->path + "/k' -- " + kLeaky +
                                     " --steps 1 --kill",
                                 dir_->path);
  EXPECT_EQ(killed.status, 128 + SIGKILL) << killed.err;
  // An existing LD_PRELOAD is kept, after the profiler.
  RunResult pre = run_command(env + "LD_PRELOAD=libm.so.6 " + kHeapscope + " run --out '" + dir_->path +
                                  "/p' -- sh -c 'echo \"$LD_PRELOAD\"'",
                              dir_->path);
  EXPECT_EQ(pre.out, std::string(HS_PROFILER_LIB) + ":libm.so.6\n") << pre.err;
}

TEST_F(EndToEnd, SnapshotReachesARunningProcess) {
  // A relative --out, from the serving directory: snapshot must find it.
  ServedLeaky leaky(dir_->path + "/serve", "", "--out s", 1, /*from_dir=*/true);
  const int pid = leaky.pid;
  ASSERT_GT(pid, 0) << leaky.error;
  RunResult r = run_command(kHeapscope + " snapshot " + std::to_string(pid), dir_->path);
  leaky.stop();
  EXPECT_EQ(r.status, 0) << r.err;
  char want[64];
  std::snprintf(want, sizeof want, ".%d.0002.hsnap\n", pid);
  EXPECT_EQ(r.out, leaky.dir + "/s" + want) << r.err;
  // The process is gone once it stops: snapshot says so.
  RunResult gone = run_command(kHeapscope + " snapshot " + std::to_string(pid), dir_->path);
  EXPECT_NE(gone.status, 0);
  EXPECT_EQ(gone.err, "heapscope: process " + std::to_string(pid) + ": no such process\n");
}

// Stale snapshot files of an earlier process with the same pid (higher SEQs,
// old mtimes) are there before the signal: snapshot still finds the new one.
TEST_F(EndToEnd, SnapshotIgnoresStaleFilesOfTheSamePid) {
  ServedLeaky leaky(dir_->path + "/stale", "", "--out s", 1, /*from_dir=*/true);
  const std::string& serve = leaky.dir;
  const int pid = leaky.pid;
  ASSERT_GT(pid, 0) << leaky.error;
  for (int seq : {7, 8, 9}) {
    char name[64];
    std::snprintf(name, sizeof name, "/s.%d.%04d.hsnap", pid, seq);
    std::string stale = serve + name;
    FILE* f = std::fopen(stale.c_str(), "w");
    ASSERT_NE(f, nullptr) << stale;
    std::fputs("stale", f);
    std::fclose(f);
    ASSERT_EQ(std::system(("touch -d 2020-01-01 '" + stale + "'").c_str()), 0);
  }
  RunResult r = run_command(kHeapscope + " snapshot --timeout 5 " + std::to_string(pid), dir_->path);
  leaky.stop();
  EXPECT_EQ(r.status, 0) << r.err;
  char want[64];
  std::snprintf(want, sizeof want, "/s.%d.0002.hsnap\n", pid);
  EXPECT_EQ(r.out, serve + want) << r.err;
}

TEST_F(EndToEnd, SnapshotRefusesUnprofiledAndUnreachableProcesses) {
  RunResult self = run_command(kHeapscope + " snapshot " + std::to_string(getpid()), dir_->path);
  EXPECT_NE(self.status, 0);
  EXPECT_EQ(self.err, "heapscope: process " + std::to_string(getpid()) +
                          ": not profiled (libheapscope is not loaded in it); start it with "
                          "`heapscope run -- CMD` or link it with -lheapscope\n");
  // A profiled process whose snapshot signal is off.
  ServedLeaky leaky(dir_->path + "/nosig", "", "--signal none --out '" + dir_->path + "/nosig/s'", 0);
  const int pid = leaky.pid;
  ASSERT_GT(pid, 0) << leaky.error;
  RunResult r = run_command(kHeapscope + " snapshot " + std::to_string(pid), dir_->path);
  leaky.stop();
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.err, "heapscope: cannot reach process " + std::to_string(pid) +
                       ": its snapshot signal is off (HEAPSCOPE_SIGNAL=none); no control channel either "
                       "(nothing listens on @heapscope/" + std::to_string(pid) +
                       ": the process has no heapscope helper thread, or its heapscope predates the channel)\n");
}

namespace {
// Starts `sleep 30` preloaded with HEAPSCOPE_OUT=out and `env` (no helper
// thread unless env asks), and waits until the library is loaded and sleep is
// idle in its sleep system call, past its start-up allocations (any of which
// would answer a request). Returns its pid, or -1 with *error set (killed).
pid_t spawn_idle_sleep(const std::string& out, const std::vector<std::string>& env, std::string* error) {
  // sleep is this test's own child: reading /proc/PID/syscall needs ptrace
  // access, which Yama (ptrace_scope 1) grants only to an ancestor.
  std::vector<std::string> env_s = env;
  env_s.push_back("HEAPSCOPE_OUT=" + out);
  env_s.push_back("LD_PRELOAD=" + std::string(HS_PROFILER_LIB));
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) && std::strncmp(*e, "HEAPSCOPE_", 10)) env_s.push_back(*e);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  char arg0[] = "sleep", arg1[] = "30";
  char* argv[] = {arg0, arg1, nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, "sleep", &fa, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (spawned != 0) {
    *error = std::string("posix_spawnp sleep: ") + std::strerror(spawned);
    return -1;
  }
  std::string maps;
  for (int i = 0; i < 500 && maps.find("libheapscope") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
    maps.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto asleep = [](const std::string& line) {
    long nr = line.empty() ? -1 : std::atol(line.c_str());
    return (line[0] >= '0' && line[0] <= '9') && (nr == SYS_clock_nanosleep || nr == SYS_nanosleep);
  };
  std::string sys;
  for (int i = 0; i < 500 && !asleep(sys); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
    sys.clear();
    std::getline(in, sys);
  }
  if (!asleep(sys)) {
    kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
    *error = "sleep " + std::to_string(pid) + " never showed clock_nanosleep or nanosleep in /proc/" +
             std::to_string(pid) + "/syscall (read: '" + sys + "')";
    return -1;
  }
  return pid;
}

}  // namespace

// HEAPSCOPE_THREAD=auto: an idle single-threaded program (sleep) has no
// helper thread and allocates nothing, so the request waits for its next
// allocation; snapshot says so and what to set. With always, it answers.
// An idle single-threaded program (sleep, blocked in clock_nanosleep) answers
// without any option and without gaining a thread: the handler writes the
// snapshot itself (HEAPSCOPE_THREAD=auto); with `always` the helper does.
TEST_F(EndToEnd, IdleSingleThreadedProgramAnswersWithoutGainingAThread) {
  for (std::string thread : {"auto", "always"}) {
    std::string out = dir_->path + "/idle-" + thread;
    std::string error;
    const pid_t pid = spawn_idle_sleep(out, {"HEAPSCOPE_THREAD=" + thread}, &error);
    ASSERT_GT(pid, 0) << error;
    RunResult r = run_command(kHeapscope + " snapshot --timeout 10 " + std::to_string(pid), dir_->path);
    size_t tasks = 0;
    if (DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
      while (dirent* e = readdir(d)) tasks += e->d_name[0] != '.';
      closedir(d);
    }
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::string p = std::to_string(pid);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, out + "." + p + ".0001.hsnap\n") << r.err;
    EXPECT_EQ(tasks, thread == "auto" ? 1u : 2u) << "threads of sleep after the snapshot, HEAPSCOPE_THREAD=" << thread;
  }
}

// snapshot parses HEAPSCOPE_SIGNAL from the process's environment with run's
// grammar: KILL cannot be caught, so the profiler stays on SIGUSR2 and
// snapshot says so and sends that. That is the signal path: a process
// without heapscope's helper thread (a threaded one answers over the control
// channel, and no signal is parsed or sent).
TEST_F(EndToEnd, SnapshotFallsBackFromAnUncatchableSignal) {
  const std::string out = dir_->path + "/killsig";
  std::string error;
  const pid_t pid = spawn_idle_sleep(out, {"HEAPSCOPE_SIGNAL=kill", "HEAPSCOPE_THREAD=auto"}, &error);
  ASSERT_GT(pid, 0) << error;
  RunResult r = run_command(kHeapscope + " snapshot --timeout 10 " + std::to_string(pid), dir_->path);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "heapscope: note: process " + std::to_string(pid) +
                       ": HEAPSCOPE_SIGNAL=kill: SIGKILL cannot be caught (expected a signal the "
                       "program can handle, e.g. SIGUSR2); the profiler uses SIGUSR2\n");
  EXPECT_EQ(r.out, out + "." + std::to_string(pid) + ".0001.hsnap\n");
}

TEST_F(EndToEnd, SampledRunSaysItsFiguresAreEstimates) {
  std::string out = dir_->path + "/sampled";
  RunResult r = run_command("HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) + "' " + kHeapscope +
                                " run --sample 1024 --out '" + out + "' -- " + kLeaky,
                            dir_->path);
  ASSERT_EQ(r.status, 0) << r.err;
  size_t at = r.err.find("snapshots go to " + out + ".");
  ASSERT_NE(at, std::string::npos) << r.err;
  int pid = std::atoi(r.err.c_str() + at + 16 + out.size() + 1);
  char name[64];
  std::snprintf(name, sizeof name, ".%d.0004.hsnap", pid);
  json j = hs_json("report --json " + out + name);
  ASSERT_EQ(j["notes"].size(), 1u) << j["notes"].dump();
  EXPECT_EQ(j["notes"][0], out + name +
                               ": sampled profile (one sample per 1024 bytes on average); figures "
                               "are unbiased estimates");
  // Estimates, not exact: the map still leads, with a plausible figure.
  const json& top = first_own_site(j);
  expect_leak_site(top);
  EXPECT_GT(top["inuse_bytes"].get<int64_t>(), 10 * node_);
  EXPECT_LT(top["inuse_bytes"].get<int64_t>(), 100 * node_);
}
