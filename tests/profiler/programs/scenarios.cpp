// scenarios.cpp -- one small program per profiler scenario, chosen by argv[1]:
//   exit_map [return|exit]   a global std::map that leaks until static destructors
//   _exit | quick_exit | abort   abnormal ends after allocating
//   threads                  threads freeing each other's blocks (exact totals)
//   fork                     child allocates and snapshots under its own pid
//   fork_series              a single-threaded parent snapshots twice, forks a child that
//                            snapshots, forks a grandchild that snapshots, snapshots again;
//                            prints "series PARENT CHILD GRANDCHILD" (each starts its own series)
//   signal                   SIGUSR2 snapshots while threads allocate
//   run MS                   allocates for MS milliseconds (interval snapshots)
//   hold BYTES MS            holds BYTES live for MS milliseconds (alert, stats)
//   attribution              prints the marker function's address and a snapshot path
//   dlopen LIB               allocations from a dlopen'd library, snapshots around dlclose
//   spawn                    posix_spawn, vfork+exec and system() under the profiler
//   stopstart                heapscope_stop()/heapscope_start() (frees always accounted)
//   short_threads N          N short-lived threads; snapshots after 100 and after N
//   chdir                    chdir("/") then a snapshot (relative HEAPSCOPE_OUT)
//   sampled                  estimates within 10% and live totals back to exactly the start
//   fork_stress              30 forks while threads allocate/exit and snapshots run
//   fork_books               40 forks while 3 threads allocate/free hard over 4096 new stacks;
//                            each child frees the parent's 50 blocks of 3333 B, makes 123 of
//                            5555 B and frees 23, churns every shard, and snapshots
//   odd_stacks               allocations in a signal handler and on a PTHREAD_STACK_MIN stack
//   close_fds                closes every fd >= 3, then SIGUSR2 still snapshots
//   pipe_reused              dup2()s its own file over heapscope's wake-up pipe, then SIGUSR2
//                            at once: the file stays empty and the snapshot still comes
// Prints "OK" lines / paths on stdout; exit status 0 unless a check failed.
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

static int g_fail = 0;
#define CHECK(c)                                                           \
  do {                                                                     \
    if (!(c)) ++g_fail, fprintf(stderr, "scenarios.cpp:%d: %s\n", __LINE__, #c); \
  } while (0)

static struct heapscope_totals totals() {
  struct heapscope_totals t{};
  CHECK(heapscope_totals_or_inactive(&t) == 0);
  return t;
}

// exit_map: the leak heapscope must see at exit even though the global is
// destroyed afterwards.
static std::map<long, std::string> g_cache;
struct LateAllocator {
  ~LateAllocator() {  // runs after the exit snapshot: must not crash
    void* p = malloc(10);
    std::string s(200, 'x');
    free(p);
  }
};
static LateAllocator g_late;

static bool file_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}
static std::string prefix() {
  const char* o = getenv("HEAPSCOPE_OUT");
  return o ? o : "./heapscope";
}
static bool wait_for(const std::string& path, int ms) {
  for (int i = 0; i < ms / 10; ++i) {
    if (file_exists(path)) return true;
    usleep(10000);
  }
  return file_exists(path);
}

__attribute__((noinline)) void* attribution_marker(size_t n) {
  void* p = malloc(n);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}

// fork_books: distinct call stacks from the bits of `path` (two frames per
// level), so threads keep inserting new stacks into the stack table (and
// growing its index) while the program forks.
__attribute__((noinline)) void* path_alloc(unsigned path, int levels, size_t n);
__attribute__((noinline)) void* path_left(unsigned path, int levels, size_t n) {
  void* p = path_alloc(path >> 1, levels - 1, n);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* path_right(unsigned path, int levels, size_t n) {
  void* p = path_alloc(path >> 1, levels - 1, n);
  asm volatile("" ::"r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* path_alloc(unsigned path, int levels, size_t n) {
  if (levels == 0) {
    void* p = malloc(n);
    asm volatile("" ::"r"(p) : "memory");
    return p;
  }
  return path & 1 ? path_right(path, levels, n) : path_left(path, levels, n);
}
__attribute__((noinline)) void* child_block(size_t n) { return attribution_marker(n); }
__attribute__((noinline)) void* parent_block(size_t n) { return attribution_marker(n); }

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "exit_map") {
    for (long i = 0; i < 100; ++i) g_cache[i] = std::string(1000, 'a' + (char)(i % 26));
    printf("OK\n");
    fflush(stdout);
    if (argc > 2 && !strcmp(argv[2], "exit")) exit(0);
    return 0;
  }
  if (mode == "_exit" || mode == "quick_exit" || mode == "abort") {
    for (int i = 0; i < 10; ++i) (void)!malloc(100);
    if (mode == "_exit") _exit(3);
    if (mode == "quick_exit") quick_exit(4);
    abort();
  }
  if (mode == "threads") {
    const int T = 4, K = 20000;
    {
      // Warm glibc's thread-stack cache: a cached stack keeps its DTV block,
      // which would otherwise show up as a live block created by pthread_create.
      std::vector<std::thread> warm;
      for (int t = 0; t < T; ++t) warm.emplace_back([] {});
      for (auto& x : warm) x.join();
    }
    struct heapscope_totals before = totals();
    {
    std::vector<std::vector<void*>> slots(T, std::vector<void*>(K));
    std::atomic<int> ready{0};
    std::vector<std::thread> th;
    for (int t = 0; t < T; ++t)
      th.emplace_back([&, t] {
        for (int k = 0; k < K; ++k) slots[t][k] = malloc(16 + (k % 64));
        ready.fetch_add(1);
        while (ready.load() < T) std::this_thread::yield();
        for (int k = 0; k < K; ++k) free(slots[(t + 1) % T][k]);  // another thread's blocks
      });
    for (auto& x : th) x.join();
    }  // the vectors and thread objects are gone too
    struct heapscope_totals after = totals();
    uint64_t bytes = 0;
    for (int k = 0; k < K; ++k) bytes += 16 + (k % 64);
    // Besides the T*K blocks: the vectors and std::thread's state blocks.
    fprintf(stderr, "threads: inuse %llu->%llu blocks, %llu->%llu bytes; allocs %llu->%llu\n", (unsigned long long)before.inuse_count, (unsigned long long)after.inuse_count, (unsigned long long)before.inuse_bytes, (unsigned long long)after.inuse_bytes, (unsigned long long)before.alloc_count, (unsigned long long)after.alloc_count);
    CHECK(after.inuse_count == before.inuse_count);
    CHECK(after.inuse_bytes == before.inuse_bytes);
    CHECK(after.alloc_count - before.alloc_count >= (uint64_t)T * K);
    CHECK(after.alloc_count - before.alloc_count <= (uint64_t)T * K + 64);
    CHECK(after.alloc_bytes - before.alloc_bytes >= bytes * T);
    printf("OK threads\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "fork") {
    void* parent_block = malloc(1111);
    pid_t pid = fork();
    if (pid == 0) {
      void* child_block = malloc(2222);
      char path[4096];
      int rc = heapscope_snapshot_or_inactive(path, sizeof path);
      std::string want = "." + std::to_string(getpid()) + ".0001.hsnap";
      bool ok = rc == 0 && std::string(path).size() > want.size() &&
                std::string(path).compare(std::string(path).size() - want.size(), want.size(), want) == 0;
      printf("child %d %s %s\n", (int)getpid(), ok ? "OK" : "BAD", rc == 0 ? path : "-");
      fflush(stdout);
      free(child_block);
      exit(ok ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct heapscope_totals t = totals();
    CHECK(t.inuse_bytes >= 1111);
    free(parent_block);
    printf("parent %d child %d\n", (int)getpid(), (int)pid);
    return g_fail ? 1 : 0;
  }
  if (mode == "fork_series") {
    // One thread: fork's child handler does no series work (it is left to
    // the child's first snapshot, which sees a new pid).
    auto snap_ends = [](const char* tail) {
      char path[4096];
      std::string want = "." + std::to_string(getpid()) + tail;
      int rc = heapscope_snapshot_or_inactive(path, sizeof path);
      std::string got = rc == 0 ? path : "-";
      bool ok = got.size() > want.size() && got.compare(got.size() - want.size(), want.size(), want) == 0;
      if (!ok) fprintf(stderr, "scenarios.cpp: pid %d wrote %s, expected a name ending %s\n", (int)getpid(),
                       got.c_str(), want.c_str());
      return ok;
    };
    void* parent_block = malloc(1111);
    CHECK(snap_ends(".0001.hsnap"));
    CHECK(snap_ends(".0002.hsnap"));
    int gfd[2];
    CHECK(pipe(gfd) == 0);
    pid_t child = fork();
    if (child == 0) {
      close(gfd[0]);
      void* child_block = malloc(2222);
      bool ok = snap_ends(".0001.hsnap");
      pid_t grand = fork();
      if (grand == 0) {
        void* grand_block = malloc(4444);
        bool gok = snap_ends(".0001.hsnap");
        free(grand_block);
        _exit(gok ? 0 : 1);
      }
      int st = 0;
      ok = ok && grand > 0 && waitpid(grand, &st, 0) == grand && WIFEXITED(st) && WEXITSTATUS(st) == 0;
      ok = ok && snap_ends(".0002.hsnap");
      int g = (int)grand;
      (void)!write(gfd[1], &g, sizeof g);
      free(child_block);
      _exit(ok ? 0 : 1);
    }
    close(gfd[1]);
    int grand = -1, st = 0;
    CHECK(read(gfd[0], &grand, sizeof grand) == (ssize_t)sizeof grand);
    CHECK(child > 0 && waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(snap_ends(".0003.hsnap"));
    free(parent_block);
    printf("series %d %d %d\n", (int)getpid(), (int)child, grand);
    return g_fail ? 1 : 0;
  }
  if (mode == "signal") {
    std::atomic<bool> stop{false};
    std::vector<std::thread> th;
    for (int t = 0; t < 2; ++t)
      th.emplace_back([&] {
        std::vector<void*> keep;
        while (!stop.load()) {
          keep.push_back(malloc(64));
          if (keep.size() > 1000) {
            for (void* p : keep) free(p);
            keep.clear();
          }
        }
        for (void* p : keep) free(p);
      });
    std::string pre = prefix() + "." + std::to_string(getpid()) + ".";
    for (int i = 1; i <= 3; ++i) {
      kill(getpid(), SIGUSR2);
      char seq[8];
      snprintf(seq, sizeof seq, "%04d", i);
      CHECK(wait_for(pre + seq + ".hsnap", 10000));
    }
    stop.store(true);
    for (auto& x : th) x.join();
    printf("OK signal\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "run" && argc > 2) {
    int ms = atoi(argv[2]);
    std::vector<void*> keep;
    for (int i = 0; i < ms / 10; ++i) {
      keep.push_back(malloc(1000));
      usleep(10000);
    }
    for (void* p : keep) free(p);
    return 0;
  }
  if (mode == "hold" && argc > 3) {
    size_t bytes = strtoull(argv[2], nullptr, 10);
    char* p = (char*)malloc(bytes);
    memset(p, 1, bytes);
    usleep((useconds_t)atoi(argv[3]) * 1000);
    free(p);
    return 0;
  }
  if (mode == "alert_dir" && argc > 2) {  // HEAPSCOPE_ALERT=1M, HEAPSCOPE_OUT under argv[2], created late
    char* p = (char*)malloc(4000000);
    memset(p, 1, 4000000);
    usleep(1000 * 1000);  // alert snapshots fail: the directory is missing
    CHECK(mkdir(argv[2], 0755) == 0);
    usleep(600 * 1000);  // a failed alert is not retried now that it would succeed
    free(p);
    return g_fail ? 1 : 0;
  }
  if (mode == "sampled") {  // run with HEAPSCOPE_SAMPLE=4096
    printf("sampled:\n");  // stdout's buffer is a heap block: allocate it before measuring
    struct heapscope_totals a = totals();
    const int N = 200000;
    std::vector<void*> keep(N);
    struct heapscope_totals a2 = totals();  // the vector itself (800 KB) is sampled too
    for (int i = 0; i < N; ++i) keep[i] = malloc(100);
    struct heapscope_totals b = totals();
    double est = (double)(b.inuse_bytes - a2.inuse_bytes), truth = 100.0 * N;
    double est_n = (double)(b.inuse_count - a2.inuse_count);
    printf("estimate %.0f bytes (true %.0f), %.0f blocks (true %d)\n", est, truth, est_n, N);
    CHECK(est > 0.9 * truth && est < 1.1 * truth);
    CHECK(est_n > 0.9 * N && est_n < 1.1 * N);
    // realloc takes the old block out (sampled or not) and samples the new one afresh.
    for (int i = 0; i < N; ++i) keep[i] = realloc(keep[i], 300);
    struct heapscope_totals r = totals();
    double est_r = (double)(r.inuse_bytes - a2.inuse_bytes);
    printf("after realloc %.0f bytes (true %.0f)\n", est_r, 3 * truth);
    // ~14k samples of 300 bytes: the estimate's spread is under 1%, so 5% is
    // 6 standard deviations; a tracked block that realloc missed stays counted.
    CHECK(est_r > 0.95 * 3 * truth && est_r < 1.05 * 3 * truth);
    for (void* p : keep) free(p);
    keep.clear();
    keep.shrink_to_fit();
    struct heapscope_totals c = totals();
    CHECK(c.inuse_bytes == a.inuse_bytes && c.inuse_count == a.inuse_count);  // back to exactly the start
    return g_fail ? 1 : 0;
  }
  if (mode == "fork_stress") {  // fork while other threads allocate and snapshots are taken
    std::atomic<bool> stop{false};
    std::vector<std::thread> th;
    for (int t = 0; t < 2; ++t)
      th.emplace_back([&] {
        // Bounded by a count as well: a thread per iteration, however slow the forks are.
        for (int n = 0; n < 2000 && !stop.load(); ++n) {
          std::vector<std::string> v(50, std::string(100, 'x'));
          std::thread([] { free(malloc(10)); }).join();  // thread exits: memo recycling
        }
      });
    th.emplace_back([&] {
      while (!stop.load()) {
        char p[4096];
        heapscope_snapshot_or_inactive(p, sizeof p);
        usleep(1000);
      }
    });
    for (int i = 0; i < 30; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        std::vector<std::string> v(100, std::string(50, 'y'));
        std::thread([] { free(malloc(10)); }).join();
        _exit(v.size() == 100 ? 0 : 1);
      }
      int st = -1;
      waitpid(pid, &st, 0);
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop.store(true);
    for (auto& x : th) x.join();
    printf("OK fork_stress\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "fork_books") {  // the fork gate: children's books exact while parent threads allocate hard
    void* inherited[50];
    for (auto& p : inherited) p = parent_block(3333);
    std::atomic<bool> stop{false};
    std::vector<std::thread> th;
    for (int t = 0; t < 3; ++t)
      th.emplace_back([&, t] {
        void* keep[64] = {};
        // Bounded by a count as well as by the flag.
        for (unsigned n = 0; n < 3000000 && !stop.load(std::memory_order_relaxed); ++n) {
          unsigned k = (n * 2654435761u) >> 26;  // 0..63
          free(keep[k]);
          keep[k] = path_alloc(n * 7 + (unsigned)t, 12, 16 + (n % 500));  // 4096 stacks
          if (t == 0 && n % 5000 == 0) std::thread([] { free(malloc(10)); }).join();  // memo pool
        }
        for (void* p : keep) free(p);
      });
    usleep(20000);
    for (int i = 0; i < 40; ++i) {
      pid_t pid = fork();
      if (pid < 0) {
        perror("fork");
        return 1;
      }
      if (pid == 0) {
        for (void* p : inherited) free(p);
        void* mine[123];
        for (auto& p : mine) p = child_block(5555);
        for (int k = 0; k < 23; ++k) free(mine[k]);
        static void* many[4096];  // distinct addresses: every shard of the live table
        for (int k = 0; k < 4096; ++k) many[k] = malloc(16 + k % 64);
        for (void* p : many) free(p);
        char path[4096];
        int rc = heapscope_snapshot_or_inactive(path, sizeof path);
        _exit(rc == 0 ? 0 : 2);
      }
      // A child that inherited a held lock spins for good: waited for up to 30 s
      // (polled, a bounded count), then killed, so no stray process outlives the test.
      int st = -1;
      pid_t got = 0;
      for (int w = 0; w < 3000 && (got = waitpid(pid, &st, WNOHANG)) == 0; ++w) usleep(10000);
      if (got == 0) {
        fprintf(stderr, "fork_books: child %d (fork %d) did not exit within 30 s; killed\n", (int)pid, i);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
      }
      CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
      usleep(2000);
    }
    stop.store(true);
    for (auto& x : th) x.join();
    for (void* p : inherited) free(p);
    printf("OK fork_books\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "odd_stacks") {  // allocations from a signal handler and from a minimum-size thread stack
    struct sigaction sa {};
    sa.sa_handler = [](int) {
      void* p = malloc(4321);  // not async-signal-safe in general; programs do it anyway
      asm volatile("" ::"r"(p) : "memory");
      free(p);
    };
    sigaction(SIGUSR1, &sa, nullptr);
    for (int i = 0; i < 100; ++i) raise(SIGUSR1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN);
    pthread_t tid;
    auto body = [](void*) -> void* {
      for (int i = 0; i < 1000; ++i) free(malloc(16 + i));
      return nullptr;
    };
    CHECK(pthread_create(&tid, &attr, body, nullptr) == 0);
    pthread_join(tid, nullptr);
    struct heapscope_totals t = totals();
    CHECK(t.alloc_count >= 1100);
    printf("OK odd_stacks\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "pipe_reused") {  // the program's own file lands on the helper's pipe number
    int wfd = -1;
    for (int fd = 900; fd < 1024 && wfd < 0; ++fd) {
      struct stat st;
      int fl = fcntl(fd, F_GETFL);
      if (fl >= 0 && (fl & O_ACCMODE) == O_WRONLY && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) wfd = fd;
    }
    CHECK(wfd >= 0);  // HEAPSCOPE_THREAD=always: the helper and its pipe exist
    std::string path = prefix() + ".own.txt";
    int own = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(own >= 0 && dup2(own, wfd) == wfd);
    for (int i = 0; i < 3; ++i) kill(getpid(), SIGUSR2);  // before the helper's once-a-second check
    std::string snap = prefix() + "." + std::to_string(getpid()) + ".0001.hsnap";
    CHECK(wait_for(snap, 10000));
    struct stat st;
    CHECK(fstat(own, &st) == 0);
    printf("own file %lld bytes\n", (long long)st.st_size);
    close(own);
    printf("OK pipe_reused\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "close_fds") {  // a daemon closing every descriptor it did not open
    for (int fd = 3; fd < 4096; ++fd) close(fd);
    std::string path = prefix() + ".own.txt";
    FILE* f = fopen(path.c_str(), "w");  // may get heapscope's old descriptor numbers
    CHECK(f != nullptr);
    fputs("mine", f);
    fflush(f);
    usleep(1500 * 1000);  // heapscope's thread notices within a second and makes a new pipe
    kill(getpid(), SIGUSR2);
    std::string snap = prefix() + "." + std::to_string(getpid()) + ".0001.hsnap";
    CHECK(wait_for(snap, 10000));
    fclose(f);
    std::string content;
    FILE* r = fopen(path.c_str(), "r");
    char buf[64] = {};
    if (r) {
      content = fgets(buf, sizeof buf, r) ? buf : "";
      fclose(r);
    }
    CHECK(content == "mine");
    printf("OK close_fds\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "chdir") {
    CHECK(chdir("/") == 0);
    char path[4096];
    CHECK(heapscope_snapshot_or_inactive(path, sizeof path) == 0);
    printf("%s\n", path);
    return g_fail ? 1 : 0;
  }
  if (mode == "attribution") {
    void* p = attribution_marker(12345);
    char path[4096];
    CHECK(heapscope_snapshot_or_inactive(path, sizeof path) == 0);
    printf("%p %s\n", (void*)&attribution_marker, path);
    free(p);
    return g_fail ? 1 : 0;
  }
  if (mode == "dlopen" && argc > 2) {
    struct heapscope_totals before = totals();
    void* h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    CHECK(h != nullptr);
    if (!h) return 1;
    auto fn = (void* (*)(size_t))dlsym(h, "hs_dl_alloc");
    auto fn_new = (void* (*)(size_t))dlsym(h, "hs_dl_new");
    CHECK(fn && fn_new);
    struct heapscope_totals mid = totals();
    void* a = fn(7777);
    void* b = fn_new(8888);
    struct heapscope_totals after = totals();
    CHECK(after.inuse_bytes - mid.inuse_bytes == 7777 + 8888);
    CHECK(after.inuse_count - mid.inuse_count == 2);
    char p1[4096], p2[4096];
    CHECK(heapscope_snapshot_or_inactive(p1, sizeof p1) == 0);
    CHECK(dlclose(h) == 0);
    CHECK(heapscope_snapshot_or_inactive(p2, sizeof p2) == 0);
    printf("%s %s\n", p1, p2);
    free(a);
    ::operator delete(b);
    (void)before;
    return g_fail ? 1 : 0;
  }
  if (mode == "spawn") {
    extern char** environ;
    pid_t pid;
    char* args[] = {(char*)"true", nullptr};
    CHECK(posix_spawnp(&pid, "true", nullptr, nullptr, args, environ) == 0);
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid = vfork();
    if (pid == 0) {
      execlp("true", "true", (char*)nullptr);
      _exit(127);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(system("true") == 0);
    void* p = malloc(100);
    CHECK(totals().inuse_bytes >= 100);
    free(p);
    printf("OK spawn\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "stopstart") {
    struct heapscope_totals a = totals();
    heapscope_stop();
    CHECK(heapscope_active_or_inactive() == 0);
    void* untracked = malloc(500);
    struct heapscope_totals b = totals();
    CHECK(b.inuse_bytes == a.inuse_bytes && b.alloc_count == a.alloc_count);
    heapscope_start();
    CHECK(heapscope_active_or_inactive() == 1);
    void* tracked = malloc(600);
    struct heapscope_totals c = totals();
    CHECK(c.inuse_bytes - a.inuse_bytes == 600 && c.alloc_count - a.alloc_count == 1);
    heapscope_stop();
    free(tracked);  // recorded before the stop: its free is still accounted
    free(untracked);
    struct heapscope_totals d = totals();
    CHECK(d.inuse_bytes == a.inuse_bytes && d.inuse_count == a.inuse_count);
    heapscope_start();
    printf("OK stopstart\n");
    return g_fail ? 1 : 0;
  }
  if (mode == "short_threads" && argc > 2) {
    int n = atoi(argv[2]);
    char p1[4096] = "-", p2[4096] = "-";
    for (int i = 0; i < n; ++i) {
      std::thread([] {
        void* p = malloc(64);
        thread_local std::string tl(100, 'x');  // a thread_local whose destructor frees late
        free(p);
      }).join();
      if (i == 99) CHECK(heapscope_snapshot_or_inactive(p1, sizeof p1) == 0);
    }
    CHECK(heapscope_snapshot_or_inactive(p2, sizeof p2) == 0);
    printf("%s %s\n", p1, p2);
    return g_fail ? 1 : 0;
  }
  fprintf(stderr, "scenarios: unknown mode '%s'\n", mode.c_str());
  return 2;
}
