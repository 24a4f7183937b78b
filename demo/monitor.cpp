// monitor.cpp -- see monitor.h.
#include "monitor.h"

#include <chrono>
#include <cstdio>

#include "log.h"
#include "process_memory.h"

namespace demo {

std::string format_mib(unsigned long long bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

std::string monitor_line(const MemoryFigures& m, size_t cache_entries) {
  std::string line = "[monitor] rss=" + format_mib(m.rss_bytes) + " heap_total=" + format_mib(m.heap_total_bytes) +
                     " heap_used=" + format_mib(m.heap_used_bytes) + " external=" + format_mib(m.external_bytes) +
                     " cache_entries=" + std::to_string(cache_entries);
  if (m.tracked_live_bytes) line += " heapscope_live=" + format_mib(*m.tracked_live_bytes);
  return line;
}

Monitor::Monitor(double period_s, std::function<size_t()> cache_entries) : cache_entries_(std::move(cache_entries)) {
  if (period_s > 0) thread_ = std::thread([this, period_s] { run(period_s); });
}

Monitor::~Monitor() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Monitor::run(double period_s) {
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(period_s));
  auto next = std::chrono::steady_clock::now() + period;
  std::unique_lock lock(mu_);
  while (!cv_.wait_until(lock, next, [this] { return stop_; })) {
    lock.unlock();
    log_line(monitor_line(read_memory(), cache_entries_()));
    lock.lock();
    next += period;
  }
}

}  // namespace demo
