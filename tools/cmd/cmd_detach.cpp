// cmd_detach.cpp -- `heapscope detach PID`: write a final snapshot, put every
// patched slot back; the library stays mapped in the process, inert.
#include <memory>

#include "cmd/commands.h"
#include "inject/inject.h"

namespace heapscope {
namespace {

void detach(const std::string& pid_text) {
  if (pid_text.empty() || pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stol(pid_text) <= 0)
    throw CommandError(pid_text + ": not a process id (expected a positive number)", 2);
  pid_t pid = pid_t(std::stol(pid_text));
  try {
    std::string msg = inject::detach(pid);
    std::fprintf(stderr, "heapscope: detached from process %d: %s\n", int(pid), msg.c_str());
  } catch (const inject::Refusal& e) {
    throw CommandError(std::string("detach: ") + e.what() + " (the process was not changed)");
  } catch (const inject::CallFailed& e) {
    throw CommandError("detach: process " + pid_text + ": " + e.what() +
                       "; its registers and signal mask were put back");
  }
}

void add_detach(CLI::App& app) {
  auto pid = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "detach",
      "Stop tracking a process heapscope attach started: writes a final snapshot, puts every allocator slot "
      "back; the library stays loaded and inert (a later attach reuses it).");
  sub->add_option("PID", *pid, "Process id")->required();
  sub->callback([pid] { detach(*pid); });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(26, "detach", heapscope::add_detach);
