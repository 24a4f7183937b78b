// cmd_diff.cpp -- `heapscope diff BASE NEW [--top N] [--json]`: sites ranked
// by growth from BASE to NEW, matched by symbolized stacks (not addresses).
#include <iostream>
#include <memory>

#include "analyze/diff.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/json.h"
#include "render/text.h"

namespace heapscope {
namespace {

struct DiffOptions {
  std::string base, now;
  int top = 20;
  bool json = false;
  std::vector<std::string> alloc_fns;
};

void add_diff(CLI::App& app) {
  auto opt = std::make_shared<DiffOptions>();
  CLI::App* sub = app.add_subcommand(
      "diff",
      "Sites ranked by growth of live memory from BASE to NEW: new, grown, shrunk and gone "
      "sites, and the totals. Answers \"what grew between these two moments\".");
  sub->add_option("BASE", opt->base, "The earlier snapshot")->required();
  sub->add_option("NEW", opt->now, "The later snapshot")->required();
  add_top_option(sub, opt->top, 20);
  add_alloc_fn_option(sub, opt->alloc_fns);
  sub->add_flag("--json", opt->json, "Print JSON (totals are NEW's)");
  sub->callback([opt] {
    std::vector<Profile> profiles;
    profiles.push_back(read_profile(opt->base));
    profiles.push_back(read_profile(opt->now));
    std::vector<SymbolizedProfile> sp = symbolize_profiles(profiles, /*with_frames=*/false,
                                  parse_alloc_fns(opt->alloc_fns));
    DiffResult d = make_diff(sp[0], sp[1], size_t(opt->top));
    std::vector<std::string> notes = sp[0].notes;
    notes.insert(notes.end(), sp[1].notes.begin(), sp[1].notes.end());
    print_notes(notes);
    if (opt->json) std::cout << json_text(diff_json(sp[0], sp[1], d)) << "\n";
    else render_diff_text(std::cout, sp[0], sp[1], d);
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(40, "diff", heapscope::add_diff);
