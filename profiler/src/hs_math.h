// hs_math.h -- the three libm functions the sampler needs (log, expm1, llround),
// so that libheapscope.so does not bring libm into every process it is
// preloaded into: each shared library is five more mappings that the kernel
// copies at every fork and tears down at every child's exit (issue 10).
// log and expm1 are computed on the x87 unit in 64-bit precision (fyl2x,
// f2xm1) and rounded once to double: within 1 ulp of glibc's, and nearly
// always the long double result rounded (glibc's expm1 is 1 ulp off that in
// about 1% of the sampler's arguments); the sample weights come out the same
// (tests/profiler/unit_test.cpp, Sampler.HsMathMatchesLibm).
// llround is exact (round half away from zero), like glibc's on x86-64
// including its result outside the int64 range (the conversion's INT64_MIN).
// Safety: hook-safe (arithmetic only: no call, no memory, no errno).
#pragma once
#include <stdint.h>

namespace hs {
// Natural logarithm of x > 0 (x <= 0 is never asked for here).
inline double hs_log(double x) {
  long double r;
  __asm__("fldln2\n\t"
          "fxch\n\t"
          "fyl2x"  // st0 = ln2 * log2(x)
          : "=t"(r)
          : "0"((long double)x));
  return (double)r;
}

// e^x - 1, accurate for small |x| too.
inline double hs_expm1(double x) {
  if (x != x) return x;
  if (x < -64.0) return -1.0;  // e^x < 2^-92: -1 is the rounded result
  if (x > 709.8) return __builtin_inf();
  long double t = (long double)x;
  long double l2e;
  __asm__("fldl2e" : "=t"(l2e));
  t *= l2e;  // e^x = 2^t
  long double i;
  __asm__("frndint" : "=t"(i) : "0"(t));  // nearest integer: f in [-0.5, 0.5]
  long double f = t - i, m;
  __asm__("f2xm1" : "=t"(m) : "0"(f));  // 2^f - 1, |f| <= 1
  if (i == 0) return (double)m;
  long double s;  // 2^i
  __asm__("fscale" : "=t"(s) : "0"(1.0L), "u"(i));
  // 2^t - 1 = 2^i (2^f - 1) + (2^i - 1), both terms exact or nearly so in 64 bits.
  return (double)(s * m + (s - 1.0L));
}

// x rounded to the nearest integer, halves away from zero.
inline long long hs_llround(double x) {
  if (!(__builtin_fabs(x) < 4503599627370496.0)) {  // |x| >= 2^52: already an integer (or NaN, or out of range)
    long long r;
    __asm__("cvttsd2siq %1, %0" : "=r"(r) : "x"(x));  // glibc: (long long)x, INT64_MIN out of range
    return r;
  }
  long long t = (long long)x;  // toward zero, exact
  double frac = x - (double)t;  // exact
  if (frac >= 0.5) ++t;
  else if (frac <= -0.5) --t;
  return t;
}
}  // namespace hs
