/*
 * fork_cost.c -- what a heap profiler adds to fork and to a small process (bench/run.sh, issue 10).
 *
 * Makes ALLOCS live allocations from SITES distinct call stacks (a small program's start-up),
 * then reads its own memory from /proc/self/smaps_rollup (Rss, AnonHugePages) and
 * /proc/self/status (VmHWM), then forks FORKS times: each child _exits at once (as a shell's
 * child that is about to exec), the parent waits for it and then makes one allocation and
 * one free, as programs do between forks (after a fork every page the parent writes is a
 * copy-on-write fault, the profiler's tables included). Each fork+_exit+wait+malloc+free is
 * timed with CLOCK_MONOTONIC (wall: median and mean), and the CPU time of parent and children
 * (getrusage) is divided by FORKS (the steadier figure on a busy machine: waiting for the
 * child to be scheduled is not in it), and so are the minor page faults of both (the
 * steadiest: each is a page fork made copy-on-write and someone then wrote, or a page the
 * child touched first); 20 untimed forks warm up first.
 *
 * Usage: fork_cost [ALLOCS [SITES [FORKS]]]   (defaults 300 30 2000)
 * stdout, one line: "fork_cost: allocs=A sites=S forks=F fork_us_median=M fork_us_mean=X
 *   cpu_us=C faults=P rss_kb=R anon_huge_kb=H hwm_kb=W"
 * Exit 0; 1 when a fork or a child failed (named on stderr).
 * Safety: ordinary program; every loop is bounded by a count.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void* g_keep[100000];
static int g_kept;

/* Stack `which` (0..99): recursion depth which / 2, then malloc or calloc by which's parity. */
__attribute__((noinline)) static void* site(int depth, int which) {
  if (depth > 0) {
    void* p = site(depth - 1, which);
    __asm__ volatile("" : : "r"(p) : "memory");
    return p;
  }
  if (which & 1) return malloc(24 + (size_t)which * 8);
  return calloc(1, 40 + (size_t)which * 8);
}

static long field_kb(const char* path, const char* key) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  size_t n = strlen(key);
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == ':') {
      v = atol(line + n + 1);
      break;
    }
  fclose(f);
  return v;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Minor page faults of this process and of its waited-for children (copy-on-write and
 * first-touch faults after fork: steady whatever else runs on the machine). */
static double minor_faults(void) {
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  getrusage(RUSAGE_CHILDREN, &b);
  return (double)a.ru_minflt + (double)b.ru_minflt;
}

/* CPU time of this process and of its waited-for children, in microseconds. */
static double cpu_us(void) {
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  getrusage(RUSAGE_CHILDREN, &b);
  double s = 0;
  const struct rusage* r[2] = {&a, &b};
  for (int i = 0; i < 2; i++)
    s += (double)(r[i]->ru_utime.tv_sec + r[i]->ru_stime.tv_sec) * 1e6 +
         (double)(r[i]->ru_utime.tv_usec + r[i]->ru_stime.tv_usec);
  return s;
}

static int one_fork(int i) {
  pid_t c = fork();
  if (c < 0) {
    perror("fork_cost: fork");
    return -1;
  }
  if (c == 0) _exit(0);
  int st = 0;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "fork_cost: child %d (fork %d) ended with status 0x%x, expected exit 0\n", (int)c, i, st);
    return -1;
  }
  void* p = malloc(64 + (size_t)(i % 64));
  __asm__ volatile("" : : "r"(p) : "memory");
  free(p);
  return 0;
}

int main(int argc, char** argv) {
  int allocs = argc > 1 ? atoi(argv[1]) : 300;
  int sites = argc > 2 ? atoi(argv[2]) : 30;
  int forks = argc > 3 ? atoi(argv[3]) : 2000;
  if (allocs < 0 || allocs > 100000 || sites < 1 || sites > 100 || forks < 1 || forks > 100000) {
    fprintf(stderr, "fork_cost: ALLOCS %d SITES %d FORKS %d: expected 0..100000, 1..100, 1..100000\n", allocs,
            sites, forks);
    return 2;
  }
  for (int i = 0; i < allocs; i++) g_keep[g_kept++] = site(i % sites / 2, i % sites);
  long rss = field_kb("/proc/self/smaps_rollup", "Rss");
  long huge = field_kb("/proc/self/smaps_rollup", "AnonHugePages");
  long hwm = field_kb("/proc/self/status", "VmHWM");
  double* t = malloc(sizeof(double) * (size_t)forks);
  if (!t) return 1;
  for (int i = 0; i < 20; i++)
    if (one_fork(i) != 0) return 1;
  double sum = 0, cpu0 = cpu_us(), flt0 = minor_faults();
  for (int i = 0; i < forks; i++) {
    double t0 = now_us();
    if (one_fork(i) != 0) return 1;
    t[i] = now_us() - t0;
    sum += t[i];
  }
  double cpu = (cpu_us() - cpu0) / forks, faults = (minor_faults() - flt0) / forks;
  qsort(t, (size_t)forks, sizeof *t, cmp_double);
  printf("fork_cost: allocs=%d sites=%d forks=%d fork_us_median=%.1f fork_us_mean=%.1f cpu_us=%.1f faults=%.1f rss_kb=%ld "
         "anon_huge_kb=%ld hwm_kb=%ld\n",
         allocs, sites, forks, t[forks / 2], sum / forks, cpu, faults, rss, huge, hwm);
  free(t);
  for (int i = 0; i < g_kept; i++) free(g_keep[i]);
  return 0;
}
