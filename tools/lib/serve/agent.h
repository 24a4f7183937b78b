// agent.h -- heapscope serve's agent: the set of targets (fixed pids, the
// child `-- CMD` started, or every process of this user with a heapscope
// control channel, re-discovered), and the window thread that snapshots each
// target every window interval for the trend.
// Owns: discovery (/proc/net/unix lists the listening `@heapscope/<pid>`
// names: nothing is connected to for it), the ownership rule (target.h,
// serve_refusal), pid reuse (a new start time is a new target), and the
// thread's start and stop, and following a --pid process's restart (the
// same executable and command line, run by the same user, appearing with a
// channel once the served pid has exited: the supervisor restarted it).
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "serve/target.h"

namespace heapscope::serve {

struct AgentOptions {
  std::string service;            // "" = each target's comm
  std::vector<pid_t> pids;        // --pid (and the -- CMD child)
  bool all = false;               // --all
  double window_interval_s = 15;  // --window-interval
  size_t window = 20;             // --window
  double discover_interval_s = 2; // --all: how often /proc/net/unix is read
  double snapshot_timeout_s = 10; // one snapshot request
  double share_age_s = 0.25;      // a scrape reuses a snapshot this young (coalescing)
  // Told what changed (a --pid process followed to its restart); may be empty.
  std::function<void(const std::string&)> note;
};

class Agent {
 public:
  explicit Agent(AgentOptions o);
  ~Agent();
  // Adds the fixed pids; throws std::runtime_error naming a pid that cannot
  // be served (gone, another user's).
  void start();
  void stop();

  const AgentOptions& options() const { return o_; }
  // The current targets, by pid.
  std::vector<std::shared_ptr<Target>> targets() const;
  std::shared_ptr<Target> target(pid_t pid) const;
  // Adds pid as a target now (the -- CMD child once started); "" or why not.
  std::string add(pid_t pid);
  // Re-reads the channels (--all) now; also done by the thread.
  void discover();
  // A --pid process that exited and came back (process_identity equal, a
  // new pid with a channel): the new pid replaces it. Done by the thread.
  void follow_restarts();

 private:
  void loop();
  std::shared_ptr<Target> make_target(pid_t pid, std::string* why);

  AgentOptions o_;
  mutable std::mutex mu_;
  std::map<pid_t, std::shared_ptr<Target>> targets_;
  // A --pid target: what it runs (process_identity at start) and when it was
  // last seen running (boot ticks). Its restart is a process of the same
  // identity started after that: one that ran beside it is another instance.
  struct Fixed {
    std::string identity;
    uint64_t alive_at = 0;
  };
  std::map<pid_t, Fixed> fixed_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// The pids with a listening `@heapscope/<pid>` socket in /proc/net/unix
// (this network namespace), text given for the tests.
std::vector<pid_t> channel_pids(const std::string& proc_net_unix);

}  // namespace heapscope::serve
