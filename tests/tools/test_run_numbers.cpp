// test_run_numbers.cpp -- `heapscope run` validates --sample with the
// profiler's byte grammar (digits with an optional K/M/G suffix, binary units;
// no fractions) and --interval / --stats as seconds >= 0 (fractions allowed),
// passing accepted values through unchanged. run's own checks only: any
// shared object stands in for the profiler.
#include <gtest/gtest.h>

#include "test_util.h"

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;

RunResult run_with(const TempDir& dir, const std::string& option, const std::string& value) {
  std::string lib = std::string(HS_TEST_PROGRAMS_DIR) + "/libhs_test_plugin.so";
  return run_command("HEAPSCOPE_LIB='" + lib + "' " + kHeapscope + " run " + option + " '" + value +
                         "' -- sh -c 'echo \"$HEAPSCOPE_SAMPLE|$HEAPSCOPE_INTERVAL|$HEAPSCOPE_STATS\"'",
                     dir.path);
}

}  // namespace

TEST(RunNumbers, SampleTakesBytesWithSuffixes) {
  TempDir dir;
  for (const std::string& v : std::vector<std::string>{"0", "4096", "512K", "512k", "4M", "1g", "64KiB"}) {
    RunResult r = run_with(dir, "--sample", v);
    EXPECT_EQ(r.status, 0) << v << ": " << r.err;
    EXPECT_EQ(r.out, v + "||\n") << v;
  }
  for (const std::string& v : std::vector<std::string>{"1.5", "0.5K", "-1", "K", "12X", "1e3", " 12", "99999999999999999999"}) {
    RunResult r = run_with(dir, "--sample", v);
    EXPECT_EQ(r.status, 2) << v;
    EXPECT_EQ(r.err, "heapscope: --sample " + v +
                         ": expected bytes, a whole number with an optional K, M or G suffix "
                         "(e.g. 4096 or 512K; 0 = track every allocation)\n")
        << v;
    EXPECT_EQ(r.out, "") << v;
  }
}

TEST(RunNumbers, IntervalAndStatsTakeSeconds) {
  TempDir dir;
  for (const std::string& v : std::vector<std::string>{"0", "5", "1.5", "0.25", ".5"}) {
    RunResult i = run_with(dir, "--interval", v);
    EXPECT_EQ(i.status, 0) << v << ": " << i.err;
    EXPECT_EQ(i.out, "|" + v + "|\n") << v;
    RunResult s = run_with(dir, "--stats", v);
    EXPECT_EQ(s.status, 0) << v << ": " << s.err;
    EXPECT_EQ(s.out, "||" + v + "\n") << v;
  }
  for (const std::string& v : std::vector<std::string>{"-1", "5s", "1K", "abc", ".", "1.2.3", "1e3", "inf"}) {
    for (const std::string& opt : std::vector<std::string>{"--interval", "--stats"}) {
      RunResult r = run_with(dir, opt, v);
      EXPECT_EQ(r.status, 2) << opt << " " << v;
      EXPECT_EQ(r.err, "heapscope: " + opt + " " + v + ": expected seconds >= 0 (e.g. 5 or 0.5)\n")
          << opt << " " << v;
    }
  }
}
