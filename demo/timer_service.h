// timer_service.h -- repeating timers on one thread (the guide's "timers
// never cleared": setInterval without clearInterval).
//
// Owns: the timer thread and the table of repeating timers. A timer keeps its
// callback, and everything the callback captured, until cancel(); ScopedTimer
// cancels in its destructor. Thread-safe: every member may be called from
// any thread; callbacks run on the timer thread, outside the lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace demo {

class TimerService {
 public:
  using Callback = std::function<void()>;

  TimerService();
  ~TimerService();  // stops the thread and drops every timer
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Runs callback every period, first after one period; returns its id.
  uint64_t every(std::chrono::milliseconds period, Callback callback);
  // Stops a timer and frees its callback; false if unknown.
  bool cancel(uint64_t id);
  size_t active() const;
  uint64_t ticks() const;  // callbacks run since start
  size_t clear();          // cancels every timer; returns how many

 private:
  struct Timer {
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds period;
    std::shared_ptr<Callback> callback;
  };
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Timer> timers_;
  uint64_t next_id_ = 1;
  uint64_t ticks_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

// Cancels its timer when it goes out of scope: the fix for /timer.
class ScopedTimer {
 public:
  ScopedTimer(TimerService& timers, std::chrono::milliseconds period, TimerService::Callback callback)
      : timers_(timers), id_(timers.every(period, std::move(callback))) {}
  ~ScopedTimer() { timers_.cancel(id_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  TimerService& timers_;
  uint64_t id_;
};

}  // namespace demo
