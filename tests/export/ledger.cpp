// ledger.cpp -- test program (built -O2 -g) run under the real profiler by
// export_profiler_test.sh: a known ledger between two snapshots it asks for
// itself (SIGUSR2, then waits for the file), with no other allocation in
// between, so the exported figures are exact:
//   keep_small  10 x malloc(1000)  kept   -> 10000 bytes in 10 blocks
//   keep_big     1 x malloc(65536) kept   -> 65536 bytes in 1 block
//   churn      100 x malloc(4096)  freed  -> 0 live, 409600 allocated
// Snapshot 1 is taken before the ledger, snapshot 2 after it.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

void* g_small[10];
void* g_big;

__attribute__((noinline)) void keep_small() {
  for (auto& p : g_small) p = std::malloc(1000);
}

__attribute__((noinline)) void keep_big() { g_big = std::malloc(65536); }

__attribute__((noinline)) void churn() {
  for (int i = 0; i < 100; ++i) {
    void* p = std::malloc(4096);
    asm volatile("" : : "r"(p) : "memory");
    std::free(p);
  }
}

// Sends the snapshot signal to itself and waits for PREFIX.PID.000N.hsnap;
// allocates nothing (the path is built on the stack).
bool snapshot(const char* prefix, int seq) {
  char path[4096];
  std::snprintf(path, sizeof path, "%s.%d.%04d.hsnap", prefix, int(getpid()), seq);
  kill(getpid(), SIGUSR2);
  struct stat st;
  for (int i = 0; i < 1000; ++i) {
    if (stat(path, &st) == 0) return true;
    usleep(10000);
  }
  std::fprintf(stderr, "ledger: snapshot %s did not appear\n", path);
  return false;
}

}  // namespace

int main() {
  const char* out = std::getenv("HEAPSCOPE_OUT");
  const char* prefix = out && *out ? out : "./heapscope";
  if (!snapshot(prefix, 1)) return 1;
  keep_small();
  keep_big();
  churn();
  if (!snapshot(prefix, 2)) return 1;
  return g_small[9] && g_big ? 0 : 1;
}
