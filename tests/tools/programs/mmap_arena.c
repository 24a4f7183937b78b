// mmap_arena.c -- the program's own anonymous mappings, for HEAPSCOPE_MMAP
// (test_mmap.cpp runs it under `heapscope run`). One mode per argument; each
// prints what it expects the books to hold at exit:
//   leak     arena_chunk() maps 10 chunks of 64 KiB and never unmaps them,
//            beside malloc churn (1000 blocks, 10 of 100 bytes kept)
//   books    partial munmap (middle and end), munmap over several ranges,
//            mremap grow / shrink / move (MAYMOVE, FIXED), MAP_FIXED over a
//            tracked range, a file mapping over one, munmap of never-tracked
//            memory: exactly 5 pages of 4 KiB stay mapped, from books_map()
//   big      malloc(10 MiB) kept: glibc maps it itself; heap, not mapped
//   threads  4 threads x 200 map/unmap rounds (bounded), each keeps 5 of 8 KiB
// Exit status 0 unless a system call failed (then 1, with a line on stderr).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096
#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static void* must(void* p, const char* what) {
  if (p == MAP_FAILED) {
    perror(what);
    exit(1);
  }
  return p;
}
static void must0(int rc, const char* what) {
  if (rc != 0) {
    perror(what);
    exit(1);
  }
}

__attribute__((noinline)) void* arena_chunk(void) {
  return must(mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, ANON, -1, 0), "mmap chunk");
}

void* volatile kept[10];  // global, volatile: -O2 must not drop the churn
static void leak(void) {
  for (int i = 0; i < 10; ++i) {
    char* c = arena_chunk();
    c[0] = 1;
  }
  for (int i = 0; i < 1000; ++i) {
    char* p = malloc(100);
    if (!p) exit(1);
    p[0] = (char)i;
    if (i % 100 == 0) kept[i / 100] = p;
    else free(p);
  }
  printf("mapped 655360 10 heap-kept 1000 10\n");
}

__attribute__((noinline)) void* books_map(size_t pages) {
  return must(mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, ANON, -1, 0), "mmap");
}

static void books(void) {
  // Partial munmap: 8 pages, the middle 2 and the last 1 go: 5 stay (3 ranges).
  char* a = books_map(8);
  must0(munmap(a + 3 * PAGE, 2 * PAGE), "munmap middle");
  must0(munmap(a + 7 * PAGE, PAGE), "munmap end");
  must0(munmap(a, 3 * PAGE), "munmap head");  // then the head too: 2 pages (a+5, a+6) stay
  // mremap grow in place or moved, then shrink.
  char* b = books_map(2);
  b = must(mremap(b, 2 * PAGE, 6 * PAGE, MREMAP_MAYMOVE), "mremap grow");
  b = must(mremap(b, 6 * PAGE, 1 * PAGE, 0), "mremap shrink");  // b: 1 page
  // mremap to a fixed place: over a tracked range (it is replaced).
  char* c = books_map(4);
  char* d = books_map(4);
  c = must(mremap(c, 4 * PAGE, 4 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, d), "mremap fixed");  // d's 4 pages gone
  must0(munmap(c, 4 * PAGE), "munmap moved");
  // MAP_FIXED over a tracked range: the old pages are gone, the new ones booked.
  char* e = books_map(4);
  must(mmap(e + PAGE, 2 * PAGE, PROT_READ, ANON | MAP_FIXED, -1, 0), "mmap fixed");  // still 4 pages
  must0(munmap(e, 4 * PAGE), "munmap over three ranges");  // e, e+1..2 (fixed), e+3
  // A file mapping over a tracked range ends it (and is not tracked itself).
  char* f = books_map(2);
  FILE* tmp = tmpfile();
  if (!tmp || ftruncate(fileno(tmp), 2 * PAGE) != 0) {
    perror("tmpfile");
    exit(1);
  }
  must(mmap(f, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fileno(tmp), 0), "mmap file fixed");
  must0(munmap(f, 2 * PAGE), "munmap file");
  fclose(tmp);
  // Shared anonymous: tracked; 2 pages stay.
  char* g = must(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), "mmap shared");
  (void)g;
  // Never tracked: mapped by a raw system call, unmapped through munmap.
  char* h = must((void*)syscall(SYS_mmap, NULL, 3 * PAGE, PROT_READ | PROT_WRITE, ANON, -1, 0), "raw mmap");
  must0(munmap(h, 3 * PAGE), "munmap untracked");
  // Left: a+5..a+6 (2 pages, books_map), b (1 page, books_map), g (2 pages, main).
  printf("mapped %d 3 books_map %d 2\n", 5 * PAGE, 3 * PAGE);
}

static void big(void) {
  char* volatile p = malloc(10 << 20);
  p[0] = 1;
  printf("heap-kept %d 1 mapped 0 0\n", 10 << 20);
}

__attribute__((noinline)) void* thread_map(size_t n) {
  return must(mmap(NULL, n, PROT_READ | PROT_WRITE, ANON, -1, 0), "mmap thread");
}
static void* worker(void* arg) {
  (void)arg;
  void* keep[8];
  int nk = 0;
  for (int i = 0; i < 200; ++i) {
    char* p = thread_map((size_t)(1 + i % 4) * PAGE);
    p[0] = 1;
    if (i % 40 == 0 && nk < 5) {
      keep[nk++] = mremap(p, (size_t)(1 + i % 4) * PAGE, 2 * PAGE, MREMAP_MAYMOVE);
      if (keep[nk - 1] == MAP_FAILED) exit(1);
    } else {
      must0(munmap(p, (size_t)(1 + i % 4) * PAGE), "munmap thread");
    }
  }
  return NULL;
}
static void threads(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; ++i)
    if (pthread_create(&t[i], NULL, worker, NULL) != 0) exit(1);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  printf("mapped %d 20\n", 20 * 2 * PAGE);
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (!strcmp(argv[1], "leak")) leak();
  else if (!strcmp(argv[1], "books")) books();
  else if (!strcmp(argv[1], "big")) big();
  else if (!strcmp(argv[1], "threads")) threads();
  else return 2;
  return 0;
}
