// agent.cpp -- see agent.h.
#include "serve/agent.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace heapscope::serve {

std::vector<pid_t> channel_pids(const std::string& text) {
  // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = listening.
  std::vector<pid_t> out;
  std::set<pid_t> seen;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, ref, proto, flags, type, st, inode, path;
    if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode >> path)) continue;
    static const std::string kName = "@heapscope/";
    if (path.rfind(kName, 0) != 0 || flags != "00010000") continue;
    std::string digits = path.substr(kName.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = pid_t(std::stol(digits));
    if (pid > 0 && seen.insert(pid).second) out.push_back(pid);
  }
  return out;
}

namespace {
std::vector<pid_t> listening_channels() {
  std::ifstream in("/proc/net/unix");
  std::stringstream ss;
  ss << in.rdbuf();
  return channel_pids(ss.str());
}
}  // namespace

Agent::Agent(AgentOptions o) : o_(std::move(o)) {}
Agent::~Agent() { stop(); }

std::shared_ptr<Target> Agent::make_target(pid_t pid, std::string* why) {
  *why = serve_refusal(pid);
  if (!why->empty()) return nullptr;
  uint64_t start = process_start_time(pid);
  if (!start) {
    *why = "process " + std::to_string(pid) + " does not exist";
    return nullptr;
  }
  std::string service = o_.service.empty() ? process_comm(pid) : o_.service;
  if (service.empty()) service = "pid" + std::to_string(pid);
  return std::make_shared<Target>(pid, service, start, o_.window);
}

std::string Agent::add(pid_t pid) {
  std::string why;
  auto t = make_target(pid, &why);
  if (!t) return why;
  std::lock_guard<std::mutex> l(mu_);
  targets_[pid] = t;
  cv_.notify_all();  // its first window snapshot now
  return "";
}

void Agent::start() {
  for (pid_t pid : o_.pids) {
    std::string why = add(pid);
    if (!why.empty()) throw std::runtime_error("--pid " + std::to_string(pid) + ": " + why);
    std::lock_guard<std::mutex> l(mu_);
    fixed_[pid] = Fixed{process_identity(pid), control::boot_ticks_now()};
  }
  if (o_.all) discover();
  thread_ = std::thread([this] { loop(); });
}

void Agent::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::shared_ptr<Target>> Agent::targets() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::shared_ptr<Target>> out;
  for (const auto& [pid, t] : targets_) out.push_back(t);
  return out;
}

std::shared_ptr<Target> Agent::target(pid_t pid) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = targets_.find(pid);
  return it == targets_.end() ? nullptr : it->second;
}

void Agent::discover() {
  if (!o_.all) return;
  std::vector<pid_t> live = listening_channels();
  std::set<pid_t> now(live.begin(), live.end());
  std::map<pid_t, std::shared_ptr<Target>> add;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Gone (no channel any more), or the pid reused by another process.
    for (auto it = targets_.begin(); it != targets_.end();) {
      const bool fixed = fixed_.count(it->first) > 0;
      if (!fixed && (!now.count(it->first) || process_start_time(it->first) != it->second->start_time()))
        it = targets_.erase(it);
      else
        ++it;
    }
    for (pid_t pid : live)
      if (!targets_.count(pid)) add[pid] = nullptr;
  }
  for (auto& [pid, t] : add) {
    std::string why;
    t = make_target(pid, &why);  // another user's process: not served, silently (--all is "what I may see")
  }
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [pid, t] : add)
    if (t && !targets_.count(pid)) targets_[pid] = t;
}

void Agent::follow_restarts() {
  struct Gone {
    pid_t pid;
    Fixed was;
  };
  std::vector<Gone> gone;  // exited --pid targets
  {
    const uint64_t checked_at = control::boot_ticks_now();  // before the looks: a start after it ran beside nothing
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [pid, f] : fixed_) {
      auto it = targets_.find(pid);
      if (f.identity.empty() || it == targets_.end()) continue;
      if (process_start_time(pid) != it->second->start_time())
        gone.push_back({pid, f});
      else
        f.alive_at = checked_at;
    }
  }
  if (gone.empty()) return;
  std::vector<pid_t> live = listening_channels();
  for (const auto& g : gone) {
    // The earliest of the same command started once the old one was last
    // seen: another instance that ran beside it is not its restart.
    pid_t best = 0;
    uint64_t best_start = 0;
    for (pid_t pid : live) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (targets_.count(pid)) continue;
      }
      const uint64_t start = process_start_time(pid);
      if (start == 0 || start < g.was.alive_at) continue;
      if (process_identity(pid) != g.was.identity) continue;
      if (best == 0 || start < best_start) {
        best = pid;
        best_start = start;
      }
    }
    if (best == 0) continue;
    std::string why;
    auto t = make_target(best, &why);  // another user's process is not ours to follow
    if (!t) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      targets_.erase(g.pid);
      fixed_.erase(g.pid);
      targets_[best] = t;
      fixed_[best] = Fixed{g.was.identity, control::boot_ticks_now()};
    }
    cv_.notify_all();
    if (o_.note)
      o_.note("process " + std::to_string(g.pid) + " exited; serving process " + std::to_string(best) +
              ", the same command restarted");
  }
}

void Agent::loop() {
  using Clock = std::chrono::steady_clock;
  auto next_discover = Clock::now() + std::chrono::milliseconds(int64_t(o_.discover_interval_s * 1000));
  std::map<Target*, Clock::time_point> next_window;
  std::unique_lock<std::mutex> l(mu_);
  while (!stopping_) {
    auto now = Clock::now();
    std::vector<std::shared_ptr<Target>> due;
    auto wake = next_discover;
    std::map<Target*, Clock::time_point> kept;
    for (const auto& [pid, t] : targets_) {
      auto it = next_window.find(t.get());
      auto at = it == next_window.end() ? now : it->second;
      if (at <= now) {
        due.push_back(t);
        at = now + std::chrono::milliseconds(int64_t(o_.window_interval_s * 1000));
      }
      kept[t.get()] = at;
      if (at < wake) wake = at;
    }
    next_window.swap(kept);
    if (due.empty() && now < next_discover) {
      cv_.wait_until(l, wake);
      continue;
    }
    l.unlock();
    for (const auto& t : due) t->window_tick(o_.snapshot_timeout_s);
    if (o_.all && Clock::now() >= next_discover) {
      discover();
      next_discover = Clock::now() + std::chrono::milliseconds(int64_t(o_.discover_interval_s * 1000));
    } else if (!o_.all && Clock::now() >= next_discover) {
      follow_restarts();
      next_discover = Clock::now() + std::chrono::milliseconds(int64_t(o_.discover_interval_s * 1000));
    }
    l.lock();
  }
}

}  // namespace heapscope::serve
