// stacks.h -- what the export renderers (pprof, collapsed, speedscope, svg)
// consume: a profile plus a way to turn one raw pc into symbolized frames, and
// the folding of a profile (optionally minus a base) into named stacks.
//
// Owns: the export-side view of a profile, the differential ("NEW minus BASE
// per symbolized stack") arithmetic, and the frame kind used for colouring.
// Renderers never open files or symbolize themselves; the caller (cmd_export,
// or a test with a fake lookup) provides FrameLookup. Plain values; not
// thread-safe (the lookup usually wraps a caching Symbolizer).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/profile.h"
#include "symbolize/symbolizer.h"

namespace heapscope {

// Frames for one raw return address, innermost (most inlined) first; never empty.
using FrameLookup = std::function<const std::vector<Frame>&(uint64_t pc)>;

struct ExportInput {
  const Profile* profile = nullptr;
  FrameLookup lookup;
};

// Wraps a Symbolizer (which must outlive the lookup).
FrameLookup symbolizer_lookup(Symbolizer& symbolizer);

// Who wrote the code of a frame, for colouring flame graphs.
enum class FrameKind { user, std_lib, system, unknown };
FrameKind frame_kind(const Frame& frame);

struct FlameFrame {
  std::string name;  // function name (one line, no ';'), "0x..." when unresolved
  FrameKind kind = FrameKind::unknown;
  // Where the frame is, for formats that carry it (.heapprofile): the source
  // file ("" unknown), its 1-based line (0 unknown), the module's path (""
  // for an address in no module, and for the [mmap] root), inlined or not.
  std::string file;
  int line = 0;
  std::string module;
  bool inlined = false;
};

// One folded stack: frames outermost first, and its value in bytes.
struct FlameStack {
  std::vector<FlameFrame> frames;
  int64_t value = 0;
};

struct FlameData {
  std::vector<FlameStack> stacks;  // sorted by frame names, distinct, value > 0
  int64_t total = 0;               // sum of values
  int64_t shrunk = 0;              // differential only: bytes of stacks that shrank (<= 0)
  bool differential = false;
};

// What makes two stacks the same stack: the frames' names (collapsed,
// speedscope, svg: one line per name path), or names plus file and line
// (.heapprofile, whose nodes carry the line: two call sites of one function
// stay apart).
enum class FoldBy { name, location };

// Folds inuse bytes per symbolized stack (inline frames expanded, outermost
// first). With base, the value is NEW minus BASE per stack and only growing
// stacks are kept (flame graphs cannot draw negative widths); the shrinkage
// is summed in `shrunk`.
FlameData fold_flame(const ExportInput& now, const ExportInput* base, FoldBy by = FoldBy::name);

// The stack's frames innermost first with inline frames expanded.
std::vector<Frame> expand_stack(const ExportInput& in, const std::vector<uint64_t>& pcs);

// Identity of a symbolized stack across runs (function, file, line of each
// frame; unresolved frames by module basename and relative address).
std::string stack_key(const std::vector<Frame>& frames);

// Counts arithmetic that saturates instead of overflowing (hostile inputs).
int64_t sat_add(int64_t a, int64_t b);
int64_t sat_sub(int64_t a, int64_t b);

}  // namespace heapscope
