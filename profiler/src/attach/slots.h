// slots.h -- GOT/PLT slot patching of every loaded module (heapscope attach).
// Owns: reading each module's dynamic section in memory (DT_SYMTAB, DT_STRTAB,
// DT_RELA, DT_JMPREL, DT_GNU_HASH/DT_HASH for the symbol count), finding
// R_X86_64_JUMP_SLOT, R_X86_64_GLOB_DAT and addend-0 R_X86_64_64 relocations
// (function pointers in data) of the hooked names,
// storing the hook with one aligned 8-byte release store (the RELRO page is
// made writable for the store and read-only again), and remembering each
// slot's previous value so it can be put back; and looking up the defined
// symbol of a name (type FUNC/IFUNC, st_size > 0, never an undefined PLT
// address) in a module.
// Skipped: the dynamic loader, the vdso and heapscope itself.
// Safety: cold path; every call takes the slots mutex and dl_iterate_phdr
// (the loader lock), in that order, and calls nothing that loads or unloads.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hs {
constexpr int kMaxHooked = 40;
struct HookedName {
  const char* name;
  uintptr_t hook;  // 0: not hooked
};

struct PatchCounts {
  uint64_t slots_now;        // slots pointing at a hook after the walk
  uint64_t slots_changed;    // stored or restored by this walk
  uint64_t modules_patched;  // modules with at least one hooked slot
  uint64_t modules_skipped;  // loader, vdso, heapscope
};

// Points every matching slot of every module at its hook.
PatchCounts slots_patch(const HookedName* names, int n);
// Puts back every slot that still holds the hook we stored; forgets all.
PatchCounts slots_restore(const HookedName* names, int n);

// The address of `name` as defined (FUNC, size > 0) in the module that
// contains `inside`; 0 if it does not define it.
uintptr_t module_defined(uintptr_t inside, const char* name);
// The first definition of `name` among the loaded modules in load order,
// skipping the module that contains `skip_inside` (0: none); 0 if none.
uintptr_t first_definition(const char* name, uintptr_t skip_inside);
}  // namespace hs
