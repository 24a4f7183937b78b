// jemalloc_prog.cpp -- linked with -ljemalloc, which defines malloc AND every
// operator new/delete: heapscope must chain to it and still see both kinds.
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <cstdio>
#include <cstdlib>
#include <new>

// Escaping pointers: the compiler may not elide these new/delete pairs.
static void* volatile g_escape;

int main() {
  int fail = 0;
  struct heapscope_totals a{}, b{}, c{};
  heapscope_totals_or_inactive(&a);
  void* m = malloc(3000);
  int* n = new int[250];  // jemalloc's operator new[]
  g_escape = n;
  void* al = ::operator new(500, std::align_val_t(256));
  heapscope_totals_or_inactive(&b);
  if (b.inuse_bytes - a.inuse_bytes != 3000 + 1000 + 500 || b.inuse_count - a.inuse_count != 3) {
    fprintf(stderr, "jemalloc_prog: live grew by %llu bytes / %llu blocks; expected 4500 / 3\n",
            (unsigned long long)(b.inuse_bytes - a.inuse_bytes), (unsigned long long)(b.inuse_count - a.inuse_count));
    fail = 1;
  }
  char path[4096] = "-";
  heapscope_snapshot_or_inactive(path, sizeof path);
  free(m);
  delete[] n;
  ::operator delete(al, std::align_val_t(256));
  heapscope_totals_or_inactive(&c);
  if (c.inuse_bytes != a.inuse_bytes || c.inuse_count != a.inuse_count) {
    fprintf(stderr, "jemalloc_prog: live totals did not return to the start\n");
    fail = 1;
  }
  printf("%s\n", path);  // after the checks: stdout's buffer is a heap block too
  return fail;
}
