// series.h -- generated snapshot series for the analysis and CLI tests:
// one fake program module ("/nonexistent/app", so frames stay addresses
// keyed by module + offset) loaded at a different address in every snapshot
// (ASLR), with named sites whose live bytes follow given curves.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hsnap_builder.h"

namespace series {

constexpr uint64_t kModuleSize = 0x100000;

// Site "name" -> its stack as offsets in the module, innermost first.
inline std::vector<uint64_t> offsets(int site) {
  return {0x1000u + 0x40u * uint64_t(site), 0x8000u + uint64_t(site), 0x9000};
}

struct SiteFigures {
  int site;  // index into offsets()
  uint64_t inuse_bytes, inuse_count, alloc_bytes, alloc_count;
};

// One snapshot: the module at bias, the given sites.
inline hsnap_test::Builder snapshot(uint64_t bias, uint64_t uptime_s, uint64_t seq,
                                    const std::vector<SiteFigures>& sites,
                                    uint32_t trigger = HS_TRIGGER_INTERVAL) {
  hsnap_test::Builder b;
  b.header.pid = 777;
  b.header.uptime_ns = uptime_s * 1000000000ull;
  b.header.time_unix_ns = 1700000000000000000ull + uptime_s * 1000000000ull;
  b.header.seq = seq;
  b.header.trigger = trigger;
  b.add_module("/nonexistent/app", bias, bias + kModuleSize, bias, HS_MODULE_MAIN);
  for (const auto& s : sites) {
    std::vector<uint64_t> pcs;
    for (uint64_t off : offsets(s.site)) pcs.push_back(bias + off);
    uint32_t id = b.add_stack(pcs);
    b.add_site(id, s.inuse_bytes, s.inuse_count, s.alloc_bytes, s.alloc_count);
  }
  return b;
}

inline uint64_t bias_for(int i) { return 0x555500000000ull + 0x7300000ull * uint64_t(i); }

}  // namespace series
