// next_alloc.cpp -- see next_alloc.h.
#include "next_alloc.h"

#include <atomic>
#include <dlfcn.h>
#include <unistd.h>

#include "log.h"
#include "thread_state.h"

namespace hs {
NextFns g_next;
alignas(64) char g_pool[kPoolSize];
static std::atomic<size_t> g_pool_used{0};

void* pool_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  // [size header (8 bytes)][pad][data aligned to `align`]
  for (;;) {
    size_t used = g_pool_used.load(std::memory_order_relaxed);
    size_t data = (used + 8 + align - 1) & ~(align - 1);
    size_t end = data + ((size + 15) & ~(size_t)15);
    if (end > kPoolSize || end < data) {
      log_line("bootstrap pool exhausted (%zu bytes asked, %zu of %zu used) while resolving the allocator; exiting",
               size, used, kPoolSize);
      _exit(127);
    }
    if (g_pool_used.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
      *(size_t*)(g_pool + data - 8) = size;
      return g_pool + data;
    }
  }
}

size_t pool_block_size(const void* p) { return *(const size_t*)((const char*)p - 8); }

static void* next_sym(const char* name) {
  if (name[0] == '_' && name[1] == '_' && name[2] == 'l') {  // __libc_start_main: the 2.34 ABI
    if (void* f = dlvsym(RTLD_NEXT, name, "GLIBC_2.34")) return f;
  }
  return dlsym(RTLD_NEXT, name);
}

void next_resolve() {
  ThreadState& t = tls;
  if (t.resolving) return;
  t.resolving = 1;
  ++t.guard;
#define HS_RESOLVE(field, name, type, req) \
  if (!g_next.field) g_next.field = (Id<type>)next_sym(name);
  HS_INTERPOSED(HS_RESOLVE)
#undef HS_RESOLVE
  --t.guard;
  t.resolving = 0;
#define HS_CHECK(field, name, type, req)                                                          \
  if (req && !g_next.field) {                                                                     \
    log_line("cannot find the next %s with dlsym(RTLD_NEXT): no allocator after heapscope; exiting", \
             name);                                                                               \
    _exit(127);                                                                                   \
  }
  HS_INTERPOSED(HS_CHECK)
#undef HS_CHECK
}

void next_resolve_cxx() {
  ThreadState& t = tls;
  ++t.guard;
  void* h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
#define HS_RESOLVE_CXX(field, name, type, req)                              \
  if (!g_next.field && name[0] == '_' && name[1] == 'Z') {                  \
    g_next.field = (Id<type>)dlsym(RTLD_NEXT, name);                            \
    if (!g_next.field && h) g_next.field = (Id<type>)dlsym(h, name);            \
  }
  HS_INTERPOSED(HS_RESOLVE_CXX)
#undef HS_RESOLVE_CXX
  if (h) dlclose(h);
  --t.guard;
}
}  // namespace hs
