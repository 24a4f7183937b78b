// top.cpp -- see top.h.
#include "render/top.h"

#include <cstdio>

#include "render/text.h"

namespace heapscope {
namespace {

std::string pad_left(const std::string& s, size_t w) { return s.size() >= w ? s : std::string(w - s.size(), ' ') + s; }

// Cut to cols characters (UTF-8 aware: never inside a character).
std::string cut(const std::string& s, size_t cols) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (chars++ == cols) return s.substr(0, i);
  }
  return s;
}

std::string seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f s", double(ns) / 1e9);
  return buf;
}

}  // namespace

std::vector<std::string> top_lines(const LiveSeries& series, const TopHeader& h, size_t cols, size_t rows) {
  std::vector<std::string> out;
  char every[32];
  std::snprintf(every, sizeof every, "%g", h.every_s);
  out.push_back("heapscope top: " + h.process + "  (every " + every + " s, q quits)");
  if (series.count() == 0) {
    out.push_back(h.status.empty() ? "waiting for the first snapshot..." : h.status);
  } else {
    const Profile& now = series.latest();
    const Profile& first = series.first();
    const Counts& t = series.live().totals;
    std::string line = "live " + format_size(t.inuse_bytes) + " in " + std::to_string(t.inuse_count) + " blocks (" +
                       format_signed_size(t.inuse_bytes - first.totals.inuse_bytes) + " since the view started";
    if (now.uptime_ns >= first.uptime_ns && series.count() > 1) line += ", " + seconds(now.uptime_ns - first.uptime_ns) + " ago";
    line += "); allocated " + format_size(t.alloc_bytes) + "; RSS " + (h.rss ? format_size(int64_t(*h.rss)) : "n/a");
    out.push_back(line);
    out.push_back("snapshot " + std::to_string(series.count()) + ": " + now.path);
    if (!h.status.empty()) out.push_back(h.status);
    out.push_back("");
    // Rows left: two tables, each a title and a column line, then sites.
    size_t used = out.size() + 5;  // 2 titles, 2 column lines, 1 blank between
    size_t left = rows > used ? rows - used : 0;
    size_t live_rows = (left + 1) / 2, growth_rows = left / 2;
    out.push_back("top sites by live bytes");
    out.push_back(pad_left("live", 12) + pad_left("blocks", 10) + "  where");
    size_t n = 0;
    for (const auto& s : series.live().sites) {
      if (n++ == live_rows || s.counts.inuse_bytes <= 0) break;
      std::string where = site_where(s) + (s.container.empty() ? "" : "  [" + s.container + "]");
      out.push_back(pad_left(format_size(s.counts.inuse_bytes), 12) + pad_left(std::to_string(s.counts.inuse_count), 10) +
                    "  " + where);
    }
    out.push_back("");
    out.push_back("top sites by growth since the view started");
    out.push_back(pad_left("growth", 12) + pad_left("live", 12) + "  where");
    n = 0;
    for (const auto& d : series.growth().sites) {
      if (d.delta_bytes <= 0 || n++ == growth_rows) break;
      std::string where = site_where(d.site) + (d.site.container.empty() ? "" : "  [" + d.site.container + "]");
      out.push_back(pad_left(format_signed_size(d.delta_bytes), 12) + pad_left(format_size(d.site.counts.inuse_bytes), 12) +
                    "  " + where);
    }
    if (n == 0) out.push_back(series.count() == 1 ? "  (one snapshot so far)" : "  (no site grew)");
  }
  if (out.size() > rows) out.resize(rows);
  for (auto& l : out) l = cut(l, cols);
  return out;
}

std::string ansi_frame(const std::vector<std::string>& lines) {
  std::string s = "\x1b[H";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) s += "\x1b[1m" + lines[i] + "\x1b[0m";
    else s += lines[i];
    s += "\x1b[K";
    if (i + 1 < lines.size()) s += "\r\n";
  }
  s += "\x1b[J";
  return s;
}

}  // namespace heapscope
