// file.h -- reading a whole file (the /proc files of a target process, small
// text files) into a string; shared by the commands and tools/lib/inject.
// Ordinary tool code: may allocate, not for the profiler.
#pragma once
#include <string>

namespace heapscope {
// The whole content of `path` in out; false (errno set by the open) if it
// cannot be opened.
bool read_file(const std::string& path, std::string& out);
}  // namespace heapscope
