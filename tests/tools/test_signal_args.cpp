// test_signal_args.cpp -- `heapscope run --signal` takes the profiler's
// HEAPSCOPE_SIGNAL grammar: names in any case with or without SIG, RTMIN+N /
// RTMIN, numbers 1..SIGRTMAX (not glibc's 32/33), none; KILL and STOP (uncatchable) are refused
// with a one-line usage error. run's own checks only: any shared object
// stands in for the profiler.
#include <gtest/gtest.h>

#include <csignal>

#include "test_util.h"

namespace {

const std::string kHeapscope = HS_HEAPSCOPE_BIN;

RunResult run_with_signal(const TempDir& dir, const std::string& sig) {
  std::string lib = std::string(HS_TEST_PROGRAMS_DIR) + "/libhs_test_plugin.so";
  return run_command("HEAPSCOPE_LIB='" + lib + "' " + kHeapscope + " run --signal '" + sig +
                         "' -- sh -c 'echo \"$HEAPSCOPE_SIGNAL\"'",
                     dir.path);
}

}  // namespace

TEST(RunSignal, AcceptsTheLibraryGrammar) {
  TempDir dir;
  for (const std::string& sig : std::vector<std::string>{"usr1", "SIGUSR1", "sigusr2", "Usr2", "rtmin+2", "SIGRTMIN+1", "RTMIN", "12",
                          std::to_string(SIGRTMAX), "none", "NONE"}) {
    RunResult r = run_with_signal(dir, sig);
    EXPECT_EQ(r.status, 0) << sig << ": " << r.err;
    EXPECT_EQ(r.out, sig + "\n") << sig;
  }
}

TEST(RunSignal, RefusesUncatchableAndUnknownSignals) {
  TempDir dir;
  const std::string uncatchable = " cannot be caught (expected a signal the program can handle, e.g. SIGUSR2)\n";
  const std::string unknown =
      ": not a signal (expected a signal name or number such as SIGUSR2, usr1, RTMIN+2 or 12)\n";
  const std::string numbers = "not a usable signal number (expected 1.." + std::to_string(SIGSYS) + " or " +
                              std::to_string(SIGRTMIN) + ".." + std::to_string(SIGRTMAX) + ")\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"KILL", "heapscope: --signal KILL: SIGKILL" + uncatchable},
      {"sigkill", "heapscope: --signal sigkill: SIGKILL" + uncatchable},
      {"9", "heapscope: --signal 9: SIGKILL" + uncatchable},
      {"stop", "heapscope: --signal stop: SIGSTOP" + uncatchable},
      {"19", "heapscope: --signal 19: SIGSTOP" + uncatchable},
      {"FOO", "heapscope: --signal FOO" + unknown},
      {"SIG", "heapscope: --signal SIG" + unknown},
      {"RTMIN+x", "heapscope: --signal RTMIN+x" + unknown},
      {"RTMAX-1", "heapscope: --signal RTMAX-1" + unknown},
      {"0", "heapscope: --signal 0: " + numbers},
      {"32", "heapscope: --signal 32: " + numbers},
      {std::to_string(SIGRTMAX + 1), "heapscope: --signal " + std::to_string(SIGRTMAX + 1) + ": " + numbers},
      {"RTMIN+99", "heapscope: --signal RTMIN+99: out of range (expected RTMIN+0..RTMIN+" +
                       std::to_string(SIGRTMAX - SIGRTMIN) + ")\n"},
  };
  for (const auto& [sig, err] : cases) {
    RunResult r = run_with_signal(dir, sig);
    EXPECT_EQ(r.status, 2) << sig;
    EXPECT_EQ(r.err, err) << sig;
    EXPECT_EQ(r.out, "") << sig;
  }
}
