// cmd_attach.cpp -- `heapscope attach PID [--interval S] [--sample N] [--out PREFIX]`:
// start tracking in a running process that was not started under heapscope.
//
// Checks the options as `heapscope run` does, finds libheapscope.so as `run`
// does, and hands both to the injector (tools/lib/inject/): preflight
// refusals change nothing in the target. The output prefix defaults to
// ./heapscope in the TARGET's current directory (so `heapscope snapshot PID`
// finds the files as it does for `heapscope run`); a relative --out is taken
// from heapscope's own directory and passed on absolute.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "cmd/commands.h"
#include "inject/inject.h"

namespace heapscope {
namespace {

struct AttachOptions {
  std::string pid, out, interval, sample;
  bool seccomp_ok = false;
};

pid_t parse_pid(const std::string& pid) {
  if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos ||
      std::stol(pid) <= 0)
    throw CommandError(pid + ": not a process id (expected a positive number)", 2);
  return pid_t(std::stol(pid));
}

void attach(const AttachOptions& o) {
  pid_t pid = parse_pid(o.pid);
  if (!o.interval.empty() && !is_seconds(o.interval))
    throw CommandError("--interval " + o.interval + ": expected seconds >= 0 (e.g. 5 or 0.5)", 2);
  if (!o.sample.empty() && !is_bytes(o.sample))
    throw CommandError("--sample " + o.sample +
                           ": expected bytes, a whole number with an optional K, M or G suffix (e.g. 4096 or "
                           "512K; 0 = track every allocation)",
                       2);
  try {
    inject::preflight(pid, false);  // its refusals first: they need no directory of the process
  } catch (const inject::Refusal& e) {
    throw CommandError(std::string("attach: ") + e.what() + " (the process was not changed)");
  }
  std::string prefix = o.out;
  if (prefix.empty()) {
    char cwd[4096];
    ssize_t n = readlink(("/proc/" + o.pid + "/cwd").c_str(), cwd, sizeof cwd - 1);
    if (n <= 0) throw CommandError("process " + o.pid + ": cannot read its current directory: " + std::strerror(errno));
    prefix = std::string(cwd, size_t(n)) + "/heapscope";
  } else if (prefix[0] != '/') {
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) throw CommandError(std::string("getcwd: ") + std::strerror(errno));
    prefix = std::string(cwd) + "/" + (prefix.rfind("./", 0) == 0 ? prefix.substr(2) : prefix);
  }
  if (prefix.find('\n') != std::string::npos) throw CommandError("--out: a newline in the prefix", 2);
  std::string config = "HEAPSCOPE_OUT=" + prefix + "\n";
  if (!o.interval.empty()) config += "HEAPSCOPE_INTERVAL=" + o.interval + "\n";
  if (!o.sample.empty()) config += "HEAPSCOPE_SAMPLE=" + o.sample + "\n";
  std::string lib = find_library();
  try {
    std::string msg = inject::attach(pid, lib, config, o.seccomp_ok);
    std::fprintf(stderr, "heapscope: attached to process %d: %s\n", int(pid), msg.c_str());
  } catch (const inject::Refusal& e) {
    throw CommandError(std::string("attach: ") + e.what() + " (the process was not changed)");
  } catch (const inject::CallFailed& e) {
    throw CommandError("attach: process " + o.pid + ": " + e.what() +
                       "; its registers and signal mask were put back");
  }
}

void add_attach(CLI::App& app) {
  auto opt = std::make_shared<AttachOptions>();
  CLI::App* sub = app.add_subcommand(
      "attach",
      "Start tracking in a running dynamically linked glibc x86-64 process (not started under heapscope): "
      "heapscope is loaded into it with ptrace and its allocator slots are pointed at the profiler. Blocks "
      "allocated before the attach are not in the books. `heapscope snapshot PID` and `heapscope detach PID` "
      "work on it afterwards. See docs/attach.md.");
  sub->add_option("PID", opt->pid, "Process id")->required();
  sub->add_option("--out", opt->out, "Snapshot path prefix (default: ./heapscope in the process's directory)");
  sub->add_option("--interval", opt->interval, "Seconds between periodic snapshots (0 = off)");
  sub->add_option("--sample", opt->sample, "Mean bytes between sampled allocations (0 = track every one)");
  sub->add_flag("--seccomp-filter-ok", opt->seccomp_ok,
                "Attach to a process under a seccomp filter (refused by default: a filter that kills on openat, "
                "mmap or mprotect would kill it)");
  sub->callback([opt] { attach(*opt); });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(25, "attach", heapscope::add_attach);
