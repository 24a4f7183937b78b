// session_pool.cpp -- see session_pool.h.
#include "session_pool.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace demo {

SessionPool::~SessionPool() { clear(); }

void SessionPool::open() { start(false); }
void SessionPool::open_trimmed() { start(true); }

void SessionPool::start(bool trim) {
  std::unique_lock lock(mu_);
  if (threads_.size() >= kMaxSessions) {  // close the oldest session first
    *close_flags_.front() = true;
    closing_cv_.notify_all();
    std::thread oldest = std::move(threads_.front());
    threads_.pop_front();
    close_flags_.pop_front();
    lock.unlock();
    oldest.join();
    lock.lock();
  }
  uint64_t seed = ++opened_;
  bool parsed = false;
  bool* closed = new bool(false);
  std::condition_variable parsed_cv;
  threads_.emplace_back([this, seed, trim, closed, &parsed, &parsed_cv] {
    parse_batch(seed, trim);
    std::unique_lock l(mu_);
    parsed = true;
    parsed_cv.notify_all();
    closing_cv_.wait(l, [closed] { return *closed; });  // the session idles, keeping its thread
    delete closed;
  });
  close_flags_.push_back(closed);
  parsed_cv.wait(lock, [&parsed] { return parsed; });
}

void SessionPool::parse_batch(uint64_t seed, bool trim) {
  std::vector<char*> records;
  size_t total = 0;
  uint64_t x = seed * 0x9e3779b97f4a7c15ull;
  while (total < kBatchBytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    size_t size = 32 + (x >> 33) % 992;
    char* r = static_cast<char*>(std::malloc(size));
    if (!r) break;
    std::memset(r, 'r', size);
    records.push_back(r);
    total += size;
  }
  std::vector<char*> kept;
  for (size_t i = 0; i < records.size(); ++i) {
    if (i % 64 == 63) kept.push_back(records[i]);
    else std::free(records[i]);
  }
  keep(kept);
  if (trim) malloc_trim(0);
}

void SessionPool::keep(std::vector<char*>& records) {
  std::lock_guard lock(mu_);
  for (char* r : records) {
    recent_.push_back(r);
    if (recent_.size() > kRecentRecords) {
      std::free(recent_.front());
      recent_.pop_front();
    }
  }
}

size_t SessionPool::sessions() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t SessionPool::recent_records() const {
  std::lock_guard lock(mu_);
  return recent_.size();
}

size_t SessionPool::clear() {
  std::deque<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    for (bool* c : close_flags_) *c = true;
    close_flags_.clear();
    threads.swap(threads_);
    for (char* r : recent_) std::free(r);
    recent_.clear();
  }
  closing_cv_.notify_all();
  for (auto& t : threads) t.join();
  return threads.size();
}

}  // namespace demo
