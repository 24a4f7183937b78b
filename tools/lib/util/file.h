// file.h -- reading a whole file (the /proc files of a target process, small
// text files) into a string, and writing an output file atomically; shared
// by the commands and tools/lib/inject.
// Ordinary tool code: may allocate, not for the profiler.
#pragma once
#include <stdexcept>
#include <string>

namespace heapscope {
// The whole content of `path` in out; false (errno set by the open) if it
// cannot be opened.
bool read_file(const std::string& path, std::string& out);
// The value of "Name:" in a /proc/PID/status text, leading blanks skipped
// ("" when absent): status_field(s, "Uid") -> "0\t0\t0\t0".
std::string status_field(const std::string& status, const std::string& name);

// Why an output file could not be written atomically at path (a temporary next
// to it renamed over it), "" when it could:
// path must be missing or a regular file (not a directory, fifo, device,
// socket or symlink), in an existing directory this process may write and
// search. Lets a command check an output path before it does the work.
std::string atomic_write_problem(const std::string& path);

}  // namespace heapscope
