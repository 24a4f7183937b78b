// endpoints.h -- the HTTP routes of leaky_server.
//   GET /            the list of routes
//   GET /leak        store ~1 MiB in the cache (policy per --cache)
//   GET /status      memory figures and counters, JSON
//   GET /snapshot    heapscope snapshot now (503 without the library)
//   GET /listener, /listener-fixed, /closure, /closure-fixed, /timer, /timer-fixed,
//       /fragment, /fragment-fixed
// Handlers run on the server's thread pool; they touch only ServerState.
#pragma once

namespace httplib {
class Server;
}

namespace demo {

struct ServerState;

// /, /leak, /status, /snapshot (endpoints_cache.cpp).
void add_cache_endpoints(httplib::Server& server, ServerState& state);
// The other leak causes and their fixed twins (endpoints_causes.cpp).
void add_cause_endpoints(httplib::Server& server, ServerState& state);

}  // namespace demo
