// endpoints_causes.cpp -- the guide's other leak causes, each a route that
// leaks and a "-fixed" twin that does the same work without keeping memory:
//   /listener       a listener capturing 64 KiB, added per request, never removed
//   /closure        a kept callback that captured a whole 256 KiB report
//   /timer          a repeating timer holding 128 KiB, never cancelled
//   /fragment       not a leak: a session thread per request whose arena keeps
//                   8 MiB of freed pages (RSS grows, the heap in use does not);
//                   /fragment-fixed gives them back with malloc_trim(0)
// Handlers run on the server's thread pool; they touch only ServerState.
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "endpoints.h"
#include "server_state.h"

namespace demo {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr size_t kListenerBytes = 64 << 10;
constexpr size_t kReportBytes = 256 << 10;
constexpr size_t kTimerBytes = 128 << 10;

void reply(httplib::Response& res, const json& body) { res.set_content(body.dump() + "\n", "application/json"); }

// A per-request report: a large table of rows and a one-line summary.
struct Report {
  std::vector<char> rows;
  size_t row_count;
};

Report build_report() { return Report{std::vector<char>(kReportBytes, 'r'), kReportBytes / 64}; }

}  // namespace

void add_cause_endpoints(httplib::Server& server, ServerState& state) {
  // Listeners never removed: each request subscribes to "request" events with
  // a listener that holds a 64 KiB buffer, and nobody calls off().
  server.Get("/listener", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    std::vector<char> buffer(kListenerBytes, 'l');
    state.emitter.on([&state, buffer = std::move(buffer)](const std::string&) {
      state.listener_calls += buffer.empty() ? 0 : 1;
    });
    size_t ran = state.emitter.emit("request");
    reply(res, {{"listeners", state.emitter.listener_count()}, {"listeners_ran", ran}});
  });
  // Fixed: the subscription is an RAII object; leaving the handler removes it.
  server.Get("/listener-fixed", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    std::vector<char> buffer(kListenerBytes, 'l');
    size_t ran = 0;
    {
      Subscription subscription(state.emitter, [&state, buffer = std::move(buffer)](const std::string&) {
        state.listener_calls += buffer.empty() ? 0 : 1;
      });
      ran = state.emitter.emit("request");
    }  // off() here
    reply(res, {{"listeners", state.emitter.listener_count()}, {"listeners_ran", ran}});
  });

  // Closures holding large objects: the kept callback needs only the row
  // count but captures the whole report, so every kept callback keeps 256 KiB.
  server.Get("/closure", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    Report report = build_report();
    state.closures.keep([report = std::move(report)] { return report.row_count; }, kReportBytes);
    reply(res, {{"closures", state.closures.count()}});
  });
  // Fixed: capture only what the callback uses; the report dies with the request.
  server.Get("/closure-fixed", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    Report report = build_report();
    size_t row_count = report.row_count;
    state.closures.keep([row_count] { return row_count; }, sizeof row_count);
    reply(res, {{"closures", state.closures.count()}});
  });

  // Timers never cleared: a progress ticker (every 100 ms) holding a 128 KiB
  // buffer, started for the request and never cancelled (setInterval without
  // clearInterval). It keeps its buffer and keeps running, forever.
  server.Get("/timer", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    std::vector<char> buffer(kTimerBytes, 't');
    state.timers.every(100ms, [buffer = std::move(buffer)]() mutable { ++buffer[0]; });
    reply(res, {{"timers_active", state.timers.active()}});
  });
  // Fixed: the ticker is a ScopedTimer; leaving the handler cancels it.
  server.Get("/timer-fixed", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    std::vector<char> buffer(kTimerBytes, 't');
    {
      ScopedTimer ticker(state.timers, 100ms, [buffer = std::move(buffer)]() mutable { ++buffer[0]; });
    }  // cancel() here
    reply(res, {{"timers_active", state.timers.active()}});
  });

  // Memory the allocator keeps: each request opens a session thread that
  // parses 8 MiB of small records and keeps one in 64 in a bounded ring. The
  // heap in use stays at the ring's size; each idle session's arena keeps the
  // freed pages, so RSS climbs (session_pool.h).
  server.Get("/fragment", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    state.sessions.open();
    reply(res, {{"sessions", state.sessions.sessions()}, {"recent_records", state.sessions.recent_records()}});
  });
  // Fixed: the same work, then malloc_trim(0) hands the freed pages back.
  server.Get("/fragment-fixed", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    state.sessions.open_trimmed();
    reply(res, {{"sessions", state.sessions.sessions()}, {"recent_records", state.sessions.recent_records()}});
  });
}

}  // namespace demo
