// heapinfo.cpp -- see heapinfo.h.
#include "heapinfo.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
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

namespace {
void add(AllocatorReading& r, const char* name, uint64_t v) {
  if (r.count < kMaxAllocatorFigures) r.named[r.count++] = NamedFigure{name, v};
}
void set_held(AllocatorReading& r, uint64_t held) {
  r.held = held;
  r.free_held = held > r.used ? held - r.used : 0;
}
}  // namespace

AllocatorReading read_allocator() {
  AllocatorReading r{};
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
      static const char* const names[][2] = {{"stats.allocated", "jemalloc_allocated_bytes"},
                                             {"stats.active", "jemalloc_active_bytes"},
                                             {"stats.resident", "jemalloc_resident_bytes"},
                                             {"stats.mapped", "jemalloc_mapped_bytes"},
                                             {"stats.retained", "jemalloc_retained_bytes"}};
      size_t v[5] = {};
      bool ok[5] = {};
      for (int i = 0; i < 5; ++i) {
        sz = sizeof v[i];
        ok[i] = ctl(names[i][0], &v[i], &sz, nullptr, 0) == 0;
        if (ok[i]) add(r, names[i][1], v[i]);
      }
      if (ok[0]) r.used = v[0], r.known = true;
      if (ok[3]) r.total = v[3];
      if (ok[0] && ok[2]) set_held(r, v[2]);
      else r.known = false;
    }
    if (h) dlclose(h);
    return r;
  }
  if (k == kTcmalloc) {
    using GetNum = int (*)(const char*, size_t*);
    if (auto get = (GetNum)dlsym(RTLD_DEFAULT, "MallocExtension_GetNumericProperty")) {
      static const char* const names[][2] = {
          {"generic.current_allocated_bytes", "tcmalloc_current_allocated_bytes"},
          {"generic.heap_size", "tcmalloc_heap_size_bytes"},
          {"tcmalloc.pageheap_free_bytes", "tcmalloc_pageheap_free_bytes"},
          {"tcmalloc.pageheap_unmapped_bytes", "tcmalloc_pageheap_unmapped_bytes"}};
      size_t v[4] = {};
      bool ok[4] = {};
      for (int i = 0; i < 4; ++i) {
        ok[i] = get(names[i][0], &v[i]) != 0;
        if (ok[i]) add(r, names[i][1], v[i]);
      }
      if (ok[0]) r.used = v[0], r.known = true;
      if (ok[1]) r.total = v[1];
      // heap_size counts pages returned to the OS (unmapped) too: they hold no RSS.
      if (ok[0] && ok[1] && ok[3]) set_held(r, v[1] > v[3] ? v[1] - v[3] : 0);
      else r.known = false;
    }
    return r;
  }
  if (k == kGlibc) {
    struct mallinfo2 mi = mallinfo2();
    r.known = true;
    r.used = mi.uordblks + mi.hblkhd;
    r.total = mi.arena + mi.hblkhd;
    set_held(r, mi.arena + mi.hblkhd);  // free_held = arena - uordblks = fordblks
    add(r, "glibc_arena_bytes", mi.arena);
    add(r, "glibc_mmapped_bytes", mi.hblkhd);
    add(r, "glibc_mmapped_blocks", mi.hblks);
    add(r, "glibc_free_bytes", mi.fordblks);
    add(r, "glibc_fastbin_free_bytes", mi.fsmblks);
    add(r, "glibc_free_chunks", mi.ordblks);
    add(r, "glibc_keepcost_bytes", mi.keepcost);
  }
  return r;
}

HeapFigures allocator_figures() {
  AllocatorReading r = read_allocator();
  return HeapFigures{r.known, r.used, r.total};
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

namespace hs {
namespace {
// Writer-only scratch (the snapshot writer's mutex serializes memory_figures).
char g_proc_buf[8192];
unsigned char g_core_vec[4096];  // mincore: one byte per page, 16 MiB of 4 KiB pages per call

// "Key:   123 kB" lines of a small /proc file: the kB figures of the keys
// asked for (in bytes), found[i] set for each one present.
bool read_kb_fields(const char* path, const char* const* keys, int n, uint64_t* out, bool* found) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t len = 0;
  ssize_t got;
  while (len < sizeof g_proc_buf - 1 && (got = read(fd, g_proc_buf + len, sizeof g_proc_buf - 1 - len)) > 0)
    len += (size_t)got;
  close(fd);
  if (len == 0) return false;
  g_proc_buf[len] = 0;
  for (int i = 0; i < n; ++i) found[i] = false;
  for (const char* line = g_proc_buf; *line;) {
    const char* eol = strchr(line, '\n');
    for (int i = 0; i < n; ++i) {
      size_t kl = strlen(keys[i]);
      if (strncmp(line, keys[i], kl) != 0 || line[kl] != ':') continue;
      const char* p = line + kl + 1;
      while (*p == ' ' || *p == '\t') ++p;
      uint64_t v = 0;
      while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
      out[i] = v * 1024;
      found[i] = true;
    }
    if (!eol) break;
    line = eol + 1;
  }
  return true;
}

void read_rss(MemoryFigures& m) {
  static const char* const status_keys[] = {"RssAnon", "RssFile", "RssShmem"};
  uint64_t st[3] = {};
  bool st_ok[3] = {};
  const bool have_status = read_kb_fields("/proc/self/status", status_keys, 3, st, st_ok);
  // smaps_rollup walks the page tables: exact, where status's counters may
  // lag by a per-CPU batch on some kernels. It has no file/shmem split, so
  // shmem comes from status and file is the rest.
  static const char* const rollup_keys[] = {"Rss", "Anonymous"};
  uint64_t ro[2] = {};
  bool ro_ok[2] = {};
  if (read_kb_fields("/proc/self/smaps_rollup", rollup_keys, 2, ro, ro_ok) && ro_ok[0] && ro_ok[1] &&
      have_status && st_ok[2]) {
    m.rss_known = true;
    m.rss_anon = ro[1];
    const uint64_t rest = ro[0] > ro[1] ? ro[0] - ro[1] : 0;
    m.rss_shmem = st[2] < rest ? st[2] : rest;
    m.rss_file = rest - m.rss_shmem;
    return;
  }
  if (have_status && st_ok[0] && st_ok[1] && st_ok[2]) {
    m.rss_known = true;
    m.rss_anon = st[0];
    m.rss_file = st[1];
    m.rss_shmem = st[2];
  }
}

uint64_t parse_hex(const char*& p) {
  uint64_t v = 0;
  for (;; ++p) {
    char c = *p;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else return v;
  }
}

uint64_t resident_bytes(uint64_t lo, uint64_t hi, uint64_t page) {
  uint64_t resident = 0;
  const uint64_t chunk = sizeof g_core_vec * page;
  for (uint64_t a = lo; a < hi; a += chunk) {
    const uint64_t len = hi - a < chunk ? hi - a : chunk;
    if (mincore((void*)a, len, g_core_vec) != 0) return resident;  // unmapped meanwhile: count what was seen
    for (uint64_t i = 0, n = (len + page - 1) / page; i < n; ++i) resident += (g_core_vec[i] & 1) * page;
  }
  return resident;
}

// Thread stacks from /proc/self/maps (the list of mappings: no page-table
// walk, unlike smaps): the main thread's "[stack]", and every glibc thread
// stack, which is an anonymous private rw-p mapping directly above its
// anonymous ---p guard of at most 1 MiB. A glibc malloc heap (rw-p below its
// own ---p reserve, together 64 MiB = HEAP_MAX_SIZE, at a multiple of 64 MiB)
// can sit directly above another heap's reserve: a candidate that starts at a
// multiple of 64 MiB and ends there, or whose ---p neighbour above ends there,
// is such a heap and left out. Stacks a program supplies itself
// (pthread_attr_setstack, fibers) are not found. Their resident bytes come
// from mincore over each range.
void read_stacks(MemoryFigures& m) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  size_t len = 0;
  uint64_t prev_end = 0;
  bool prev_guard = false, skipping = false;
  constexpr uint64_t kHeapMax = 64u << 20;
  uint64_t cand_lo = 0, cand_hi = 0;  // a thread stack candidate, decided by the mapping after it
  auto decide = [&](bool next_reserve, uint64_t next_lo, uint64_t next_hi) {
    if (cand_hi == 0) return;
    const bool heap = cand_lo % kHeapMax == 0 &&
                      (cand_hi - cand_lo == kHeapMax || (next_reserve && next_lo == cand_hi && next_hi == cand_lo + kHeapMax));
    if (!heap) {
      m.stack_bytes += resident_bytes(cand_lo, cand_hi, page);
      ++m.stacks;
    }
    cand_lo = cand_hi = 0;
  };
  for (;;) {
    ssize_t got = read(fd, g_proc_buf + len, sizeof g_proc_buf - 1 - len);
    if (got <= 0) break;
    len += (size_t)got;
    g_proc_buf[len] = 0;
    char* line = g_proc_buf;
    for (char* eol; (eol = strchr(line, '\n')); line = eol + 1) {
      *eol = 0;
      if (skipping) {  // the rest of a line longer than the buffer (a long path): not a stack
        skipping = false;
        prev_guard = false;
        decide(false, 0, 0);
        continue;
      }
      // "start-end perms offset dev inode   path"
      const char* p = line;
      const uint64_t lo = parse_hex(p);
      if (*p == '-') ++p;
      const uint64_t hi = parse_hex(p);
      while (*p == ' ') ++p;
      const char* perms = p;
      for (int field = 0; field < 3 && *p; ++field) {  // perms, offset, dev
        while (*p && *p != ' ') ++p;
        while (*p == ' ') ++p;
      }
      uint64_t inode = 0;
      while (*p >= '0' && *p <= '9') inode = inode * 10 + (uint64_t)(*p++ - '0');
      while (*p == ' ') ++p;
      const bool anon = inode == 0 && *p == 0;
      const bool stack = strcmp(p, "[stack]") == 0;
      const bool rw_private = strncmp(perms, "rw-p", 4) == 0;
      const bool noaccess = anon && strncmp(perms, "---p", 4) == 0;
      const bool guard = noaccess && hi - lo <= (1u << 20);
      decide(noaccess, lo, hi);
      if (stack && hi > lo) {
        m.stack_bytes += resident_bytes(lo, hi, page);
        ++m.stacks;
      } else if (anon && rw_private && prev_guard && prev_end == lo && hi > lo) {
        cand_lo = lo, cand_hi = hi;
      }
      prev_end = hi;
      prev_guard = guard;
    }
    len = (size_t)(g_proc_buf + len - line);
    memmove(g_proc_buf, line, len);
    if (len >= sizeof g_proc_buf - 1) len = 0, skipping = true;
  }
  close(fd);
  decide(false, 0, 0);
  m.stacks_known = true;
}
}  // namespace

MemoryFigures memory_figures() {
  MemoryFigures m{};
  read_rss(m);
  read_stacks(m);
  return m;
}
}  // namespace hs
