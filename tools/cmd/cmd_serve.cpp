// cmd_serve.cpp -- `heapscope serve`: an agent beside profiled processes
// serving their heap profiles (Go's /debug/pprof/heap, allocs, symbol) and
// Prometheus /metrics over HTTP (tools/lib/serve/, docs/serve.md).
// Owns: the options, the loopback warning, starting `-- CMD` with run's
// run_profiled (helper thread on, no exit or peak files) and exiting with
// its status, and stopping on SIGINT/SIGTERM otherwise.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "cmd/commands.h"
#include "serve/agent.h"
#include "serve/http.h"

namespace heapscope {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:6060";
  std::string service;
  std::vector<int> pids;
  bool all = false;
  double window_interval = 15;
  int window = 20;
};

// Waits (bounded: 10 s) until pid listens on its control channel, or exits.
void wait_for_channel(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    std::FILE* f = std::fopen("/proc/net/unix", "r");
    std::string text;
    if (f) {
      char buf[65536];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    for (pid_t p : serve::channel_pids(text))
      if (p == pid) return;
    if (serve::process_start_time(pid) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void run_serve(const ServeOptions& o, std::vector<std::string> cmd) {
  if (!cmd.empty() && cmd[0] == "--") cmd.erase(cmd.begin());
  const int modes = (!cmd.empty()) + (!o.pids.empty()) + (o.all ? 1 : 0);
  if (modes == 0)
    throw CommandError("serve: nothing to serve (expected -- CMD ARGS, --pid PID or --all); see `heapscope serve --help`", 2);
  if (!cmd.empty() && modes > 1)
    throw CommandError("serve: -- CMD serves the command it starts; it cannot be combined with --pid or --all", 2);
  std::string host, why;
  int port = 0;
  if (!serve::parse_listen(o.listen, &host, &port, &why)) throw CommandError("--listen " + why, 2);

  serve::AgentOptions ao;
  ao.service = o.service;
  for (int p : o.pids) ao.pids.push_back(pid_t(p));
  ao.all = o.all;
  ao.window_interval_s = o.window_interval;
  ao.window = size_t(o.window);
  ao.note = [](const std::string& what) {
    std::fprintf(stderr, "heapscope serve: %s\n", what.c_str());
    std::fflush(stderr);
  };

  // Without CMD the main thread waits for SIGINT/SIGTERM: blocked in every thread made from here.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGHUP);
  if (cmd.empty()) pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);

  serve::Agent agent(ao);
  try {
    agent.start();
  } catch (const std::exception& e) {
    throw CommandError(std::string("serve: ") + e.what(), 1);
  }
  serve::HttpServer http(agent);
  int bound = 0;
  try {
    bound = http.bind(host, port);
  } catch (const std::exception& e) {
    agent.stop();
    throw CommandError(std::string("serve: ") + e.what(), 1);
  }
  const std::string shown = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(bound);
  if (!serve::is_loopback(host))
    std::fprintf(stderr,
                 "heapscope serve: warning: listening on %s, not a loopback address: anyone who can reach it reads "
                 "the served processes' stacks, function names and source paths, which reveal their code\n",
                 shown.c_str());
  std::fprintf(stderr, "heapscope serve: listening on http://%s/ (/debug/pprof/, /metrics)\n", shown.c_str());
  std::fflush(stderr);
  std::thread server([&http] { http.run(); });

  if (!cmd.empty()) {
    RunOptions ro;
    ro.quiet = true;
    ro.extra_env.push_back({"HEAPSCOPE_THREAD", "always"});  // the control channel's helper thread
    // Nothing on disk unless asked: no exit or peak files by default.
    if (!std::getenv("HEAPSCOPE_AT_EXIT")) ro.extra_env.push_back({"HEAPSCOPE_AT_EXIT", "0"});
    if (!std::getenv("HEAPSCOPE_PEAK")) ro.extra_env.push_back({"HEAPSCOPE_PEAK", "0"});
    ro.on_start = [&agent](int pid) {
      wait_for_channel(pid_t(pid));
      std::string why = agent.add(pid_t(pid));
      if (!why.empty()) std::fprintf(stderr, "heapscope serve: cannot serve %d: %s\n", pid, why.c_str());
      else std::fprintf(stderr, "heapscope serve: serving process %d\n", pid);
    };
    int status = 0;
    try {
      status = run_profiled(ro, cmd, "serve").exit_status;
    } catch (...) {
      http.stop();
      server.join();
      agent.stop();
      throw;
    }
    http.stop();
    server.join();
    agent.stop();
    g_exit_status = status;
    return;
  }
  int sig = 0;
  sigwait(&stop_set, &sig);
  http.stop();
  server.join();
  agent.stop();
}

void add_serve(CLI::App& app) {
  auto opt = std::make_shared<ServeOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve",
      "Serve profiled processes' heap profiles (Go's /debug/pprof/heap and allocs, for go tool pprof, Pyroscope, "
      "Parca) and Prometheus /metrics over HTTP. The processes send snapshots over their control channel; nothing "
      "is written to disk. See docs/serve.md.");
  sub->add_option("--listen", opt->listen,
                  "HOST:PORT to listen on (default 127.0.0.1:6060; port 0 = any free port). Any other than a "
                  "loopback address warns: stacks and paths reveal code")
      ->capture_default_str();
  sub->add_option("--service", opt->service, "The service label of every series (default: each process's comm)");
  sub->add_option("--pid", opt->pids, "A process already under heapscope to serve (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::PositiveNumber);
  sub->add_flag("--all", opt->all,
                "Every process of this user with a heapscope control channel, re-discovered every 2 s");
  sub->add_option("--window-interval", opt->window_interval,
                  "Seconds between the agent's own snapshots of each process, for the leak signal")
      ->check(number_check("seconds > 0", true))
      ->capture_default_str();
  sub->add_option("--window", opt->window, "Snapshots kept per process for the leak signal (trend)")
      ->check(number_check("a count >= 3", true, true))
      ->check(CLI::Range(3, 1000))
      ->capture_default_str();
  sub->prefix_command();
  sub->footer("-- CMD [ARGS]: start CMD under the profiler (as heapscope run does) and serve it; exit with it.\n"
              "Example: heapscope serve --listen 127.0.0.1:6060 -- ./server --port 3000\n"
              "         go tool pprof -top http://127.0.0.1:6060/debug/pprof/heap\n");
  sub->callback([opt, sub] {
    std::vector<std::string> all = sub->remaining();
    for (const auto& a : g_command_after_dashdash) all.push_back(a);
    run_serve(*opt, all);
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(70, "serve", heapscope::add_serve);
