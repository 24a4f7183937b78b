/* nounwind.c -- compiled with -fno-asynchronous-unwind-tables -fno-unwind-tables
 * -fomit-frame-pointer: allocation from code without .eh_frame entries. */
#include <stdlib.h>
__attribute__((noinline)) void* rel_nounwind_alloc(size_t n) {
  void* p = malloc(n);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void rel_nounwind_free(void* p) { free(p); }
