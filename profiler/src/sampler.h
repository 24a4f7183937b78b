// sampler.h -- Poisson byte sampling (HEAPSCOPE_SAMPLE=N), as tcmalloc/jemalloc.
// Owns: the per-thread countdown of bytes until the next sample, drawn from an
// exponential distribution with mean N, and the unbiased weight of a sampled
// block (docs/architecture.md, "Sampling math").
// Safety: hook-safe; touches only the calling thread's ThreadState.
#pragma once
#include <stdint.h>

#include "common.h"
#include "thread_state.h"

namespace hs {
// Estimated counts are kept in fixed point with this many fraction bits so the
// per-block rounding error stays below 1/8192 of a block.
constexpr int kCountFpShift = 12;

struct SampleWeight {
  uint64_t bytes;     // round(size / p)
  uint64_t count_fp;  // round((1 / p) << kCountFpShift)
};
// p = 1 - exp(-size / period): the probability a block of `size` is sampled.
// Deterministic, so the same weight is subtracted at free as was added at alloc.
SampleWeight sample_weight(uint64_t size, uint64_t period);

// Exponential draw with mean `period` bytes, from the thread's rng.
int64_t sampler_draw(ThreadState& t, uint64_t period);
bool sampler_slow(ThreadState& t, uint64_t size, uint64_t period);

// HOT PATH (every allocation in sampled mode). Budget: one TLS subtract and
// one predictable branch; the slow path runs about once per `period` bytes.
HS_INLINE bool sampler_take(ThreadState& t, uint64_t size, uint64_t period) {
  int64_t s = size > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)size;
  t.bytes_until_sample -= s;
  if (HS_LIKELY(t.bytes_until_sample >= 0)) return false;
  return sampler_slow(t, size, period);
}
}  // namespace hs
