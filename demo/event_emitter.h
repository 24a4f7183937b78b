// event_emitter.h -- a minimal EventEmitter (the guide's "listeners never
// removed"), and Subscription, the RAII handle that removes a listener.
//
// Owns: the listener table and its lifetime rules. A listener added with on()
// stays, with everything its std::function captured, until off() is called;
// Subscription calls off() in its destructor. Thread-safe (one mutex);
// listeners run outside the lock, so a listener may call on()/off().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace demo {

class EventEmitter {
 public:
  using Listener = std::function<void(const std::string& event)>;

  // Adds a listener; returns its id for off().
  uint64_t on(Listener listener) {
    std::lock_guard lock(mu_);
    uint64_t id = next_id_++;
    listeners_.emplace(id, std::make_shared<Listener>(std::move(listener)));
    return id;
  }
  // Removes a listener (and frees what it captured); false if unknown.
  bool off(uint64_t id) {
    std::shared_ptr<Listener> gone;  // destroyed after the lock is released
    std::lock_guard lock(mu_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return false;
    gone = std::move(it->second);
    listeners_.erase(it);
    return true;
  }
  // Calls every listener; returns how many ran.
  size_t emit(const std::string& event) {
    std::vector<std::shared_ptr<Listener>> snapshot;
    {
      std::lock_guard lock(mu_);
      snapshot.reserve(listeners_.size());
      for (auto& [id, listener] : listeners_) snapshot.push_back(listener);
    }
    for (auto& listener : snapshot) (*listener)(event);
    return snapshot.size();
  }
  size_t listener_count() const {
    std::lock_guard lock(mu_);
    return listeners_.size();
  }
  size_t clear() {
    std::map<uint64_t, std::shared_ptr<Listener>> gone;
    std::lock_guard lock(mu_);
    gone.swap(listeners_);
    return gone.size();
  }

 private:
  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Listener>> listeners_;
};

// Removes its listener when it goes out of scope: the fix for /listener.
class Subscription {
 public:
  Subscription(EventEmitter& emitter, EventEmitter::Listener listener)
      : emitter_(emitter), id_(emitter.on(std::move(listener))) {}
  ~Subscription() { emitter_.off(id_); }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  EventEmitter& emitter_;
  uint64_t id_;
};

}  // namespace demo
