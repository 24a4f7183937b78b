// hsnap_export_test.cpp -- `heapscope export` on heapscope's own snapshots:
// .hsnap files written with the tests' independent writer
// (tests/tools/hsnap_builder.h) whose stacks are real addresses of functions
// in foreign_alloc_tc, so the command symbolizes them offline from the
// snapshot's module table. Checks collapsed, pprof (go tool pprof) and --base.
#include <gtest/gtest.h>

#include "foreign_util.h"
#include "hsnap_builder.h"

using namespace heapscope::testing;

namespace {

// ELF virtual address of a function in the test program, from nm.
uint64_t symbol(const std::string& name) {
  std::string out = shell("nm '" FOREIGN_TC "' | awk '$3 == \"" + name + "\" {print $1}'");
  return out.empty() ? 0 : std::stoull(out, nullptr, 16);
}

constexpr uint64_t kBias = 0x555555554000;

// A snapshot of foreign_alloc_tc with live figures for keep_small and keep_big
// (stacks: an address at the entry of the allocating function, then main;
// the symbolizer looks up pc - 1, the function's first byte).
std::string write_snapshot(const std::string& path, uint64_t small_bytes, uint64_t big_bytes, uint64_t seq) {
  hsnap_test::Builder b;
  b.header.seq = seq;
  b.header.time_unix_ns = 1700000000000000000ull + seq * 1000000000ull;
  b.add_module(FOREIGN_TC, kBias, kBias + 0x10000, kBias, HS_MODULE_MAIN);
  uint64_t main_pc = kBias + symbol("main") + 1;
  uint32_t small = b.add_stack({kBias + symbol("keep_small") + 1, main_pc});
  uint32_t big = b.add_stack({kBias + symbol("keep_big") + 1, main_pc});
  if (small_bytes) b.add_site(small, small_bytes, small_bytes / 100, small_bytes, small_bytes / 100);
  if (big_bytes) b.add_site(big, big_bytes, 1, big_bytes, 1);
  EXPECT_TRUE(b.write(path));
  return path;
}

std::string export_cmd(const std::string& args, int* status) {
  return shell("'" HEAPSCOPE "' export " + args + " 2>&1", status);
}

}  // namespace

TEST(HsnapExport, CollapsedAndPprofAreSymbolizedFromTheSnapshotsModules) {
  ASSERT_NE(symbol("keep_small"), 0u);
  TempDir tmp;
  std::string snap = write_snapshot(tmp.path + "/a.hsnap", 5000, 4096, 1);
  int st = -1;
  std::string out = export_cmd("'" + snap + "' --format collapsed -o '" + tmp.path + "/a.folded'", &st);
  ASSERT_EQ(st, 0) << out;
  EXPECT_EQ(read_file(tmp.path + "/a.folded"), "main;keep_big 4096\nmain;keep_small 5000\n");

  out = export_cmd("'" + snap + "' --format pprof -o '" + tmp.path + "/a.pb.gz'", &st);
  ASSERT_EQ(st, 0) << out;
  std::string top = shell("cd '" + tmp.path + "' && HOME='" + tmp.path + "' GOCACHE='" + tmp.path +
                              "/gocache' PPROF_BINARY_PATH=/nonexistent go tool pprof -top -unit=B '" + tmp.path +
                              "/a.pb.gz' 2>&1",
                          &st);
  ASSERT_EQ(st, 0) << "go tool pprof (golang-go is in tests/packages.txt): " << top;
  EXPECT_NE(top.find("5000B 54.97% 54.97%      5000B 54.97%  keep_small"), std::string::npos) << top;
  EXPECT_NE(top.find("4096B 45.03%   100%      4096B 45.03%  keep_big"), std::string::npos) << top;
  EXPECT_NE(top.find("9096B   100%  main"), std::string::npos) << top;
  EXPECT_NE(top.find("Time: Nov 14, 2023"), std::string::npos) << top;  // time_nanos from the header
}

TEST(HsnapExport, BaseGivesGrowthPerSymbolizedStack) {
  TempDir tmp;
  std::string a = write_snapshot(tmp.path + "/a.hsnap", 5000, 4096, 1);
  std::string b = write_snapshot(tmp.path + "/b.hsnap", 12000, 0, 2);
  int st = -1;
  std::string out =
      export_cmd("'" + b + "' --base '" + a + "' --format collapsed -o '" + tmp.path + "/d.folded'", &st);
  ASSERT_EQ(st, 0) << out;
  EXPECT_EQ(read_file(tmp.path + "/d.folded"), "main;keep_small 7000\n");  // keep_big shrank: not drawn
  EXPECT_NE(out.find("4096 bytes of shrinking stacks are not drawn"), std::string::npos) << out;

  out = export_cmd("'" + b + "' --base '" + a + "' --format pprof -o '" + tmp.path + "/d.pb.gz'", &st);
  ASSERT_EQ(st, 0) << out;
  std::string top = shell("cd '" + tmp.path + "' && HOME='" + tmp.path + "' GOCACHE='" + tmp.path +
                              "/gocache' PPROF_BINARY_PATH=/nonexistent go tool pprof -top -unit=B '" + tmp.path +
                              "/d.pb.gz' 2>&1",
                          &st);
  ASSERT_EQ(st, 0) << top;
  EXPECT_NE(top.find("7000B"), std::string::npos) << top;
  EXPECT_NE(top.find("-4096B"), std::string::npos) << top;
  EXPECT_NE(top.find("2904B"), std::string::npos) << top;  // main: 7000 - 4096
}
