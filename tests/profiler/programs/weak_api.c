/* weak_api.c -- calls the five C API functions through HEAPSCOPE_WEAK without
 * linking libheapscope (also compiled as C++ by weak_api.cpp).
 *   weak_api absent   no library at run time: every call reports "not active"
 *   weak_api present  run with LD_PRELOAD=libheapscope.so: real figures
 * Exit status 0 when every check holds; failures name the line. Test code. */
#define HEAPSCOPE_WEAK
#include <heapscope/heapscope.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_fail = 0;
#define CHECK(c) \
  if (!(c)) ++g_fail, fprintf(stderr, "weak_api:%d: %s\n", __LINE__, #c)

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  struct heapscope_totals a, b;
  char path[4096] = "";
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  if (!strcmp(mode, "absent")) {
    CHECK(heapscope_active() == 0);
    errno = 0;
    CHECK(heapscope_totals(&a) == -1 && errno == ENOSYS);
    errno = 0;
    CHECK(heapscope_snapshot(path, sizeof path) == -1 && errno == ENOSYS);
    heapscope_stop();
    heapscope_start();
    CHECK(heapscope_active() == 0);
    CHECK(heapscope_active_or_inactive() == 0);
    CHECK(heapscope_totals_or_inactive(&a) == -1 && errno == ENOSYS);
    CHECK(heapscope_snapshot_or_inactive(path, sizeof path) == -1 && errno == ENOSYS);
    if (!g_fail) printf("not active\n");
    return g_fail ? 1 : 0;
  }
  if (!strcmp(mode, "present")) {
    CHECK(heapscope_active() == 1);
    CHECK(heapscope_totals(&a) == 0);
    void* volatile p = malloc(1000);
    CHECK(heapscope_totals(&b) == 0);
    CHECK(b.inuse_bytes - a.inuse_bytes == 1000);
    CHECK(b.inuse_count - a.inuse_count == 1);
    CHECK(b.alloc_count - a.alloc_count == 1);
    free(p);
    heapscope_stop();
    CHECK(heapscope_active() == 0);
    heapscope_start();
    CHECK(heapscope_active() == 1);
    {
      char small[8] = "";
      errno = 0;  /* too small for the path: an error, and no snapshot (SEQ 0001 stays free) */
      CHECK(heapscope_snapshot(small, sizeof small) == -1 && errno == ERANGE);
    }
    {
      /* ctest reuses HEAPSCOPE_OUT: an earlier process with this PID (PIDs
       * wrap) would have taken SEQ 0001 and moved this one to 0002. */
      const char* out = getenv("HEAPSCOPE_OUT");
      char old[4096];
      snprintf(old, sizeof old, "%s.%d.0001.hsnap", out ? out : "./heapscope", (int)getpid());
      unlink(old);
    }
    CHECK(heapscope_snapshot(path, sizeof path) == 0);
    CHECK(strstr(path, ".0001.hsnap") != NULL);
    CHECK(heapscope_active_or_inactive() == 1);
    CHECK(heapscope_totals_or_inactive(&a) == 0);
    if (!g_fail) printf("active %s\n", path);
    return g_fail ? 1 : 0;
  }
  fprintf(stderr, "weak_api: mode '%s': expected absent or present\n", mode);
  return 2;
}
