// dl_lib.cpp -- a library the dlopen scenario loads, allocates from, and unloads.
#include <cstdlib>
#include <new>
extern "C" __attribute__((noinline)) void* hs_dl_alloc(size_t n) { return malloc(n); }
extern "C" __attribute__((noinline)) void* hs_dl_new(size_t n) { return ::operator new(n); }
