// bench_tables.cpp -- heapscope's books, without preloading (issue 5: table insert/erase).
// Owns: Google Benchmark cases against heapscope_core linked statically:
//   - LiveTable insert + erase of one block while N other blocks are live (1k, 1M),
//   - StackTable intern of a stack already in the table (the common case: a known site),
//     at depths 16 and 64, among 512 or 100k distinct stacks,
//   - hash_stack alone, and the sampler's per-allocation countdown.
// Uses its own table instances, not the process-wide g_live / g_stacks.
// Safety: ordinary single-threaded benchmark program.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "live_table.h"
#include "sampler.h"
#include "stack_table.h"
#include "thread_state.h"

namespace {

constexpr uintptr_t kHeapBase = 0x7f3a00000000ull;

void BM_LiveInsertErase(benchmark::State& state) {
  static hs::LiveTable* table = nullptr;
  static int64_t filled = 0;
  const int64_t live = state.range(0);
  if (table == nullptr) {
    table = new hs::LiveTable();
    if (!table->init(false)) {
      state.SkipWithError("LiveTable::init failed");
      return;
    }
  }
  for (; filled < live; ++filled) {  // addresses 48 bytes apart, like small blocks
    hs::LiveInfo old;
    table->insert(kHeapBase + static_cast<uintptr_t>(filled) * 48, 48, 1, &old);
  }
  uintptr_t next = kHeapBase - (1u << 30);  // below the prefilled range: never collides
  for (auto _ : state) {
    hs::LiveInfo old, out;
    table->insert(next, 64, 7, &old);
    bool erased = table->erase(next, &out);
    benchmark::DoNotOptimize(erased);
    next += 64;
  }
  state.counters["live"] = static_cast<double>(table->entries());
}
// Ascending sizes: the prefill grows with the argument (the table is shared by the cases).
BENCHMARK(BM_LiveInsertErase)->Arg(1000)->Arg(1000000);

std::vector<uintptr_t> make_stack(uint32_t seed, uint32_t depth) {
  std::vector<uintptr_t> pcs(depth);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint32_t i = 0; i < depth; ++i) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    pcs[i] = 0x55d000000000ull + (x % 0x200000);  // return addresses inside one binary
  }
  return pcs;
}

void BM_StackInternHit(benchmark::State& state) {
  const uint32_t depth = static_cast<uint32_t>(state.range(0));
  const uint32_t distinct = static_cast<uint32_t>(state.range(1));
  hs::StackTable* table = new hs::StackTable();
  if (!table->init()) {
    state.SkipWithError("StackTable::init failed");
    return;
  }
  std::vector<std::vector<uintptr_t>> stacks;
  stacks.reserve(distinct);
  for (uint32_t i = 0; i < distinct; ++i) {
    stacks.push_back(make_stack(i + depth * 7919, depth));
    table->intern(stacks.back().data(), depth, 0);
  }
  uint32_t i = 0;
  for (auto _ : state) {
    hs::StackRec* r = table->intern(stacks[i].data(), depth, 0);
    benchmark::DoNotOptimize(r);
    if (++i == distinct) i = 0;
  }
  state.counters["stacks"] = table->ids_issued();
  // The table's memory is MAP_NORESERVE address space; it is left to the process exit.
}
BENCHMARK(BM_StackInternHit)->Args({16, 512})->Args({64, 512})->Args({16, 100000});

void BM_HashStack(benchmark::State& state) {
  const uint32_t depth = static_cast<uint32_t>(state.range(0));
  std::vector<uintptr_t> pcs = make_stack(1, depth);
  for (auto _ : state) {
    uint64_t h = hs::hash_stack(pcs.data(), depth, 0);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_HashStack)->Arg(16)->Arg(64);

void BM_SamplerTake(benchmark::State& state) {
  hs::ThreadState t{};
  uint64_t taken = 0;
  for (auto _ : state) {
    bool take = hs::sampler_take(t, 64, 524288);
    taken += take;
    benchmark::DoNotOptimize(take);
  }
  state.counters["sampled"] = static_cast<double>(taken);
}
BENCHMARK(BM_SamplerTake);

}  // namespace

BENCHMARK_MAIN();
