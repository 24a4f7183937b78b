// check_prog.cpp -- the program `heapscope check` judges in test_check.cpp
// (run under the real profiler with periodic snapshots).
// Usage: check_prog leak|bounded|fail|kill|quick [--steps N]
//   leak:    per step, 32 KiB more kept in a cache (cache_put) and 4 KiB more
//            in a log (log_line): both keep growing.
//   bounded: per step, 16 KiB stored in a ring of 2 slots (the oldest freed),
//            plus transient blocks: live bytes stay flat after step 2.
//   fail:    as bounded, then exits with status 3 (a program that fails by itself).
//   kill:    as bounded, then raises SIGTERM (default action: killed).
//   quick:   exits at once (fewer than 3 periodic snapshots).
// The series does not depend on timing: before the first step it waits for
// periodic snapshot 1 (the baseline: no step yet); after each step it waits
// until the snapshot two after the newest one it sees exists (the next one
// may have begun before the step ended; the one after cannot have). So the
// first periodic snapshot holds 0 steps, the last all STEPS, and leak's
// cache_put buffer site grows by exactly STEPS * 32769 bytes. Every wait is
// bounded (6000 polls of 10 ms).
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

std::vector<std::string*> g_cache, g_log;
std::string* g_ring[2];

namespace {

__attribute__((noinline)) void cache_put() {
  g_cache.push_back(new std::string(32 * 1024, 'c'));  // LINE:cache_put
}
__attribute__((noinline)) void log_line() {
  g_log.push_back(new std::string(4 * 1024, 'l'));  // LINE:log_line
}

__attribute__((noinline)) void ring_put(int step) {
  delete g_ring[step % 2];
  g_ring[step % 2] = new std::string(16 * 1024, 'r');
}

__attribute__((noinline)) void transient() {
  for (int i = 0; i < 10; ++i) {
    std::string* s = new std::string(20000, 't');
    asm volatile("" : : "r"(s->data()) : "memory");
    delete s;
  }
}

std::string snapshot_name(int seq) {
  const char* out = std::getenv("HEAPSCOPE_OUT");
  char name[4200];
  std::snprintf(name, sizeof name, "%s.%d.%04d.hsnap", out && *out ? out : "./heapscope", int(getpid()), seq);
  return name;
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Waits for snapshot seq; false (and a line on stderr) after 60 s.
bool wait_for(int seq) {
  for (int i = 0; i < 6000; ++i) {
    if (exists(snapshot_name(seq))) return true;
    usleep(10000);
  }
  std::fprintf(stderr, "check_prog: %s did not appear\n", snapshot_name(seq).c_str());
  return false;
}

// The newest periodic snapshot's seq, at least `from` (which exists).
int newest(int from) {
  while (from < 100000 && exists(snapshot_name(from + 1))) ++from;
  return from;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: check_prog leak|bounded|fail|kill|quick [--steps N]\n");
    return 64;
  }
  std::string mode = argv[1];
  int steps = 5;
  if (argc > 3 && std::strcmp(argv[2], "--steps") == 0) steps = std::atoi(argv[3]);
  if (mode == "quick") return 0;
  if (!wait_for(1)) return 99;
  int seq = 1;
  for (int step = 1; step <= steps; ++step) {
    if (mode == "leak") {
      cache_put();
      log_line();
    } else {
      ring_put(step);
    }
    transient();
    seq = newest(seq) + 2;
    if (!wait_for(seq)) return 99;
  }
  std::printf("check_prog %s: %d steps\n", mode.c_str(), steps);
  std::fflush(stdout);
  if (mode == "kill") raise(SIGTERM);
  return mode == "fail" ? 3 : 0;
}
