// modules.cpp -- see modules.h.
#include "modules.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "arena.h"

namespace hs {
namespace {
constexpr uint32_t kMaxModules = 16384;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
Region g_region;
ModuleInfo** g_list = nullptr;
uint32_t g_count = 0;
uint32_t g_generation = 0;
char g_exe[4096];
uint32_t g_exe_len = 0;

bool ensure_init() {
  if (g_list) return true;
  // A small first chunk (the module list and the first modules): it stays in the
  // table arena's first zone (arena.cpp).
  if (!g_region.init((size_t)256 << 20, (size_t)1 << 20, (size_t)192 << 10)) return false;
  g_list = (ModuleInfo**)g_region.alloc(sizeof(ModuleInfo*) * kMaxModules);
  ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
  g_exe_len = n > 0 ? (uint32_t)n : 0;
  return g_list != nullptr;
}

uint32_t read_build_id(const dl_phdr_info* info, uint8_t* out, uint32_t cap) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const char* p = (const char*)(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr)* nh = (const ElfW(Nhdr)*)p;
      const char* name = p + sizeof(ElfW(Nhdr));
      const char* desc = name + ((nh->n_namesz + 3) & ~3u);
      const char* next = desc + ((nh->n_descsz + 3) & ~3u);
      if (next > end) break;
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        uint32_t n = nh->n_descsz < cap ? nh->n_descsz : cap;
        memcpy(out, desc, n);
        return n;
      }
      p = next;
    }
  }
  return 0;
}

int on_module(dl_phdr_info* info, size_t, void* ctx) {
  const char* path = info->dlpi_name ? info->dlpi_name : "";
  uint32_t flags = 0;
  // dl_iterate_phdr reports the executable first (with an empty name); the
  // vdso is recognised by its address.
  bool main_exe = (*(int*)ctx)++ == 0;
  uintptr_t vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && vdso && info->dlpi_addr + ph.p_vaddr - ph.p_offset == vdso) flags |= HS_MODULE_VDSO;
  }
  if (main_exe && !(flags & HS_MODULE_VDSO)) {
    flags |= HS_MODULE_MAIN;
    path = g_exe;
  } else if (!path[0] && !(flags & HS_MODULE_VDSO)) {
    return 0;
  }
  if (!path[0] && (flags & HS_MODULE_VDSO)) path = "[vdso]";
  size_t plen = strnlen(path, HS_MAX_STRING);
  for (uint32_t i = 0; i < g_count; ++i) {
    ModuleInfo* m = g_list[i];
    if (m->load_bias == info->dlpi_addr && m->path_len == plen && memcmp(m->path, path, plen) == 0 &&
        !(m->flags & HS_MODULE_UNLOADED)) {
      m->generation = g_generation;
      return 0;
    }
  }
  if (g_count >= kMaxModules) return 0;
  uint32_t nr = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) nr += info->dlpi_phdr[i].p_type == PT_LOAD;
  if (nr > HS_MAX_RANGES) nr = HS_MAX_RANGES;
  ModuleInfo* m = (ModuleInfo*)g_region.alloc(sizeof(ModuleInfo));
  char* pcopy = (char*)g_region.alloc(plen + 1);
  HsRange* ranges = (HsRange*)g_region.alloc(sizeof(HsRange) * (nr ? nr : 1));
  if (!m || !pcopy || !ranges) return 0;
  memcpy(pcopy, path, plen);
  pcopy[plen] = 0;
  memset(m, 0, sizeof *m);
  m->load_bias = info->dlpi_addr;
  m->path = pcopy;
  m->path_len = (uint32_t)plen;
  m->flags = flags;
  m->ranges = ranges;
  uint32_t k = 0;
  for (int i = 0; i < info->dlpi_phnum && k < nr; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    ranges[k].start = info->dlpi_addr + ph.p_vaddr;
    ranges[k].end = ranges[k].start + ph.p_memsz;
    ranges[k].file_offset = ph.p_offset;
    ranges[k].flags = ph.p_flags;
    ++k;
  }
  m->range_count = k;
  m->build_id_len = read_build_id(info, m->build_id, sizeof m->build_id);
  m->generation = g_generation;
  g_list[g_count++] = m;
  return 0;
}
}  // namespace

void modules_lock() { pthread_mutex_lock(&g_mu); }
void modules_unlock() { pthread_mutex_unlock(&g_mu); }

void modules_refresh() {
  pthread_mutex_lock(&g_mu);
  if (ensure_init()) {
    ++g_generation;
    int index = 0;
    dl_iterate_phdr(on_module, &index);
    for (uint32_t i = 0; i < g_count; ++i)
      if (g_list[i]->generation != g_generation) g_list[i]->flags |= HS_MODULE_UNLOADED;
  }
  pthread_mutex_unlock(&g_mu);
}

bool modules_for_each(void (*fn)(const ModuleInfo&, void*), void* ctx, bool only_if_free) {
  if (only_if_free) {
    if (pthread_mutex_trylock(&g_mu) != 0) return false;
  } else {
    pthread_mutex_lock(&g_mu);
  }
  for (uint32_t i = 0; i < g_count; ++i) fn(*g_list[i], ctx);
  pthread_mutex_unlock(&g_mu);
  return true;
}

uint32_t modules_count() { return g_count; }

void modules_after_fork_child() { pthread_mutex_init(&g_mu, nullptr); }
}  // namespace hs
