// leaky.cpp -- end-to-end test program (built -O2 -g, run under `heapscope
// run`): a std::map<long, CacheEntry> cache that only grows, a buffer that
// is held and released in turn (sawtooth live bytes) and loud transient
// allocations (always freed), each at a line marked for the tests. After each of
// STEPS steps it asks the profiler for a snapshot with its signal and waits
// for the file, so snapshot contents are exact. Step N's snapshot is asked for
// N * 200 ms after the start, so the snapshots' times stay close to evenly
// spaced on a busy machine (trend fits growth against time; one snapshot
// 150 ms late still leaves the leak's r2 above 0.9; 100 ms apart, it fell under 0.8).
// Usage: leaky [--steps N] [--exit CODE] [--kill] [--serve DIR]
//   --serve DIR: after the steps, write DIR/pid and wait (up to 60 s) until
//   DIR/stop exists. Prints "node_size N" (bytes per cache entry) on stdout.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

struct CacheEntry {
  long created;
  char payload[1000];
};

std::map<long, CacheEntry> g_cache;
std::vector<char> g_churn;

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

__attribute__((noinline)) void cache_put(long key) {
  g_cache.emplace(key, CacheEntry{key, {}});  // LINE:leak
}

__attribute__((noinline)) void churn(int step) {
  if (step % 2) g_churn.assign(50000, 'x');  // LINE:churn
  else std::vector<char>().swap(g_churn);
}

__attribute__((noinline)) void transient() {
  for (int i = 0; i < 20; ++i) {
    std::string* s = new std::string(20000, 'y');  // LINE:transient
    asm volatile("" : : "r"(s->data()) : "memory");
    delete s;
  }
}

// Sends the snapshot signal to itself and waits for PREFIX.PID.000N.hsnap.
bool snapshot(int seq) {
  const char* out = std::getenv("HEAPSCOPE_OUT");
  std::string prefix = out && *out ? out : "./heapscope";
  char name[64];
  std::snprintf(name, sizeof name, ".%d.%04d.hsnap", int(getpid()), seq);
  kill(getpid(), SIGUSR2);
  for (int i = 0; i < 1000; ++i) {
    if (exists(prefix + name)) return true;
    usleep(10000);
  }
  std::fprintf(stderr, "leaky: snapshot %s%s did not appear\n", prefix.c_str(), name);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 4, code = 0;
  bool kill_self = false;
  std::string serve;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--exit" && i + 1 < argc) code = std::atoi(argv[++i]);
    else if (a == "--kill") kill_self = true;
    else if (a == "--serve" && i + 1 < argc) serve = argv[++i];
  }
  std::printf("node_size %zu\n", sizeof(std::_Rb_tree_node<std::pair<const long, CacheEntry>>));
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  for (int step = 1; step <= steps; ++step) {
    for (int i = 0; i < 10; ++i) cache_put(step * 100 + i);
    churn(step);
    transient();
    std::this_thread::sleep_until(start + step * std::chrono::milliseconds(200));
    if (!snapshot(step)) return 99;
  }
  if (!serve.empty()) {
    FILE* f = std::fopen((serve + "/pid").c_str(), "w");
    if (!f) return 98;
    std::fprintf(f, "%d\n", int(getpid()));
    std::fclose(f);
    for (int i = 0; i < 6000 && !exists(serve + "/stop"); ++i) usleep(10000);
  }
  if (kill_self) raise(SIGKILL);
  return code;
}
