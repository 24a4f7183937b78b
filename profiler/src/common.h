// common.h -- small macros shared by every profiler source file.
// Owns: visibility, branch hints, inlining attributes. Header-only, no state.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define HS_EXPORT __attribute__((visibility("default")))
#define HS_LIKELY(x) __builtin_expect(!!(x), 1)
#define HS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HS_NOINLINE __attribute__((noinline))
#define HS_INLINE inline __attribute__((always_inline))
