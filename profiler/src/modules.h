// modules.h -- the loaded ELF modules, as a snapshot needs them.
// Owns: a list of every module seen (dl_iterate_phdr): path, load bias,
// PT_LOAD ranges, GNU build-id (read from PT_NOTE in memory). Modules that
// disappear (dlclose) stay in the list flagged HS_MODULE_UNLOADED so frames
// in old stacks still resolve. Memory comes from an mmap Region.
// Safety: cold path. modules_refresh() takes a mutex and calls
// dl_iterate_phdr (the loader lock): call it with the re-entry guard held
// and never from a hook's hot path or a signal handler.
#pragma once
#include <stdint.h>

#include "hsnap_format.h"

namespace hs {
struct ModuleInfo {
  uint64_t load_bias;
  const char* path;
  uint32_t path_len;
  uint32_t build_id_len;
  uint8_t build_id[64];
  uint32_t range_count;
  uint32_t flags;  // enum hs_module_flags
  HsRange* ranges;
  uint32_t generation;  // last refresh that saw it
};

void modules_refresh();
// Calls fn for each module under the modules mutex. With only_if_free, gives
// up (false) instead of waiting when the mutex is taken (a nested exit
// snapshot may run on the thread that holds it).
bool modules_for_each(void (*fn)(const ModuleInfo&, void*), void* ctx, bool only_if_free = false);
uint32_t modules_count();
// fork child: the mutex is re-initialized.
void modules_after_fork_child();
void modules_lock();
void modules_unlock();
}  // namespace hs
