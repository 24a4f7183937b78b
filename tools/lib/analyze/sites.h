// sites.h -- symbolized allocation sites: the common input of every analysis
// and renderer (report, diff, trend, export).
//
// Owns: turning a Profile's raw Sites into SiteViews (frames with inline
// frames expanded, the origin frame, the container), a stable identity key
// for matching sites across files (ASLR differs between runs), and the notes
// a reader of a profile must see (sampled estimates, profiler self-stats
// warnings, modules that could not be symbolized).
// Plain values; not thread-safe (the Symbolizer caches).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/profile.h"
#include "symbolize/symbolizer.h"

namespace heapscope {

struct SiteView {
  Counts counts;
  std::vector<Frame> frames;  // innermost first, inlined frames expanded
  int origin = -1;            // index into frames of the origin; -1 if none
  std::string container;      // "std::map<long, CacheEntry>", "" when none
  bool truncated = false;     // stack was cut at the depth limit
  std::vector<size_t> site_indices;  // which Profile::sites were merged here
  // Identity across files: the frames' function/file/line (unresolved frames
  // by module basename + rel_address). Equal keys = the same call path.
  std::string key;

  const Frame* origin_frame() const {
    return origin >= 0 && origin < static_cast<int>(frames.size()) ? &frames[origin] : nullptr;
  }
};

struct SymbolizedProfile {
  const Profile* profile = nullptr;
  std::vector<SiteView> sites;     // one per distinct key, figures summed; file order
  std::vector<std::string> notes;  // for stderr / JSON "notes"; never silent
};

// Symbolizes every site of `profile` (which must outlive the result), merges
// sites with equal keys, finds origin and container, and collects notes
// (profile_notes() plus the symbolizer's problems()).
SymbolizedProfile symbolize_profile(const Profile& profile, Symbolizer& symbolizer);

// Convenience: a Symbolizer for the profile, used once.
SymbolizedProfile symbolize_profile(const Profile& profile);

// Symbolizes several profiles; profiles of the same process with the same
// modules at the same addresses share one Symbolizer (and its caches).
std::vector<SymbolizedProfile> symbolize_profiles(const std::vector<Profile>& profiles);

// Notes about the profile itself: sampled estimates, dropped events, unwind
// failures, truncated stacks, a full stack table... each prefixed with the file.
std::vector<std::string> profile_notes(const Profile& profile);

// The key for a list of frames (see SiteView::key).
std::string site_key(const std::vector<Frame>& frames);

}  // namespace heapscope
