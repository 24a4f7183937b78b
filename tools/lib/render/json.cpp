// json.cpp -- --json output of report, diff and trend, in the PRODUCT.md
// shape (extra keys are additions: "file", "change", "base", "monotonic",
// "suspect", "inuse_series", "wrappers", "notes"). Pure; thread-safe.
#include "render/json.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace heapscope {

using json = nlohmann::ordered_json;

json counts_json(const Counts& c) {
  return json{{"inuse_bytes", c.inuse_bytes},
              {"inuse_count", c.inuse_count},
              {"alloc_bytes", c.alloc_bytes},
              {"alloc_count", c.alloc_count}};
}

namespace {
std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

// The function's name, or null where no symbol covers the address (the
// symbolizer then puts "0x..." in Frame::function).
json function_json(const Frame& f) {
  if (!f.resolved || f.function.empty() || f.function.rfind("0x", 0) == 0) return nullptr;
  return f.function;
}

// The program's own anonymous mappings (counts: ranges); null without HEAPSCOPE_MMAP=1.
json mapped_totals_json(const Profile& p) { return p.mapped_tracked ? counts_json(p.mapped_totals) : json(nullptr); }

// What the debuginfod servers gave: null without DEBUGINFOD_URLS.
json debuginfod_json(const DebuginfodStatus& d) {
  if (!d.enabled) return nullptr;
  return json{{"urls", d.urls}, {"client", d.client}, {"fetched", d.fetched}, {"missing", d.missing}};
}
}  // namespace

json memory_json(const MemoryComposition& m) {
  if (!m.present) return nullptr;
  auto opt = [](bool known, uint64_t v) { return known ? json(v) : json(nullptr); };
  json figures = json::object();
  for (const auto& [name, value] : m.allocator_figures) figures[name] = value;
  return json{{"rss_bytes", m.rss},
              {"heap_in_use_bytes", opt(m.allocator_known, m.heap_in_use)},
              {"held_free_bytes", opt(m.allocator_known, m.held_free)},
              {"thread_stack_bytes", opt(m.stacks_known, m.stacks)},
              {"other_anon_bytes", m.other_anon},
              {"files_bytes", m.files},
              {"anon_bytes", m.anon},
              {"file_bytes", m.file},
              {"shmem_bytes", m.shmem},
              {"not_resident_bytes", m.not_resident},
              {"live_heap_bytes", m.live_heap},
              {"thread_stacks", opt(m.stacks_known, m.thread_stacks)},
              {"allocator", m.allocator.empty() ? json(nullptr) : json(m.allocator)},
              {"allocator_figures", figures}};
}

json frame_json(const Frame& f) {
  // module and offset are the text's module+0xoffset: null only for an
  // address in no mapped module.
  json module = f.module.empty() ? json(nullptr) : json(f.module);
  json offset = f.module.empty() ? json(nullptr) : json(hex(f.rel_address));
  return json{{"function", function_json(f)}, {"file", f.file},     {"line", f.line},
              {"module", module},             {"offset", offset},   {"inlined", f.inlined},
              {"address", hex(f.address)}};
}

void append_where(json& j, const SiteView& s);

json site_json(const SiteView& s) {
  json j = counts_json(s.counts);
  append_where(j, s);
  return j;
}

void append_where(json& j, const SiteView& s) {
  j["kind"] = s.mapped ? "mapped" : "heap";
  if (const Frame* o = s.origin_frame())
    j["origin"] = json{{"function", function_json(*o)}, {"file", o->file}, {"line", o->line}};
  else
    j["origin"] = nullptr;
  j["container"] = s.container.empty() ? json(nullptr) : json(s.container);
  json frames = json::array();
  for (const auto& f : s.frames) frames.push_back(frame_json(f));
  if (s.truncated) j["truncated"] = true;
  j["frames"] = std::move(frames);
}

// The trigger, the peak and the memory limit from STATS (docs/snapshot-format.md);
// null where the file does not carry them (older snapshots, other formats).
namespace {
json peak_json(const Profile& p) {
  if (!p.stat("peak_inuse_bytes")) return nullptr;
  return json{{"inuse_bytes", p.stat("peak_inuse_bytes")},
              {"uptime_ns", p.stat("peak_uptime_ns")},
              {"unix_ns", p.stat("peak_unix_ns")},
              {"snapshot_inuse_bytes", p.stat("peak_snapshot_inuse_bytes")},
              {"snapshots", p.stat("peak_snapshots")}};
}
json memory_limit_json(const Profile& p) {
  if (!p.stat("mem_limit_bytes")) return nullptr;
  auto src = p.meta.find("mem_limit_source");
  return json{{"limit_bytes", p.stat("mem_limit_bytes")},
              {"usage_bytes", p.stat("mem_usage_bytes")},
              {"kind", memory_limit_kind(p.stat("mem_limit_kind"))},
              {"source", src == p.meta.end() ? json(nullptr) : json(src->second)},
              {"oom_snapshots", p.stat("oom_snapshots")}};
}
}  // namespace

json report_json(const SymbolizedProfile& profile, const ReportResult& r) {
  json sites = json::array();
  for (const auto& s : r.sites) sites.push_back(site_json(s));
  return json{{"file", profile.profile->path},
              {"trigger", profile.profile->trigger},
              {"peak", peak_json(*profile.profile)},
              {"memory_limit", memory_limit_json(*profile.profile)},
              {"totals", counts_json(r.totals)},
              {"mapped_totals", mapped_totals_json(*profile.profile)},
              {"total_sites", r.total_sites},
              {"memory", memory_json(r.memory)},
              {"sites", std::move(sites)},
              {"wrappers", wrappers_json(profile.wrappers)},
              {"notes", profile.notes},
              {"debuginfod", debuginfod_json(profile.debuginfod)}};
}

json diff_json(const SymbolizedProfile& base, const SymbolizedProfile& now, const DiffResult& d) {
  json sites = json::array();
  for (const auto& s : d.sites) {
    json j = counts_json(s.site.counts);
    j["delta_bytes"] = s.delta_bytes;
    j["delta_count"] = s.delta_count;
    j["delta_alloc_bytes"] = s.delta_alloc_bytes;
    j["delta_alloc_count"] = s.delta_alloc_count;
    j["change"] = change_name(s.change);
    j["base"] = counts_json(s.base);
    append_where(j, s.site);
    sites.push_back(std::move(j));
  }
  std::vector<std::string> notes = base.notes;
  for (const auto& n : now.notes)
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  return json{{"base_file", base.profile->path},
              {"file", now.profile->path},
              {"totals", counts_json(d.new_totals)},
              {"base_totals", counts_json(d.base_totals)},
              {"mapped_totals", mapped_totals_json(*now.profile)},
              {"base_mapped_totals", mapped_totals_json(*base.profile)},
              {"total_sites", d.total_sites},
              {"sites", std::move(sites)},
              {"wrappers", wrappers_json(now.wrappers)},
              {"notes", notes}};
}

json trend_json(const TrendResult& t) {
  json sites = json::array();
  for (const auto& s : t.sites) {
    json j = counts_json(s.site.counts);
    j["delta_bytes"] = s.delta_bytes;
    j["delta_count"] = s.delta_count;
    j["slope_bytes_per_s"] = s.slope_bytes_per_s;
    j["slope_bytes_per_snapshot"] = s.slope_bytes_per_snapshot;
    j["r2"] = s.r2;
    j["monotonic"] = s.monotonic;
    j["suspect"] = s.suspect;
    j["inuse_series"] = s.inuse_bytes;
    append_where(j, s.site);
    sites.push_back(std::move(j));
  }
  json files = json::array();
  for (const auto* p : t.order) files.push_back(p->path);
  json memory = nullptr;
  if (t.memory.present) {
    const MemoryTrend& m = t.memory;
    json series = json::array();
    for (const auto& c : m.series) series.push_back(memory_json(c));
    memory = json{{"slope_unit", t.time_basis == "file order" ? "bytes/snapshot" : "bytes/s"},
                  {"rss_slope", m.rss_slope},
                  {"held_free_slope", m.allocator_known ? json(m.held_free_slope) : json(nullptr)},
                  {"heap_in_use_slope", m.allocator_known ? json(m.heap_in_use_slope) : json(nullptr)},
                  {"live_heap_slope", m.live_heap_slope},
                  {"thread_stacks_slope", m.thread_stacks_slope},
                  {"other_anon_slope", m.other_anon_slope},
                  {"files_slope", m.files_slope},
                  {"grows", m.grows.empty() ? json(nullptr) : json(m.grows)},
                  {"diagnosis", m.grows.empty() ? json(nullptr) : json(m.diagnosis)},
                  {"advice", m.advice},
                  {"series", std::move(series)}};
  }
  return json{{"files", files},
              {"time_basis", t.time_basis},
              {"times_s", t.times_s},
              {"totals", counts_json(t.totals)},
              {"mapped_totals", t.order.empty() ? json(nullptr) : mapped_totals_json(*t.order.back())},
              {"total_sites", t.total_sites},
              {"memory", std::move(memory)},
              {"sites", std::move(sites)},
              {"wrappers", wrappers_json(t.wrappers)},
              {"notes", t.notes}};
}

json wrappers_json(const std::vector<Wrapper>& wrappers) {
  json out = json::array();
  for (const auto& w : wrappers)
    out.push_back(json{{"function", w.function},
                       {"file", w.file.empty() ? json(nullptr) : json(w.file)},
                       {"callers", w.callers},
                       {"detected", w.alloc_fn.empty()},
                       {"alloc_fn", w.alloc_fn.empty() ? json(nullptr) : json(w.alloc_fn)}});
  return out;
}

std::string json_text(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace heapscope
