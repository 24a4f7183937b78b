// html.cpp -- the HTML report's data and page (see html.h).
// Safety: iterative (no recursion over stacks); memory proportional to the
// distinct sites, frames and call-tree nodes.
#include "render/html.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "render/flame_svg.h"  // xml_escape
#include "render/html_assets.h"
#include "render/text.h"       // short_function, frame_location

namespace heapscope {

using json = nlohmann::json;

namespace {

// Rounds to `digits` decimals so the page does not carry 17 digits of noise.
double rounded(double v, int digits) {
  if (!std::isfinite(v)) return 0;
  double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

// The tables the JSON keeps every name in once.
class Tables {
 public:
  int str(const std::string& s) {
    auto [it, added] = string_ids_.emplace(s, int(strings_.size()));
    if (added) strings_.push_back(s);
    return it->second;
  }
  // Local index of an interned frame.
  int frame(uint32_t interned) {
    auto it = frame_ids_.find(interned);
    if (it != frame_ids_.end()) return it->second;
    const Frame& f = interned_frame(interned);
    bool named = f.resolved || !(f.function.empty() || f.function.rfind("0x", 0) == 0);
    std::string fn = named ? f.function : frame_location(f);
    int id = add_frame(fn, named ? short_function(fn) : fn, f.file, f.line, f.module, f.inlined);
    frame_ids_.emplace(interned, id);
    return id;
  }
  int mmap_frame() {
    if (mmap_frame_ < 0) mmap_frame_ = add_frame("[mmap]", "[mmap]", "", 0, "", false);
    return mmap_frame_;
  }
  int node(int parent, int frame) {
    uint64_t k = (uint64_t(uint32_t(parent)) << 32) | uint32_t(frame);
    auto [it, added] = node_ids_.emplace(k, int(nodes_.size() / 2));
    if (added) {
      nodes_.push_back(parent);
      nodes_.push_back(frame);
    }
    return it->second;
  }
  // Local index of a site (by key), adding it from `s` the first time.
  int site(const SiteView& s) {
    auto it = site_ids_.find(s.key);
    if (it != site_ids_.end()) return it->second;
    int n = s.mapped ? node(-1, mmap_frame()) : -1;
    for (size_t i = s.frame_ids.size(); i-- > 0;) n = node(n, frame(s.frame_ids[i]));
    if (n < 0) n = node(-1, add_frame("[no stack]", "[no stack]", "", 0, "", false));
    int id = int(sites_.size() / 4);
    sites_.push_back(n);
    sites_.push_back(s.origin);
    sites_.push_back(s.container.empty() ? -1 : str(s.container));
    sites_.push_back(s.mapped ? 1 : 0);
    site_ids_.emplace(s.key, id);
    return id;
  }
  int find_site(const std::string& key) const {
    auto it = site_ids_.find(key);
    return it == site_ids_.end() ? -1 : it->second;
  }
  size_t site_count() const { return sites_.size() / 4; }

  json frames() const { return frames_; }
  json nodes() const { return nodes_; }
  json sites() const { return sites_; }
  json strings() const { return strings_; }

 private:
  int add_frame(const std::string& fn, const std::string& shortname, const std::string& file, int line,
                const std::string& module, bool inlined) {
    int id = int(frames_.size() / 6);
    frames_.push_back(str(fn));
    frames_.push_back(str(shortname));
    frames_.push_back(file.empty() ? -1 : str(file));
    frames_.push_back(line);
    frames_.push_back(module.empty() ? -1 : str(module));
    frames_.push_back(inlined ? 1 : 0);
    return id;
  }
  std::vector<std::string> strings_;
  std::unordered_map<std::string, int> string_ids_;
  std::vector<int64_t> frames_;
  std::unordered_map<uint32_t, int> frame_ids_;
  int mmap_frame_ = -1;
  std::vector<int> nodes_;
  std::unordered_map<uint64_t, int> node_ids_;
  std::vector<int> sites_;
  std::unordered_map<std::string, int> site_ids_;
};

json optional_figure(bool known, uint64_t v) { return known ? json(v) : json(nullptr); }

// Sites by their most live bytes in any snapshot, largest first.
std::vector<const SiteView*> sites_by_peak(const HtmlInput& in, size_t max) {
  std::unordered_map<std::string, std::pair<int64_t, const SiteView*>> best;
  for (const auto* sp : in.snapshots)
    for (const auto& s : sp->sites) {
      auto& b = best[s.key];
      if (!b.second || s.counts.inuse_bytes > b.first) b = {s.counts.inuse_bytes, &s};
    }
  std::vector<std::pair<int64_t, const SiteView*>> all;
  for (auto& [k, v] : best) all.push_back(v);
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) {
    return a.first != b.first ? a.first > b.first : a.second->key < b.second->key;
  });
  std::vector<const SiteView*> out;
  for (size_t i = 0; i < all.size() && i < max; ++i) out.push_back(all[i].second);
  return out;
}

}  // namespace

HtmlInput html_input(const std::vector<const SymbolizedProfile*>& snapshots, const TrendResult* trend) {
  HtmlInput in;
  in.trend = trend;
  if (trend) {
    for (const Profile* p : trend->order)
      for (const auto* sp : snapshots)
        if (sp->profile == p) {
          in.snapshots.push_back(sp);
          break;
        }
    in.times_s = trend->times_s;
    in.time_basis = trend->time_basis;
    in.wrappers = trend->wrappers;
    return in;
  }
  in.snapshots = snapshots;
  bool by_uptime = !snapshots.empty() && std::all_of(snapshots.begin(), snapshots.end(), [&](auto* s) {
    return s->profile->uptime_ns > 0 && s->profile->pid == snapshots[0]->profile->pid;
  });
  if (by_uptime) {
    std::stable_sort(in.snapshots.begin(), in.snapshots.end(), [](auto* a, auto* b) {
      return a->profile->uptime_ns < b->profile->uptime_ns;
    });
    for (auto* s : in.snapshots)
      in.times_s.push_back(double(s->profile->uptime_ns - in.snapshots[0]->profile->uptime_ns) / 1e9);
    in.time_basis = "uptime";
  } else {
    for (size_t i = 0; i < in.snapshots.size(); ++i) in.times_s.push_back(double(i));
    in.time_basis = "file order";
  }
  if (!in.snapshots.empty()) in.wrappers = in.snapshots.back()->wrappers;
  return in;
}

std::vector<std::pair<std::string, int>> html_source_requests(const HtmlInput& in, size_t max) {
  std::vector<std::pair<std::string, int>> out;
  auto want = [&](const SiteView& s) {
    const Frame* f = s.origin_frame();
    if (!f || f->file.empty() || f->line <= 0 || out.size() >= max) return;
    std::pair<std::string, int> k{f->file, f->line};
    if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
  };
  if (in.trend)
    for (const auto& t : in.trend->sites) want(t.site);
  for (const SiteView* s : sites_by_peak(in, max)) want(*s);
  return out;
}

json html_data(const HtmlInput& in) {
  Tables tab;
  json snaps = json::array();
  int64_t max_live = -1;
  int max_index = -1;
  uint64_t recorded_peak = 0, recorded_peak_uptime = 0;
  for (size_t i = 0; i < in.snapshots.size(); ++i) {
    const SymbolizedProfile& sp = *in.snapshots[i];
    const Profile& p = *sp.profile;
    std::vector<std::pair<int, int64_t>> values;
    for (const auto& s : sp.sites)
      if (s.counts.inuse_bytes != 0) values.push_back({tab.site(s), s.counts.inuse_bytes});
    std::sort(values.begin(), values.end());
    std::vector<int64_t> flat;
    flat.reserve(values.size() * 2);
    int prev = 0;
    for (auto& [site, bytes] : values) {
      flat.push_back(site - prev);
      flat.push_back(bytes);
      prev = site;
    }
    MemoryComposition m = memory_composition(p);
    json snap = {{"file", p.path},
                 {"t", rounded(i < in.times_s.size() ? in.times_s[i] : double(i), 3)},
                 {"trigger", p.trigger},
                 {"live", p.totals.inuse_bytes},
                 {"blocks", p.totals.inuse_count},
                 {"rss", optional_figure(m.present, m.rss)},
                 {"heap_in_use", optional_figure(m.present && m.allocator_known, m.heap_in_use)},
                 {"held_free", optional_figure(m.present && m.allocator_known, m.held_free)},
                 {"stacks", optional_figure(m.present && m.stacks_known, m.stacks)},
                 {"other_anon", optional_figure(m.present, m.other_anon)},
                 {"files", optional_figure(m.present, m.files)},
                 {"values", std::move(flat)}};
    snaps.push_back(std::move(snap));
    if (p.totals.inuse_bytes > max_live) {
      max_live = p.totals.inuse_bytes;
      max_index = int(i);
    }
    if (p.stat("peak_inuse_bytes") > recorded_peak) {
      recorded_peak = p.stat("peak_inuse_bytes");
      recorded_peak_uptime = p.stat("peak_uptime_ns");
    }
  }
  json peak = nullptr;
  if (max_index >= 0) {
    peak = {{"snapshot", max_index}, {"live", max_live}, {"recorded", nullptr}};
    // The profiler's own high-water mark (STATS), placed on the uptime axis.
    if (recorded_peak && in.time_basis == "uptime" && recorded_peak_uptime)
      peak["recorded"] = {{"live", recorded_peak},
                          {"t", rounded((double(recorded_peak_uptime) -
                                         double(in.snapshots[0]->profile->uptime_ns)) / 1e9, 3)}};
  }

  json suspects = nullptr;
  if (in.trend) {
    std::vector<double> rows;
    for (const auto& t : in.trend->sites) {
      rows.push_back(tab.site(t.site));
      rows.push_back(rounded(t.slope_bytes_per_s, 1));
      rows.push_back(rounded(t.slope_bytes_per_snapshot, 1));
      rows.push_back(rounded(t.r2, 4));
      rows.push_back(rounded(t.monotonic, 4));
      rows.push_back(double(t.delta_bytes));
      rows.push_back(t.suspect ? 1 : 0);
    }
    const MemoryTrend& m = in.trend->memory;
    suspects = {{"total_sites", in.trend->total_sites},
                {"suspects", std::count_if(in.trend->sites.begin(), in.trend->sites.end(),
                                           [](auto& t) { return t.suspect; })},
                {"columns", {"site", "slope_bytes_per_s", "slope_bytes_per_snapshot", "r2", "monotonic",
                             "delta_bytes", "suspect"}},
                {"rows", rows},
                {"memory", m.grows.empty() ? json(nullptr)
                                           : json{{"grows", m.grows}, {"diagnosis", m.diagnosis},
                                                  {"advice", m.advice}}}};
  }

  json sources = json::array();
  for (const auto& s : in.sources)
    sources.push_back({{"file", s.file}, {"line", s.line}, {"first_line", s.first_line}, {"lines", s.lines}});
  json wrappers = json::array();
  for (const auto& w : in.wrappers) wrappers.push_back(w.function);

  json j;
  j["format"] = "heapscope-html";
  j["version"] = 1;
  j["title"] = in.title;
  j["time_basis"] = in.time_basis;
  j["snapshots"] = std::move(snaps);
  j["peak"] = std::move(peak);
  j["suspects"] = std::move(suspects);
  j["sites"] = tab.sites();
  j["nodes"] = tab.nodes();
  j["frames"] = tab.frames();
  j["strings"] = tab.strings();
  j["sources"] = std::move(sources);
  j["wrappers"] = std::move(wrappers);
  j["notes"] = in.notes;
  return j;
}

std::string render_html(const HtmlInput& in) {
  std::string data = html_data(in).dump(-1, ' ', false, json::error_handler_t::replace);
  // '<' appears only inside JSON strings; as \u003c no "</script>" or "<!--" can end the element.
  std::string safe;
  safe.reserve(data.size() + 64);
  for (char c : data) {
    if (c == '<') safe += "\\u003c";
    else safe += c;
  }
  std::string title = xml_escape("heapscope: " + in.title);
  std::string out;
  out.reserve(safe.size() + 300000);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">\n<title>" + title +
         "</title>\n<style>\n";
  out += kHtmlPageCss;
  out += "</style></head>\n<body>\n<header><h1>" + title + "</h1><p id=\"summary\"></p><ul id=\"notes\"></ul></header>\n";
  out += R"(<nav><a href="#timeline-view">Timeline</a> <a href="#suspects-view">Leak suspects</a> <a href="#flame-view">Flame graph</a> <a href="#growth-view">Growth</a> <a href="#stack-view">Stack</a></nav>
<section id="timeline-view"><h2>Memory over time</h2><p class="hint">Click a point to draw its flame graph; shift-click to choose it as the growth's start.</p>
<div class="chart"><canvas id="timeline"></canvas></div>
<h3>Top sites' live bytes, stacked</h3><div class="chart"><canvas id="stacked"></canvas></div></section>
<section id="suspects-view"><h2>Leak suspects</h2><p id="suspects-summary"></p><p id="memory-diagnosis"></p>
<table id="suspects"><thead><tr><th>#</th><th>slope/s</th><th>slope/snap</th><th>r2</th><th>monotone</th><th>live</th><th>delta</th><th>over time</th><th>where</th></tr></thead><tbody></tbody></table>
<button id="suspects-more" hidden>Show more</button></section>
<section id="flame-view"><h2>Flame graph of <select id="flame-snapshot"></select></h2><p class="hint">Click a frame: its stack below and a zoom into it. <button class="reset" data-flame="flame">Reset zoom</button></p><div id="flame" class="flame"></div></section>
<section id="growth-view"><h2>Growth from <select id="growth-from"></select> to <select id="growth-to"></select></h2>
<h3 id="grown-title">Grown</h3><div id="grown" class="flame"></div><h3 id="shrunk-title">Shrunk</h3><div id="shrunk" class="flame"></div></section>
<section id="stack-view"><h2>Stack</h2><div id="stack"><p class="hint">Click a suspect or a frame.</p></div></section>
)";
  out += "<script id=\"heapscope-data\" type=\"application/json\">";
  out += safe;
  out += "</script>\n<script>\n";
  out += kChartJs;
  out += "\n</script>\n<script>\n";
  out += kHtmlPageJs;
  out += "\n</script>\n</body></html>\n";
  return out;
}

}  // namespace heapscope
