/*
 * alloc_fail.c -- allocation calls that fail (or succeed at the edge), one
 * output line per case with the return-value class and errno, so a plain run
 * and a preloaded run can be compared line by line.
 * Usage: alloc_fail edges|ulimit [BLOCK_MIB]
 *   edges:  overflowing sizes, the aligned family with odd alignments, free's errno
 *   ulimit: blocks of BLOCK_MIB (default 200) under an address-space limit the test sets
 *           (200 MiB under 512 MiB; 1600 MiB under 4 GiB): ok, ok, fail, realloc, free, ok
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void* deep_alloc(int n, size_t size) {
  volatile int x = n;
  void* p = n ? deep_alloc(n - 1, size) : malloc(size);
  (void)x;
  return p;
}

static void line(const char* what, void* p, int err) {
  printf("%-40s %s errno=%d\n", what, p ? "ptr" : "NULL", p ? 0 : err);
  free(p);
}
#define CASE(label, expr) do { errno = 0; void* p_ = (expr); int e_ = errno; line(label, p_, e_); } while (0)

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "edges";
  if (strcmp(mode, "ulimit") == 0) {
    size_t mb = (size_t)(argc > 2 ? atoi(argv[2]) : 200) << 20;
    errno = 0; void* a = malloc(mb); printf("a=malloc(B) %s errno=%d\n", a ? "ptr" : "NULL", a ? 0 : errno);
    errno = 0; void* b = calloc(1, mb); printf("b=calloc(B) %s errno=%d\n", b ? "ptr" : "NULL", b ? 0 : errno);
    errno = 0; void* c = malloc(mb); printf("c=malloc(B) %s errno=%d\n", c ? "ptr" : "NULL", c ? 0 : errno);
    errno = 0; void* d = realloc(a, 2 * mb); printf("d=realloc(a,2B) %s errno=%d\n", d ? "ptr" : "NULL", d ? 0 : errno);
    if (d) a = d;
    free(a); free(c);
    errno = 0; void* e = malloc(mb); printf("e=malloc(B) after free %s errno=%d\n", e ? "ptr" : "NULL", e ? 0 : errno);
    free(e); free(b);
    return 0;
  }
  static const size_t ks[] = {0, 1, 4096, 1u << 20};
  for (unsigned i = 0; i < 4; i++) {
    char l[64];
    snprintf(l, sizeof l, "malloc(SIZE_MAX-%zu)", ks[i]);
    CASE(l, malloc(SIZE_MAX - ks[i]));
  }
  CASE("malloc(PTRDIFF_MAX+1)", malloc((size_t)PTRDIFF_MAX + 1));
  CASE("calloc(SIZE_MAX/2+1,2)", calloc(SIZE_MAX / 2 + 1, 2));
  CASE("calloc(2,SIZE_MAX/2+1)", calloc(2, SIZE_MAX / 2 + 1));
  CASE("calloc(1<<40,1<<40)", calloc((size_t)1 << 40, (size_t)1 << 40));
  {
    void* p = malloc(32);
    errno = 0;
    void* q = reallocarray(p, SIZE_MAX, 2);
    int e = errno;
    printf("%-40s %s errno=%d old_block_intact=%s\n", "reallocarray(p,SIZE_MAX,2)", q ? "ptr" : "NULL", q ? 0 : e,
           q ? "n/a" : "yes");
    free(q ? q : p);
    p = malloc(32);
    errno = 0;
    q = realloc(p, SIZE_MAX - 8);
    e = errno;
    printf("%-40s %s errno=%d\n", "realloc(p,SIZE_MAX-8)", q ? "ptr" : "NULL", q ? 0 : e);
    free(q ? q : p);
  }
  static const size_t als[] = {0, 1, 3, 8, 4096, 1u << 20};
  static const size_t sizes[] = {0, 1, SIZE_MAX - 4096};
  for (unsigned a = 0; a < 6; a++)
    for (unsigned s = 0; s < 3; s++) {
      size_t al = als[a], n = sizes[s];
      char l[96];
      void* out = (void*)0x1;
      errno = 0;
      int rc = posix_memalign(&out, al, n);
      int e = errno;
      printf("posix_memalign(al=%zu,n=%zu)%*s rc=%d out=%s errno=%d\n", al, n, 4, "", rc,
             rc == 0 ? (out ? "ptr" : "NULL") : (out == (void*)0x1 ? "untouched" : "changed"), e);
      if (rc == 0) free(out);
      snprintf(l, sizeof l, "aligned_alloc(al=%zu,n=%zu)", al, n);
      CASE(l, aligned_alloc(al, n));
      snprintf(l, sizeof l, "memalign(al=%zu,n=%zu)", al, n);
      CASE(l, memalign(al, n));
    }
  CASE("valloc(0)", valloc(0));
  CASE("valloc(1)", valloc(1));
  CASE("valloc(SIZE_MAX-4096)", valloc(SIZE_MAX - 4096));
  CASE("pvalloc(0)", pvalloc(0));
  CASE("pvalloc(1)", pvalloc(1));
  CASE("pvalloc(SIZE_MAX-4096)", pvalloc(SIZE_MAX - 4096));
  CASE("malloc(0)", malloc(0));
  CASE("realloc(NULL,0)", realloc(NULL, 0));
  {
    void* p = malloc(10);
    errno = 0;
    void* q = realloc(p, 0);
    int e = errno;
    printf("%-40s %s errno=%d\n", "realloc(p,0)", q ? "ptr" : "NULL", e);
    free(q);
  }
  {
    void* p = malloc(64);
    errno = EDOM;
    free(p);
    printf("free(p) keeps errno: %s\n", errno == EDOM ? "yes" : "no");
    errno = ERANGE;
    free(NULL);
    printf("free(NULL) keeps errno: %s\n", errno == ERANGE ? "yes" : "no");
    int changed = 0;
    for (int i = 0; i < 200; i++) {  /* successful calls from new stacks (the unwinder runs) */
      errno = 1234;
      void* a = deep_alloc(i % 40, 64 + (size_t)i);
      void* b = calloc(3, 7 + (size_t)i);
      void* c = realloc(b, 500 + (size_t)i);
      void* d = NULL;
      posix_memalign(&d, 64, 100);
      free(a); free(c); free(d);
      if (errno != 1234) changed++;
    }
    printf("errno kept by successful calls: %s\n", changed ? "no" : "yes");
    p = malloc(100);
    size_t u = malloc_usable_size(p);
    printf("malloc_usable_size(malloc(100)) >= 100: %s\n", u >= 100 ? "yes" : "no");
    free(p);
  }
  return 0;
}
