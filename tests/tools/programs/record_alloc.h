// record_alloc.h -- test-program support: a replacement operator new that,
// while recording is on, captures its caller's stack with backtrace(3), and a
// writer that saves the recorded allocations plus the loaded modules
// (dl_iterate_phdr) as an .hsnap file, one site per allocation.
// Only for tests/tools programs; single-threaded use.
#pragma once

#include <string>

namespace record_alloc {
void start();  // clear and start recording
void stop();
// Writes what was recorded since start() to path; returns false on error.
bool write_snapshot(const std::string& path);
}  // namespace record_alloc
