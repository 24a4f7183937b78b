// main.cpp -- the heapscope command: parse, dispatch to a subcommand, report
// errors as one "heapscope: ..." line on stderr with a non-zero exit.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "cmd/commands.h"
#include "model/profile.h"

namespace {

// CLI11's usage errors as one line: "heapscope SUB: what; see `heapscope SUB
// --help`" (CLI11 itself prints two lines and no program name).
int usage_error(CLI::App& app, const CLI::ParseError& e) {
  std::string where = "heapscope";
  for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
  std::string what = e.what();
  for (char& c : what)
    if (c == '\n') c = ' ';
  while (!what.empty() && what.back() == ' ') what.pop_back();
  if (e.get_name() == "ExtrasError" && where == "heapscope")
    what = "unknown subcommand or option: " + what.substr(what.find(':') + 1);
  std::fprintf(stderr, "%s: %s; see `%s --help`\n", where.c_str(), what.c_str(), where.c_str());
  return 2;
}

}  // namespace

namespace heapscope {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
int g_exit_status = 0;
std::vector<std::string> g_command_after_dashdash;
}  // namespace heapscope

int main(int argc, char** argv) {
  using namespace heapscope;
  CLI::App app{
      "heapscope: find the memory a long-running program keeps.\n"
      "Profile with `heapscope run -- CMD`, then read snapshots with report, diff, trend, export.",
      "heapscope"};  // named, so --help says "heapscope", not argv[0]
  app.set_version_flag("--version", std::string("heapscope ") + HEAPSCOPE_VERSION);
  app.require_subcommand(1);
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const CommandEntry& a, const CommandEntry& b) { return a.order < b.order; });
  for (auto& entry : registry) entry.add(app);
  std::string names;
  for (const auto& entry : registry) names += std::string(names.empty() ? "" : ", ") + entry.name;
  if (argc < 2) {
    std::fprintf(stderr, "heapscope: a subcommand is required: one of %s; see `heapscope --help`\n",
                 names.c_str());
    return 2;
  }
  std::string first = argv[1];
  if (first[0] == '-' && first != "-h" && first != "--help" && first != "--version") {
    std::fprintf(stderr, "heapscope: unknown option '%s': expected a subcommand (one of %s) or --help, --version\n",
                 argv[1], names.c_str());
    return 2;
  }
  if (argv[1][0] != '-' &&
      std::none_of(registry.begin(), registry.end(),
                   [&](const CommandEntry& c) { return std::string(c.name) == argv[1]; })) {
    std::fprintf(stderr, "heapscope: unknown subcommand '%s': expected one of %s; see `heapscope --help`\n",
                 argv[1], names.c_str());
    return 2;
  }
  // `run|check|serve ... -- CMD ARGS`: CMD and its arguments are not ours to parse.
  if (argc > 1 && (std::string(argv[1]) == "run" || std::string(argv[1]) == "check" || std::string(argv[1]) == "serve")) {
    for (int i = 2; i < argc; ++i) {
      if (std::string(argv[i]) == "--") {
        g_command_after_dashdash.assign(argv + i + 1, argv + argc);
        argc = i;
        break;
      }
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e);
  } catch (const FormatError& e) {
    std::fprintf(stderr, "heapscope: %s\n", e.what());
    return 2;
  } catch (const CommandError& e) {
    std::fprintf(stderr, "heapscope: %s\n", e.what());
    return e.exit_code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heapscope: %s\n", e.what());
    return 1;
  }
  return g_exit_status;
}
