// memory_prog.c -- known programs for the snapshot's memory-composition STATS
// (rss_*, allocator_*, glibc_*/jemalloc_*/tcmalloc_*, thread_stack*).
// Usage: memory_prog blocks N K   N live malloc(K), then the allocator's own
//                                 figures read from here, then a snapshot
//        memory_prog threads T KB T threads each touch KB KiB of their stack
//                                 and wait while the snapshot is taken
// stdout: the snapshot's path, then "name value" lines: the allocator's
// figures as this program read them just before the snapshot (glibc
// mallinfo2, or jemalloc's mallctl / tcmalloc's MallocExtension when one of
// them is the allocator), and "live_delta" (heapscope_totals after the N
// blocks minus before). Printed after the snapshot: stdout's buffer is a
// heap block too. Exit 0 unless something failed.
#define _GNU_SOURCE
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mallctl_fn)(const char*, void*, size_t*, void*, size_t);
typedef int (*tc_get_fn)(const char*, size_t*);

static struct {
  const char* name;
  uint64_t value;
} g_fig[16];
static int g_nfig;
static void fig(const char* name, uint64_t v) { g_fig[g_nfig].name = name, g_fig[g_nfig++].value = v; }

static void read_allocator(void) {
  mallctl_fn ctl = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
  tc_get_fn tc = (tc_get_fn)dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty");
  if (ctl) {
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    ctl("epoch", &epoch, &sz, &epoch, sz);
    const char* names[][2] = {{"stats.allocated", "jemalloc_allocated_bytes"},
                              {"stats.active", "jemalloc_active_bytes"},
                              {"stats.resident", "jemalloc_resident_bytes"},
                              {"stats.mapped", "jemalloc_mapped_bytes"},
                              {"stats.retained", "jemalloc_retained_bytes"}};
    for (int i = 0; i < 5; ++i) {
      size_t v = 0;
      sz = sizeof v;
      if (ctl(names[i][0], &v, &sz, NULL, 0) == 0) fig(names[i][1], v);
    }
  } else if (tc) {
    const char* names[][2] = {{"generic.current_allocated_bytes", "tcmalloc_current_allocated_bytes"},
                              {"generic.heap_size", "tcmalloc_heap_size_bytes"},
                              {"tcmalloc.pageheap_free_bytes", "tcmalloc_pageheap_free_bytes"},
                              {"tcmalloc.pageheap_unmapped_bytes", "tcmalloc_pageheap_unmapped_bytes"}};
    for (int i = 0; i < 4; ++i) {
      size_t v = 0;
      if (tc(names[i][0], &v)) fig(names[i][1], v);
    }
  } else {
    struct mallinfo2 mi = mallinfo2();
    fig("glibc_arena_bytes", mi.arena);
    fig("glibc_mmapped_bytes", mi.hblkhd);
    fig("glibc_mmapped_blocks", mi.hblks);
    fig("glibc_free_bytes", mi.fordblks);
    fig("glibc_fastbin_free_bytes", mi.fsmblks);
    fig("glibc_free_chunks", mi.ordblks);
    fig("glibc_keepcost_bytes", mi.keepcost);
    fig("allocator_inuse_bytes", mi.uordblks + mi.hblkhd);
  }
}

static pthread_barrier_t g_touched, g_done;
static size_t g_touch_kib;

static void* touch_stack(void* arg) {
  (void)arg;
  volatile char* buf = alloca(g_touch_kib * 1024);
  for (size_t i = 0; i < g_touch_kib * 1024; i += 512) buf[i] = (char)i;
  pthread_barrier_wait(&g_touched);
  pthread_barrier_wait(&g_done);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: memory_prog blocks N K | threads T KB\n");
    return 2;
  }
  const long n = atol(argv[2]), k = atol(argv[3]);
  char path[4096] = "-";
  if (strcmp(argv[1], "blocks") == 0) {
    if (n <= 0 || n > 1000000 || k <= 0) return 2;
    void** kept = calloc((size_t)n, sizeof *kept);
    struct heapscope_totals a = {0}, b = {0};
    heapscope_totals(&a);
    for (long i = 0; i < n; ++i) {
      kept[i] = malloc((size_t)k);
      memset(kept[i], 1, (size_t)k);
    }
    heapscope_totals(&b);
    read_allocator();
    fig("live_delta", b.inuse_bytes - a.inuse_bytes);
    if (heapscope_snapshot(path, sizeof path) != 0) return 1;
    printf("%s\n", path);
    for (int i = 0; i < g_nfig; ++i) printf("%s %llu\n", g_fig[i].name, (unsigned long long)g_fig[i].value);
    for (long i = 0; i < n; ++i) free(kept[i]);
    free(kept);
    return 0;
  }
  if (strcmp(argv[1], "threads") == 0) {
    if (n < 0 || n > 256 || k <= 0 || k > 4096) return 2;
    g_touch_kib = (size_t)k;
    pthread_t th[256];
    pthread_barrier_init(&g_touched, NULL, (unsigned)n + 1);
    pthread_barrier_init(&g_done, NULL, (unsigned)n + 1);
    for (long i = 0; i < n; ++i)
      if (pthread_create(&th[i], NULL, touch_stack, NULL) != 0) return 1;
    pthread_barrier_wait(&g_touched);
    int rc = heapscope_snapshot(path, sizeof path);
    if (getenv("MEMORY_PROG_MAPS")) {  // debugging aid: the mappings the snapshot saw
      FILE* m = fopen("/proc/self/maps", "r");
      char line[512];
      while (m && fgets(line, sizeof line, m)) fputs(line, stderr);
      if (m) fclose(m);
    }
    pthread_barrier_wait(&g_done);
    for (long i = 0; i < n; ++i) pthread_join(th[i], NULL);
    if (rc != 0) return 1;
    printf("%s\n", path);
    return 0;
  }
  fprintf(stderr, "memory_prog: unknown mode %s\n", argv[1]);
  return 2;
}
