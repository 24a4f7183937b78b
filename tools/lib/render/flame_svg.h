// flame_svg.h -- a self-contained interactive flame graph in one SVG file:
// inline CSS and JavaScript, no network. Hover shows the frame's name, bytes
// and percent of the total; click zooms into a frame; "Reset zoom" undoes it.
// Frames are coloured by kind: the program's own code (warm), the C++
// standard library (blue), libc / loader / allocators (grey-yellow),
// unresolved addresses (grey). The title carries the totals.
//
// Owns: the SVG document. Pure function; output is well-formed XML for any
// input (names are escaped and made valid UTF-8); frames narrower than
// 1/20000 of the total are dropped to bound the file size.
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

// title: what the graph shows, e.g. "snap.hsnap" or "growth from A to B".
std::string render_flame_svg(const FlameData& data, const std::string& title);

// Text made valid UTF-8 (invalid bytes -> '?') and escaped for XML.
std::string xml_escape(const std::string& text);

}  // namespace heapscope
