// wrappers.h -- the program's own allocation wrappers (git's xmalloc and
// xstrdup, redis's zmalloc, sqlite3Malloc): found from the stacks, or named
// with --alloc-fn, and skipped when choosing a site's origin, so the origin
// is the code that called the wrapper.
//
// Owns: the detection rule, the --alloc-fn patterns, and re-deriving every
// site's origin (origin.h's origin_index) and container once the wrappers of
// the profiles read together are known.
// Detection: a function of the program's own code (a resolved frame that is
// not system code, origin.h) is a wrapper when, in some stack, every frame
// below it is an allocation entry point (is_alloc_entry_frame, or a function
// --alloc-fn names), i.e. nothing else sits between it and the allocator, and
// across all stacks of the profiles read together it is called from at least
// kWrapperMinCallers distinct functions other than itself (recursion is no
// second caller). A function that allocates through a std:: container or
// make_shared is never detected: its frames below are templates, not entry
// points. Wrappers of wrappers are not followed; --alloc-fn names them.
// Identity is the qualified name (qualified_name(): overloads are one).
// Pure; AllocFns and WrapperSet are immutable once built, safe to share
// between threads.
#pragma once

#include <cstddef>
#include <regex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "symbolize/symbolizer.h"

namespace heapscope {

struct SymbolizedProfile;

// Distinct calling functions that make a function a detected wrapper.
constexpr size_t kWrapperMinCallers = 2;

// --alloc-fn REGEX (repeatable): functions to treat as allocation wrappers.
// A pattern (ECMAScript syntax) must match a frame's whole qualified name,
// without argument list: "xmalloc", "x(malloc|realloc|strdup)", "my::Pool::get".
class AllocFns {
 public:
  AllocFns() = default;
  // Throws std::invalid_argument naming the pattern and what is wrong.
  explicit AllocFns(const std::vector<std::string>& patterns);
  bool empty() const { return res_.empty(); }
  // The first pattern that matches f's qualified name whole, or nullptr.
  const std::string* match(const Frame& f) const;
  const std::string* match_name(const std::string& qualified) const;

 private:
  std::vector<std::pair<std::string, std::regex>> res_;
};

struct Wrapper {
  std::string function;  // qualified name (no argument list)
  std::string file;      // its source file, "" when unknown
  size_t callers = 0;    // distinct functions seen calling it
  std::string alloc_fn;  // the --alloc-fn pattern that named it; "" when detected
};

// The wrappers in force for a set of profiles: the detected ones by name and
// the --alloc-fn patterns.
class WrapperSet {
 public:
  WrapperSet() = default;
  WrapperSet(const std::vector<Wrapper>& wrappers, AllocFns alloc_fns);
  // True when f is a detected wrapper or matches an --alloc-fn pattern.
  bool skips(const Frame& f) const;
  bool empty() const { return detected_.empty() && fns_.empty(); }

 private:
  std::unordered_set<std::string> detected_;  // qualified names
  AllocFns fns_;
};

// Detects the wrappers in every site of `profiles` (those read together: a
// diff's two, a trend's series), then sets every site's origin and container
// with them skipped and each profile's `wrappers` (detected ones first, by
// callers descending, then those --alloc-fn named that were skipped in some
// stack, each by name).
void apply_wrappers(const std::vector<SymbolizedProfile*>& profiles, const AllocFns& alloc_fns);

// The origin of a plain frame list (innermost first) with wrappers skipped.
int find_origin(const std::vector<Frame>& frames, const WrapperSet& wrappers);

}  // namespace heapscope
