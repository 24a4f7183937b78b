// heapinfo.cpp -- see heapinfo.h.
#include "heapinfo.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include "next_alloc.h"

namespace hs {
namespace {
enum Kind { kUnknown, kGlibc, kJemalloc, kTcmalloc };
int g_kind = -1;

int kind() {
  if (g_kind >= 0) return g_kind;
  Dl_info info;
  int k = kUnknown;
  if (g_next.malloc && dladdr((void*)g_next.malloc, &info) && info.dli_fname) {
    const char* f = info.dli_fname;
    if (strstr(f, "jemalloc")) k = kJemalloc;
    else if (strstr(f, "tcmalloc")) k = kTcmalloc;
    else if (strstr(f, "libc.so")) k = kGlibc;
  }
  g_kind = k;
  return k;
}
}  // namespace

const char* allocator_name() {
  switch (kind()) {
    case kGlibc: return "glibc";
    case kJemalloc: return "jemalloc";
    case kTcmalloc: return "tcmalloc";
    default: return "unknown";
  }
}

HeapFigures allocator_figures() {
  HeapFigures f{false, 0, 0};
  int k = kind();
  if (k == kJemalloc) {
    using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
    Dl_info info;
    void* h = nullptr;
    Mallctl ctl = nullptr;
    if (dladdr((void*)g_next.malloc, &info) && info.dli_fname) {
      h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
      if (h) ctl = (Mallctl)dlsym(h, "mallctl");
    }
    if (ctl) {
      uint64_t epoch = 1;
      size_t sz = sizeof epoch;
      ctl("epoch", &epoch, &sz, &epoch, sz);  // refresh jemalloc's cached stats
      size_t v = 0;
      sz = sizeof v;
      if (ctl("stats.allocated", &v, &sz, nullptr, 0) == 0) f.used = v, f.known = true;
      sz = sizeof v;
      if (ctl("stats.mapped", &v, &sz, nullptr, 0) == 0) f.total = v;
    }
    if (h) dlclose(h);
    return f;
  }
  if (k == kTcmalloc) {
    using GetNum = int (*)(const char*, size_t*);
    if (auto get = (GetNum)dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty")) {
      size_t v = 0;
      if (get("generic.current_allocated_bytes", &v)) f.used = v, f.known = true;
      if (get("generic.heap_size", &v)) f.total = v;
    }
    return f;
  }
  if (k == kGlibc) {
    struct mallinfo2 mi = mallinfo2();
    f.known = true;
    f.used = mi.uordblks + mi.hblkhd;
    f.total = mi.arena + mi.hblkhd;
  }
  return f;
}

uint64_t rss_bytes() {
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* p = buf;
  while (*p && *p != ' ') ++p;  // skip "size"
  while (*p == ' ') ++p;
  uint64_t pages = 0;
  while (*p >= '0' && *p <= '9') pages = pages * 10 + (uint64_t)(*p++ - '0');
  return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
}  // namespace hs
