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
#include <cstdint>
#include <string>
#include <vector>

#include "analyze/wrappers.h"
#include "model/profile.h"
#include "symbolize/symbolizer.h"
#include "util/shared_value.h"

namespace heapscope {

// Frames are interned in one process-wide table (thread-safe): a site holds
// frame ids, and its `frames` vector is filled on demand (fill_frames), since
// copying every frame of 100k deep stacks costs more than symbolizing them.
const Frame& interned_frame(uint32_t id);
// Facts computed once per interned frame (origin.h's rules).
bool interned_is_system(uint32_t id);           // is_system_frame
bool interned_is_alloc_entry(uint32_t id);      // is_alloc_entry_frame
const std::string& interned_container(uint32_t id);  // container_of_function
const std::string& interned_qualified(uint32_t id);  // qualified_name of the function

struct SiteView {
  Counts counts;
  // Innermost first, inlined frames expanded. Filled by symbolize_profile
  // when asked (with_frames), by make_report/make_diff/make_trend for the
  // sites they return, or by fill_frames(); empty otherwise.
  std::vector<Frame> frames;
  int origin = -1;            // index (into frame_ids / frames) of the origin; -1 if none
                              // (allocation wrappers skipped, see wrappers.h)
  std::string container;      // "std::map<long, CacheEntry>", "" when none
  bool truncated = false;     // stack was cut at the depth limit
  bool mapped = false;        // kind "mapped" (Site::mapped): mmap'd bytes and ranges, not heap
  std::vector<size_t> site_indices;  // which Profile::sites were merged here
  // Identity across files: the frames' function/file/line/inlined (frames
  // without symbols by module basename + rel_address), as interned frame ids.
  // Equal keys = the same call path, whatever the load addresses. A mapped
  // site's key ends in a marker id (UINT32_MAX): it never merges with a heap site.
  // The three are shared (util/shared_value.h): symbolize_profiles gives a
  // stack met in several profiles one copy of them for all.
  SharedValue<std::string> key;
  SharedValue<std::vector<uint32_t>> frame_ids;        // innermost first
  SharedValue<std::vector<uint64_t>> frame_addresses;  // the raw return address of each frame

  size_t depth() const { return frame_ids.size(); }
  const Frame& frame(size_t i) const { return interned_frame(frame_ids[i]); }
  const Frame* origin_frame() const {
    return origin >= 0 && size_t(origin) < frame_ids.size() ? &interned_frame(frame_ids[origin])
                                                             : nullptr;
  }
};

// Fills s.frames from its frame ids (with this site's raw addresses).
void fill_frames(SiteView& s);

struct SymbolizedProfile {
  const Profile* profile = nullptr;
  std::vector<SiteView> sites;     // one per distinct key, figures summed; file order
  std::vector<std::string> notes;  // for stderr / JSON "notes"; never silent
  std::vector<Wrapper> wrappers;   // allocation wrappers skipped for origins (wrappers.h)
  DebuginfodStatus debuginfod;     // what debuginfod fetched or lacked (report's line and key)
};

// Symbolizes every site of `profile` (which must outlive the result), merges
// sites with equal keys, finds origin and container (allocation wrappers
// detected in this profile and those alloc_fns names skipped), and collects
// notes (profile_notes() plus the symbolizer's problems()). with_frames: also
// fill every SiteView::frames (the analyses fill them for what they return).
SymbolizedProfile symbolize_profile(const Profile& profile, Symbolizer& symbolizer,
                                    bool with_frames = true, const AllocFns& alloc_fns = {});

// Convenience: a Symbolizer for the profile, used once.
SymbolizedProfile symbolize_profile(const Profile& profile, bool with_frames = true,
                                    const AllocFns& alloc_fns = {});

// Symbolizes several profiles; profiles of the same process with the same
// modules at the same addresses share one Symbolizer (and its caches).
// Wrappers are detected across all of them, so a site's origin is the same
// in each.
std::vector<SymbolizedProfile> symbolize_profiles(const std::vector<Profile>& profiles,
                                                  bool with_frames = true,
                                                  const AllocFns& alloc_fns = {});

// The two profiles have the same modules at the same addresses (paths,
// build-ids, load biases, ranges): one Symbolizer serves both.
bool same_modules(const Profile& a, const Profile& b);

// Notes about the profile itself: sampled estimates, dropped events, unwind
// failures, truncated stacks, a full stack table... each prefixed with the file.
std::vector<std::string> profile_notes(const Profile& profile);

// The key for a list of frames (see SiteView::key); interns them.
std::string site_key(const std::vector<Frame>& frames);

}  // namespace heapscope
