// heapprofile.h -- Chrome DevTools' sampling heap profile (the `.heapprofile`
// files `node --heap-prof` writes; Protocol HeapProfiler.SamplingHeapProfile):
//   {"head": Node, "samples": [{"size", "nodeId", "ordinal"}]}
//   Node = {"callFrame": {"functionName", "scriptId", "url", "lineNumber",
//           "columnNumber"}, "selfSize", "id", "children": [Node...]}
// DevTools' Memory panel loads it (Load..., by the .heapprofile extension) and
// speedscope imports it as a Chrome heap profile.
//
// Owns: the .heapprofile document. The tree is the folded stacks
// (fold_flame(..., FoldBy::location)) as a call tree under "(root)":
// functionName the frame's name as the other flame exports name it (inline
// frames are nodes of their own, the [mmap] root of mapped sites too), url its
// source file (the module's path when no line table covers it), lineNumber
// the 0-based line (-1 unknown), columnNumber -1, scriptId one number per
// module ("0": no module). selfSize is the live bytes (growth with a base) of
// the stack that ends at the node; one sample per stack (size its bytes,
// nodeId its last node, ordinal 1, 2, ... in stack order), so the samples sum
// to the same total as the tree.
// Pure function; output proportional to the input; no recursion (the tree is
// written with an explicit stack, however deep).
#pragma once

#include <string>

#include "render/stacks.h"

namespace heapscope {

// data: fold_flame(..., FoldBy::location) (FoldBy::name works too, but then
// two lines of one function share a node and the first one's line).
std::string render_heapprofile(const FlameData& data);

}  // namespace heapscope
