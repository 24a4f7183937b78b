// search_path.h -- where the dynamic loader would find a bare library name
// dlopen'd by a given module (heapscope attach only).
// Owns: the part of ld.so's search order that depends on the calling module:
// its DT_RPATH (when it has no DT_RUNPATH), LD_LIBRARY_PATH, its DT_RUNPATH,
// with $ORIGIN expanded. The attach's dlopen wrapper calls the real dlopen
// from heapscope, so the loader would otherwise search with heapscope's
// (empty) paths and miss the program's RUNPATH; with the file found here it
// opens it by path, as the program's own call would have.
// Not handled (the caller then passes the bare name on and the module is
// patched at the next dlopen or snapshot): $LIB/$PLATFORM tokens, the RPATH of
// the modules that loaded the caller, hwcaps subdirectories.
// Safety: cold path; reads the caller's dynamic section, getenv, access();
// allocates nothing.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hs {
// Writes the path of `name` (no '/') as the loader would find it from the
// module containing `caller` into out; false when none of those directories
// holds it (or a token is not understood): then the loader's remaining steps
// (ld.so.cache, default directories) do not depend on the caller.
bool search_like_caller(const char* name, uintptr_t caller, char* out, size_t out_len);
}  // namespace hs
