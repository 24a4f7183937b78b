// collapsed.h -- folded stacks for flamegraph.pl, inferno and friends:
// one line per distinct symbolized stack, "outer;...;inner BYTES", sorted.
//
// Owns: the collapsed text format. Values are inuse bytes; with a base, the
// growth (NEW minus BASE) of each stack that grew. Pure function.
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

std::string render_collapsed(const FlameData& data);

}  // namespace heapscope
