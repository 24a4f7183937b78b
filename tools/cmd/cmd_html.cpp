// cmd_html.cpp -- `heapscope html SNAP... [-o report.html] [--top N] [--alloc-fn REGEX]`:
// one self-contained HTML report of a snapshot series (render/html.h): the
// timeline, the leak suspects as `trend` ranks them (3 or more snapshots),
// flame graphs of a snapshot and of the growth between two, stacks with the
// source lines around each origin (read here, when the file is readable now).
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "analyze/trend.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/html.h"
#include "render/html_assets.h"
#include "model/strings.h"
#include "render/text.h"
#include "util/file.h"

namespace heapscope {
namespace {

struct HtmlOptions {
  std::vector<std::string> snaps;
  std::string out = "report.html";
  int top = 500;
  std::vector<std::string> alloc_fns;
};

constexpr int kContext = 6;                 // lines either side of the origin
constexpr size_t kMaxLine = 240;            // characters kept of one line
constexpr off_t kMaxSource = 16 << 20;      // larger files are not read

// The lines around (file, line), or nothing when the file is not a readable
// regular file now (it may be on another machine): never a whole file.
bool read_snippet(const std::string& file, int line, SourceSnippet& out) {
  struct stat st{};
  if (stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxSource) return false;
  std::ifstream in(file);
  if (!in) return false;
  out.file = file;
  out.line = line;
  out.first_line = std::max(1, line - kContext);
  std::string text;
  for (int n = 1; std::getline(in, text) && n <= line + kContext; ++n) {
    if (n < out.first_line) continue;
    if (text.size() > kMaxLine) text = text.substr(0, kMaxLine) + "...";
    out.lines.push_back(text);
  }
  return int(out.lines.size()) > line - out.first_line;  // the line itself is there
}

void add_html(CLI::App& app) {
  auto opt = std::make_shared<HtmlOptions>();
  CLI::App* sub = app.add_subcommand(
      "html",
      "One self-contained HTML report of snapshots (no network; open the file in a browser): "
      "live heap, RSS and the allocator over time with the peak, the top sites stacked, the leak "
      "suspects as trend ranks them (3 or more snapshots) with a sparkline each, flame graphs of "
      "a snapshot and of the growth between two, and each site's stack with its source lines.");
  sub->add_option("SNAP", opt->snaps, "Snapshots of one run (sorted by time if needed)");
  sub->add_option("-o,--output", opt->out, "The HTML file to write")->capture_default_str();
  sub->add_option("--top", opt->top, "Rows of the leak suspects table kept in the file (0 = all sites)")
      ->check(number_check("a count of sites, 0 = all", false, /*integer=*/true))
      ->capture_default_str();
  add_alloc_fn_option(sub, opt->alloc_fns);
  sub->callback([opt] {
    if (!kChartJs[0])
      throw CommandError("html: this heapscope was built without Chart.js (expected "
                         "/usr/share/javascript/chart.js/chart.min.js at build time: install Debian's "
                         "libjs-chart.js and rebuild)");
    if (opt->snaps.empty())
      throw CommandError("html needs at least one snapshot (expected SNAP... ; see `heapscope html --help`)", 2);
    std::string problem = atomic_write_problem(opt->out);
    if (!problem.empty()) throw CommandError(problem, 2);
    AllocFns alloc_fns = parse_alloc_fns(opt->alloc_fns);
    std::vector<Profile> profiles;
    for (const auto& f : opt->snaps) profiles.push_back(read_profile(f));
    std::vector<SymbolizedProfile> sp = symbolize_profiles(profiles, /*with_frames=*/false, alloc_fns);
    std::vector<const SymbolizedProfile*> inputs;
    for (const auto& s : sp) inputs.push_back(&s);

    size_t usable = std::count_if(sp.begin(), sp.end(), [](auto& s) { return !s.profile->is_exit(); });
    std::unique_ptr<TrendResult> trend;
    std::vector<std::string> notes;
    if (usable >= 3) {
      trend = std::make_unique<TrendResult>();
      try {
        *trend = make_trend(inputs, size_t(opt->top));
      } catch (const std::invalid_argument& e) {
        throw CommandError(e.what(), 2);
      }
      notes = trend->notes;
    } else {
      notes.push_back("the leak suspects need 3 or more snapshots taken while the program ran; " +
                      std::to_string(usable) + " given");
    }
    for (const auto& s : sp)
      if (!(trend && s.profile->is_exit())) notes.insert(notes.end(), s.notes.begin(), s.notes.end());
    std::vector<std::string> distinct;
    for (const auto& n : notes)
      if (std::find(distinct.begin(), distinct.end(), n) == distinct.end()) distinct.push_back(n);

    HtmlInput in = html_input(inputs, trend.get());
    in.notes = distinct;
    in.title = basename_of(in.snapshots.front()->profile->path) +
               (in.snapshots.size() > 1 ? " .. " + basename_of(in.snapshots.back()->profile->path) : "");
    for (const auto& [file, line] : html_source_requests(in)) {
      SourceSnippet s;
      if (read_snippet(file, line, s)) in.sources.push_back(std::move(s));
    }
    print_notes(in.notes);
    std::string html = render_html(in);
    try {
      write_file_atomic(opt->out, html);
    } catch (const FileWriteError& e) {
      throw CommandError(e.what());
    }
    std::cerr << "heapscope: wrote " << opt->out << " (html, " << in.snapshots.size() << " snapshots, "
              << format_size(int64_t(html.size())) << "); open it in a browser\n";
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(75, "html", heapscope::add_html);
