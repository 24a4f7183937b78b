// test_wrappers.cpp -- allocation wrappers are not the origin (issue 10 item
// 3). programs/wrappers (C, -O2 -g) allocates only through its own xmalloc,
// xstrdup, xrealloc and xcalloc; remember() leaks through two of them while
// three other callers churn; keep_table() leaks through xcalloc, its only
// caller. Under the real profiler: trend and diff name remember at its lines
// with exact figures, report (text and JSON) lists the detected wrappers with
// their callers, --alloc-fn names the one-caller xcalloc on every subcommand
// (export too), and a bad pattern is a clear usage error. Plus the rules on
// hand-made frames.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <nlohmann/json.hpp>

#include <cstring>

#include "analyze/origin.h"
#include "analyze/sites.h"
#include "analyze/wrappers.h"
#include "test_util.h"

using nlohmann::json;
using namespace heapscope;

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;
const std::string kProgram = std::string(HS_TEST_PROGRAMS_DIR) + "/wrappers";
const std::string kSource = std::string(HS_TEST_SOURCE_DIR) + "/programs/wrappers.c";

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

class Wrappers : public ::testing::Test {
 protected:
  // One profiled run of the program for the suite; pid_ from heapscope's
  // "snapshots go to PREFIX.PID.*" line.
  static void SetUpTestSuite() {
    if (!exists(HS_PROFILER_LIB)) return;
    dir_ = std::make_unique<TempDir>();
    prefix_ = dir_->path + "/w";
    std::string lib = "HEAPSCOPE_LIB='" + std::string(HS_PROFILER_LIB) + "' ";
    run_ = std::make_unique<RunResult>(
        run_command(lib + kHeapscope + " run --out '" + prefix_ + "' -- " + kProgram, dir_->path));
    std::string said = "heapscope: snapshots go to " + prefix_ + ".";
    size_t at = run_->err.find(said);
    pid_ = at == std::string::npos ? 0 : std::atoi(run_->err.c_str() + at + said.size());
  }
  static void TearDownTestSuite() {
    run_.reset();
    dir_.reset();  // removes the snapshots
  }
  void SetUp() override {
    ASSERT_TRUE(exists(HS_PROFILER_LIB)) << "profiler library not built: " << HS_PROFILER_LIB;
    ASSERT_TRUE(run_ != nullptr);
    ASSERT_EQ(run_->status, 0) << run_->err;
    ASSERT_GT(pid_, 0) << run_->err;
  }
  static std::string snap(int seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, ".%d.%04d.hsnap", pid_, seq);
    return "'" + prefix_ + buf + "'";
  }
  static std::string series() { return snap(1) + " " + snap(2) + " " + snap(3) + " " + snap(4); }
  RunResult hs(const std::string& args) { return run_command(kHeapscope + " " + args, dir_->path); }
  json hs_json(const std::string& args) {
    RunResult r = hs(args);
    EXPECT_EQ(r.status, 0) << args << "\n" << r.err;
    return json::parse(r.out);
  }
  // Sites whose origin is `function`, by origin line.
  static std::map<int, json> by_origin(const json& j, const std::string& function) {
    std::map<int, json> out;
    for (const auto& s : j["sites"])
      if (!s["origin"].is_null() && s["origin"]["function"] == function)
        out[s["origin"]["line"].get<int>()] = s;
    return out;
  }
  static int line(const char* marker) { return marked_line(kSource, marker); }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::string prefix_;
  static inline std::unique_ptr<RunResult> run_;
  static inline int pid_ = 0;
};

// The detected wrappers: each with its distinct callers.
const json kDetected = json::parse(R"([
  {"function": "xmalloc", "callers": 3, "detected": true, "alloc_fn": null},
  {"function": "xstrdup", "callers": 3, "detected": true, "alloc_fn": null},
  {"function": "xrealloc", "callers": 2, "detected": true, "alloc_fn": null}])");

json without_files(json wrappers) {
  for (auto& w : wrappers) {
    EXPECT_EQ(w["file"], kSource) << w.dump();
    w.erase("file");
  }
  return wrappers;
}

}  // namespace

TEST_F(Wrappers, TrendNamesTheCallerNotTheWrapper) {
  json j = hs_json("trend --json " + series());
  // remember's two leaks rank first, each at its own line (the ranking, not
  // the suspect flag, which depends on the snapshots' timing, is asserted).
  ASSERT_GE(j["sites"].size(), 3u) << j.dump(1);
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(j["sites"][i]["origin"]["function"], "remember") << j["sites"][i].dump(1);
  auto sites = by_origin(j, "remember");
  ASSERT_EQ(sites.size(), 2u) << j.dump(1);
  const json& m = sites[line("LINE:remember_malloc")];
  const json& s = sites[line("LINE:remember_strdup")];
  EXPECT_EQ(m["delta_bytes"], 30 * 1000) << m.dump(1);
  EXPECT_EQ(m["delta_count"], 30);
  EXPECT_EQ(m["inuse_series"], json::parse("[10000, 20000, 30000, 40000]"));
  EXPECT_EQ(s["delta_bytes"], 30 * 100) << s.dump(1);
  EXPECT_EQ(s["inuse_series"], json::parse("[1000, 2000, 3000, 4000]"));
  // The wrapper is still the innermost frame of the stack.
  EXPECT_EQ(m["frames"][0]["function"], "xmalloc");
  EXPECT_EQ(s["frames"][1]["function"], "xstrdup");  // below it, libc's strdup
  // No site anywhere has a detected wrapper as its origin.
  for (const auto& site : j["sites"]) {
    if (site["origin"].is_null()) continue;
    std::string f = site["origin"]["function"];
    EXPECT_TRUE(f != "xmalloc" && f != "xstrdup" && f != "xrealloc") << site.dump(1);
  }
  EXPECT_EQ(without_files(j["wrappers"]), kDetected) << j["wrappers"].dump(1);

  RunResult text = hs("trend --top 2 " + series());
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("remember  wrappers.c:" +
                          std::to_string(line("LINE:remember_malloc"))),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("| xmalloc  wrappers.c:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("(allocation wrapper)"), std::string::npos) << text.out;
}

TEST_F(Wrappers, DiffNamesTheCaller) {
  json j = hs_json("diff --json " + snap(1) + " " + snap(4));
  ASSERT_GE(j["sites"].size(), 2u);
  EXPECT_EQ(j["sites"][0]["origin"]["function"], "remember") << j["sites"][0].dump(1);
  auto sites = by_origin(j, "remember");
  ASSERT_EQ(sites.size(), 2u) << j.dump(1);
  EXPECT_EQ(sites[line("LINE:remember_malloc")]["delta_bytes"], 30000);
  EXPECT_EQ(sites[line("LINE:remember_malloc")]["delta_count"], 30);
  EXPECT_EQ(sites[line("LINE:remember_strdup")]["delta_bytes"], 3000);
  EXPECT_EQ(sites[line("LINE:remember_strdup")]["change"], "grown");
  EXPECT_EQ(without_files(j["wrappers"]), kDetected);
  RunResult text = hs("diff --top 1 " + snap(1) + " " + snap(4));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("grown    remember  wrappers.c:" + std::to_string(line("LINE:remember_malloc"))),
            std::string::npos)
      << text.out;
}

TEST_F(Wrappers, ReportListsTheWrappers) {
  json j = hs_json("report --json " + snap(4));
  EXPECT_EQ(without_files(j["wrappers"]), kDetected) << j["wrappers"].dump(1);
  RunResult text = hs("report --top 3 " + snap(4));
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("\nallocation wrappers (not origins; their callers are): xmalloc (3 callers), "
                          "xstrdup (3 callers), xrealloc (2 callers)\n"),
            std::string::npos)
      << text.out;
}

TEST_F(Wrappers, AllocFnNamesTheWrapperDetectionCannot) {
  // xcalloc has one caller: no detection can tell it from a leaking function.
  json plain = hs_json("report --json " + snap(4));
  auto x = by_origin(plain, "xcalloc");
  ASSERT_EQ(x.size(), 1u) << plain.dump(1);
  EXPECT_EQ(x.begin()->second["inuse_bytes"], 4 * 512);

  const std::string table = "keep_table";
  json j = hs_json("report --json --alloc-fn xcalloc " + snap(4));
  auto t = by_origin(j, table);
  ASSERT_EQ(t.size(), 1u) << j.dump(1);
  EXPECT_EQ(t.begin()->first, line("LINE:keep_table"));
  EXPECT_EQ(t.begin()->second["inuse_bytes"], 4 * 512);
  EXPECT_EQ(t.begin()->second["inuse_count"], 4);
  json want = kDetected;
  want.push_back(json{{"function", "xcalloc"}, {"callers", 1}, {"detected", false}, {"alloc_fn", "xcalloc"}});
  EXPECT_EQ(without_files(j["wrappers"]), want) << j["wrappers"].dump(1);
  // Repeatable, a regex matching the whole name, on diff and trend too.
  json d = hs_json("diff --json --alloc-fn 'nothing' --alloc-fn 'x[a-z]*calloc' " + snap(1) + " " + snap(4));
  auto dt = by_origin(d, table);
  ASSERT_EQ(dt.size(), 1u) << d.dump(1);
  EXPECT_EQ(dt.begin()->second["delta_bytes"], 3 * 512);
  EXPECT_EQ(d["wrappers"].back()["alloc_fn"], "x[a-z]*calloc");
  json tr = hs_json("trend --json --alloc-fn xcalloc " + series());
  auto tt = by_origin(tr, table);
  ASSERT_EQ(tt.size(), 1u) << tr.dump(1);
  EXPECT_EQ(tt.begin()->second["inuse_series"], json::parse("[512, 1024, 1536, 2048]"));
  EXPECT_EQ(by_origin(tr, "xcalloc").size(), 0u);
  // "calloc" does not match the whole of "xcalloc".
  EXPECT_EQ(by_origin(hs_json("report --json --alloc-fn calloc " + snap(4)), "xcalloc").size(), 1u);
}

TEST_F(Wrappers, ExportStartsStacksAtTheCaller) {
  std::string out = dir_->path + "/w.pb.gz", folded = dir_->path + "/w.txt";
  RunResult r = hs("export " + snap(4) + " --format pprof --alloc-fn xcalloc -o '" + out + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("heapscope: note: allocation wrappers (not origins; their callers are): xmalloc (3 "
                       "callers), xstrdup (3 callers), xrealloc (2 callers), xcalloc (--alloc-fn xcalloc, 1 caller)\n"),
            std::string::npos)
      << r.err;
  std::string env = "HOME='" + dir_->path + "' GOCACHE='" + dir_->path + "/gocache' GOPATH='" + dir_->path +
                    "/gopath' PPROF_TMPDIR='" + dir_->path + "' PPROF_BINARY_PATH=/nonexistent ";
  RunResult top = run_command(env + "go tool pprof -top -unit=B -nodecount=5 '" + out + "'", dir_->path);
  ASSERT_EQ(top.status, 0) << top.err;
  // remember: 40 x 1000 B + 40 x 100 B; keep_table: 4 x 512 B.
  EXPECT_NE(top.out.find("    44000B 95.55% 95.55%     44000B 95.55%  remember\n"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("     2048B  4.45%   100%      2048B  4.45%  keep_table\n"), std::string::npos) << top.out;
  for (const char* f : {"xmalloc", "xstrdup", "xcalloc"})
    EXPECT_EQ(top.out.find(f), std::string::npos) << f << "\n" << top.out;
}

TEST_F(Wrappers, BadAllocFnIsAUsageError) {
  RunResult r = hs("report --alloc-fn 'x(' " + snap(4));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("heapscope: --alloc-fn 'x(': not a regular expression ("), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());
  r = hs("export " + snap(4) + " --format pprof --alloc-fn '' -o /dev/null");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("heapscope: --alloc-fn '': empty pattern (it matches everything; expected "), std::string::npos) << r.err;
}

// The rules on hand-made frames.
namespace {
Frame fn(const char* function, const char* module = "/opt/app/bin/app", const char* file = "app.c") {
  Frame f;
  f.function = function;
  f.module = module;
  f.file = file;
  f.resolved = true;
  return f;
}
}  // namespace

TEST(WrapperRules, AllocationEntryPoints) {
  const char* libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  for (const char* name : {"malloc", "__GI___strdup", "__libc_calloc", "realloc", "strndup", "posix_memalign"})
    EXPECT_TRUE(is_alloc_entry_frame(fn(name, libc, ""))) << name;
  EXPECT_TRUE(is_alloc_entry_frame(fn("operator new(unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "")));
  EXPECT_TRUE(is_alloc_entry_frame(fn("operator new[](unsigned long)", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "")));
  // Not entry points: std:: templates, other libc functions, the program's own "malloc".
  EXPECT_FALSE(is_alloc_entry_frame(fn("std::__new_allocator<char>::allocate(unsigned long, void const*)",
                                       "/opt/app/bin/app", "/usr/include/c++/12/bits/new_allocator.h")));
  EXPECT_FALSE(is_alloc_entry_frame(fn("fopen", libc, "")));
  EXPECT_FALSE(is_alloc_entry_frame(fn("xmalloc")));
}

TEST(WrapperRules, OriginSkipsWrappersButNotEverything) {
  std::vector<Frame> frames = {fn("malloc", "/usr/lib/x86_64-linux-gnu/libc.so.6", ""), fn("xmalloc"),
                               fn("remember"), fn("main")};
  EXPECT_EQ(find_origin(frames), 1);
  EXPECT_EQ(find_origin(frames, WrapperSet()), 1);
  WrapperSet detected({Wrapper{"xmalloc", "app.c", 3, ""}}, AllocFns());
  EXPECT_EQ(find_origin(frames, detected), 2);
  EXPECT_EQ(find_origin(frames, WrapperSet({}, AllocFns({"x.*"}))), 2);
  EXPECT_EQ(find_origin(frames, WrapperSet({}, AllocFns({"x"}))), 1);  // the whole name must match
  // Every frame of the program's own code a wrapper: the first of them stays the origin.
  EXPECT_EQ(find_origin(frames, WrapperSet({}, AllocFns({"xmalloc|remember|main"}))), 1);
  EXPECT_THROW(AllocFns({"("}), std::invalid_argument);
  EXPECT_THROW(AllocFns({""}), std::invalid_argument);
}

namespace {
// A SymbolizedProfile of hand-made stacks (innermost first), for apply_wrappers.
SiteView site_of(const std::vector<Frame>& frames) {
  SiteView s;
  s.key = site_key(frames);
  std::vector<uint32_t> ids;
  for (size_t i = 0; i + 4 <= s.key.size(); i += 4) {
    uint32_t id;
    std::memcpy(&id, s.key.data() + i, 4);
    ids.push_back(id);
  }
  s.frame_ids = std::move(ids);
  s.frame_addresses = std::vector<uint64_t>(frames.size(), 0);
  return s;
}
Frame libc(const char* function) { return fn(function, "/usr/lib/x86_64-linux-gnu/libc.so.6", ""); }
Frame inlined(Frame f) {
  f.inlined = true;
  return f;
}
std::string origin_of(const SiteView& s) {
  return s.origin < 0 ? "-" : interned_frame(s.frame_ids[size_t(s.origin)]).function;
}
}  // namespace

TEST(WrapperRules, DetectionOnHandMadeStacks) {
  SymbolizedProfile p;
  const Frame vec = fn("std::vector<int, std::allocator<int> >::push_back(int const&)", "/opt/app/bin/app",
                       "/usr/include/c++/12/bits/stl_vector.h");
  p.sites = {
      // zalloc, inlined into its callers, calls malloc from two callers: a wrapper.
      site_of({libc("malloc"), inlined(fn("zalloc")), fn("load"), fn("main")}),
      site_of({libc("malloc"), inlined(fn("zalloc")), fn("save"), fn("main")}),
      // tree_new calls itself and is called from main once: recursion is no second caller.
      site_of({fn("tree_new"), fn("tree_new"), fn("main")}),
      site_of({fn("tree_new"), fn("main")}),
      // add_item grows a std::vector from two callers: a template sits between, no wrapper.
      site_of({vec, fn("add_item"), fn("load")}),
      site_of({vec, fn("add_item"), fn("save")}),
      // dup_name reaches the allocator through libc's strdup from two callers: a wrapper.
      site_of({libc("__GI___strdup"), fn("dup_name"), fn("load")}),
      site_of({libc("__GI___strdup"), fn("dup_name"), fn("save")}),
  };
  apply_wrappers({&p}, AllocFns());
  ASSERT_EQ(p.wrappers.size(), 2u);
  EXPECT_EQ(p.wrappers[0].function, "dup_name");
  EXPECT_EQ(p.wrappers[0].callers, 2u);
  EXPECT_EQ(p.wrappers[1].function, "zalloc");
  EXPECT_TRUE(p.wrappers[1].alloc_fn.empty());
  const char* want[] = {"load", "save", "tree_new", "tree_new", "add_item", "add_item", "load", "save"};
  for (size_t i = 0; i < p.sites.size(); ++i) EXPECT_EQ(origin_of(p.sites[i]), want[i]) << "site " << i;
  EXPECT_EQ(p.sites[4].container, "std::vector<int>");

  // --alloc-fn names tree_new, which detection left alone: its caller is the origin.
  apply_wrappers({&p}, AllocFns({"tree_.*"}));
  EXPECT_EQ(origin_of(p.sites[2]), "main");
  EXPECT_EQ(origin_of(p.sites[3]), "main");
  ASSERT_EQ(p.wrappers.size(), 3u);
  EXPECT_EQ(p.wrappers[2].function, "tree_new");
  EXPECT_EQ(p.wrappers[2].alloc_fn, "tree_.*");
  EXPECT_EQ(p.wrappers[2].callers, 1u);  // main; tree_new calling itself does not count

  // Two profiles read together: callers seen in either count, both get the same origins.
  SymbolizedProfile a, b;
  a.sites = {site_of({fn("pool_get"), fn("load")})};
  b.sites = {site_of({fn("pool_get"), fn("save")})};
  apply_wrappers({&a}, AllocFns());
  EXPECT_EQ(origin_of(a.sites[0]), "pool_get");
  apply_wrappers({&a, &b}, AllocFns());
  EXPECT_EQ(origin_of(a.sites[0]), "load");
  EXPECT_EQ(origin_of(b.sites[0]), "save");
  EXPECT_EQ(a.wrappers.size(), 1u);
  EXPECT_EQ(b.wrappers.size(), 1u);
}
