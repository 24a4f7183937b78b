// live_process.h -- what the tool learns about a running process it watches
// (`heapscope top`, `heapscope snapshot`, `heapscope serve`): whether it exists
// and is profiled, its owners, name, start time and RSS from /proc, and a snapshot asked for over its
// control channel (channel_client.h).
// Owns: reading /proc/PID/{status,stat,comm,exe,maps,cmdline,task/PID/children} for that.
// Ordinary tool code (allocates, throws nothing); thread-safe.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/channel_client.h"

namespace heapscope::control {

// "123" -> 123; 0 for anything that is not a positive process id.
pid_t parse_pid(const std::string& text);

bool process_exists(pid_t pid);

// The process's real and effective uid ("Uid:" of /proc/PID/status), else the
// owner of /proc/PID (which belongs to root when the process is not dumpable).
std::vector<uid_t> process_owners(pid_t pid);

// libheapscope is mapped in it (/proc/PID/maps); false when unreadable.
bool process_profiled(pid_t pid);

// Its children (/proc/PID/task/PID/children), e.g. the program `heapscope run` started.
std::vector<pid_t> process_children(pid_t pid);

// Its command line, arguments joined by spaces ("" when unreadable).
std::string process_command(pid_t pid);

// Its start time (/proc/PID/stat field 22, clock ticks since boot): with the
// pid, what names one process across pid reuse. 0 when it is gone.
uint64_t process_start_time(pid_t pid);

// Now, on the clock process_start_time counts in (clock ticks since boot,
// CLOCK_BOOTTIME): a process whose start time is below it was already running.
uint64_t boot_ticks_now();

// Its command name (/proc/PID/comm), "" when gone.
std::string process_comm(pid_t pid);

// What a restart of the same program shares: its executable (/proc/PID/exe)
// and its whole command line (/proc/PID/cmdline, NULs kept); "" when gone.
std::string process_identity(pid_t pid);

// Resident set size in bytes (VmRSS of /proc/PID/status); nullopt when unreadable.
std::optional<uint64_t> process_rss(pid_t pid);

// `HEAPSCOPE/1 snapshot` over pid's channel: ok -> text is the file's path.
Answer request_snapshot(pid_t pid, double timeout_s);

// `HEAPSCOPE/1 snapshot-fd` over pid's channel: ok -> *bytes holds a
// self-contained snapshot (a memfd the process sent; nothing on disk); else
// text says why. What `heapscope top` refreshes with.
Answer request_snapshot_in_memory(pid_t pid, double timeout_s, std::string* bytes);

}  // namespace heapscope::control
