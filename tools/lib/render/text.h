// text.h -- human-readable output of report, diff and trend: aligned columns,
// sizes in B/KiB/MiB/GiB, per site the origin (function file:line), the
// container and a short stack. Module names are shown as basenames.
// Pure functions writing to a stream; thread-safe.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "analyze/diff.h"
#include "analyze/report.h"
#include "analyze/trend.h"

namespace heapscope {

std::string format_size(int64_t bytes);         // "512 B", "1.5 KiB", "12.0 MiB"
std::string format_signed_size(int64_t bytes);  // "+1.5 KiB", "-512 B", "0 B"
std::string short_function(const std::string& function);  // drops arguments and long template lists
std::string frame_location(const Frame& frame);           // "file.cpp:42" / "libfoo.so+0x1234"
// The site's where column: its origin "function  file:line" ("[mmap] " first for a mapped site).
std::string site_where(const SiteView& s);

// "allocation wrappers (not origins): xmalloc (3 callers), xrealloc (--alloc-fn x.*, 1 caller)"
// and a newline; nothing when there are none.
std::string wrappers_line(const std::vector<Wrapper>& wrappers);

void render_report_text(std::ostream& out, const SymbolizedProfile& profile, const ReportResult& r);
void render_diff_text(std::ostream& out, const SymbolizedProfile& base,
                      const SymbolizedProfile& now, const DiffResult& d);
void render_trend_text(std::ostream& out, const TrendResult& t);

}  // namespace heapscope
