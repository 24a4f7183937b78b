// wrappers.cpp -- allocation wrappers: detection, --alloc-fn, origins with
// them skipped. See wrappers.h.
// Cost: one pass over the innermost frames of every site (up to the first
// frame of the program's own code) to detect, one over each site's frames up
// to its origin to choose it; per-frame facts (system, entry point, qualified
// name) come from the frame table, --alloc-fn matches are cached per frame.
#include "analyze/wrappers.h"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <unordered_map>

#include "analyze/origin.h"
#include "analyze/sites.h"
#include "util/regex_option.h"

namespace heapscope {

AllocFns::AllocFns(const std::vector<std::string>& patterns) {
  for (const auto& p : patterns)
    res_.emplace_back(p, compile_regex_option("--alloc-fn", p,
                                              "a regular expression matching a function name, e.g. xmalloc or "
                                              "'x(malloc|strdup)'"));
}

const std::string* AllocFns::match_name(const std::string& qualified) const {
  for (const auto& [text, re] : res_)
    if (std::regex_match(qualified, re)) return &text;
  return nullptr;
}

const std::string* AllocFns::match(const Frame& f) const {
  if (res_.empty() || !f.resolved) return nullptr;
  return match_name(qualified_name(f.function));
}

WrapperSet::WrapperSet(const std::vector<Wrapper>& wrappers, AllocFns alloc_fns)
    : fns_(std::move(alloc_fns)) {
  for (const auto& w : wrappers)
    if (w.alloc_fn.empty()) detected_.insert(w.function);
}

bool WrapperSet::skips(const Frame& f) const {
  if (!f.resolved || empty()) return false;
  std::string q = qualified_name(f.function);
  return detected_.count(q) || fns_.match_name(q);
}

int find_origin(const std::vector<Frame>& frames, const WrapperSet& wrappers) {
  return origin_index(
      frames.size(), [&](size_t i) { return is_system_frame(frames[i]); },
      [&](size_t i) { return wrappers.skips(frames[i]); });
}

namespace {

struct Seen {
  std::string file;
  std::unordered_set<std::string> callers;  // qualified names
  const std::string* pattern = nullptr;     // --alloc-fn, when it named this function
};

}  // namespace

void apply_wrappers(const std::vector<SymbolizedProfile*>& profiles, const AllocFns& alloc_fns) {
  // --alloc-fn matches, per frame id (nullptr: no match).
  std::unordered_map<uint32_t, const std::string*> named_cache;
  auto named = [&](uint32_t id) -> const std::string* {
    if (alloc_fns.empty()) return nullptr;
    auto it = named_cache.find(id);
    if (it != named_cache.end()) return it->second;
    const std::string* m =
        interned_frame(id).resolved ? alloc_fns.match_name(interned_qualified(id)) : nullptr;
    named_cache.emplace(id, m);
    return m;
  };
  auto caller_of = [](const SiteView& s, size_t k) -> const std::string* {
    if (k + 1 >= s.frame_ids.size()) return nullptr;
    const std::string& callee = interned_qualified(s.frame_ids[k]);
    const std::string& caller = interned_qualified(s.frame_ids[k + 1]);
    return caller == callee ? nullptr : &caller;  // recursion is no second caller
  };

  // 1. Candidates: the first frame of the program's own code when only
  // allocation entry points (or --alloc-fn functions) lie below it.
  std::map<std::string, Seen> candidates;
  for (SymbolizedProfile* p : profiles)
    for (const SiteView& s : p->sites) {
      size_t n = s.frame_ids.size(), k = 0;
      for (; k < n; ++k) {
        uint32_t id = s.frame_ids[k];
        if (named(id)) continue;
        if (!interned_is_system(id)) break;
        if (!interned_is_alloc_entry(id)) k = n;  // something else sits between
      }
      if (k >= n || !interned_frame(s.frame_ids[k]).resolved) continue;
      Seen& c = candidates[interned_qualified(s.frame_ids[k])];
      if (c.file.empty()) c.file = interned_frame(s.frame_ids[k]).file;
      if (const std::string* caller = caller_of(s, k)) c.callers.insert(*caller);
    }
  std::unordered_set<std::string> detected;
  for (const auto& [name, c] : candidates)
    if (c.callers.size() >= kWrapperMinCallers) detected.insert(name);

  // 2. Origins and containers with the wrappers skipped; the --alloc-fn
  // functions that were skipped somewhere, with their callers.
  std::map<std::string, Seen> skipped_named;
  for (SymbolizedProfile* p : profiles)
    for (SiteView& s : p->sites) {
      const std::vector<uint32_t>& ids = s.frame_ids;
      s.origin = origin_index(
          ids.size(), [&](size_t i) { return interned_is_system(ids[i]); },
          [&](size_t i) { return named(ids[i]) || detected.count(interned_qualified(ids[i])); });
      size_t end = s.origin < 0 ? ids.size() : size_t(s.origin);
      s.container.clear();
      for (size_t k = 0; k < end; ++k) {
        const std::string& c = interned_container(ids[k]);
        if (!c.empty()) s.container = c;
        if (const std::string* pattern = named(ids[k])) {
          Seen& w = skipped_named[interned_qualified(ids[k])];
          w.pattern = pattern;
          if (w.file.empty()) w.file = interned_frame(ids[k]).file;
          if (const std::string* caller = caller_of(s, k)) w.callers.insert(*caller);
        }
      }
    }

  std::vector<Wrapper> list;
  for (const auto& name : detected) {
    const Seen& c = candidates[name];
    list.push_back({name, c.file, c.callers.size(), ""});
  }
  std::sort(list.begin(), list.end(), [](const Wrapper& a, const Wrapper& b) {
    return a.callers != b.callers ? a.callers > b.callers : a.function < b.function;
  });
  for (const auto& [name, w] : skipped_named)
    if (!detected.count(name)) list.push_back({name, w.file, w.callers.size(), *w.pattern});
  for (SymbolizedProfile* p : profiles) p->wrappers = list;
}

}  // namespace heapscope
