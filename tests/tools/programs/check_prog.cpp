// check_prog.cpp -- the program `heapscope check` judges in test_check.cpp
// (run under the real profiler with periodic snapshots).
// Usage: check_prog leak|bounded|fail|quick [--steps N]
//   leak:    per step, 32 KiB more kept in a cache (cache_put) and 4 KiB more
//            in a log (log_line): both keep growing.
//   bounded: per step, 32 KiB stored in a ring of 2 slots (the oldest freed),
//            plus transient blocks: live bytes stay flat after step 2.
//   fail:    as bounded, then exits with status 3 (a program that fails by itself).
//   quick:   exits at once (fewer than 3 periodic snapshots).
// After each step it waits for the next periodic snapshot file
// (HEAPSCOPE_OUT.PID.SEQ.hsnap, SEQ = the step), so every snapshot follows
// a whole number of steps however slow the machine: the series does not
// depend on timing. Each wait is bounded (6000 polls of 10 ms).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

std::vector<std::string*> g_cache, g_log;
std::string* g_ring[2];

namespace {

__attribute__((noinline)) void cache_put() { g_cache.push_back(new std::string(32 * 1024, 'c')); }
__attribute__((noinline)) void log_line() { g_log.push_back(new std::string(4 * 1024, 'l')); }

__attribute__((noinline)) void ring_put(int step) {
  delete g_ring[step % 2];
  g_ring[step % 2] = new std::string(32 * 1024, 'r');
}

__attribute__((noinline)) void transient() {
  for (int i = 0; i < 10; ++i) {
    std::string* s = new std::string(20000, 't');
    asm volatile("" : : "r"(s->data()) : "memory");
    delete s;
  }
}

bool wait_for_snapshot(int seq) {
  const char* out = std::getenv("HEAPSCOPE_OUT");
  char name[4200];
  std::snprintf(name, sizeof name, "%s.%d.%04d.hsnap", out && *out ? out : "./heapscope", int(getpid()), seq);
  struct stat st;
  for (int i = 0; i < 6000; ++i) {
    if (stat(name, &st) == 0) return true;
    usleep(10000);
  }
  std::fprintf(stderr, "check_prog: %s did not appear\n", name);
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: check_prog leak|bounded|fail|quick [--steps N]\n");
    return 64;
  }
  std::string mode = argv[1];
  int steps = 6;
  if (argc > 3 && std::strcmp(argv[2], "--steps") == 0) steps = std::atoi(argv[3]);
  if (mode == "quick") return 0;
  for (int step = 1; step <= steps; ++step) {
    if (mode == "leak") {
      cache_put();
      log_line();
    } else {
      ring_put(step);
    }
    transient();
    if (!wait_for_snapshot(step)) return 99;
  }
  std::printf("check_prog %s: %d steps\n", mode.c_str(), steps);
  return mode == "fail" ? 3 : 0;
}
