// log.h -- one line to stdout, flushed at once (stdout is often a pipe or a
// file here, and tests and the walkthrough read it while the server runs).
// Thread-safe (one stdio call per line); not async-signal-safe.
#pragma once

#include <cstdio>
#include <string>

namespace demo {

inline void log_line(const std::string& line) {
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

}  // namespace demo
