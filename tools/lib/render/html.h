// html.h -- `heapscope html`: one self-contained HTML report (no network, no
// server; opens from file://). The data is one embedded JSON document
// (html_data), the page's script and style and Chart.js are embedded
// (html_assets.h); the page draws the timeline, the leak suspects table with
// sparklines, the flame graphs of a snapshot and of the growth between two,
// and a site's stack with the source lines around its origin.
//
// The JSON keeps every name once: "strings" (a table), "frames" (6 numbers
// per frame: function, short name, file, line, module, inlined; names as
// string indices, -1 for none),
// "nodes" (the call tree, outermost frame first: 2 numbers per node, parent
// node or -1 and frame), "sites" (4 numbers per site: its innermost node, the
// origin's index in the stack innermost first or -1, container string or -1,
// mapped 0/1), and per snapshot "values" (pairs: site index as the gap from
// the previous pair's, live bytes; sites with no live bytes left out). See
// docs/html.md.
//
// Owns: the report's data model and the page around it. No file I/O: the
// caller reads the source lines (html_source_requests says which) and writes
// the file. Pure functions; not thread-safe (interned frames are shared).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analyze/sites.h"
#include "analyze/trend.h"

namespace heapscope {

// A few lines of a source file, read at report time.
struct SourceSnippet {
  std::string file;
  int line = 0;                    // the line asked for
  int first_line = 0;              // the line number of lines[0]
  std::vector<std::string> lines;  // first_line, first_line + 1, ...
};

struct HtmlInput {
  std::string title;                              // e.g. the first and last files
  std::vector<const SymbolizedProfile*> snapshots;  // timeline order
  std::vector<double> times_s;                    // per snapshot, seconds from the first
  std::string time_basis;                         // "uptime", "wall clock", "file order"
  const TrendResult* trend = nullptr;             // null when fewer than 3 snapshots
  std::vector<std::string> notes;
  std::vector<Wrapper> wrappers;
  std::vector<SourceSnippet> sources;             // from html_source_requests, read by the caller
};

// Snapshots in timeline order (exit snapshots left out when a trend is made).
// With a trend, its order and times; otherwise the snapshots as given, by
// uptime when all of one process have it, else by index.
HtmlInput html_input(const std::vector<const SymbolizedProfile*>& snapshots, const TrendResult* trend);

// The (file, line) pairs whose source the report shows: the origins of the
// suspects table's sites and of the sites with the most live bytes, at most
// `max` distinct, in order of importance.
std::vector<std::pair<std::string, int>> html_source_requests(const HtmlInput& in, size_t max = 300);

nlohmann::json html_data(const HtmlInput& in);
std::string render_html(const HtmlInput& in);

}  // namespace heapscope
