// server_state.h -- everything the endpoints share: the cache, the three
// other leak causes, the allocator-held cause and the request counters.
// Owns nothing but its members; every member is thread-safe on its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "cache.h"
#include "closure_store.h"
#include "event_emitter.h"
#include "session_pool.h"
#include "timer_service.h"

namespace demo {

struct ServerState {
  explicit ServerState(std::unique_ptr<Cache> c) : cache(std::move(c)) {}

  std::unique_ptr<Cache> cache;  // /leak
  EventEmitter emitter;          // /listener, /listener-fixed
  ClosureStore closures;         // /closure, /closure-fixed
  TimerService timers;           // /timer, /timer-fixed
  SessionPool sessions;          // /fragment, /fragment-fixed
  std::atomic<uint64_t> requests{0};        // every request, any path
  std::atomic<uint64_t> listener_calls{0};  // listener invocations
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

}  // namespace demo
