// endpoints_cache.cpp -- /, /leak, /status and /snapshot (see endpoints.h).
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "endpoints.h"
#include "process_memory.h"
#include "server_state.h"

namespace demo {
namespace {

using nlohmann::json;

void reply(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

// The guide's Math.random().toString(36): a random 24-character string.
std::string random_tag() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string tag(24, ' ');
  for (char& c : tag) c = kAlphabet[pick(rng)];
  return tag;
}

// JSON number, or null when absent.
json optional_number(const std::optional<uint64_t>& v) { return v ? json(*v) : json(nullptr); }

}  // namespace

void add_cache_endpoints(httplib::Server& server, ServerState& state) {
  server.Get("/", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    res.set_content(
        "leaky_server: the C++ twin of the Node.js guide's leaky server.\n"
        "GET /leak            store ~1 MiB in the cache (--cache leaky|bounded|ttl|weak)\n"
        "GET /status          memory figures and counters (JSON)\n"
        "GET /snapshot        write a heapscope snapshot (needs `heapscope run`)\n"
        "GET /listener        add an event listener that is never removed (64 KiB each)\n"
        "GET /listener-fixed  the same listener, removed when the request ends\n"
        "GET /closure         keep a callback that captured a 256 KiB report\n"
        "GET /closure-fixed   keep a callback that captured only the number it needs\n"
        "GET /timer           start a repeating timer holding 128 KiB, never cancelled\n"
        "GET /timer-fixed     the same timer, cancelled when the request ends\n"
        "GET /fragment        open a session thread that parses 8 MiB and idles: RSS grows, the heap does not\n"
        "GET /fragment-fixed  the same, then malloc_trim(0) returns the freed pages\n",
        "text/plain");
  });

  server.Get("/leak", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    RequestScope scope;  // what this request owns; gone when the handler returns
    size_t entries = state.cache->store(scope, random_tag());
    reply(res, {{"stored_bytes", kEntryDataBytes}, {"cache_entries", entries}, {"cache_mode", state.cache->mode()}});
  });

  server.Get("/status", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    MemoryFigures m = read_memory();
    CacheStats cache = state.cache->stats();
    double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - state.started).count();
    reply(res, {
                   {"rss_bytes", m.rss_bytes},
                   {"heap_used_bytes", m.heap_used_bytes},
                   {"heap_total_bytes", m.heap_total_bytes},
                   {"external_bytes", m.external_bytes},
                   {"cache_entries", cache.entries},
                   {"cache_live_entries", cache.live_entries},
                   {"cache_evicted", cache.evicted},
                   {"cache_mode", state.cache->mode()},
                   {"uptime_s", uptime},
                   {"requests", state.requests.load()},
                   {"listeners", state.emitter.listener_count()},
                   {"listener_calls", state.listener_calls.load()},
                   {"closures", state.closures.count()},
                   {"closure_captured_bytes", state.closures.captured_bytes()},
                   {"timers_active", state.timers.active()},
                   {"timer_ticks", state.timers.ticks()},
                   {"sessions", state.sessions.sessions()},
                   {"recent_records", state.sessions.recent_records()},
                   {"heapscope_active", m.heapscope_active},
                   {"tracked_live_bytes", optional_number(m.tracked_live_bytes)},
                   {"tracked_live_blocks", optional_number(m.tracked_live_blocks)},
               });
  });

  server.Get("/snapshot", [&state](const httplib::Request&, httplib::Response& res) {
    ++state.requests;
    std::string error;
    bool absent = false;
    if (auto path = write_snapshot(error, absent)) {
      reply(res, {{"path", *path}});
    } else {
      reply(res, {{"error", error}}, absent ? 503 : 500);
    }
  });
}

}  // namespace demo
