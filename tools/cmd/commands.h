// commands.h -- how a subcommand plugs into the heapscope command.
//
// Each tools/cmd/cmd_<name>.cpp defines one subcommand and registers it with
// a file-scope HEAPSCOPE_COMMAND(order, "name", add_fn): add_fn adds the
// subcommand (options, --help text, callback) to the CLI11 app. main.cpp adds
// them in `order`. Callbacks throw heapscope::FormatError or CommandError;
// main prints "heapscope: <what>" on stderr and exits non-zero.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

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

// Adds "--top N" (0 = all) to a subcommand.
inline CLI::Option* add_top_option(CLI::App* sub, int& top, int default_top) {
  top = default_top;
  return sub->add_option("--top", top, "Show the N highest-ranked sites (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

}  // namespace heapscope

#define HEAPSCOPE_CONCAT2(a, b) a##b
#define HEAPSCOPE_CONCAT(a, b) HEAPSCOPE_CONCAT2(a, b)
#define HEAPSCOPE_COMMAND(order, name, fn) \
  static ::heapscope::CommandRegistrar HEAPSCOPE_CONCAT(hs_cmd_, __LINE__)(order, name, fn)
