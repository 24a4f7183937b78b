// cmd_report.cpp -- `heapscope report SNAP [--top N] [--json]`: the sites
// holding the most live memory. Thin: read, symbolize, rank, render.
#include <iostream>
#include <memory>

#include "analyze/report.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/json.h"
#include "render/text.h"

namespace heapscope {
namespace {

struct ReportOptions {
  std::string snap;
  int top = 20;
  bool json = false;
  std::vector<std::string> alloc_fns;
};

void add_report(CLI::App& app) {
  auto opt = std::make_shared<ReportOptions>();
  CLI::App* sub = app.add_subcommand(
      "report",
      "The allocation sites holding the most live memory in one snapshot (or a gperftools / "
      "jemalloc heap profile): live and cumulative bytes and blocks, the line in your code, the "
      "container, a short stack.");
  sub->add_option("SNAP", opt->snap, "Snapshot file (.hsnap, gperftools or jemalloc heap profile)")
      ->required();
  add_top_option(sub, opt->top, 20);
  add_alloc_fn_option(sub, opt->alloc_fns);
  sub->add_flag("--json", opt->json, "Print JSON (see the README for the shape)");
  sub->callback([opt] {
    Profile p = read_profile(opt->snap);
    SymbolizedProfile sp = symbolize_profile(p, /*with_frames=*/false,
                                  parse_alloc_fns(opt->alloc_fns));
    ReportResult r = make_report(sp, size_t(opt->top));
    print_notes(sp.notes);
    if (opt->json) std::cout << json_text(report_json(sp, r)) << "\n";
    else render_report_text(std::cout, sp, r);
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(30, "report", heapscope::add_report);
