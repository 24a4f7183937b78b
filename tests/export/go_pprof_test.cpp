// go_pprof_test.cpp -- the pprof export read back by the real `go tool pprof`
// (golang-go is in tests/packages.txt, so a missing go is a failure, not a
// skip): function names and exact figures in -top and -traces, for a plain and
// a differential profile.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "fake_profiles.h"
#include "render/pprof.h"

using namespace heapscope;
using namespace heapscope::testing;

namespace {

struct GoEnv {
  std::string dir;
  GoEnv() {
    char tmpl[] = "/tmp/heapscope-gopprof-XXXXXX";
    char* d = mkdtemp(tmpl);
    if (d) dir = d;
  }
  ~GoEnv() {
    if (!dir.empty()) std::system(("rm -rf '" + dir + "'").c_str());
  }
  // Runs `go tool pprof ARGS FILE` with a private HOME/GOCACHE/GOPATH.
  std::string pprof(const std::string& args, const std::string& file, int* status) {
    std::string cmd = "cd '" + dir + "' && HOME='" + dir + "' GOCACHE='" + dir + "/cache' GOPATH='" + dir +
                      "/gopath' PPROF_TMPDIR='" + dir + "' PPROF_BINARY_PATH=/nonexistent go tool pprof " +
                      args + " '" + file + "' 2>&1";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    *status = pclose(p);
    return out;
  }
  std::string write(const std::string& name, const std::string& bytes) {
    std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
};

bool has_go() { return std::system("command -v go >/dev/null 2>&1") == 0; }

// The NEW fixture (fake_profiles.h) exported to env.dir/NAME with options.
std::string write_new_profile(GoEnv& env, const std::string& name, const PprofOptions& options) {
  Profile now = new_profile();
  FakeSymbols syms;
  new_symbols(syms);
  ExportInput in{&now, syms.lookup()};
  return env.write(name, render_pprof(in, nullptr, options));
}

}  // namespace

TEST(GoPprof, TopShowsFunctionsAndExactInuseBytes) {
  ASSERT_TRUE(has_go()) << "go is not installed (golang-go is listed in tests/packages.txt)";
  GoEnv env;
  ASSERT_FALSE(env.dir.empty());
  PprofOptions all;  // every frame, as before stacks started at the origin
  all.all_frames = true;
  std::string file = write_new_profile(env, "new.pb.gz", all);
  int status = -1;
  std::string top = env.pprof("-top -sample_index=inuse_space -unit=B -nodecount=50", file, &status);
  ASSERT_EQ(status, 0) << top;
  EXPECT_NE(top.find("Type: inuse_space"), std::string::npos) << top;
  EXPECT_NE(top.find("4024B"), std::string::npos) << top;  // total
  // flat 3000 B in the inlined push_back (the leaf line; pprof drops template
  // arguments when it prints), 1024 in make_buffer, cumulative in the callers.
  EXPECT_NE(top.find("3000B 74.55% 74.55%      3000B 74.55%  std::vector::push_back (inline)"), std::string::npos) << top;
  EXPECT_NE(top.find("1024B 25.45%   100%      1024B 25.45%  make_buffer"), std::string::npos) << top;
  EXPECT_NE(top.find("    0     0%   100%      3000B 74.55%  cache_insert\n"), std::string::npos) << top;
  EXPECT_NE(top.find("4024B   100%  main"), std::string::npos) << top;

  std::string allocs = env.pprof("-top -sample_index=alloc_objects -nodecount=50", file, &status);
  ASSERT_EQ(status, 0) << allocs;
  EXPECT_NE(allocs.find("Type: alloc_objects"), std::string::npos) << allocs;
  EXPECT_NE(allocs.find("13 total"), std::string::npos) << allocs;
  EXPECT_NE(allocs.find("malloc"), std::string::npos) << allocs;

  std::string traces = env.pprof("-traces -sample_index=inuse_space -unit=B", file, &status);
  ASSERT_EQ(status, 0) << traces;
  // One trace per site, leaf first, the inlined frame above its caller.
  EXPECT_NE(traces.find("     3000B   std::vector::push_back (inline)\n"
                        "             cache_insert\n"
                        "             handle_request\n"
                        "             main\n"),
            std::string::npos)
      << traces;
  EXPECT_NE(traces.find("     1024B   make_buffer\n             handle_request\n             main\n"),
            std::string::npos)
      << traces;
}

TEST(GoPprof, TopAndTagsNameTheOriginByDefault) {
  ASSERT_TRUE(has_go()) << "go is not installed (golang-go is listed in tests/packages.txt)";
  GoEnv env;
  ASSERT_FALSE(env.dir.empty());
  std::string file = write_new_profile(env, "origin.pb.gz", PprofOptions());
  int status = -1;
  std::string top = env.pprof("-top -sample_index=inuse_space -unit=B -nodecount=50", file, &status);
  ASSERT_EQ(status, 0) << top;
  // The inlined std::vector::push_back below cache_insert is dropped: its
  // 3000 B are cache_insert's own.
  EXPECT_NE(top.find("3000B 74.55% 74.55%      3000B 74.55%  cache_insert\n"), std::string::npos) << top;
  EXPECT_NE(top.find("1024B 25.45%   100%      1024B 25.45%  make_buffer"), std::string::npos) << top;
  EXPECT_EQ(top.find("push_back"), std::string::npos) << top;
  std::string tags = env.pprof("-tags -sample_index=inuse_space -unit=B", file, &status);
  ASSERT_EQ(status, 0) << tags;
  EXPECT_NE(tags.find(" container: Total 3000.0B\n"), std::string::npos) << tags;
  EXPECT_NE(tags.find(" 3000.0B (  100%): std::vector<int>\n"), std::string::npos) << tags;
  EXPECT_NE(tags.find(" origin: Total 4024.0B\n"), std::string::npos) << tags;
  EXPECT_NE(tags.find(" 3000.0B (74.55%): cache_insert cache.cpp:42\n"), std::string::npos) << tags;
  EXPECT_NE(tags.find(" 1024.0B (25.45%): make_buffer buf.cpp:10\n"), std::string::npos) << tags;
  std::string focus = env.pprof("-top -unit=B -tagfocus=container=std::vector", file, &status);
  ASSERT_EQ(status, 0) << focus;
  EXPECT_NE(focus.find("Showing nodes accounting for 3000B, 74.55% of 4024B total"), std::string::npos) << focus;
  EXPECT_NE(focus.find("3000B 74.55% 74.55%      3000B 74.55%  cache_insert"), std::string::npos) << focus;
  EXPECT_EQ(focus.find("make_buffer"), std::string::npos) << focus;
}

TEST(GoPprof, DifferentialProfileHasSignedDeltas) {
  ASSERT_TRUE(has_go()) << "go is not installed (golang-go is listed in tests/packages.txt)";
  GoEnv env;
  Profile now = new_profile(), base = base_profile();
  FakeSymbols ns, bs;
  new_symbols(ns);
  base_symbols(bs);
  ExportInput in{&now, ns.lookup()}, bin{&base, bs.lookup()};
  std::string file = env.write("diff.pb.gz", render_pprof(in, &bin));
  int status = -1;
  std::string top = env.pprof("-top -sample_index=inuse_space -unit=B -nodecount=50", file, &status);
  ASSERT_EQ(status, 0) << top;
  EXPECT_NE(top.find("-4096B 57.53% 57.53%     -4096B 57.53%  old_path"), std::string::npos) << top;
  // cache_insert: its stack starts at the origin (the inlined push_back dropped).
  EXPECT_NE(top.find("2000B 28.09% 29.44%      2000B 28.09%  cache_insert"), std::string::npos) << top;
  EXPECT_NE(top.find("1024B 14.38% 15.06%      1024B 14.38%  make_buffer"), std::string::npos) << top;
  EXPECT_NE(top.find("-1072B 15.06%  main"), std::string::npos) << top;  // 3000+1024-1000-4096
}
