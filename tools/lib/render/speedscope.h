// speedscope.h -- speedscope's JSON file format
// (https://www.speedscope.app/file-format-schema.json): shared.frames and one
// "sampled" profile in bytes whose samples are stacks of frame indices,
// outermost first, weighted by inuse bytes (growth with a base).
//
// Owns: the speedscope document. Pure function.
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

// name: the profile's title in speedscope (usually the snapshot path).
std::string render_speedscope(const FlameData& data, const std::string& name);

}  // namespace heapscope
