// commands.h -- how a subcommand plugs into the heapscope command.
//
// Each tools/cmd/cmd_<name>.cpp defines one subcommand and registers it with
// a file-scope HEAPSCOPE_COMMAND(order, "name", add_fn): add_fn adds the
// subcommand (options, --help text, callback) to the CLI11 app. main.cpp adds
// them in `order`. Callbacks throw heapscope::FormatError or CommandError;
// main prints "heapscope: <what>" on stderr and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>
#include <csignal>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <strings.h>
#include <utility>
#include <vector>

#include "analyze/wrappers.h"

namespace heapscope {

// A usage or runtime error of a subcommand; exit_code is the process status.
struct CommandError : std::runtime_error {
  int exit_code;
  explicit CommandError(const std::string& what, int code = 1)
      : std::runtime_error(what), exit_code(code) {}
};

struct CommandEntry {
  int order;
  const char* name;
  std::function<void(CLI::App&)> add;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(int order, const char* name, std::function<void(CLI::App&)> add) {
    command_registry().push_back({order, name, std::move(add)});
  }
};

// Exit status requested by a subcommand that ran another program (heapscope run).
extern int g_exit_status;

// For `heapscope run|check ... -- CMD ARGS`: main() cuts everything after the first
// "--" out of the command line (so CLI11 never parses CMD's own options) and
// leaves it here.
extern std::vector<std::string> g_command_after_dashdash;

// How `heapscope run` (and `check`) start CMD under the profiler: empty
// strings leave the HEAPSCOPE_* variable as the environment has it.
struct RunOptions {
  std::string out, interval, sample, signal, stats;
  std::vector<std::pair<std::string, std::string>> extra_env;  // set in the child only
  // Called with CMD's pid once it runs (exec succeeded), before waiting for
  // it (heapscope serve starts serving it there).
  std::function<void(int pid)> on_start;
  bool quiet = false;  // no "snapshots go to" / "N snapshots written" lines (serve writes none)
};
struct ProfiledRun {
  int pid = 0;          // CMD's pid (the snapshots' PID)
  int exit_status = 0;  // CMD's exit status, 128+N if killed by signal N
  int signal = 0;       // N when killed by a signal, else 0
};
// Validates the options, starts CMD with the library preloaded, waits for
// it, and says on stderr where the snapshots went (cmd_run.cpp). `sub` names
// the subcommand in errors. Throws CommandError: usage errors exit 2, a
// command not found or not runnable 127.
ProfiledRun run_profiled(const RunOptions& o, std::vector<std::string> cmd, const std::string& sub);
// The snapshot path prefix CMD gets: --out, else HEAPSCOPE_OUT, else ./heapscope.
std::string snapshot_prefix(const RunOptions& o);

// libheapscope.so: HEAPSCOPE_LIB, else next to this executable (cmd_run.cpp).
std::string find_library();
// The profiler's HEAPSCOPE_SAMPLE and seconds grammars (cmd_run.cpp);
// is_bytes stores the number of bytes in *value when it is given.
bool is_bytes(const std::string& text, uint64_t* value = nullptr);
bool is_seconds(const std::string& text);

// Prints notes on stderr as "heapscope: note: ...", each distinct note once.
inline void print_notes(const std::vector<std::string>& notes) {
  std::vector<std::string> seen;
  for (const auto& n : notes) {
    bool dup = false;
    for (const auto& s : seen) dup = dup || s == n;
    if (dup) continue;
    seen.push_back(n);
    std::fprintf(stderr, "heapscope: note: %s\n", n.c_str());
  }
}

// True for "none" in any case: the snapshot signal is off.
inline bool signal_is_off(const std::string& text) { return strcasecmp(text.c_str(), "none") == 0; }

// The library's HEAPSCOPE_SIGNAL grammar: a name in any case with or without
// "SIG" (USR2, sigusr2), RTMIN or RTMIN+N, or a number 1..SIGRTMAX (not the
// ones glibc keeps between SIGSYS and SIGRTMIN). Returns the signal, or 0
// with *why saying what is wrong (KILL and STOP cannot be caught, so they
// are refused).
inline int parse_signal(const std::string& text, std::string* why = nullptr) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return 0;
  };
  const std::string expected = "expected a signal name or number such as SIGUSR2, usr1, RTMIN+2 or 12";
  auto digits = [](const std::string& t) {
    return !t.empty() && t.size() < 6 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  int sig = 0;
  std::string name;
  for (char c : text) name += char(std::toupper(static_cast<unsigned char>(c)));
  if (digits(name)) {
    sig = std::stoi(name);
    if (sig < 1 || sig > SIGRTMAX || (sig > SIGSYS && sig < SIGRTMIN))
      return fail("not a usable signal number (expected 1.." + std::to_string(SIGSYS) + " or " +
                  std::to_string(SIGRTMIN) + ".." + std::to_string(SIGRTMAX) + ")");
  } else {
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    static const struct { const char* name; int num; } kNames[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"STOP", SIGSTOP},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM},
        {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
        {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"PWR", SIGPWR},   {"SYS", SIGSYS}};
    for (const auto& n : kNames)
      if (name == n.name) sig = n.num;
    if (!sig && name == "RTMIN") sig = SIGRTMIN;
    if (!sig && name.rfind("RTMIN+", 0) == 0) {
      if (!digits(name.substr(6))) return fail("not a signal (" + expected + ")");
      sig = SIGRTMIN + std::stoi(name.substr(6));
      if (sig > SIGRTMAX)
        return fail("out of range (expected RTMIN+0..RTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN) + ")");
    }
    if (!sig) return fail("not a signal (" + expected + ")");
  }
  if (sig == SIGKILL || sig == SIGSTOP)
    return fail(std::string(sig == SIGKILL ? "SIGKILL" : "SIGSTOP") +
                " cannot be caught (expected a signal the program can handle, e.g. SIGUSR2)");
  return sig;
}

inline std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  const char* abbrev = sig > 0 && sig < 32 ? sigabbrev_np(sig) : nullptr;
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// A validator for a number option: the value must parse as a number and be
// >= 0 (or > 0 when positive); the message names the value and what was
// expected ("'x' is not a number (expected a count, 0 = all)").
inline CLI::Validator number_check(const std::string& expected, bool positive, bool integer = false) {
  return CLI::Validator(
      [expected, positive, integer](std::string& text) -> std::string {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || !end || *end != '\0' || v != v)
          return "'" + text + "' is not a number (expected " + expected + ")";
        if (integer && (v != static_cast<double>(static_cast<long long>(v)) || v > 2147483647.0))
          return "'" + text + "' is not a whole number (expected " + expected + ")";
        if (positive ? !(v > 0) : !(v >= 0))
          return "'" + text + "' is out of range (expected " + expected + ")";
        return {};
      },
      expected);
}

// Adds "--top N" (0 = all) to a subcommand.
inline CLI::Option* add_top_option(CLI::App* sub, int& top, int default_top) {
  top = default_top;
  return sub->add_option("--top", top, "Show the N highest-ranked sites (0 = all)")
      ->check(number_check("a count of sites, 0 = all", false, /*integer=*/true))
      ->capture_default_str();
}

// Adds "--alloc-fn REGEX" (repeatable, one pattern per use) to a subcommand
// that shows origins.
inline CLI::Option* add_alloc_fn_option(CLI::App* sub, std::vector<std::string>& patterns) {
  return sub
      ->add_option("--alloc-fn", patterns,
                   "Treat functions matching REGEX (the whole name without arguments, e.g. "
                   "xmalloc or 'x(malloc|strdup)') as allocation wrappers: never the origin, "
                   "their callers are. Adds to the wrappers found from the stacks (a function "
                   "of your code calling the allocator directly from 2 or more callers). "
                   "Repeatable")
      ->type_name("REGEX")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// The --alloc-fn patterns, or a usage error naming the bad one.
inline AllocFns parse_alloc_fns(const std::vector<std::string>& patterns) {
  try {
    return AllocFns(patterns);
  } catch (const std::invalid_argument& e) {
    throw CommandError(e.what(), 2);
  }
}

}  // namespace heapscope

#define HEAPSCOPE_CONCAT2(a, b) a##b
#define HEAPSCOPE_CONCAT(a, b) HEAPSCOPE_CONCAT2(a, b)
#define HEAPSCOPE_COMMAND(order, name, fn) \
  static ::heapscope::CommandRegistrar HEAPSCOPE_CONCAT(hs_cmd_, __LINE__)(order, name, fn)
