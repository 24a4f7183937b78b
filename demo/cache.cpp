// cache.cpp -- the four cache policies behind /leak (see cache.h).
//
// Each map is keyed by the request's arrival time in steady-clock
// nanoseconds, made unique and increasing under the cache's mutex, so begin()
// is always the oldest entry. Thread-safe: one mutex per cache; the sweep
// thread (ttl, weak) takes the same mutex.
#include "cache.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace demo {
namespace {

// The 1 MiB block every entry copies (the guide's 'x'.repeat(1024 * 1024)).
const std::string& payload() {
  static const std::string block(kEntryDataBytes, 'x');
  return block;
}

long unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

long steady_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// Unique, increasing time keys. Not thread-safe: call under the cache's mutex.
class KeyClock {
 public:
  long next() {
    long now = steady_ns();
    last_ = now > last_ ? now : last_ + 1;
    return last_;
  }

 private:
  long last_ = 0;
};

// Calls cache.sweep() every `period` until destroyed.
class Sweeper {
 public:
  Sweeper(Cache& cache, std::chrono::milliseconds period)
      : thread_([this, &cache, period] {
          std::unique_lock lock(mu_);
          while (!stop_) {
            if (cv_.wait_for(lock, period, [this] { return stop_; })) break;
            lock.unlock();
            cache.sweep();
            lock.lock();
          }
        }) {}
  ~Sweeper() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

// What every policy shares: one mutex, the time keys, the map and the count
// of entries a policy removed. Value is CacheEntry, or a weak_ptr to one.
template <class Value>
class MapCache : public Cache {
 public:
  CacheStats stats() const override {
    std::lock_guard lock(mu_);
    return {cache_.size(), cache_.size(), evicted_};
  }
  size_t clear() override {
    std::lock_guard lock(mu_);
    size_t n = cache_.size();
    cache_.clear();
    return n;
  }

 protected:
  mutable std::mutex mu_;
  KeyClock keys_;
  std::map<long, Value> cache_;
  size_t evicted_ = 0;
};

// The guide's bug: every request adds an entry and nothing ever removes one.
class LeakyCache : public MapCache<CacheEntry> {
 public:
  size_t store(RequestScope&, std::string tag) override {
    std::lock_guard lock(mu_);
    long key = keys_.next();
    cache_.try_emplace(key, payload(), std::move(tag), unix_ms());  // the leak: never erased
    return cache_.size();
  }
  const char* mode() const override { return "leaky"; }
};

// Fix 1, a size limit: at max_entries the oldest entry goes (an LRU would
// also refresh on reads; the demo never reads).
class BoundedCache : public MapCache<CacheEntry> {
 public:
  explicit BoundedCache(size_t max_entries) : max_entries_(max_entries) {
    if (max_entries == 0) throw std::invalid_argument("--max-entries must be at least 1, got 0");
  }
  size_t store(RequestScope&, std::string tag) override {
    std::lock_guard lock(mu_);
    while (cache_.size() >= max_entries_) {
      cache_.erase(cache_.begin());  // the oldest: keys increase with time
      ++evicted_;
    }
    long key = keys_.next();
    cache_.try_emplace(key, payload(), std::move(tag), unix_ms());
    return cache_.size();
  }
  const char* mode() const override { return "bounded"; }

 private:
  const size_t max_entries_;
};

// Fix 2, expiry: entries older than ttl are removed by a periodic sweep (and
// on insert), like a cache with a TTL or a setTimeout(() => cache.delete(k)).
class TtlCache : public MapCache<CacheEntry> {
 public:
  explicit TtlCache(double ttl_s) : ttl_ns_(static_cast<long>(ttl_s * 1e9)) {
    if (!(ttl_s > 0)) throw std::invalid_argument("--ttl must be > 0 seconds, got " + std::to_string(ttl_s));
    auto period = std::chrono::milliseconds(std::clamp<long>(static_cast<long>(ttl_s * 250), 50, 1000));
    sweeper_ = std::make_unique<Sweeper>(*this, period);
  }
  ~TtlCache() override { sweeper_.reset(); }  // join before the map goes
  size_t store(RequestScope&, std::string tag) override {
    std::lock_guard lock(mu_);
    expire_locked();
    long key = keys_.next();
    cache_.try_emplace(key, payload(), std::move(tag), unix_ms());
    return cache_.size();
  }
  void sweep() override {
    std::lock_guard lock(mu_);
    expire_locked();
  }
  const char* mode() const override { return "ttl"; }

 private:
  void expire_locked() {
    long cutoff = steady_ns() - ttl_ns_;
    while (!cache_.empty() && cache_.begin()->first <= cutoff) {
      cache_.erase(cache_.begin());
      ++evicted_;
    }
  }

  const long ttl_ns_;
  std::unique_ptr<Sweeper> sweeper_;
};

// Fix 3, weak references: the request owns the entry (a shared_ptr in its
// RequestScope), the cache keeps a weak_ptr. When the request ends the 1 MiB
// string is freed; what stays is the map node and make_shared's single block
// (control block + CacheEntry object, ~100 bytes), held by the weak_ptr until
// the slot is erased. So expired slots are pruned on insert and by a sweep;
// with prune=false (--no-prune) they pile up: a small leak in place of a big one.
class WeakCache : public MapCache<std::weak_ptr<CacheEntry>> {
 public:
  explicit WeakCache(bool prune) : prune_(prune) {
    if (prune_) sweeper_ = std::make_unique<Sweeper>(*this, std::chrono::milliseconds(500));
  }
  ~WeakCache() override { sweeper_.reset(); }
  size_t store(RequestScope& scope, std::string tag) override {
    auto entry = std::make_shared<CacheEntry>(payload(), std::move(tag), unix_ms());
    scope.owned.push_back(entry);  // the request is the only owner
    std::lock_guard lock(mu_);
    if (prune_) prune_locked();
    long key = keys_.next();
    cache_.try_emplace(key, entry);
    return cache_.size();
  }
  void sweep() override {
    std::lock_guard lock(mu_);
    if (prune_) prune_locked();
  }
  CacheStats stats() const override {
    std::lock_guard lock(mu_);
    size_t live = 0;
    for (const auto& [key, slot] : cache_) live += slot.expired() ? 0 : 1;
    return {cache_.size(), live, evicted_};
  }
  const char* mode() const override { return "weak"; }

 private:
  void prune_locked() {
    for (auto it = cache_.begin(); it != cache_.end();) {
      if (it->second.expired()) {
        it = cache_.erase(it);
        ++evicted_;
      } else {
        ++it;
      }
    }
  }

  const bool prune_;
  std::unique_ptr<Sweeper> sweeper_;
};

}  // namespace

std::unique_ptr<Cache> make_cache(const CacheOptions& options) {
  payload();  // built at start, so heap figures taken later measure the entries only
  if (options.mode == "leaky") return std::make_unique<LeakyCache>();
  if (options.mode == "bounded") return std::make_unique<BoundedCache>(options.max_entries);
  if (options.mode == "ttl") return std::make_unique<TtlCache>(options.ttl_s);
  if (options.mode == "weak") return std::make_unique<WeakCache>(options.prune);
  throw std::invalid_argument("--cache must be leaky, bounded, ttl or weak, got '" + options.mode + "'");
}

}  // namespace demo
