// http.h -- heapscope serve's HTTP side (cpp-httplib): the listener, its
// limits, and the routes, one file per route family:
//   routes_pprof.cpp    /debug/pprof/ (index), heap, allocs, symbol; Go's
//                       net/http/pprof semantics and error strings
//   routes_metrics.cpp  /metrics (Prometheus text 0.0.4 or OpenMetrics 1.0)
// Every route also answers under /pid/<PID>/ (scrapers' path_prefix) and
// takes ?pid=<PID>; with one target the plain paths serve it.
// Limits: request bodies over kMaxBody are refused (413), header and URI
// lengths are cpp-httplib's (8 KiB each, 400 beyond), a connection has
// kReadTimeoutS to send its request; `?seconds=` at most kMaxDeltaSeconds.
// Nothing in a request names a file: no route opens a path it is given.
// Thread-safe (one httplib worker per request, kWorkers of them).
#pragma once

#include <memory>
#include <string>

#include "serve/agent.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace heapscope::serve {

constexpr size_t kMaxBody = 1 << 20;
constexpr int kReadTimeoutS = 5;
constexpr int kWorkers = 64;
constexpr long kMaxDeltaSeconds = 600;

// host and port from "HOST:PORT" or "[V6]:PORT"; false with *why otherwise.
bool parse_listen(const std::string& text, std::string* host, int* port, std::string* why);
// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(const std::string& host);

class HttpServer {
 public:
  explicit HttpServer(Agent& agent);
  ~HttpServer();
  // Binds (port 0: any free port); returns the port, or throws
  // std::runtime_error naming the address.
  int bind(const std::string& host, int port);
  // Serves until stop() (blocks).
  void run();
  void stop();

 private:
  Agent& agent_;
  std::unique_ptr<httplib::Server> svr_;
};

// --- shared by the route files ---
// The target a request names: the /pid/<PID>/ prefix (prefix_pid, "" when
// none), else ?pid=, else the only one. On failure *status and *error are
// the answer (400 several and no choice, or a malformed pid; 404 an unknown
// pid; 503 none yet).
std::shared_ptr<Target> resolve_target(Agent& agent, const httplib::Request& req, const std::string& prefix_pid,
                                       int* status, std::string* error);
// Go's serveError: text/plain, X-Go-Pprof: 1, the text and a newline.
void go_error(httplib::Response& res, int status, const std::string& text);

void add_pprof_routes(httplib::Server& svr, Agent& agent);
void add_metrics_routes(httplib::Server& svr, Agent& agent);

}  // namespace heapscope::serve
