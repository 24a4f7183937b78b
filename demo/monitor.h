// monitor.h -- the guide's periodic memory line:
//   [monitor] rss=123.4 MiB heap_total=98.0 MiB heap_used=96.2 MiB external=9.1 MiB cache_entries=90
// Owns: the monitor thread. Starts in the constructor when period > 0, stops
// (and joins) in the destructor. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace demo {

struct MemoryFigures;

// "12.3 MiB"
std::string format_mib(unsigned long long bytes);

// The monitor line for these figures.
std::string monitor_line(const MemoryFigures& m, size_t cache_entries);

class Monitor {
 public:
  // period_s <= 0: no thread, no lines.
  Monitor(double period_s, std::function<size_t()> cache_entries);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

 private:
  void run(double period_s);

  std::function<size_t()> cache_entries_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace demo
