/* wrappers.c -- end-to-end test program (C, built -O2 -g, run under `heapscope
 * run`): allocates only through its own checked wrappers, as git (xmalloc,
 * xstrdup) and redis (zmalloc) do. Each of STEPS steps:
 *   remember()   leaks 10 x xmalloc(1000) and 10 x xstrdup(99 chars)  LINE:remember_*
 *   parse_line(), format_name(), grow_buffer()  churn through xmalloc, xstrdup
 *                and xrealloc and free all they took
 *   keep_table() leaks 1 x xcalloc(64, 8) through xcalloc, whose only caller
 *                it is: no detection can call a one-caller function a wrapper
 * After each step it asks the profiler for a snapshot with its signal and
 * waits for the file (step N's asked for N * 200 ms after the start), so the
 * snapshots' contents are exact.
 * Usage: wrappers [--steps N] */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char* what) {
  fprintf(stderr, "wrappers: out of memory in %s\n", what);
  exit(97);
}

__attribute__((noinline)) void* xmalloc(size_t n) {
  void* p = malloc(n);
  if (!p) die("xmalloc");
  return p;
}

__attribute__((noinline)) void* xrealloc(void* old, size_t n) {
  void* p = realloc(old, n);
  if (!p) die("xrealloc");
  return p;
}

__attribute__((noinline)) char* xstrdup(const char* s) {
  char* p = strdup(s);
  if (!p) die("xstrdup");
  return p;
}

__attribute__((noinline)) void* xcalloc(size_t n, size_t size) {
  void* p = calloc(n, size);
  if (!p) die("xcalloc");
  return p;
}

static const char kName[] =
    "a remembered name of ninety-nine characters, kept for good by remember() on every step of this test";

void* g_kept[1000];
int g_nkept;

__attribute__((noinline)) void remember(void) {
  for (int i = 0; i < 10 && g_nkept + 2 <= 1000; ++i) {
    g_kept[g_nkept++] = xmalloc(1000); /* LINE:remember_malloc */
    g_kept[g_nkept++] = xstrdup(kName); /* LINE:remember_strdup */
  }
}

__attribute__((noinline)) void parse_line(void) {
  for (int i = 0; i < 30; ++i) {
    char* line = xmalloc(4000);
    line = xrealloc(line, 8000);
    char* word = xstrdup("parse");
    __asm__ volatile("" : : "r"(line), "r"(word) : "memory");
    free(word);
    free(line);
  }
}

__attribute__((noinline)) void format_name(void) {
  for (int i = 0; i < 30; ++i) {
    char* name = xstrdup("a formatted name");
    char* buf = xmalloc(3000);
    __asm__ volatile("" : : "r"(name), "r"(buf) : "memory");
    free(buf);
    free(name);
  }
}

__attribute__((noinline)) void grow_buffer(void) {
  char* buf = NULL;
  for (size_t n = 1000; n <= 64000; n *= 2) buf = xrealloc(buf, n);
  __asm__ volatile("" : : "r"(buf) : "memory");
  free(buf);
}

void* g_tables[100];

__attribute__((noinline)) void keep_table(int step) {
  g_tables[step] = xcalloc(64, 8); /* LINE:keep_table */
  __asm__ volatile("" : : "r"(g_tables) : "memory"); /* no tail call: keep_table stays in the stack */
}

static int exists(const char* p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Sends the snapshot signal to itself and waits for PREFIX.PID.000N.hsnap. */
static int snapshot(int seq) {
  const char* out = getenv("HEAPSCOPE_OUT");
  char path[4096];
  snprintf(path, sizeof path, "%s.%d.%04d.hsnap", out && *out ? out : "./heapscope", (int)getpid(), seq);
  kill(getpid(), SIGUSR2);
  for (int i = 0; i < 1000; ++i) {
    if (exists(path)) return 1;
    usleep(10000);
  }
  fprintf(stderr, "wrappers: snapshot %s did not appear\n", path);
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  int steps = 4;
  for (int i = 1; i < argc; ++i)
    if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
  if (steps < 1 || steps > 40) steps = 4;
  double start = now_s();
  for (int step = 1; step <= steps; ++step) {
    remember();
    parse_line();
    format_name();
    grow_buffer();
    keep_table(step);
    double wait = start + step * 0.2 - now_s();
    if (wait > 0) usleep((useconds_t)(wait * 1e6));
    if (!snapshot(step)) return 99;
  }
  return 0;
}
