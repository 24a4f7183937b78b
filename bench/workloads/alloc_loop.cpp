// alloc_loop.cpp -- the allocation-heavy benchmark workload (bench/run.sh, issue 5).
//
// Owns: a deterministic allocation pattern that stresses a heap profiler's hot path.
// Each thread runs -n iterations; an iteration picks one of a fixed set of allocation
// "sites" (a site = a call chain 6..20 frames deep through noinline functions, plus a
// preferred size class), walks that chain, and at its bottom replaces the oldest block of
// a per-thread window of live blocks (default 1000): the old block is freed (free or
// delete[] as it was made) and a new one of 16 B..64 KiB is made with malloc, calloc,
// new[] or realloc (realloc resizes the retired block in place of free+malloc). The last
// window is left allocated at exit so exit profiles have live blocks to show.
//
// The number of distinct call stacks is bounded by the number of sites (-s, default 512),
// like a real program's allocation sites, so a profiler's stack table stays small and a
// stack cache has something to cache. Everything is driven by a xorshift PRNG seeded per
// thread, so every run makes exactly the same calls; the final line prints the ledger
// (allocation calls, frees, bytes requested) and a checksum so runs can be compared.
//
// Safety: ordinary program; each thread owns its window; no shared mutable state besides
// the ledger totals combined after join.
#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {  // xorshift64*
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

enum Kind : uint8_t { kNone = 0, kMalloc, kCalloc, kRealloc, kNewArray };

struct Block {
  void* p = nullptr;
  uint32_t size = 0;
  Kind kind = kNone;
};

constexpr int kMinDepth = 6;
constexpr int kMaxDepth = 20;
constexpr uint32_t kMaxSize = 64 * 1024;

// A site: its chain depth, which of the frame functions each level goes through, and the
// size its blocks usually have.
struct Site {
  int depth;
  uint8_t path[kMaxDepth];
  uint32_t size;
};

struct Ledger {
  uint64_t allocs = 0, frees = 0, bytes = 0, checksum = 0;
};

struct Worker {
  Rng rng;
  std::vector<Block> window;
  size_t oldest = 0;
  const std::vector<Site>* sites;
  Ledger ledger;
};

// Mixed sizes, like a real program's: most calls at a site ask for the site's own size (a
// struct, a node), some for a multiple of it (a buffer, a string), a few for any power of
// two from 16 B to 64 KiB. A site thus makes at most ~22 distinct sizes. (Uniformly random
// byte sizes make hundreds of thousands of distinct (size, stack) pairs, and heaptrack
// 1.4.0's heaptrack_interpret then grows without bound: see bench/README.md.)
uint32_t pick_size(Worker& w, const Site& site) {
  uint64_t r = w.rng.next();
  uint32_t size = site.size;
  if ((r & 31) == 0) {
    size = 16u << ((r >> 5) % 13);  // 16 B .. 64 KiB
  } else if ((r & 3) == 0) {
    size = site.size * static_cast<uint32_t>(1 + (r >> 5) % 8) / 4;
    size = (size + 15) & ~15u;
  }
  if (size < 16) size = 16;
  if (size > kMaxSize) size = kMaxSize;
  return size;
}

void release(Worker& w, Block& b) {
  if (b.kind == kNone) return;
  w.ledger.checksum += static_cast<unsigned char*>(b.p)[0];
  if (b.kind == kNewArray)
    delete[] static_cast<unsigned char*>(b.p);
  else
    std::free(b.p);
  ++w.ledger.frees;
  b = Block{};
}

// The bottom of every chain: retire the oldest block and make a new one.
__attribute__((noinline)) uint64_t allocate_here(Worker& w, const Site& site) {
  Block& b = w.window[w.oldest];
  w.oldest = (w.oldest + 1) % w.window.size();
  uint32_t size = pick_size(w, site);
  uint64_t r = w.rng.next();
  Kind kind = static_cast<Kind>(1 + r % 4);
  void* p = nullptr;
  if (kind == kRealloc && b.kind != kNone && b.kind != kNewArray) {
    p = std::realloc(b.p, size);  // the retired block is resized instead of freed
    if (p == nullptr) std::abort();
    ++w.ledger.frees;  // realloc releases the old block and makes a new one
  } else {
    release(w, b);
    switch (kind) {
      case kCalloc: p = std::calloc(1, size); break;
      case kNewArray: p = new unsigned char[size]; break;
      default: kind = kMalloc; p = std::malloc(size); break;
    }
    if (p == nullptr) std::abort();
  }
  auto* bytes = static_cast<unsigned char*>(p);
  bytes[0] = static_cast<unsigned char>(r >> 32);  // touch both ends of the block
  bytes[size - 1] = static_cast<unsigned char>(size);
  b = Block{p, size, kind};
  ++w.ledger.allocs;
  w.ledger.bytes += size;
  return size;
}

uint64_t frame_a(Worker& w, const Site& site, int level);
uint64_t frame_b(Worker& w, const Site& site, int level);
uint64_t frame_c(Worker& w, const Site& site, int level);
uint64_t frame_d(Worker& w, const Site& site, int level);

// One level down the site's chain: inlined into its caller, so each level is exactly one
// frame (a frame_x function); the bottom is allocate_here.
__attribute__((always_inline)) inline uint64_t descend(Worker& w, const Site& site, int level) {
  if (level >= site.depth) return allocate_here(w, site);
  switch (site.path[level]) {
    case 0: return frame_a(w, site, level);
    case 1: return frame_b(w, site, level);
    case 2: return frame_c(w, site, level);
    default: return frame_d(w, site, level);
  }
}

// Four distinct frame functions so chains differ in their return addresses, not just depth.
// The work after each call keeps them from becoming tail calls (every frame must stay).
#define HS_FRAME(name, salt)                                                         \
  __attribute__((noinline)) uint64_t name(Worker& w, const Site& site, int level) { \
    uint64_t v = descend(w, site, level + 1);                                        \
    asm volatile("" ::: "memory");                                                   \
    return (v ^ (salt)) + static_cast<uint64_t>(level);                              \
  }
HS_FRAME(frame_a, 1)
HS_FRAME(frame_b, 2)
HS_FRAME(frame_c, 3)
HS_FRAME(frame_d, 4)
#undef HS_FRAME

void run_worker(Worker& w, uint64_t iterations) {
  const std::vector<Site>& sites = *w.sites;
  uint64_t acc = 0;
  for (uint64_t i = 0; i < iterations; ++i) {
    const Site& site = sites[w.rng.next() % sites.size()];
    // The chain below run_worker is site.depth frames of the program's own code in all:
    // run_worker, (depth - 2) frame_x functions, allocate_here.
    acc += descend(w, site, 2);
  }
  // The last window stays allocated at exit, on purpose: it is what the profilers' exit
  // profiles show (window x threads live blocks over the sites), so each analysis step
  // has real content to report.
  for (const Block& b : w.window)
    if (b.kind != kNone) w.ledger.checksum += static_cast<unsigned char*>(b.p)[0];
  w.ledger.checksum += acc;
}

std::vector<Site> make_sites(size_t count, uint64_t seed) {
  Rng rng{seed ^ 0x9e3779b97f4a7c15ull};
  std::vector<Site> sites(count);
  for (Site& s : sites) {
    s.depth = kMinDepth + static_cast<int>(rng.next() % (kMaxDepth - kMinDepth + 1));
    for (int i = 0; i < kMaxDepth; ++i) s.path[i] = static_cast<uint8_t>(rng.next() % 4);
    // Sizes skewed small: half the sites make 16..511 B blocks, the others 16 B..64 KiB.
    uint64_t r = rng.next();
    uint32_t log2 = static_cast<uint32_t>((r & 1) ? 4 + (r >> 1) % 5 : 4 + (r >> 1) % 12);
    uint32_t size = (1u << log2) + static_cast<uint32_t>((r >> 8) % (1u << log2));
    s.size = (size + 15) & ~15u;
  }
  return sites;
}

uint64_t parse_u64(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0') {
    std::fprintf(stderr, "alloc_loop: %s expects a non-negative integer, got '%s'\n", flag, text);
    std::exit(2);
  }
  return v;
}

void usage() {
  std::fprintf(stderr,
               "usage: alloc_loop [-t THREADS] [-n ITERATIONS_PER_THREAD] [-w WINDOW] "
               "[-s SITES] [-r SEED]\n"
               "  defaults: -t 1 -n 1000000 -w 1000 -s 512 -r 1\n");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t threads = 1, iterations = 1000000, window = 1000, nsites = 512, seed = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      usage();
      return 0;
    }
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    const char* flag = argv[i];
    uint64_t v = parse_u64(flag, argv[++i]);
    if (std::strcmp(flag, "-t") == 0) threads = v;
    else if (std::strcmp(flag, "-n") == 0) iterations = v;
    else if (std::strcmp(flag, "-w") == 0) window = v;
    else if (std::strcmp(flag, "-s") == 0) nsites = v;
    else if (std::strcmp(flag, "-r") == 0) seed = v;
    else {
      std::fprintf(stderr, "alloc_loop: unknown option '%s'\n", flag);
      usage();
      return 2;
    }
  }
  if (threads < 1 || threads > 64 || window < 1 || nsites < 1) {
    std::fprintf(stderr, "alloc_loop: need 1 <= -t <= 64, -w >= 1, -s >= 1 (got -t %" PRIu64
                         " -w %" PRIu64 " -s %" PRIu64 ")\n", threads, window, nsites);
    return 2;
  }
  std::vector<Site> sites = make_sites(nsites, seed);
  std::vector<Worker> workers(threads);
  for (uint64_t t = 0; t < threads; ++t) {
    workers[t].rng.s = (seed + 1) * 0x2545F4914F6CDD1Dull + t * 0x9E3779B97F4A7C15ull;
    workers[t].window.resize(window);
    workers[t].sites = &sites;
  }
  if (threads == 1) {
    run_worker(workers[0], iterations);
  } else {
    std::vector<std::thread> pool;
    for (uint64_t t = 0; t < threads; ++t)
      pool.emplace_back(run_worker, std::ref(workers[t]), iterations);
    for (std::thread& th : pool) th.join();
  }
  Ledger total;
  for (const Worker& w : workers) {
    total.allocs += w.ledger.allocs;
    total.frees += w.ledger.frees;
    total.bytes += w.ledger.bytes;
    total.checksum = total.checksum * 31 + w.ledger.checksum;
  }
  std::printf("alloc_loop: threads=%" PRIu64 " iterations=%" PRIu64 " allocations=%" PRIu64
              " frees=%" PRIu64 " live_at_exit=%" PRIu64 " bytes=%" PRIu64
              " checksum=%016" PRIx64 "\n",
              threads, iterations, total.allocs, total.frees, total.allocs - total.frees,
              total.bytes, total.checksum);
  return 0;
}
