// session_pool.h -- the cause whose RSS grows while the live heap stays flat:
// memory the allocator keeps, not a leak in the heap.
//
// Owns: one thread per session (a thread-per-client server whose clients idle
// between requests) and a bounded ring of the most recent parsed records.
// Each request opens a session: a new thread that parses a batch of
// kBatchBytes in small records (32..1023 bytes), keeps one record in 64 in
// the ring (capacity kRecentRecords, the oldest freed when it is full) and
// frees the rest, then idles until the pool closes. Every live thread keeps
// its own glibc arena (up to 8 per core), and an arena keeps the pages of a
// freed batch: RSS climbs by about a batch per session while the heap in use
// stays at the ring's size. open_trimmed() does the same work, then returns
// the freed pages to the kernel with malloc_trim(0), one of the remedies
// heapscope's trend names.
// Sessions are bounded (kMaxSessions): past it the oldest is closed first.
// Thread-safe: every member may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace demo {

inline constexpr size_t kBatchBytes = 8 << 20;
inline constexpr size_t kRecentRecords = 4096;
inline constexpr size_t kMaxSessions = 64;

class SessionPool {
 public:
  SessionPool() = default;
  ~SessionPool();  // closes every session and frees the ring
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;

  // Opens a session, parses one batch on its thread and returns once parsed.
  void open();
  // The same, then malloc_trim(0) on the session's thread.
  void open_trimmed();
  size_t sessions() const;
  size_t recent_records() const;
  size_t clear();  // closes every session, frees the ring; returns sessions closed

 private:
  void start(bool trim);
  void parse_batch(uint64_t seed, bool trim);
  void keep(std::vector<char*>& records);

  mutable std::mutex mu_;
  std::condition_variable closing_cv_;
  std::deque<std::thread> threads_;
  std::deque<bool*> close_flags_;  // one per thread, set under mu_ to close it
  std::deque<char*> recent_;
  uint64_t opened_ = 0;
};

}  // namespace demo
