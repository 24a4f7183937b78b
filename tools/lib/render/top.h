// top.h -- one screen of `heapscope top`: the process, its totals and RSS, the
// top sites by live bytes and by growth since the view started, laid out for
// a terminal of COLS x ROWS (every line cut to COLS characters, the two
// tables sharing the rows left under the header).
// Owns: the screen's text, and the plain ANSI around it (cursor home, clear
// to end of line and of screen, bold header). Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "analyze/live.h"

namespace heapscope {

struct TopHeader {
  std::string process;          // "pid 4242: build/demo/leaky_server --port 3000"
  double every_s = 2;
  std::optional<uint64_t> rss;  // from /proc, when readable
  std::string status;           // a line under the header (the last refresh's problem), "" for none
};

// Plain lines (no escapes), at most rows of them, each at most cols characters.
std::vector<std::string> top_lines(const LiveSeries& series, const TopHeader& header, size_t cols, size_t rows);

// The lines as one terminal frame: home, each line then clear-to-end, clear
// below; the first line bold.
std::string ansi_frame(const std::vector<std::string>& lines);

}  // namespace heapscope
