// strings.h -- the small string helpers every stage of the tool shares
// (reader, symbolizer, analyses, renderers), so each rule lives once.
// Pure functions, no allocation beyond the returned string; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace heapscope {

// "/usr/lib/libc.so.6" -> "libc.so.6"; a name without '/' is returned as is.
inline std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace heapscope
