// snapshot_load.cpp -- issue 5's snapshot target: a snapshot of 1M live
// allocations over 100k stacks, written while another thread keeps
// allocating. Run under heapscope (bench/run.sh does); without it the API
// calls fail and it says so.
//
// Builds LIVE blocks, block i allocated at the end of a call path chosen by
// the bits of (i % STACKS): 17 levels, each calling one of two functions, so
// STACKS (<= 2^17) distinct call stacks. Then a second thread allocates and
// frees small blocks in a loop, timing every iteration, while the main
// thread waits 300 ms, calls heapscope_snapshot() (timed), waits 300 ms more.
// stdout, one line:
//   snapshot_load: live=L stacks=S write_s=W snapshot=PATH
//     pause_max_ms_before=A pause_max_ms_during=B iterations_during=N
// where pause_max is the longest single allocate+free iteration of the
// second thread in the 300 ms before the snapshot and during it.
//     stalls_during=C1,C2,C3,C4 stalls_before=...
// where C1..C4 count the iterations longer than 0.1, 1, 10 and 100 ms.
// Usage: snapshot_load [LIVE [STACKS]]   (defaults 1000000 100000)
// Env: SNAPSHOT_LOAD_CHURN_CPU=N pins the allocating thread to CPU N (start the
//   program under `taskset -c M` to keep the rest, heapscope's writer thread
//   included, on CPU M); SNAPSHOT_LOAD_NO_WRITE_MS=T takes no snapshot and
//   measures the "during" window as T ms of the same churn (the control run).
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <sched.h>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;
constexpr int kLevels = 17;
std::vector<void*> g_blocks;

__attribute__((noinline)) void leaf(unsigned path, size_t size) {
  void* p = std::malloc(size);
  std::memset(p, (int)path, 8);
  g_blocks.push_back(p);
  asm volatile("" ::: "memory");
}
void descend(unsigned path, int level, size_t size);
__attribute__((noinline)) void step0(unsigned path, int level, size_t size) {
  descend(path, level + 1, size);
  asm volatile("" ::: "memory");  // not a tail call: one frame per level
}
__attribute__((noinline)) void step1(unsigned path, int level, size_t size) {
  descend(path, level + 1, size);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void descend(unsigned path, int level, size_t size) {
  if (level == kLevels) {
    leaf(path, size);
  } else if (path >> level & 1) {
    step1(path, level, size);
  } else {
    step0(path, level, size);
  }
  asm volatile("" ::: "memory");
}

std::atomic<int> g_phase{0};  // 0 warm-up, 1 before, 2 during, 3 after, 4 stop
std::atomic<int64_t> g_max_ns[4];
std::atomic<uint64_t> g_iters[4];
std::atomic<uint64_t> g_stalls[4][4];  // per phase: iterations over 0.1, 1, 10, 100 ms

void churn() {
  auto last = Clock::now();
  uint64_t n = 0;
  while (true) {
    int ph = g_phase.load(std::memory_order_relaxed);
    if (ph == 4) break;
    void* p = std::malloc(48 + (n++ & 127));
    asm volatile("" : : "r"(p) : "memory");
    std::free(p);
    auto now = Clock::now();
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - last).count();
    last = now;
    if (ns > g_max_ns[ph].load(std::memory_order_relaxed)) g_max_ns[ph].store(ns, std::memory_order_relaxed);
    for (int b = 0, limit = 100000; b < 4 && ns > limit; ++b, limit *= 10)
      g_stalls[ph][b].fetch_add(1, std::memory_order_relaxed);
    g_iters[ph].fetch_add(1, std::memory_order_relaxed);
  }
}
}  // namespace

int main(int argc, char** argv) {
  long live = argc > 1 ? std::atol(argv[1]) : 1000000;
  long stacks = argc > 2 ? std::atol(argv[2]) : 100000;
  if (live <= 0 || stacks <= 0 || stacks > (1L << kLevels)) {
    std::fprintf(stderr, "usage: snapshot_load [LIVE [STACKS<=%ld]]\n", 1L << kLevels);
    return 2;
  }
  if (!heapscope_active()) {
    std::fprintf(stderr, "snapshot_load: heapscope is not loaded (run it under heapscope)\n");
    return 1;
  }
  g_blocks.reserve((size_t)live);
  for (long i = 0; i < live; ++i) descend((unsigned)(i % stacks), 0, 32 + (size_t)(i % 64));
  const char* cpu = std::getenv("SNAPSHOT_LOAD_CHURN_CPU");
  const char* no_write = std::getenv("SNAPSHOT_LOAD_NO_WRITE_MS");
  std::thread t(churn);
  if (cpu && *cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(std::atoi(cpu), &set);
    if (int e = pthread_setaffinity_np(t.native_handle(), sizeof set, &set)) {
      std::fprintf(stderr, "snapshot_load: SNAPSHOT_LOAD_CHURN_CPU=%s: cannot pin: %s\n", cpu, std::strerror(e));
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  g_phase.store(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  g_phase.store(2);
  char path[4096] = {0};
  auto t0 = Clock::now();
  int rc = 0;
  if (no_write && *no_write) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(no_write)));
    std::snprintf(path, sizeof path, "(none)");
  } else {
    rc = heapscope_snapshot(path, sizeof path);
  }
  auto t1 = Clock::now();
  g_phase.store(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  g_phase.store(4);
  t.join();
  if (rc != 0) {
    std::fprintf(stderr, "snapshot_load: heapscope_snapshot failed: %s\n", std::strerror(errno));
    return 1;
  }
  double write_s = std::chrono::duration<double>(t1 - t0).count();
  std::printf("snapshot_load: live=%ld stacks=%ld write_s=%.3f snapshot=%s pause_max_ms_before=%.3f "
              "pause_max_ms_during=%.3f iterations_during=%llu stalls_during=%llu,%llu,%llu,%llu "
              "stalls_before=%llu,%llu,%llu,%llu\n",
              live, stacks, write_s, path, g_max_ns[1].load() / 1e6, g_max_ns[2].load() / 1e6,
              (unsigned long long)g_iters[2].load(), (unsigned long long)g_stalls[2][0].load(),
              (unsigned long long)g_stalls[2][1].load(), (unsigned long long)g_stalls[2][2].load(),
              (unsigned long long)g_stalls[2][3].load(), (unsigned long long)g_stalls[1][0].load(),
              (unsigned long long)g_stalls[1][1].load(), (unsigned long long)g_stalls[1][2].load(),
              (unsigned long long)g_stalls[1][3].load());
  for (void* p : g_blocks) std::free(p);
  return 0;
}
