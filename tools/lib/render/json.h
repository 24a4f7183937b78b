// json.h -- the --json output of report, diff and trend, exactly the shape in
// PRODUCT.md: "totals", "sites" (ranked) with inuse/alloc figures, delta_*
// (diff, trend), slope_bytes_per_s and r2 (trend), "origin" (object or null),
// "container" (string or null), "frames" innermost first; plus "notes".
// Module names are full paths. Keys keep the documented order (ordered_json).
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analyze/diff.h"
#include "analyze/report.h"
#include "analyze/trend.h"

namespace heapscope {

nlohmann::ordered_json counts_json(const Counts& c);
nlohmann::ordered_json frame_json(const Frame& f);
nlohmann::ordered_json site_json(const SiteView& s);  // figures, origin, container, frames
// "memory": the composition terms of analyze/memory.h (null where not known), or null.
nlohmann::ordered_json memory_json(const MemoryComposition& m);

// "wrappers": [{"function", "file", "callers", "detected", "alloc_fn"}...]
nlohmann::ordered_json wrappers_json(const std::vector<Wrapper>& wrappers);

nlohmann::ordered_json report_json(const SymbolizedProfile& profile, const ReportResult& r);
nlohmann::ordered_json diff_json(const SymbolizedProfile& base, const SymbolizedProfile& now,
                         const DiffResult& d);
nlohmann::ordered_json trend_json(const TrendResult& t);

// Pretty-printed text of j; bytes that are not UTF-8 (paths and names come
// from the profiled process) are replaced by U+FFFD instead of throwing.
std::string json_text(const nlohmann::ordered_json& j);

}  // namespace heapscope
