// cache.h -- the demo's cache policies: what /leak stores and how long it keeps it.
//
// Owns: CacheEntry (what one /leak request stores: ~1 MiB), the Cache
// interface the endpoints use, and the factory for the four policies:
//   leaky    std::map<long, CacheEntry>, never pruned (the guide's bug)
//   bounded  the same map, the oldest entry evicted at --max-entries
//   ttl      the same map, entries older than --ttl removed by a sweep
//   weak     std::map<long, std::weak_ptr<CacheEntry>>: the request owns the
//            entry, the cache only observes it (the C++ reading of WeakMap)
// Thread safety: every Cache member may be called from any thread (one mutex
// per cache; the HTTP server runs handlers on a thread pool).
//
// CacheEntry lives in the global namespace on purpose: heapscope names the
// container type as the code spells it, "std::map<long, CacheEntry>".
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

// One cached value, as in the guide: a large block of data, a random string
// and a timestamp. An aggregate, so the map can build it in place: the 1 MiB
// copy is then made inside the map's insertion, and a heap profiler charges
// it to the line that inserts (see docs/leak-guide.md, "Where bytes are
// charged").
struct CacheEntry {
  std::string data;      // kEntryDataBytes of payload
  std::string tag;       // a random string
  long created_unix_ms;  // wall-clock time of the request
};

namespace demo {

inline constexpr size_t kEntryDataBytes = 1 << 20;  // 1 MiB, the guide's largeData

// Holds what a request owns while it runs; destroyed when the handler
// returns. In weak mode the cached entry lives exactly as long as this.
struct RequestScope {
  std::vector<std::shared_ptr<void>> owned;
};

struct CacheStats {
  size_t entries = 0;       // map size (weak: slots, live or expired)
  size_t live_entries = 0;  // entries whose data is still held
  size_t evicted = 0;       // removed by the policy since start
};

class Cache {
 public:
  virtual ~Cache() = default;
  // Stores one ~1 MiB entry tagged `tag`; returns the map size right after.
  virtual size_t store(RequestScope& scope, std::string tag) = 0;
  virtual CacheStats stats() const = 0;
  // Removes every entry (shutdown); returns how many there were.
  virtual size_t clear() = 0;
  // Removes what the policy says has expired (ttl, weak); no-op otherwise.
  virtual void sweep() {}
  virtual const char* mode() const = 0;
};

struct CacheOptions {
  std::string mode = "leaky";  // leaky | bounded | ttl | weak
  size_t max_entries = 100;    // bounded
  double ttl_s = 30;           // ttl
  bool prune = true;           // weak: erase expired slots (false shows why you must)
};

// The policy named by options.mode; throws std::invalid_argument otherwise.
std::unique_ptr<Cache> make_cache(const CacheOptions& options);

}  // namespace demo
