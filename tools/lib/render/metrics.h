// metrics.h -- Prometheus metrics of served processes (heapscope serve's
// /metrics): text exposition format 0.0.4, or OpenMetrics 1.0 text.
//
// Owns: the metric names, types and help texts (docs/serve.md lists them;
// the shipped alert rules are written against them), the bounded per-origin
// series (the top kTopOrigins origins by live bytes plus origin="other"),
// the leak-suspect series (at most kMaxSuspects, from a trend over the
// agent's window), label escaping, and the two formats' differences
// (counter families without `_total` in OpenMetrics' TYPE lines, `# EOF`).
// Every series carries service and pid.
// Safety: pure computation over its inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyze/sites.h"
#include "analyze/trend.h"
#include "model/profile.h"

namespace heapscope {

constexpr size_t kTopOrigins = 10;  // per-origin series besides origin="other"
constexpr size_t kMaxSuspects = 3;  // heapscope_leak_suspect_bytes_per_second series

struct MetricsTarget {
  std::string service;
  uint64_t pid = 0;
  bool up = false;  // the last snapshot asked for came
  // The newest snapshot and its symbolized sites; null when none came yet.
  const Profile* latest = nullptr;
  const SymbolizedProfile* sites = nullptr;
  // A trend over the agent's window (3 or more snapshots); null otherwise:
  // then no growth and no suspect series.
  const TrendResult* trend = nullptr;
  // Counters, kept from decreasing by the caller (a process's totals only grow).
  int64_t allocated_bytes = 0, allocations = 0, frees = 0;
  uint64_t snapshots = 0;      // snapshots the agent took of it
  uint64_t scrape_errors = 0;  // snapshots asked for that failed
};

// "function file:line" of a site's origin (pprof's `origin` label), or
// "(no origin)" when the stack has no frame of the program's own code.
std::string origin_label(const SiteView& site);

// The exposition text. openmetrics: OpenMetrics 1.0 (ends with `# EOF`).
std::string render_metrics(const std::vector<MetricsTarget>& targets, bool openmetrics);

// The Content-Type of each format.
const char* metrics_content_type(bool openmetrics);

// Escapes a label value (\\, \", \n) as both formats want.
std::string escape_label_value(const std::string& v);

}  // namespace heapscope
