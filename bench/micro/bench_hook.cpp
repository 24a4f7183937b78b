// bench_hook.cpp -- cost of one allocation + free as the program sees it (issue 5: hook cost).
// Owns: Google Benchmark cases for malloc/free, calloc/free, realloc and new[]/delete[] of
// a few sizes, called directly and from 8 and 32 frames deep. It links nothing of
// heapscope: bench/run.sh runs it plain, then with LD_PRELOAD=libheapscope.so (full,
// sampled, frame-pointer unwinding), and the difference per call is the hook's cost
// (capture, stack lookup, live-table update; or the sampler's countdown when sampling).
// Safety: ordinary single-threaded benchmark program.
#include <benchmark/benchmark.h>

#include <cstdlib>

namespace {

void BM_MallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::malloc(size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFree)->Arg(16)->Arg(256)->Arg(4096);

void BM_CallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* p = std::calloc(1, size);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_CallocFree)->Arg(256);

void BM_ReallocGrow(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(64);
    benchmark::DoNotOptimize(p);
    p = std::realloc(p, 4096);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_ReallocGrow);

void BM_NewDeleteArray(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    char* p = new char[size];
    benchmark::DoNotOptimize(p);
    delete[] p;
  }
}
BENCHMARK(BM_NewDeleteArray)->Arg(64);

// The allocation happens `depth` frames below the benchmark loop, so a stack capture has
// that many more frames to walk.
__attribute__((noinline)) void* alloc_at_depth(int depth, size_t size) {
  if (depth <= 0) return std::malloc(size);
  void* p = alloc_at_depth(depth - 1, size);
  benchmark::DoNotOptimize(p);  // keeps the frame: no tail call
  return p;
}

void BM_MallocFreeAtDepth(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  for (auto _ : state) {
    void* p = alloc_at_depth(depth, 64);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFreeAtDepth)->Arg(8)->Arg(32);

}  // namespace

BENCHMARK_MAIN();
