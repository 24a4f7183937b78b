// text.cpp -- human-readable report, diff and trend. See text.h.
// Layout: a header line (what, file, totals), then a table with one row per
// site (figures right-aligned, then where it comes from), and under each row
// the container and a short stack: the frame that allocated inside the
// container, the origin, and a few callers. Pure; thread-safe.
#include "render/text.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>

#include "analyze/origin.h"
#include "model/strings.h"

namespace heapscope {
namespace {

std::string pad_left(const std::string& s, size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string signed_count(int64_t v) { return (v > 0 ? "+" : "") + std::to_string(v); }

// ", the peak: 301.0 MiB live 1.2 s after start (2026-12-03 17:53:01 UTC)".
std::string peak_text(const Profile& p) {
  std::string s = ", the peak: " + format_size(p.stat("peak_inuse_bytes")) + " live" +
                  fmt(" %.1f s after start", double(p.stat("peak_uptime_ns")) / 1e9);
  const time_t t = time_t(p.stat("peak_unix_ns") / 1000000000ull);
  struct tm tm;
  char buf[64];
  if (t && gmtime_r(&t, &tm) && std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm))
    s += std::string(" (") + buf + ")";
  return s + "; this file holds " + format_size(p.stat("peak_snapshot_inuse_bytes"));
}

std::string describe(const Profile& p) {
  std::string s = p.path + " (" + p.format;
  if (p.pid) s += ", pid " + std::to_string(p.pid);
  if (p.format == "hsnap") {
    if (p.is_exit()) s += ", at exit";
    else s += ", #" + std::to_string(p.seq) + " by " + p.trigger;
    if (p.uptime_ns) s += fmt(", %.1f s after start", double(p.uptime_ns) / 1e9);
    if (p.trigger == "peak") s += peak_text(p);
    if (p.trigger == "oom" && p.stat("mem_limit_bytes"))
      s += fmt(", memory at %.1f%% of its limit: ", 100.0 * double(p.stat("mem_usage_bytes")) /
                                                      double(p.stat("mem_limit_bytes"))) +
           format_size(p.stat("mem_usage_bytes")) + " of " + format_size(p.stat("mem_limit_bytes")) + ", " +
           memory_limit_kind(p.stat("mem_limit_kind"));
  }
  if (p.sampled) s += ", sampled";
  return s + ")";
}

std::string totals_line(const Counts& c) {
  return "live " + format_size(c.inuse_bytes) + " in " + std::to_string(c.inuse_count) +
         " blocks; allocated " + format_size(c.alloc_bytes) + " in " +
         std::to_string(c.alloc_count) + " blocks since start";
}

// "RSS 420.0 MiB = heap in use 30.0 MiB + held free by the allocator ..." and
// a newline (the terms of analyze/memory.h, which add up to the RSS); nothing
// for a snapshot without the figures.
std::string composition_line(const MemoryComposition& m) {
  if (!m.present) return "";
  std::string s = "memory: RSS " + format_size(int64_t(m.rss)) + " = ";
  if (m.allocator_known)
    s += "heap in use " + format_size(int64_t(m.heap_in_use)) + " + held free by the allocator" +
         (m.allocator.empty() ? "" : " (" + m.allocator + ")") + " " + format_size(int64_t(m.held_free)) + " + ";
  if (m.stacks_known) s += "thread stacks " + format_size(int64_t(m.stacks)) + " + ";
  s += (m.allocator_known ? "other anonymous " : "anonymous ") + format_size(int64_t(m.other_anon)) + " + files " +
       format_size(int64_t(m.files));
  if (!m.allocator_known) s += " (the allocator's figures are not in this snapshot: the heap is in anonymous)";
  if (m.not_resident) s += "; the allocator counts " + format_size(int64_t(m.not_resident)) + " more that is not resident";
  return s + "\n";
}

// The slopes of RSS, what the allocator holds free and the live heap, and
// when RSS grows apart from the heap the diagnosis and what to try.
void memory_trend_lines(std::ostream& out, const TrendResult& t) {
  const MemoryTrend& m = t.memory;
  if (!m.present) return;
  const char* unit = t.time_basis == "file order" ? "/snapshot" : "/s";
  auto slope = [&](double v) { return format_signed_size(int64_t(std::llround(v))) + unit; };
  out << "memory: RSS " << format_size(int64_t(m.series.front().rss)) << " -> "
      << format_size(int64_t(m.series.back().rss)) << " (" << slope(m.rss_slope) << ")";
  if (m.allocator_known) out << ", held free by the allocator " << slope(m.held_free_slope);
  out << ", live heap " << slope(m.live_heap_slope) << "\n";
  if (m.grows.empty()) return;
  out << "diagnosis: " << m.diagnosis << "; no site is called a leak suspect\n";
  for (const auto& a : m.advice) out << "  try: " << a << "\n";
}

// "function  file:line", or "module+0xoffset" for a frame without symbols.
std::string frame_text(const Frame& f) {
  if (!f.resolved) return f.module.empty() ? f.function : frame_location(f);
  return short_function(f.function) + "  " + frame_location(f);
}

std::string where_frames(const SiteView& s) {
  const Frame* o = s.origin_frame();
  if (!o) {
    if (s.frames.empty()) return "(no stack)";
    int lib = find_library_frame(s.frames);
    const Frame& f = s.frames[lib >= 0 ? size_t(lib) : 0];
    return frame_text(f) + "  (no frame in the program's own code)";
  }
  return frame_text(*o);
}

// A mapped site (HEAPSCOPE_MMAP) is marked: its figures are mmap'd bytes and ranges.
std::string where(const SiteView& s) { return (s.mapped ? "[mmap] " : "") + where_frames(s); }

// "; mapped: 640.0 KiB in 10 mappings" when mappings were tracked.
std::string mapped_part(const Profile& p) {
  if (!p.mapped_tracked) return "";
  return "; mapped: " + format_size(p.mapped_totals.inuse_bytes) + " in " +
         std::to_string(p.mapped_totals.inuse_count) + (p.mapped_totals.inuse_count == 1 ? " mapping" : " mappings");
}

// The container line and a short stack (the frame where the container
// allocated, the origin marked ">", and a few callers), each line indented.
void site_details(std::ostream& out, const SiteView& s, const std::string& indent) {
  if (!s.container.empty()) out << indent << "container " << s.container << "\n";
  std::vector<int> shown;
  int origin = s.origin >= 0 ? s.origin : std::max(0, find_library_frame(s.frames));
  // The innermost container frame (what allocated: a node, a string's
  // buffer...) and the outermost (the insertion the user wrote), when they differ.
  int inner = -1, outer = -1;
  for (int i = 0; i < origin; ++i)
    if (!container_of_function(s.frames[i].function).empty()) {
      if (inner < 0) inner = i;
      outer = i;
    }
  if (inner >= 0 && inner != outer) shown.push_back(inner);
  if (outer >= 0) shown.push_back(outer);
  // The program's own frames below the origin: allocation wrappers it skipped.
  std::vector<int> wrappers;
  for (int i = 0; i < s.origin; ++i)
    if (!is_system_frame(s.frames[i])) wrappers.push_back(i);
  shown.insert(shown.end(), wrappers.begin(), wrappers.end());
  std::sort(shown.begin(), shown.end());
  for (int i = origin; i < int(s.frames.size()) && i < origin + 4; ++i) shown.push_back(i);
  for (int i : shown) {
    const Frame& f = s.frames[i];
    bool wrapper = std::find(wrappers.begin(), wrappers.end(), i) != wrappers.end();
    out << indent << (i == s.origin ? "> " : "| ") << frame_text(f)
        << (f.inlined ? "  (inlined)" : "") << (wrapper ? "  (allocation wrapper)" : "") << "\n";
  }
  if (s.truncated) out << indent << "| ... (stack truncated at the depth limit)\n";
}

// One line on what debuginfod did, only with DEBUGINFOD_URLS set.
void debuginfod_line(std::ostream& out, const DebuginfodStatus& d) {
  if (!d.enabled) return;
  auto names = [](const std::vector<std::string>& paths) {
    std::string s;
    for (const auto& p : paths) s += (s.empty() ? "" : ", ") + basename_of(p);
    return s;
  };
  out << "debuginfod: ";
  if (!d.client) {
    out << "DEBUGINFOD_URLS is set but libdebuginfod.so.1 is not loaded; nothing was fetched\n";
    return;
  }
  out << "fetched " << (d.fetched.empty() ? "nothing" : names(d.fetched));
  if (!d.missing.empty()) out << "; not on the server: " << names(d.missing);
  out << "\n";
}

}  // namespace

std::string site_where(const SiteView& s) { return where(s); }

std::string format_size(int64_t bytes) {
  uint64_t a = bytes < 0 ? uint64_t(0) - uint64_t(bytes) : uint64_t(bytes);
  std::string sign = bytes < 0 ? "-" : "";
  if (a < 1024) return sign + std::to_string(a) + " B";
  static const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = double(a) / 1024.0;
  int u = 0;
  while (v >= 1024.0 && u < 5) {
    v /= 1024.0;
    ++u;
  }
  return sign + fmt("%.1f ", v) + units[u];
}

std::string format_signed_size(int64_t bytes) {
  return (bytes > 0 ? "+" : "") + format_size(bytes);
}

// "std::_Rb_tree<long, ...long list...>::_M_get_node" -> "std::_Rb_tree<...>::_M_get_node":
// the template arguments of library-internal classes (names starting with
// "_") say nothing the container line does not.
std::string collapse_internal_args(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    if (lt == std::string::npos) {
      out += s.substr(i);
      break;
    }
    size_t name_start = s.find_last_of(":, ", lt == 0 ? 0 : lt - 1);
    name_start = name_start == std::string::npos ? 0 : name_start + 1;
    bool internal = name_start < lt && s[name_start] == '_';
    int depth = 0;
    size_t end = lt;
    for (; end < s.size(); ++end) {
      if (s[end] == '<') ++depth;
      else if (s[end] == '>' && --depth == 0) break;
    }
    if (end >= s.size()) {
      out += s.substr(i);
      break;
    }
    out += s.substr(i, lt - i);
    out += internal ? "<...>" : s.substr(lt, end - lt + 1);
    i = end + 1;
  }
  return out;
}

std::string short_function(const std::string& function) {
  if (function.rfind("0x", 0) == 0) return function;
  std::string s = tidy_type(qualified_name(function));
  if (s.empty()) s = function;
  if (s.size() > 60) s = collapse_internal_args(s);
  if (s.size() > 90) s = s.substr(0, 87) + "...";
  return s;
}

std::string frame_location(const Frame& f) {
  if (!f.file.empty()) return basename_of(f.file) + ":" + std::to_string(f.line);
  char buf[40];
  std::snprintf(buf, sizeof buf, "+0x%" PRIx64, f.rel_address);
  if (!f.module.empty()) return basename_of(f.module) + buf;
  return "?";
}

std::string wrappers_line(const std::vector<Wrapper>& wrappers) {
  if (wrappers.empty()) return "";
  std::string s = "allocation wrappers (not origins; their callers are): ";
  for (size_t i = 0; i < wrappers.size(); ++i) {
    const Wrapper& w = wrappers[i];
    s += (i ? ", " : "") + short_function(w.function) + " (";
    if (!w.alloc_fn.empty()) s += "--alloc-fn " + w.alloc_fn + ", ";
    s += std::to_string(w.callers) + (w.callers == 1 ? " caller)" : " callers)");
  }
  return s + "\n";
}

void render_report_text(std::ostream& out, const SymbolizedProfile& profile, const ReportResult& r) {
  out << "heapscope report: " << describe(*profile.profile) << "\n";
  out << totals_line(r.totals) << mapped_part(*profile.profile) << "; " << r.total_sites
      << (r.total_sites == 1 ? " site" : " sites");
  if (r.sites.size() < r.total_sites) out << ", top " << r.sites.size() << " shown";
  out << "\n" << composition_line(r.memory) << wrappers_line(profile.wrappers);
  debuginfod_line(out, profile.debuginfod);
  out << "\n";
  out << pad_left("#", 4) << pad_left("live", 12) << pad_left("blocks", 10)
      << pad_left("allocated", 12) << pad_left("allocs", 10) << "  where\n";
  const std::string indent(50, ' ');
  for (size_t i = 0; i < r.sites.size(); ++i) {
    const SiteView& s = r.sites[i];
    out << pad_left(std::to_string(i + 1), 4) << pad_left(format_size(s.counts.inuse_bytes), 12)
        << pad_left(std::to_string(s.counts.inuse_count), 10)
        << pad_left(format_size(s.counts.alloc_bytes), 12)
        << pad_left(std::to_string(s.counts.alloc_count), 10) << "  " << where(s) << "\n";
    site_details(out, s, indent);
  }
  if (r.sites.empty()) out << "  (no allocation sites)\n";
}

void render_diff_text(std::ostream& out, const SymbolizedProfile& base, const SymbolizedProfile& now,
                      const DiffResult& d) {
  out << "heapscope diff: " << describe(*base.profile) << "\n            -> "
      << describe(*now.profile) << "\n";
  out << "live " << format_size(d.base_totals.inuse_bytes) << " -> "
      << format_size(d.new_totals.inuse_bytes) << " ("
      << format_signed_size(d.new_totals.inuse_bytes - d.base_totals.inuse_bytes) << "), blocks "
      << d.base_totals.inuse_count << " -> " << d.new_totals.inuse_count << " ("
      << signed_count(d.new_totals.inuse_count - d.base_totals.inuse_count) << ")\n";
  if (base.profile->mapped_tracked || now.profile->mapped_tracked) {
    const Counts &mb = base.profile->mapped_totals, &mn = now.profile->mapped_totals;
    out << "mapped " << format_size(mb.inuse_bytes) << " -> " << format_size(mn.inuse_bytes) << " ("
        << format_signed_size(mn.inuse_bytes - mb.inuse_bytes) << "), mappings " << mb.inuse_count << " -> "
        << mn.inuse_count << " (" << signed_count(mn.inuse_count - mb.inuse_count) << ")\n";
  }
  out << "sites: " << d.count[int(Change::New)] << " new, " << d.count[int(Change::Grown)]
      << " grown, " << d.count[int(Change::Shrunk)] << " shrunk, " << d.count[int(Change::Gone)]
      << " gone";
  if (d.sites.size() < d.total_sites) out << "; top " << d.sites.size() << " shown";
  out << "\n" << wrappers_line(now.wrappers) << "\n";
  out << pad_left("#", 4) << pad_left("delta", 13) << pad_left("blocks", 10) << pad_left("live", 12)
      << "  " << pad_right("change", 7) << "  where\n";
  const std::string indent(50, ' ');
  for (size_t i = 0; i < d.sites.size(); ++i) {
    const DiffSite& s = d.sites[i];
    out << pad_left(std::to_string(i + 1), 4) << pad_left(format_signed_size(s.delta_bytes), 13)
        << pad_left(signed_count(s.delta_count), 10)
        << pad_left(format_size(s.site.counts.inuse_bytes), 12) << "  "
        << pad_right(change_name(s.change), 7) << "  " << where(s.site) << "\n";
    site_details(out, s.site, indent);
  }
  if (d.sites.empty()) out << "  (no site changed)\n";
}

void render_trend_text(std::ostream& out, const TrendResult& t) {
  double span = t.times_s.empty() ? 0 : t.times_s.back();
  out << "heapscope trend: " << t.order.size() << " snapshots";
  if (t.time_basis != "file order") out << fmt(" over %.1f s", span) << " (by " << t.time_basis << ")";
  else out << " (in the order given)";
  out << "\n";
  for (size_t i = 0; i < t.order.size(); ++i)
    out << "  " << (i + 1) << ". " << t.order[i]->path
        << (t.time_basis != "file order" ? fmt("  at +%.1f s", t.times_s[i]) : std::string())
        << "  live " << format_size(t.order[i]->totals.inuse_bytes)
        << (t.order[i]->mapped_tracked ? "  mapped " + format_size(t.order[i]->mapped_totals.inuse_bytes) : "")
        << "\n";
  size_t suspects = 0;
  for (const auto& s : t.sites) suspects += s.suspect;
  out << "newest: " << totals_line(t.totals) << (t.order.empty() ? "" : mapped_part(*t.order.back())) << "\n";
  memory_trend_lines(out, t);
  out << suspects << " leak suspect" << (suspects == 1 ? "" : "s") << " among " << t.total_sites
      << " sites";
  if (t.sites.size() < t.total_sites) out << "; top " << t.sites.size() << " shown";
  out << "\n" << wrappers_line(t.wrappers) << "\n";
  bool timed = t.time_basis != "file order";
  out << pad_left("#", 4) << (timed ? pad_left("slope/s", 13) : "") << pad_left("slope/snap", 13)
      << pad_left("r2", 6)
      << pad_left("monotone", 10) << pad_left("live", 12) << pad_left("delta", 13) << "  where\n";
  const std::string indent(timed ? 73 : 60, ' ');
  for (size_t i = 0; i < t.sites.size(); ++i) {
    const TrendSite& s = t.sites[i];
    out << pad_left(std::to_string(i + 1), 4)
        << (timed ? pad_left(format_signed_size(int64_t(std::llround(s.slope_bytes_per_s))), 13)
                  : "")
        << pad_left(format_signed_size(int64_t(std::llround(s.slope_bytes_per_snapshot))), 13)
        << pad_left(fmt("%.2f", s.r2), 6) << pad_left(fmt("%.0f%%", s.monotonic * 100), 10)
        << pad_left(format_size(s.site.counts.inuse_bytes), 12)
        << pad_left(format_signed_size(s.delta_bytes), 13) << "  "
        << (s.suspect ? (s.site.mapped ? "mmap leak suspect: " : "leak suspect: ") : "") << where(s.site) << "\n";
    site_details(out, s.site, indent);
  }
}

}  // namespace heapscope
