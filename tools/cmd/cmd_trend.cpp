// cmd_trend.cpp -- `heapscope trend SNAP SNAP SNAP... [--top N] [--json]`:
// leak suspects from three or more snapshots (exit snapshots left out).
#include <algorithm>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "analyze/trend.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/json.h"
#include "render/text.h"

namespace heapscope {
namespace {

struct TrendOptions {
  std::vector<std::string> snaps;
  int top = 20;
  bool json = false;
  std::vector<std::string> alloc_fns;
};

void add_trend(CLI::App& app) {
  auto opt = std::make_shared<TrendOptions>();
  CLI::App* sub = app.add_subcommand(
      "trend",
      "Leak suspects from three or more snapshots of one run: sites whose live bytes keep "
      "rising, ranked by slope and steadiness (least squares over time, r2, fraction of rising "
      "steps); churn that is freed again ranks low. Exit snapshots are left out.");
  sub->add_option("SNAP", opt->snaps, "Snapshots, three or more (sorted by time if needed)")
      ->required();
  add_top_option(sub, opt->top, 20);
  add_alloc_fn_option(sub, opt->alloc_fns);
  sub->add_flag("--json", opt->json, "Print JSON (totals are the newest snapshot's)");
  sub->callback([opt] {
    if (opt->snaps.size() < 3)
      throw CommandError("trend needs at least 3 snapshots, " + std::to_string(opt->snaps.size()) +
                         " given" + (opt->snaps.empty() ? "" : " (" + [&] {
                           std::string s;
                           for (const auto& f : opt->snaps) s += (s.empty() ? "" : ", ") + f;
                           return s;
                         }() + ")"),
                         2);
    std::vector<Profile> profiles;
    for (const auto& f : opt->snaps) profiles.push_back(read_profile(f));
    std::vector<SymbolizedProfile> sp = symbolize_profiles(profiles, /*with_frames=*/false,
                                  parse_alloc_fns(opt->alloc_fns));
    std::vector<const SymbolizedProfile*> inputs;
    for (const auto& s : sp) inputs.push_back(&s);
    TrendResult t;
    try {
      t = make_trend(inputs, size_t(opt->top));
    } catch (const std::invalid_argument& e) {
      throw CommandError(e.what(), 2);  // the inputs cannot make a trend, as with too few files
    }
    for (const auto& s : sp)
      if (!s.profile->is_exit()) t.notes.insert(t.notes.end(), s.notes.begin(), s.notes.end());
    std::vector<std::string> notes;
    for (const auto& n : t.notes)
      if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
    t.notes = notes;
    print_notes(t.notes);
    if (opt->json) std::cout << json_text(trend_json(t)) << "\n";
    else render_trend_text(std::cout, t);
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(50, "trend", heapscope::add_trend);
