// slots.cpp -- see slots.h.
#include "attach/slots.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace hs {
namespace {
pthread_mutex_t g_slots_mu = PTHREAD_MUTEX_INITIALIZER;

// Saved slots: open addressing by slot address (in .bss, no allocation).
constexpr size_t kMaxSaved = 1 << 15;
struct Saved {
  uintptr_t slot;  // 0 = empty
  uintptr_t old;
  uintptr_t hook;
};
Saved g_saved[kMaxSaved];

Saved* saved_find(uintptr_t slot, bool insert) {
  size_t i = (slot >> 3) * 0x9E3779B97F4A7C15ull >> 49;  // 15 bits
  for (size_t n = 0; n < kMaxSaved; ++n, i = (i + 1) & (kMaxSaved - 1)) {
    if (g_saved[i].slot == slot) return &g_saved[i];
    if (!g_saved[i].slot) {
      if (!insert) return nullptr;
      g_saved[i].slot = slot;
      return &g_saved[i];
    }
  }
  return nullptr;  // full: the slot is left alone
}

uintptr_t self_base() {
  static uintptr_t base = 0;
  if (!base) {
    Dl_info info;
    if (dladdr((void*)&self_base, &info)) base = (uintptr_t)info.dli_fbase;
  }
  return base;
}

struct Dyn {
  uintptr_t base;
  const Elf64_Sym* symtab = nullptr;
  const char* strtab = nullptr;
  size_t strsz = 0;
  const Elf64_Rela* rela = nullptr;
  size_t relasz = 0;
  const Elf64_Rela* jmprel = nullptr;
  size_t pltrelsz = 0;
  bool plt_is_rela = true;
  const uint32_t* gnu_hash = nullptr;
  const uint32_t* sysv_hash = nullptr;
  uintptr_t relro_lo = 0, relro_hi = 0;
};

// glibc relocates the d_ptr values of a writable dynamic section in place;
// a read-only one (or another loader) leaves them as file addresses.
uintptr_t fix(uintptr_t v, uintptr_t base) { return v < base ? v + base : v; }

bool is_skipped(const dl_phdr_info* info) {
  const char* n = info->dlpi_name ? info->dlpi_name : "";
  if (strstr(n, "/ld-linux") || strstr(n, "ld-linux-x86-64") || strstr(n, "linux-vdso")) return true;
  if (info->dlpi_addr == self_base() && info->dlpi_addr) return true;
  return false;
}

bool read_dyn(const dl_phdr_info* info, Dyn* d) {
  d->base = info->dlpi_addr;
  const Elf64_Dyn* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const Elf64_Phdr& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn*)(d->base + ph.p_vaddr);
    if (ph.p_type == PT_GNU_RELRO) {
      d->relro_lo = d->base + ph.p_vaddr;
      d->relro_hi = d->relro_lo + ph.p_memsz;
    }
  }
  if (!dyn) return false;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    uintptr_t v = dyn->d_un.d_ptr;
    switch (dyn->d_tag) {
      case DT_SYMTAB: d->symtab = (const Elf64_Sym*)fix(v, d->base); break;
      case DT_STRTAB: d->strtab = (const char*)fix(v, d->base); break;
      case DT_STRSZ: d->strsz = dyn->d_un.d_val; break;
      case DT_RELA: d->rela = (const Elf64_Rela*)fix(v, d->base); break;
      case DT_RELASZ: d->relasz = dyn->d_un.d_val; break;
      case DT_JMPREL: d->jmprel = (const Elf64_Rela*)fix(v, d->base); break;
      case DT_PLTRELSZ: d->pltrelsz = dyn->d_un.d_val; break;
      case DT_PLTREL: d->plt_is_rela = dyn->d_un.d_val == DT_RELA; break;
      case DT_GNU_HASH: d->gnu_hash = (const uint32_t*)fix(v, d->base); break;
      case DT_HASH: d->sysv_hash = (const uint32_t*)fix(v, d->base); break;
      default: break;
    }
  }
  return d->symtab && d->strtab;
}

// Number of dynamic symbols (DT_HASH nchain, or the end of DT_GNU_HASH's last chain).
uint32_t symbol_count(const Dyn& d) {
  if (d.sysv_hash) return d.sysv_hash[1];
  if (!d.gnu_hash) return 0;
  uint32_t nbuckets = d.gnu_hash[0], symoffset = d.gnu_hash[1], bloom = d.gnu_hash[2];
  const uint32_t* buckets = d.gnu_hash + 4 + bloom * 2;  // 64-bit bloom words
  const uint32_t* chains = buckets + nbuckets;
  uint32_t last = 0;
  for (uint32_t i = 0; i < nbuckets; ++i)
    if (buckets[i] > last) last = buckets[i];
  if (last < symoffset) return symoffset;
  while (!(chains[last - symoffset] & 1)) ++last;
  return last + 1;
}

const char* sym_name(const Dyn& d, uint32_t idx) {
  uint32_t off = d.symtab[idx].st_name;
  return d.strsz && off >= d.strsz ? nullptr : d.strtab + off;
}

int hooked_index(const HookedName* names, int n, const char* s) {
  if (!s || !*s) return -1;
  for (int i = 0; i < n; ++i)
    if (names[i].hook && !strcmp(names[i].name, s)) return i;
  return -1;
}

void store_slot(const Dyn& d, uintptr_t slot, uintptr_t value) {
  bool relro = slot >= d.relro_lo && slot < d.relro_hi;
  uintptr_t page = slot & ~(uintptr_t)4095;
  if (relro && mprotect((void*)page, 4096, PROT_READ | PROT_WRITE) != 0) return;  // sealed: left alone
  __atomic_store_n((uintptr_t*)slot, value, __ATOMIC_RELEASE);
  if (relro) mprotect((void*)page, 4096, PROT_READ);
}

struct Walk {
  const HookedName* names;
  int n;
  bool restore;
  PatchCounts counts;
};

void walk_relocs(const Dyn& d, const Elf64_Rela* r, size_t bytes, Walk* w, bool* touched) {
  if (!r) return;
  size_t count = bytes / sizeof(Elf64_Rela);
  for (size_t i = 0; i < count; ++i) {
    uint32_t type = ELF64_R_TYPE(r[i].r_info);
    // JUMP_SLOT/GLOB_DAT: calls and address-takings through the GOT. R_X86_64_64
    // with no addend: a function pointer the loader stored in data (a static
    // initializer such as `void* (*fp)(size_t) = malloc;`), taken before the
    // attach but read at each call.
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT && !(type == R_X86_64_64 && r[i].r_addend == 0))
      continue;
    int k = hooked_index(w->names, w->n, sym_name(d, ELF64_R_SYM(r[i].r_info)));
    if (k < 0) continue;
    uintptr_t slot = d.base + r[i].r_offset;
    uintptr_t hook = w->names[k].hook;
    uintptr_t cur = __atomic_load_n((uintptr_t*)slot, __ATOMIC_ACQUIRE);
    if (w->restore) {
      Saved* s = saved_find(slot, false);
      if (s && cur == s->hook) {
        store_slot(d, slot, s->old);
        ++w->counts.slots_changed;
      }
      continue;
    }
    if (cur != hook) {
      // New, or rewritten since (lazy binding finished, or another module now
      // lives here): what it holds now is what to put back.
      Saved* s = saved_find(slot, true);
      if (!s) continue;
      s->old = cur;
      s->hook = hook;
      store_slot(d, slot, hook);
      if (__atomic_load_n((uintptr_t*)slot, __ATOMIC_ACQUIRE) != hook) continue;  // could not write
      ++w->counts.slots_changed;
    }
    ++w->counts.slots_now;
    *touched = true;
  }
}

int walk_module(dl_phdr_info* info, size_t, void* arg) {
  Walk* w = (Walk*)arg;
  if (is_skipped(info)) {
    ++w->counts.modules_skipped;
    return 0;
  }
  Dyn d;
  if (!read_dyn(info, &d)) return 0;
  bool touched = false;
  if (d.plt_is_rela) walk_relocs(d, d.jmprel, d.pltrelsz, w, &touched);
  walk_relocs(d, d.rela, d.relasz, w, &touched);
  if (touched) ++w->counts.modules_patched;
  return 0;
}

uintptr_t lookup_in(const Dyn& d, const char* name) {
  uint32_t n = symbol_count(d);
  for (uint32_t i = 1; i < n; ++i) {
    const Elf64_Sym& s = d.symtab[i];
    int type = ELF64_ST_TYPE(s.st_info);
    if (s.st_shndx == SHN_UNDEF || !s.st_value || !s.st_size || (type != STT_FUNC && type != STT_GNU_IFUNC))
      continue;
    const char* nm = sym_name(d, i);
    if (nm && !strcmp(nm, name)) {
      uintptr_t a = d.base + s.st_value;
      if (type == STT_GNU_IFUNC) a = ((uintptr_t(*)())a)();
      return a;
    }
  }
  return 0;
}

struct Lookup {
  const char* name;
  uintptr_t inside, skip_inside, result;
};

bool contains(const dl_phdr_info* info, uintptr_t a) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const Elf64_Phdr& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && a >= info->dlpi_addr + ph.p_vaddr && a < info->dlpi_addr + ph.p_vaddr + ph.p_memsz)
      return true;
  }
  return false;
}

int lookup_module(dl_phdr_info* info, size_t, void* arg) {
  Lookup* l = (Lookup*)arg;
  if (l->result) return 1;
  if (l->inside && !contains(info, l->inside)) return 0;
  if (!l->inside && (is_skipped(info) || (l->skip_inside && contains(info, l->skip_inside)))) return 0;
  Dyn d;
  if (read_dyn(info, &d)) l->result = lookup_in(d, l->name);
  return l->inside || l->result ? 1 : 0;
}
}  // namespace

PatchCounts slots_patch(const HookedName* names, int n) {
  Walk w{names, n, false, {}};
  pthread_mutex_lock(&g_slots_mu);
  dl_iterate_phdr(walk_module, &w);
  pthread_mutex_unlock(&g_slots_mu);
  return w.counts;
}

PatchCounts slots_restore(const HookedName* names, int n) {
  Walk w{names, n, true, {}};
  pthread_mutex_lock(&g_slots_mu);
  dl_iterate_phdr(walk_module, &w);
  memset(g_saved, 0, sizeof g_saved);
  pthread_mutex_unlock(&g_slots_mu);
  return w.counts;
}

uintptr_t module_defined(uintptr_t inside, const char* name) {
  Lookup l{name, inside, 0, 0};
  dl_iterate_phdr(lookup_module, &l);
  return l.result;
}

uintptr_t first_definition(const char* name, uintptr_t skip_inside) {
  Lookup l{name, 0, skip_inside, 0};
  dl_iterate_phdr(lookup_module, &l);
  return l.result;
}
}  // namespace hs
