// bench_capture.cpp -- what one stack capture costs, per frame (issue 5: capture cost).
// Owns: Google Benchmark cases that capture exactly D frames (D = 8, 16, 32, 64) from the
// bottom of a D-deep chain of noinline calls with
//   - libunwind's unw_backtrace (what heapscope's default capture calls),
//   - libunwind's unw_init_local + unw_step loop (the general, uncached path),
//   - glibc's backtrace(),
//   - with HS_BENCH_WITH_CORE (heapscope_core linked): heapscope's capture_stack() with its
//     cfi walker (the default), libunwind and the frame-pointer walker (this file is built
//     with frame pointers).
// The "frames" counter is how many frames each call returned; divide the time by D for the
// cost per frame (bench/report.py does).
// Safety: ordinary single-threaded benchmark program.
#include <benchmark/benchmark.h>
#include <execinfo.h>
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <cstdint>

#if defined(HS_BENCH_WITH_CORE)
#include "capture.h"
#include "config.h"
#include "thread_state.h"
#endif

namespace {

constexpr int kMaxFrames = 64;

// Runs f's benchmark loop `depth` frames below the caller.
template <class F>
__attribute__((noinline)) int at_depth(int depth, F& f) {
  if (depth <= 1) return f();
  int r = at_depth(depth - 1, f);
  benchmark::DoNotOptimize(r);  // keeps the frame: no tail call
  return r;
}

template <class Capture>
void run_capture(benchmark::State& state, Capture capture) {
  const int depth = static_cast<int>(state.range(0));
  int frames = 0;
  auto loop = [&]() {
    void* buf[kMaxFrames + 32];  // capture_stack needs max_depth + kCaptureSkip
    for (auto _ : state) {
      frames = capture(buf, depth);
      benchmark::DoNotOptimize(buf);
    }
    return frames;
  };
  at_depth(depth, loop);
  state.counters["frames"] = frames;
}

void BM_UnwBacktrace(benchmark::State& state) {
  run_capture(state, [](void** buf, int n) { return unw_backtrace(buf, n); });
}
BENCHMARK(BM_UnwBacktrace)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

void BM_UnwStep(benchmark::State& state) {
  run_capture(state, [](void** buf, int n) {
    unw_context_t ctx;
    unw_cursor_t cursor;
    unw_getcontext(&ctx);
    unw_init_local(&cursor, &ctx);
    int i = 0;
    while (i < n && unw_step(&cursor) > 0) {
      unw_word_t ip;
      unw_get_reg(&cursor, UNW_REG_IP, &ip);
      buf[i++] = reinterpret_cast<void*>(ip);
    }
    return i;
  });
}
BENCHMARK(BM_UnwStep)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

void BM_GlibcBacktrace(benchmark::State& state) {
  run_capture(state, [](void** buf, int n) { return backtrace(buf, n); });
}
BENCHMARK(BM_GlibcBacktrace)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

#if defined(HS_BENCH_WITH_CORE)
// Stands in for a hook: passes its own return address, as the hooks do, so capture_stack
// drops this frame and keeps n frames from the caller on.
// Its frame address goes along too (this file keeps frame pointers), as the hooks pass
// theirs: the cfi walker starts from it.
__attribute__((noinline)) int hook_like_capture(void** buf, int n, hs::Unwinder how) {
  hs::Guard guard;  // as in a hook: libunwind's own allocations are not recorded
  auto r = hs::capture_stack(reinterpret_cast<uintptr_t*>(buf), static_cast<uint32_t>(n),
                             reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                             reinterpret_cast<uintptr_t>(__builtin_frame_address(0)), how);
  return static_cast<int>(r.depth);
}

void BM_HeapscopeCaptureCfi(benchmark::State& state) {
  hs::capture_init();
  static const bool cfi_ready = hs::cfi_init();  // maps the rule cache, as control_init does
  if (!cfi_ready) {
    state.SkipWithError("cfi_init failed: the cfi walker would fall back to libunwind");
    return;
  }
  run_capture(state, [](void** buf, int n) { return hook_like_capture(buf, n, hs::Unwinder::cfi); });
}
BENCHMARK(BM_HeapscopeCaptureCfi)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

void BM_HeapscopeCaptureLibunwind(benchmark::State& state) {
  hs::capture_init();
  run_capture(state, [](void** buf, int n) { return hook_like_capture(buf, n, hs::Unwinder::libunwind); });
}
BENCHMARK(BM_HeapscopeCaptureLibunwind)->Arg(8)->Arg(16)->Arg(32)->Arg(64);

void BM_HeapscopeCaptureFp(benchmark::State& state) {
  run_capture(state, [](void** buf, int n) { return hook_like_capture(buf, n, hs::Unwinder::fp); });
}
BENCHMARK(BM_HeapscopeCaptureFp)->Arg(8)->Arg(16)->Arg(32)->Arg(64);
#endif

}  // namespace

BENCHMARK_MAIN();
