// file.h -- reading a whole file (the /proc files of a target process, small
// text files) into a string; shared by the commands and tools/lib/inject.
// Ordinary tool code: may allocate, not for the profiler.
#pragma once
#include <string>

namespace heapscope {
// The whole content of `path` in out; false (errno set by the open) if it
// cannot be opened.
bool read_file(const std::string& path, std::string& out);
// The value of "Name:" in a /proc/PID/status text, leading blanks skipped
// ("" when absent): status_field(s, "Uid") -> "0\t0\t0\t0".
std::string status_field(const std::string& status, const std::string& name);
}  // namespace heapscope
