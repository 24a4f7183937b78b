// regex_option.h -- a regular expression given on the command line
// (--ignore, --alloc-fn), compiled once with one set of rules and errors.
// Ordinary tool code: may allocate, not for the profiler.
#pragma once
#include <regex>
#include <string>

namespace heapscope {
// `value` compiled as an ECMAScript regex for option `name` ("--ignore").
// Throws std::invalid_argument, one line naming the option, the value and
// what was expected (`expected`, e.g. "an ECMAScript regex such as
// 'LruCache::put'"), for an empty pattern (it matches everything: an
// --ignore '' would wave every leak through) and for one that does not
// compile: "--ignore '(': not a regular expression (WHY; expected ...)".
std::regex compile_regex_option(const std::string& name, const std::string& value, const std::string& expected);
}  // namespace heapscope
