// collapsed.cpp -- FlameData -> "a;b;c 123\n" lines (see collapsed.h).
// Safety: output proportional to the input; no recursion.
#include "render/collapsed.h"

namespace heapscope {

std::string render_collapsed(const FlameData& data) {
  std::string out;
  for (const auto& s : data.stacks) {
    for (size_t i = 0; i < s.frames.size(); ++i) {
      if (i) out += ';';
      out += s.frames[i].name;
    }
    if (s.frames.empty()) out += "[no stack]";
    out += ' ';
    out += std::to_string(s.value);
    out += '\n';
  }
  return out;
}

}  // namespace heapscope
