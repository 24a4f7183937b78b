// main.cpp -- the heapscope command: parse, dispatch to a subcommand, report
// errors as one "heapscope: ..." line on stderr with a non-zero exit.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

#include "cmd/commands.h"
#include "model/profile.h"

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
      "Profile with `heapscope run -- CMD`, then read snapshots with report, diff, trend, export."};
  app.set_version_flag("--version", std::string("heapscope ") + HEAPSCOPE_VERSION);
  app.require_subcommand(1);
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const CommandEntry& a, const CommandEntry& b) { return a.order < b.order; });
  for (auto& entry : registry) entry.add(app);
  // `run ... -- CMD ARGS`: CMD and its arguments are not ours to parse.
  if (argc > 1 && std::string(argv[1]) == "run") {
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
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
