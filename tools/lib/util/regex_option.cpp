// regex_option.cpp -- see regex_option.h.
#include "util/regex_option.h"

#include <stdexcept>

namespace heapscope {
std::regex compile_regex_option(const std::string& name, const std::string& value, const std::string& expected) {
  if (value.empty())
    throw std::invalid_argument(name + " '': empty pattern (it matches everything; expected " + expected + ")");
  try {
    return std::regex(value, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    throw std::invalid_argument(name + " '" + value + "': not a regular expression (" + e.what() + "; expected " +
                                expected + ")");
  }
}
}  // namespace heapscope
