// channel_client.h -- the client side of a profiled process's control channel
// (the server is profiler/src/channel.cpp, run by heapscope's helper thread).
// Owns: the name (`heapscope/<pid>` in the abstract Unix namespace), the
// connection with its timeout, the check that the server is the target
// process itself run by the target's owner (SO_PEERCRED: another process
// cannot squat the name), the request line and the reply line.
// Protocol: `HEAPSCOPE/1 COMMAND\n` -> `ok <text>\n` or `err <reason>\n`, then
// the server closes. `snapshot-fd` answers `ok fd <len>\n` with a memfd as
// SCM_RIGHTS ancillary data (request_snapshot_bytes). Reserved for commands that return data (not built yet):
// `ok data <len>\n` followed by exactly len bytes; parse_reply leaves such a
// reply's text as "data <len>" for the caller to read the bytes.
// Ordinary tool code (allocates, throws nothing).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace heapscope::control {

// "heapscope/<pid>": the abstract socket name (shown to users as "@heapscope/<pid>").
std::string channel_name(pid_t pid);

enum class Status {
  no_channel,  // nothing listens on the name (no helper thread, an older heapscope, another network namespace)
  untrusted,   // something listens, but it is not the target run by its owner: nothing was sent
  no_reply,    // connected, but no complete answer in time (or the connection closed first)
  refused,     // the process answered `err <reason>`
  ok,          // the process answered `ok <text>`
};

struct Answer {
  Status status = Status::no_channel;
  std::string text;  // ok: the text after "ok "; refused: the reason; otherwise what went wrong
};

// Connects to pid's channel, checks the server is pid itself and listened as
// root or one of `owners` (the process's real and effective uid), sends
// `HEAPSCOPE/1 <command>\n` and reads one line, all within timeout_s seconds.
Answer request(pid_t pid, const std::vector<uid_t>& owners, const std::string& command, double timeout_s);

// Asks pid for `snapshot-fd` with request()'s peer checks and timeout,
// receives the memfd (recvmsg, SCM_RIGHTS), reads its len bytes into *bytes
// and closes it. False with *error saying what failed (no channel, not
// trusted, refused with the process's reason, no descriptor, short read).
// *status, when given, gets the Status (ok on success).
bool request_snapshot_bytes(pid_t pid, const std::vector<uid_t>& owners, double timeout_s, std::string* bytes,
                            std::string* error, Status* status = nullptr);

// Largest snapshot request_snapshot_bytes accepts (a bound against a
// hostile length): 4 GiB.
constexpr uint64_t kMaxSnapshotBytes = uint64_t(4) << 30;

// One reply line (without its newline): `ok <text>` or `err <reason>`;
// anything else is no_reply naming what came.
Answer parse_reply(const std::string& line);

}  // namespace heapscope::control
