// main.cpp -- leaky_server: wires the cache policy, the endpoints and the
// monitor together, serves until SIGINT/SIGTERM, then cleans up and exits 0.
//
// Signals: SIGINT and SIGTERM are blocked in every thread (the mask is set
// before any thread starts, and threads inherit it) and taken synchronously
// by sigwait() in the main thread, so no code runs in signal context at all;
// the main thread then stops the server, clears the cache and the other
// stores, logs "cleaned up N entries", and returns 0. Other signals, such as
// heapscope's SIGUSR2 snapshot request, are left alone.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include "endpoints.h"
#include "log.h"
#include "monitor.h"
#include "options.h"
#include "server_state.h"

namespace {

int serve(const demo::Options& options, const sigset_t& stop_signals) {
  demo::ServerState state(demo::make_cache(options.cache));
  httplib::Server server;
  server.set_tcp_nodelay(true);  // headers and body are separate writes: no Nagle delay between them
  demo::add_cache_endpoints(server, state);
  demo::add_cause_endpoints(server, state);

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    if (port < 0) port = 0;
  } else if (!server.bind_to_port(options.host, port)) {
    port = 0;
  }
  if (port == 0) {
    std::fprintf(stderr, "leaky_server: cannot listen on %s:%d (in use, or not a local address?)\n",
                 options.host.c_str(), options.port);
    return 1;
  }
  demo::log_line("leaky_server: listening on http://" + options.host + ":" + std::to_string(port) +
                 " (cache=" + state.cache->mode() + ", pid " + std::to_string(getpid()) + ")");

  demo::Monitor monitor(options.monitor_s, [&state] { return state.cache->stats().entries; });

  std::atomic<bool> stopping{false}, server_died{false};
  pthread_t main_thread = pthread_self();
  std::thread listener([&] {
    server.listen_after_bind();
    if (!stopping) {  // the server stopped on its own: wake main, which cleans up and fails
      server_died = true;
      pthread_kill(main_thread, SIGTERM);
    }
  });

  int sig = 0;
  sigwait(&stop_signals, &sig);
  stopping = true;
  server.stop();
  listener.join();
  if (server_died) std::fprintf(stderr, "leaky_server: the HTTP server stopped accepting connections\n");

  size_t entries = state.cache->clear();
  size_t listeners = state.emitter.clear();
  size_t closures = state.closures.clear();
  size_t timers = state.timers.clear();
  size_t sessions = state.sessions.clear();
  demo::log_line(std::string("[shutdown] ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": cleaned up " +
                 std::to_string(entries) + " entries (" + std::to_string(listeners) + " listeners, " +
                 std::to_string(closures) + " closures, " + std::to_string(timers) + " timers, " + std::to_string(sessions) + " sessions)");
  return server_died ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  demo::Options options;
  try {
    options = demo::parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaky_server: %s\n%s", e.what(), demo::usage());
    return 2;
  }
  if (options.help) {
    std::fputs(demo::usage(), stdout);
    return 0;
  }

  // Before any thread exists: every thread inherits this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    return serve(options, stop_signals);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaky_server: %s\n", e.what());
    return 1;
  }
}
