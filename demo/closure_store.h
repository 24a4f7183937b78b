// closure_store.h -- callbacks kept for later (the guide's "closures holding
// large objects").
//
// Owns: a list of std::function<size_t()> that is only cleared at shutdown,
// and the count of bytes the kept closures captured (as reported by the
// caller). What a closure captures lives as long as the closure: a lambda
// capturing a 256 KiB object by value keeps 256 KiB per kept callback.
// Thread-safe (one mutex).
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <utility>

namespace demo {

class ClosureStore {
 public:
  using Callback = std::function<size_t()>;

  void keep(Callback callback, size_t captured_bytes) {
    std::lock_guard lock(mu_);
    callbacks_.push_back(std::move(callback));
    captured_bytes_ += captured_bytes;
  }
  size_t count() const {
    std::lock_guard lock(mu_);
    return callbacks_.size();
  }
  size_t captured_bytes() const {
    std::lock_guard lock(mu_);
    return captured_bytes_;
  }
  size_t clear() {
    std::list<Callback> gone;
    std::lock_guard lock(mu_);
    gone.swap(callbacks_);
    captured_bytes_ = 0;
    return gone.size();
  }

 private:
  mutable std::mutex mu_;
  std::list<Callback> callbacks_;
  size_t captured_bytes_ = 0;
};

}  // namespace demo
