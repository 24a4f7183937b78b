// metrics.cpp -- see metrics.h.
#include "render/metrics.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>

#include "render/text.h"

namespace heapscope {
namespace {

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 9e15) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", v);
    return b;
  }
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

struct Family {
  std::string name;  // the sample name (counters: with _total)
  std::string type;  // gauge | counter
  std::string help;
  std::string lines;
};

class Writer {
 public:
  explicit Writer(bool om) : om_(om) {}
  Family& family(const std::string& name, const std::string& type, const std::string& help) {
    for (auto& f : families_)
      if (f.name == name) return f;
    families_.push_back({name, type, help, ""});
    return families_.back();
  }
  void sample(const std::string& name, const std::string& type, const std::string& help,
              const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    Family& f = family(name, type, help);
    f.lines += name;
    f.lines += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) f.lines += ',';
      first = false;
      f.lines += k + "=\"" + escape_label_value(v) + "\"";
    }
    f.lines += "} " + number(value) + "\n";
  }
  std::string text() const {
    std::string out;
    for (const auto& f : families_) {
      // OpenMetrics names a counter family without its _total suffix.
      std::string fam = f.name;
      if (om_ && f.type == "counter" && fam.size() > 6 && fam.compare(fam.size() - 6, 6, "_total") == 0)
        fam.resize(fam.size() - 6);
      out += "# HELP " + fam + " " + escape_help(f.help) + "\n";
      out += "# TYPE " + fam + " " + f.type + "\n";
      out += f.lines;
    }
    if (om_) out += "# EOF\n";
    return out;
  }

 private:
  bool om_;
  std::vector<Family> families_;  // in first-use order: each family one contiguous group
};
}  // namespace

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string origin_label(const SiteView& site) {
  const Frame* f = site.origin_frame();
  if (!f) return "(no origin)";
  return short_function(f->function) + " " + frame_location(*f);
}

const char* metrics_content_type(bool openmetrics) {
  return openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                     : "text/plain; version=0.0.4; charset=utf-8";
}

std::string render_metrics(const std::vector<MetricsTarget>& targets, bool openmetrics) {
  Writer w(openmetrics);
  // The families in a fixed order, whether or not a target has samples for them.
  const struct {
    const char* name;
    const char* type;
    const char* help;
  } kFamilies[] = {
      {"heapscope_target_up", "gauge", "1 when the agent's last snapshot request to the process succeeded, else 0"},
      {"heapscope_heap_inuse_bytes", "gauge", "Live heap bytes heapscope tracks (estimates when sampled)"},
      {"heapscope_heap_inuse_objects", "gauge", "Live heap blocks heapscope tracks"},
      {"heapscope_heap_allocated_bytes_total", "counter", "Heap bytes allocated since heapscope started in the process"},
      {"heapscope_heap_allocations_total", "counter", "Heap allocations since heapscope started in the process"},
      {"heapscope_heap_frees_total", "counter", "Heap frees of tracked blocks since heapscope started in the process"},
      {"process_resident_memory_bytes", "gauge", "Resident set size of the process in bytes"},
      {"heapscope_memory_limit_bytes", "gauge",
       "The memory limit nearest to the process's usage (cgroup memory.max/high, v1 limit, RLIMIT_AS), when it has one"},
      {"heapscope_profiler_self_memory_bytes", "gauge", "Memory heapscope's profiler uses inside the process"},
      {"heapscope_snapshot_duration_seconds", "gauge", "Time the profiler took to build the last snapshot"},
      {"heapscope_site_inuse_bytes", "gauge",
       "Live heap bytes per origin (the program's own frame), top 10 by live bytes plus origin=\"other\""},
      {"heapscope_site_growth_bytes_per_second", "gauge",
       "Least-squares growth of live bytes per origin over the agent's window of snapshots (3 or more)"},
      {"heapscope_leak_suspect_bytes_per_second", "gauge",
       "Growth of each leak suspect (heapscope trend over the agent's window: steady, monotone growth), at most 3"},
      {"heapscope_agent_snapshots_total", "counter", "Snapshots the agent took of the process"},
      {"heapscope_scrape_errors_total", "counter", "Snapshot requests of the agent to the process that failed"},
  };
  for (const auto& f : kFamilies) w.family(f.name, f.type, f.help);
  for (const MetricsTarget& t : targets) {
    const std::vector<std::pair<std::string, std::string>> base = {{"service", t.service},
                                                                   {"pid", std::to_string(t.pid)}};
    auto put = [&](const char* name, double v, std::vector<std::pair<std::string, std::string>> extra = {}) {
      auto labels = base;
      labels.insert(labels.end(), extra.begin(), extra.end());
      for (const auto& f : kFamilies)
        if (std::string(f.name) == name) w.sample(name, f.type, f.help, labels, v);
    };
    put("heapscope_target_up", t.up ? 1 : 0);
    if (t.latest) {
      const Profile& p = *t.latest;
      put("heapscope_heap_inuse_bytes", double(p.totals.inuse_bytes));
      put("heapscope_heap_inuse_objects", double(p.totals.inuse_count));
      put("heapscope_heap_allocated_bytes_total", double(t.allocated_bytes));
      put("heapscope_heap_allocations_total", double(t.allocations));
      put("heapscope_heap_frees_total", double(t.frees));
      for (const auto& [k, v] : p.stats) {
        if (k == "rss_bytes") put("process_resident_memory_bytes", double(v));
        if (k == "mem_limit_bytes" && v > 0) put("heapscope_memory_limit_bytes", double(v));
        if (k == "self_memory_bytes") put("heapscope_profiler_self_memory_bytes", double(v));
        if (k == "snapshot_ns") put("heapscope_snapshot_duration_seconds", double(v) / 1e9);
      }
    }
    if (t.sites) {
      // Live bytes per origin (heap sites only), the top kTopOrigins, the rest as "other".
      std::map<std::string, int64_t> live;
      for (const SiteView& s : t.sites->sites)
        if (!s.mapped) live[origin_label(s)] += s.counts.inuse_bytes;
      std::vector<std::pair<std::string, int64_t>> ranked(live.begin(), live.end());
      std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      std::map<std::string, double> growth;
      if (t.trend)
        for (const TrendSite& ts : t.trend->sites)
          if (!ts.site.mapped) growth[origin_label(ts.site)] += ts.slope_bytes_per_s;
      int64_t other = 0;
      double other_growth = 0;
      std::map<std::string, bool> shown;
      for (size_t i = 0; i < ranked.size(); ++i) {
        if (i < kTopOrigins && ranked[i].first != "other") {
          shown[ranked[i].first] = true;
          put("heapscope_site_inuse_bytes", double(ranked[i].second), {{"origin", ranked[i].first}});
          if (t.trend) put("heapscope_site_growth_bytes_per_second", growth[ranked[i].first], {{"origin", ranked[i].first}});
        } else {
          other += ranked[i].second;
        }
      }
      for (const auto& [o, g] : growth)
        if (!shown.count(o)) other_growth += g;
      put("heapscope_site_inuse_bytes", double(other), {{"origin", "other"}});
      if (t.trend) put("heapscope_site_growth_bytes_per_second", other_growth, {{"origin", "other"}});
    }
    if (t.trend) {
      // Ranked by score, the strongest suspects first; two sites with the
      // same origin and container are one series (their slopes summed).
      std::vector<std::pair<std::pair<std::string, std::string>, double>> suspects;
      for (const TrendSite& ts : t.trend->sites) {
        if (!ts.suspect || ts.site.mapped) continue;
        std::pair<std::string, std::string> key{origin_label(ts.site), ts.site.container};
        auto it = std::find_if(suspects.begin(), suspects.end(), [&](const auto& e) { return e.first == key; });
        if (it != suspects.end()) it->second += ts.slope_bytes_per_s;
        else if (suspects.size() < kMaxSuspects) suspects.push_back({key, ts.slope_bytes_per_s});
      }
      for (const auto& [key, slope] : suspects)
        put("heapscope_leak_suspect_bytes_per_second", slope, {{"origin", key.first}, {"container", key.second}});
    }
    put("heapscope_agent_snapshots_total", double(t.snapshots));
    put("heapscope_scrape_errors_total", double(t.scrape_errors));
  }
  return w.text();
}

}  // namespace heapscope
