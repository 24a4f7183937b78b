// http.cpp -- see http.h.
#include "serve/http.h"

#include <httplib.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <stdexcept>

namespace heapscope::serve {

bool parse_listen(const std::string& text, std::string* host, int* port, std::string* why) {
  size_t colon;
  std::string h;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *why = "'" + text + "': expected [IPV6]:PORT";
      return false;
    }
    h = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string::npos) {
      *why = "'" + text + "': expected HOST:PORT, e.g. 127.0.0.1:6060";
      return false;
    }
    h = text.substr(0, colon);
  }
  std::string p = text.substr(colon + 1);
  if (h.empty() || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stol(p) > 65535) {
    *why = "'" + text + "': expected HOST:PORT with a port 0..65535, e.g. 127.0.0.1:6060";
    return false;
  }
  *host = h;
  *port = int(std::stol(p));
  return true;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

void go_error(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_header("X-Go-Pprof", "1");
  res.set_content(text + "\n", "text/plain; charset=utf-8");
}

std::shared_ptr<Target> resolve_target(Agent& agent, const httplib::Request& req, const std::string& prefix_pid,
                                       int* status, std::string* error) {
  std::string pid_text = prefix_pid;
  if (pid_text.empty() && req.has_param("pid")) pid_text = req.get_param_value("pid");
  auto all = agent.targets();
  auto choices = [&] {
    std::string c;
    for (const auto& t : all) c += (c.empty() ? "" : ", ") + std::to_string(t->pid()) + " (" + t->service() + ")";
    return c.empty() ? std::string("none yet") : c;
  };
  if (!pid_text.empty()) {
    if (pid_text.size() > 9 || pid_text.find_first_not_of("0123456789") != std::string::npos) {
      *status = 400;
      *error = "invalid process id '" + pid_text.substr(0, 20) + "' (expected a number; served: " + choices() + ")";
      return nullptr;
    }
    auto t = agent.target(pid_t(std::stol(pid_text)));
    if (!t) {
      *status = 404;
      *error = "process " + pid_text + " is not served by this agent (served: " + choices() + ")";
    }
    return t;
  }
  if (all.size() == 1) return all[0];
  if (all.empty()) {
    *status = 503;
    *error = "no process is served yet";
    return nullptr;
  }
  *status = 400;
  *error = "several processes are served: choose one with /pid/<PID>" + req.path + " or ?pid=<PID>: " + choices();
  return nullptr;
}

HttpServer::HttpServer(Agent& agent) : agent_(agent), svr_(std::make_unique<httplib::Server>()) {
  svr_->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  svr_->set_payload_max_length(kMaxBody);
  svr_->set_read_timeout(kReadTimeoutS, 0);
  svr_->set_keep_alive_max_count(100);
  add_pprof_routes(*svr_, agent_);
  add_metrics_routes(*svr_, agent_);
  svr_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("heapscope serve: /debug/pprof/ (heap profiles, Go's net/http/pprof routes), /metrics "
                    "(Prometheus); several processes: /pid/<PID>/debug/pprof/... or ?pid=<PID>\n",
                    "text/plain; charset=utf-8");
  });
  svr_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string what = res.status == 404 ? "no route " + req.path.substr(0, 200) +
                                               " (try /debug/pprof/ or /metrics)"
                       : res.status == 413 ? "request body larger than " + std::to_string(kMaxBody) + " bytes"
                                           : "bad request";
    res.set_content(what + "\n", "text/plain; charset=utf-8");
  });
}

HttpServer::~HttpServer() = default;

int HttpServer::bind(const std::string& host, int port) {
  int got = port;
  if (port == 0) got = svr_->bind_to_any_port(host);
  else if (!svr_->bind_to_port(host, port)) got = -1;
  if (got <= 0) throw std::runtime_error("--listen " + host + ":" + std::to_string(port) +
                                         ": cannot listen there (in use, or not an address of this machine)");
  // cpp-httplib 0.11 listens with a backlog of 5: a burst of scrapers (50
  // at once) would wait for SYN retries, a second each. Listening again on
  // the same socket raises the backlog (Linux); the socket is found as the
  // listening one bound to our port.
  for (int fd = 3; fd < 4096; ++fd) {
    int acc = 0;
    socklen_t alen = sizeof acc;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) != 0 || !acc) continue;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) continue;
    int bound = ss.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                : ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                           : -1;
    if (bound == got) ::listen(fd, SOMAXCONN);
  }
  return got;
}

void HttpServer::run() { svr_->listen_after_bind(); }
void HttpServer::stop() { svr_->stop(); }

}  // namespace heapscope::serve
