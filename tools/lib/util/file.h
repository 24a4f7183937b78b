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

// A file write_file_atomic refuses or cannot do; what() is one line
// "PATH: what is wrong (expected ...)".
struct FileWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Why write_file_atomic(path, ...) would be refused, "" when it would not:
// path must be missing or a regular file (not a directory, fifo, device,
// socket or symlink), in an existing directory this process may write and
// search. Lets a command check an output path before it does the work.
std::string atomic_write_problem(const std::string& path);

// Replaces (or creates) `path` with `bytes` so that a reader sees the old
// file or the whole new one, never a part: a temporary file in the same
// directory (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600), written, fsynced, then
// renamed over path (the directory fsynced too). The new file is 0600
// whatever mode an old one had. Throws FileWriteError naming path (the
// temporary is removed) on a target atomic_write_problem refuses or any
// I/O error.
void write_file_atomic(const std::string& path, const std::string& bytes);
}  // namespace heapscope
