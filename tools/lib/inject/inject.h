// inject.h -- `heapscope attach` and `heapscope detach` as two calls.
// Owns: the order of the steps (preflight, symbol lookup in the target's
// libc and heapscope, one thread at a safe point, the remote calls, release)
// and the messages. The in-process side is profiler/src/attach/.
// Safety: the tool's SIGINT/SIGTERM/SIGHUP/SIGQUIT are blocked while a thread
// is held. A Refusal means nothing in the target changed; CallFailed means a
// remote call started and failed (registers and signal mask were restored).
#pragma once
#include <sys/types.h>

#include <string>

#include "inject/remote.h"
#include "inject/target.h"

namespace heapscope::inject {

// Loads `library` (absolute path) into pid if it is not there yet and calls
// heapscope_attach_start(config). Returns the agent's message.
std::string attach(pid_t pid, const std::string& library, const std::string& config, bool seccomp_ok = false);
// Calls heapscope_attach_stop() in pid. Returns the agent's message.
std::string detach(pid_t pid);

}  // namespace heapscope::inject
