// origin.h -- which frame is the program's own code, and which standard
// container made an allocation.
//
// Owns: the rules that classify a frame as system code (libc, the dynamic
// loader, the C++ runtime, allocators, the profiler, std:: templates, system
// headers), the origin (first frame, innermost first, that is not system
// code) and the container (the outermost std:: container frame between the
// allocation and the origin, spelled as a user writes the type:
// "std::map<long, CacheEntry>"). Pure functions over strings; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "symbolize/symbolizer.h"

namespace heapscope {

// True when the frame belongs to libc, the loader, libstdc++/libgcc, an
// allocator, the profiler, a std::/__gnu_cxx:: template, operator new/delete,
// malloc & co., or a file under /usr/include.
bool is_runtime_frame(const Frame& frame);

// is_runtime_frame(), or a library installed on the system (a module under
// /lib, /usr/lib...): not the program's own code either.
bool is_system_frame(const Frame& frame);

// When no frame is the program's own: the first frame that is not runtime
// (the library that allocated, e.g. httplib), or -1.
int find_library_frame(const std::vector<Frame>& frames);

// The one origin rule, over n frames innermost first: the first frame that
// is not system code and not skipped (an allocation wrapper, see
// wrappers.h); when every frame of the program's own code is skipped, the
// first of them; -1 when there is none. find_origin() and the analyses
// (sites.cpp, wrappers.cpp, the pprof export) all choose origins with it.
template <class IsSystem, class Skips>
int origin_index(size_t n, IsSystem&& is_system, Skips&& skips) {
  int own = -1;
  for (size_t i = 0; i < n; ++i) {
    if (is_system(i)) continue;
    if (!skips(i)) return int(i);
    if (own < 0) own = int(i);
  }
  return own;
}

// Index of the origin frame in frames (innermost first), or -1; no wrappers
// skipped (wrappers.h has the overload that skips them).
int find_origin(const std::vector<Frame>& frames);

// True for an allocation entry point: a runtime frame (is_runtime_frame)
// named malloc, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
// memalign, valloc, pvalloc, strdup, strndup, wcsdup, asprintf, vasprintf or
// operator new / new[] (glibc's "__GI___strdup" and "__libc_malloc"
// spellings too). Not the std:: templates that call them.
bool is_alloc_entry_frame(const Frame& frame);

// The C allocation entry points is_alloc_entry_frame() knows, by their plain
// names ("malloc", "strdup", ...; operator new is apart).
const std::vector<std::string>& alloc_entry_names();

// The container whose insertion allocated, from frames [0, origin) (all
// frames when origin < 0), or "" when none.
std::string find_container(const std::vector<Frame>& frames, int origin);

// Container type for one demangled function name ("std::_Rb_tree<long,
// std::pair<long const, V>, ...>::_M_emplace_unique<...>(...)" ->
// "std::map<long, V>"), or "" when the function is no container member.
std::string container_of_function(const std::string& function);

// The function's qualified name without return type and argument list:
// "void std::vector<int>::push_back(int const&)" -> "std::vector<int>::push_back".
std::string qualified_name(const std::string& function);

// Tidies a demangled type as a user writes it: drops default template
// arguments (std::less<K>, std::allocator<T>, std::hash<K>, std::equal_to<K>,
// std::char_traits<char>), "long int" -> "long", "long unsigned int" ->
// "unsigned long", std::__cxx11:: -> std::, basic_string<char> -> string.
std::string tidy_type(const std::string& type);

}  // namespace heapscope
