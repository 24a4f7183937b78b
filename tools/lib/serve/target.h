// target.h -- one process heapscope serve serves: its snapshots over the
// control channel (control/channel_client.h, `snapshot-fd`: nothing written
// to disk), coalesced so one request is in flight at a time and concurrent
// scrapes share its result; its symbolizer, cached across scrapes while the
// process's modules stay where they were; its rolling window of the last N
// symbolized snapshots for the trend (memory bounded by N); the rendered
// profiles of the newest snapshot, shared by scrapes of the same snapshot;
// and the figures /metrics reports (counters kept from decreasing).
// A pid reused by another process (its start time changed) is a new target:
// window, counters and symbols start again.
// Thread-safe: any number of HTTP threads and the agent's window thread.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analyze/sites.h"
#include "analyze/trend.h"
#include "control/live_process.h"
#include "model/profile.h"
#include "render/metrics.h"
#include "render/stacks.h"
#include "symbolize/symbolizer.h"

namespace heapscope::serve {

// A snapshot request's outcome. status: 200 when the profile came; 503 when
// the process is gone, has no channel or refused (text says which).
struct Fetch {
  int status = 0;
  std::string error;
  std::shared_ptr<const Profile> profile;
  uint64_t mono_ns = 0;  // CLOCK_MONOTONIC when it completed
  uint64_t seq = 0;      // the target's fetch number (1, 2, ...)
};

// The symbolizer of one module layout (the modules' paths and load
// addresses): kept across snapshots while the layout holds. Symbolizer is
// not thread-safe: hold mu while using lookup().
struct Symbols {
  std::mutex mu;
  std::shared_ptr<const Profile> owner;  // the Symbolizer points into its modules
  std::unique_ptr<Symbolizer> symbolizer;
  std::string layout;
};

class Target {
 public:
  Target(pid_t pid, std::string service, uint64_t start_time, size_t window);
  pid_t pid() const { return pid_; }
  const std::string& service() const { return service_; }
  uint64_t start_time() const { return start_time_; }

  // A snapshot no older than max_age_s, else the one in flight, else a new
  // one (this thread asks; the others wait for it and share it).
  std::shared_ptr<const Fetch> snapshot(double max_age_s, double timeout_s);
  // Takes a snapshot for the window (agent thread): it joins the window
  // when it came.
  void window_tick(double timeout_s);

  // fn(input) with the snapshot's profile and the cached symbolizer, under
  // the symbolizer's lock.
  void with_symbols(const Fetch& f, const std::function<void(const ExportInput&)>& fn);
  // fn(now, base) for a delta: p1's profile and p0's, each with its
  // symbolizer (one when the module layout did not change), under their locks.
  void with_symbols2(const Fetch& p1, const Fetch& p0,
                     const std::function<void(const ExportInput&, const ExportInput&)>& fn);
  // Rendered bytes for (fetch, key), computed once per fetch by make (under
  // the symbolizer's lock); later scrapes of the same fetch share them.
  std::shared_ptr<const std::string> rendered(const std::shared_ptr<const Fetch>& f, const std::string& key,
                                              const std::function<std::string(const ExportInput&)>& make);

  // What /metrics shows for this target (fetching a snapshot as snapshot()).
  // fn gets the MetricsTarget, valid during the call.
  void metrics(double max_age_s, double timeout_s, const std::function<void(const MetricsTarget&)>& fn);

  bool gone() const;          // the last request found the process gone
  uint64_t snapshots() const; // snapshots taken (successful requests)
  uint64_t errors() const;    // failed requests

 private:
  std::shared_ptr<const Fetch> fetch_now(double timeout_s);
  std::shared_ptr<Symbols> symbols_for(const std::shared_ptr<const Profile>& p);

  const pid_t pid_;
  const std::string service_;
  const uint64_t start_time_;
  const size_t window_size_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool in_flight_ = false;
  uint64_t fetches_ = 0;
  std::shared_ptr<const Fetch> last_;
  uint64_t snapshots_ = 0, errors_ = 0;
  bool gone_ = false;
  int64_t max_alloc_bytes_ = 0, max_allocs_ = 0, max_frees_ = 0;

  struct WindowEntry {
    std::shared_ptr<const Profile> profile;
    SymbolizedProfile sites;
  };
  std::mutex window_mu_;  // the window and its trend (after mu_ when both)
  std::deque<std::shared_ptr<WindowEntry>> window_;
  std::shared_ptr<TrendResult> trend_;  // over window_, null when fewer than 3

  std::mutex symbols_mu_;
  std::shared_ptr<Symbols> symbols_;

  std::mutex render_mu_;
  uint64_t rendered_seq_ = 0;
  std::map<std::string, std::shared_ptr<const std::string>> rendered_;
  std::shared_ptr<SymbolizedProfile> latest_sites_;  // symbolized sites of rendered_seq_'s fetch
};

// The process facts (start time, comm, identity, owners) are
// control/live_process.h's, shared with `top` and `snapshot`.
using control::process_comm;
using control::process_identity;
using control::process_owners;
using control::process_start_time;
// "" when this agent may serve pid (it runs as root, or as the process's real
// or effective uid, as the channel itself requires), else why not.
std::string serve_refusal(pid_t pid);

}  // namespace heapscope::serve
