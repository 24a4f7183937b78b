// sampler.cpp -- see sampler.h. Hook-safe: arithmetic only (hs_math.h, not libm).
#include "sampler.h"

#include <time.h>

#include "hs_math.h"

namespace hs {
namespace {
uint64_t rng_next(ThreadState& t) {  // xorshift64*
  uint64_t x = t.rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t.rng = x;
  return x * 2685821657736338717ull;
}

void rng_seed(ThreadState& t) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t s = (uint64_t)(uintptr_t)&t * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
  t.rng = s ? s : 0x2545F4914F6CDD1Dull;
}
}  // namespace

int64_t sampler_draw(ThreadState& t, uint64_t period) {
  if (!t.rng) rng_seed(t);
  // u uniform in (0, 1]; -log(u) is exponential with mean 1.
  double u = (double)((rng_next(t) >> 11) + 1) * (1.0 / 9007199254740992.0);
  double v = -hs_log(u) * (double)period;
  if (v >= 9.0e18) return INT64_MAX;
  return (int64_t)v;
}

bool sampler_slow(ThreadState& t, uint64_t size, uint64_t period) {
  if (!t.rng) {
    // First allocation of this thread: start a real countdown, then retry it.
    t.bytes_until_sample = sampler_draw(t, period);
    int64_t s = size > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)size;
    t.bytes_until_sample -= s;
    if (t.bytes_until_sample >= 0) return false;
  }
  // The countdown crossed zero inside this block: sample it, start afresh
  // (memoryless: the overshoot is dropped, as tcmalloc does).
  t.bytes_until_sample = sampler_draw(t, period);
  return size != 0;
}

SampleWeight sample_weight(uint64_t size, uint64_t period) {
  if (period == 0) return {size, (uint64_t)1 << kCountFpShift};
  double p = -hs_expm1(-(double)size / (double)period);
  if (!(p > 0)) p = 1e-300;
  double w = 1.0 / p;
  return {(uint64_t)hs_llround((double)size * w), (uint64_t)hs_llround(w * (double)(1u << kCountFpShift))};
}
}  // namespace hs
