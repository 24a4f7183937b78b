// heapscope/gtest.h -- a GoogleTest check that a piece of code does not keep
// growing the heap (C++17 or later; include after or instead of <gtest/gtest.h>).
//
//   #include <heapscope/gtest.h>
//   TEST(Cache, HandlesRequestsWithoutGrowing) {
//     Cache cache(100);
//     EXPECT_NO_HEAP_GROWTH([&] { cache.handle(make_request()); });
//     heapscope::testing::GrowthOptions more;  // warmup 3, iterations 20, 0 bytes allowed
//     more.iterations = 50;
//     EXPECT_TRUE(heapscope::testing::NoHeapGrowth([&] { cache.handle(make_request()); }, more));
//   }
//
// NoHeapGrowth(body, options) runs body `warmup` times (caches fill, lazy
// statics start), then `iterations` times more, and measures after the
// warm-up and after each further run the live bytes that body itself holds:
// the blocks whose call stack passes through the helper's call of body
// (heapscope_totals_under), so GoogleTest's own allocations, the test's code
// around the call and other threads are not counted. It fails when those
// bytes rose in more than half of the measured runs AND grew by more than
// max_bytes_per_iteration * iterations in all; the message gives the growth
// per iteration and the `heapscope diff BASE NEW` command for two snapshots,
// one taken after the warm-up and one after the last run (kept only when the
// check fails).
//
// It never passes without having measured: when heapscope is not active in
// the process (not linked or preloaded, stopped with heapscope_stop(), or a
// setuid program), when it samples (HEAPSCOPE_SAMPLE set: estimates would
// hide small leaks), or when the body's blocks sit deeper than
// HEAPSCOPE_DEPTH frames below the call (their stacks are cut, so they
// cannot be attributed, and that cut part grew), it fails and says why.
//
// Limits: blocks that body's code allocates on other threads (a pool it
// hands work to) are not attributed to it; run such code under `heapscope
// check` instead. Run one NoHeapGrowth at a time per process.
#ifndef HEAPSCOPE_GTEST_H
#define HEAPSCOPE_GTEST_H

#include <gtest/gtest.h>
#include <heapscope/heapscope.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace heapscope {
namespace testing {

struct GrowthOptions {
  int warmup = 3;                        // runs before the first measurement
  int iterations = 20;                   // measured runs (at least 2)
  uint64_t max_bytes_per_iteration = 0;  // growth allowed per measured run
};

namespace detail {

struct Call {
  void (*invoke)(Call*);
  const void* caller_pc;  // set by invoke: the return address into run_body
  bool run;               // false: only learn caller_pc
};

// Every block body allocates has, in its stack, the return address of this
// one indirect call (one function, one call site, whatever the body): that
// is the pc heapscope_totals_under matches. The empty asm after the call
// keeps it from being a tail call (which would leave no such frame).
__attribute__((noinline)) inline void run_body(Call* c) {
  c->invoke(c);
  asm volatile("" ::: "memory");
}

template <class F>
struct BodyCall : Call {
  F* body;
};

template <class F>
__attribute__((noinline)) void invoke_body(Call* c) {
  c->caller_pc = __builtin_return_address(0);
  if (c->run) (*static_cast<BodyCall<F>*>(c)->body)();
}

inline std::string bytes_text(long double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.0Lf bytes", v);
  return buf;
}

inline std::string snapshot(std::string* error) {
  char path[4096];
  if (heapscope_snapshot(path, sizeof path) == 0) return path;
  *error = std::string("heapscope_snapshot failed: ") + std::strerror(errno);
  return "";
}

}  // namespace detail

// Runs body (a callable taking no arguments) options.warmup + options.iterations
// times and fails when the live bytes it holds keep growing (see above).
template <class F>
::testing::AssertionResult NoHeapGrowth(F&& body, GrowthOptions options = {}) {
  using detail::Call;
  if (!heapscope_active())
    return ::testing::AssertionFailure()
           << "heapscope is not active in this process, so the heap-growth check did not run: link the "
              "test with heapscope::heapscope (-lheapscope) or run it with "
              "LD_PRELOAD=libheapscope.so (and do not call heapscope_stop())";
  if (long long period = heapscope_sample_period(); period != 0)
    return ::testing::AssertionFailure()
           << "heapscope samples allocations (HEAPSCOPE_SAMPLE=" << period
           << "), so small leaks would not show: run this test with every allocation tracked "
              "(unset HEAPSCOPE_SAMPLE)";
  if (options.iterations < 2 || options.warmup < 0)
    return ::testing::AssertionFailure() << "NoHeapGrowth: iterations " << options.iterations << ", warmup "
                                         << options.warmup << " (expected iterations >= 2, warmup >= 0)";
  using Body = std::remove_reference_t<F>;
  detail::BodyCall<Body> call;
  call.invoke = &detail::invoke_body<Body>;
  call.body = &body;
  call.caller_pc = nullptr;
  call.run = false;
  detail::run_body(&call);  // learns caller_pc without running body
  for (int i = 0; i < options.warmup; ++i) {
    call.run = true;
    detail::run_body(&call);
  }
  // Everything the loop below needs is allocated before the first measurement.
  std::vector<uint64_t> live(size_t(options.iterations) + 1), cut(size_t(options.iterations) + 1);
  std::string error;
  auto measure = [&](size_t k) {
    struct heapscope_totals under{}, truncated{};
    if (heapscope_totals_under(call.caller_pc, &under, &truncated) != 0) {
      error = std::string("heapscope_totals_under failed: ") + std::strerror(errno);
      return false;
    }
    live[k] = under.inuse_bytes;
    cut[k] = truncated.inuse_bytes;
    return true;
  };
  struct heapscope_totals process_before{}, process_after{};
  heapscope_totals(&process_before);
  std::string base = detail::snapshot(&error);
  if (base.empty() || !measure(0)) return ::testing::AssertionFailure() << error;
  for (int i = 1; i <= options.iterations; ++i) {
    call.run = true;
    detail::run_body(&call);
    if (!measure(size_t(i))) return ::testing::AssertionFailure() << error;
  }
  heapscope_totals(&process_after);
  int rises = 0, cut_rises = 0;
  for (size_t k = 1; k < live.size(); ++k) {
    rises += live[k] > live[k - 1];
    cut_rises += cut[k] > cut[k - 1];
  }
  const long double n = options.iterations;
  const long double growth = (long double)live.back() - (long double)live.front();
  const long double cut_growth = (long double)cut.back() - (long double)cut.front();
  const bool grows = 2 * rises > options.iterations &&
                     growth > (long double)options.max_bytes_per_iteration * n;
  const bool cut_grows = 2 * cut_rises > options.iterations && cut_growth > 0;
  if (!grows && !cut_grows) {
    std::remove(base.c_str());
    return ::testing::AssertionSuccess();
  }
  std::string now = detail::snapshot(&error);
  auto failure = ::testing::AssertionFailure();
  char head[256];
  std::snprintf(head, sizeof head, "%d measured runs after %d warm-up ones", options.iterations, options.warmup);
  if (grows)
    failure << "live heap held by the code under test keeps growing: " << detail::bytes_text(growth / n)
            << " per iteration (" << detail::bytes_text(growth) << " over " << head << ", rising in " << rises
            << " of " << options.iterations << "; allowed "
            << detail::bytes_text((long double)options.max_bytes_per_iteration) << " per iteration)";
  else
    failure << "cannot attribute the blocks of the code under test: stacks cut at the depth limit "
               "(HEAPSCOPE_DEPTH, default 64) grew by "
            << detail::bytes_text(cut_growth / n) << " per iteration over " << head
            << "; raise HEAPSCOPE_DEPTH so its stacks reach the call";
  failure << "; whole process " << detail::bytes_text((long double)process_after.inuse_bytes -
                                                       (long double)process_before.inuse_bytes)
          << " meanwhile";
  if (!now.empty()) failure << "\nsee what grew: heapscope diff " << base << " " << now;
  else failure << "\n" << error << " (the snapshot after the warm-up is " << base << ")";
  return failure;
}

}  // namespace testing
}  // namespace heapscope

// EXPECT_NO_HEAP_GROWTH(body) / EXPECT_NO_HEAP_GROWTH(body, options): a
// non-fatal (EXPECT) or fatal (ASSERT) GoogleTest check of NoHeapGrowth.
#define EXPECT_NO_HEAP_GROWTH(...) EXPECT_TRUE(::heapscope::testing::NoHeapGrowth(__VA_ARGS__))
#define ASSERT_NO_HEAP_GROWTH(...) ASSERT_TRUE(::heapscope::testing::NoHeapGrowth(__VA_ARGS__))

#endif  // HEAPSCOPE_GTEST_H
