// origin.cpp -- system-frame rules, the origin frame and container naming.
// See origin.h. Pure string functions; thread-safe.
#include "analyze/origin.h"
#include "model/strings.h"

#include <array>
#include <regex>
#include <string_view>

namespace heapscope {
namespace {

// Index just past the '>' matching the '<' at open, or npos.
size_t match_angle(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '<') ++depth;
    else if (c == '>') {
      if (--depth == 0) return i + 1;
    } else if (c == '(' || c == '[' || c == '{') {
      // skip balanced brackets (lambda names, function types) as one unit
      char close = c == '(' ? ')' : c == '[' ? ']' : '}';
      int d = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == c) ++d;
        else if (s[i] == close && --d == 0) break;
      }
    }
  }
  return std::string_view::npos;
}

// Splits "a, b<c, d>, e" at top-level commas.
std::vector<std::string> split_args(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '<' || c == '(' || c == '[' || c == '{') ++depth;
    else if (c == '>' || c == ')' || c == ']' || c == '}') --depth;
    else if (c == ',' && depth == 0) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.emplace_back(s.substr(start));
  for (auto& a : out) {
    size_t b = a.find_first_not_of(' '), e = a.find_last_not_of(' ');
    a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
  }
  return out;
}

std::string qualified_name_of(std::string_view f) {
  // Cut the argument list: the last top-level '(' not part of "operator()".
  int depth = 0;
  size_t args = std::string_view::npos;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '<') {
      // "operator<" / "operator<<" are names, not template brackets.
      if (i >= 8 && f.substr(i - 8, 8) == "operator") continue;
      if (i >= 9 && f.substr(i - 9, 9) == "operator<") continue;
      ++depth;
    } else if (c == '>') {
      if (i >= 8 && f.substr(i - 8, 8) == "operator") continue;
      if (i >= 9 && (f.substr(i - 9, 9) == "operator-" || f.substr(i - 9, 9) == "operator>"))
        continue;
      --depth;
    } else if (c == '(' && depth == 0) {
      if (i >= 8 && f.substr(i - 8, 8) == "operator" && i + 1 < f.size() && f[i + 1] == ')') {
        ++i;
        continue;
      }
      std::string_view before = f.substr(0, i);
      if (before.size() >= 8 && (before.substr(before.size() - 8) == "decltype" ||
                                 (before.size() >= 9 && before.substr(before.size() - 9) == "decltype "))) {
        // a "decltype (...)" return type: skip it whole
        int d = 0;
        for (; i < f.size(); ++i) {
          if (f[i] == '(') ++d;
          else if (f[i] == ')' && --d == 0) break;
        }
        continue;
      }
      if (i + 1 < f.size() && (f.compare(i, 12, "(anonymous n") == 0 || f[i + 1] == '{')) {
        size_t close = f.find(')', i);
        if (close != std::string_view::npos) {
          i = close;
          continue;
        }
      }
      args = i;
      break;
    }
  }
  std::string_view name = f.substr(0, args);
  // Drop a return type: text before the last top-level space, unless that
  // space belongs to "operator new" and the like.
  depth = 0;
  size_t cut = 0;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '<' || c == '(' || c == '{' || c == '[') ++depth;
    else if (c == '>' || c == ')' || c == '}' || c == ']') --depth;
    else if (c == ' ' && depth == 0) {
      if (i >= 8 && name.substr(i - 8, 8) == "operator") continue;
      cut = i + 1;
    }
  }
  return std::string(name.substr(cut));
}

// Splits a qualified name at top-level "::".
std::vector<std::string> components(std::string_view q) {
  std::vector<std::string> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i + 1 < q.size(); ++i) {
    char c = q[i];
    if (c == '<' || c == '(' || c == '{' || c == '[') ++depth;
    else if (c == '>' || c == ')' || c == '}' || c == ']') --depth;
    else if (c == ':' && q[i + 1] == ':' && depth == 0) {
      out.emplace_back(q.substr(start, i - start));
      start = i + 2;
      ++i;
    }
  }
  out.emplace_back(q.substr(start));
  return out;
}

// "name<args>" -> name and its top-level template arguments.
void split_template(const std::string& comp, std::string& name, std::vector<std::string>& args) {
  args.clear();
  size_t lt = comp.find('<');
  if (lt == std::string::npos) {
    name = comp;
    return;
  }
  name = comp.substr(0, lt);
  size_t end = match_angle(comp, lt);
  if (end == std::string::npos) return;
  args = split_args(std::string_view(comp).substr(lt + 1, end - lt - 2));
}

// "std::pair<K const, V>" -> K, V.
bool pair_args(const std::string& t, std::string& k, std::string& v) {
  std::string name;
  std::vector<std::string> args;
  split_template(t, name, args);
  if ((name != "std::pair" && name != "pair") || args.size() != 2) return false;
  k = args[0];
  for (std::string_view suffix : {" const", "const "}) {
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
      k.erase(k.size() - suffix.size());
  }
  if (starts_with(k, "const ")) k.erase(0, 6);
  v = args[1];
  return true;
}

std::string std_type(const std::string& name, const std::vector<std::string>& args) {
  std::string out = "std::" + name + "<";
  for (size_t i = 0; i < args.size(); ++i) out += (i ? ", " : "") + args[i];
  return tidy_type(out + ">");
}

// Container for one class (or function-template) component in namespace std.
std::string container_for(const std::string& name, const std::vector<std::string>& args,
                          const std::string& method) {
  auto first = [&](size_t n) {
    return std::vector<std::string>(args.begin(), args.begin() + std::min(n, args.size()));
  };
  if (args.empty()) return "";
  if (name == "map" || name == "multimap" || name == "unordered_map" ||
      name == "unordered_multimap")
    return args.size() >= 2 ? std_type(name, first(2)) : "";
  if (name == "set" || name == "multiset" || name == "unordered_set" ||
      name == "unordered_multiset" || name == "vector" || name == "deque" || name == "list" ||
      name == "forward_list")
    return std_type(name, first(1));
  if (name == "_Vector_base") return std_type("vector", first(1));
  if (name == "_Deque_base") return std_type("deque", first(1));
  if (name == "_List_base") return std_type("list", first(1));
  if (name == "_Fwd_list_base") return std_type("forward_list", first(1));
  if (name == "basic_string") return std_type("basic_string", first(1));
  if (name == "_Rb_tree" && args.size() >= 3) {
    bool multi = method.find("_equal") != std::string::npos;
    std::string k, v;
    if (args[2].find("_Select1st") != std::string::npos && pair_args(args[1], k, v))
      return std_type(multi ? "multimap" : "map", {k, v});
    return std_type(multi ? "multiset" : "set", {args[0]});
  }
  if (name == "_Hashtable" && args.size() >= 4) {
    bool multi = method.find("multi") != std::string::npos;
    std::string k, v;
    if (args[3].find("_Select1st") != std::string::npos && pair_args(args[1], k, v))
      return std_type(multi ? "unordered_multimap" : "unordered_map", {k, v});
    return std_type(multi ? "unordered_multiset" : "unordered_set", {args[0]});
  }
  if ((name == "_Map_base" || name == "_Insert_base" || name == "_Insert") && args.size() >= 2) {
    std::string k, v;
    if (pair_args(args[1], k, v)) return std_type("unordered_map", {k, v});
    return std_type("unordered_set", {args[0]});
  }
  if (name == "_Hashtable_alloc") {
    // _Hashtable_alloc<std::allocator<std::__detail::_Hash_node<VALUE, bool> > >
    const std::string& a = args[0];
    size_t node = a.find("_Hash_node<");
    if (node == std::string::npos) return "";
    std::string inner = a.substr(node);
    std::string n;
    std::vector<std::string> nargs;
    split_template(inner, n, nargs);
    if (nargs.empty()) return "";
    std::string k, v;
    if (pair_args(nargs[0], k, v)) return std_type("unordered_map", {k, v});
    return std_type("unordered_set", {nargs[0]});
  }
  if (name == "_Sp_counted_ptr_inplace" || name == "shared_ptr" || name == "__shared_ptr" ||
      name == "make_shared" || name == "allocate_shared" || name == "__make_shared" ||
      name == "__allocate_shared")
    return std_type("shared_ptr", first(1));
  if (name == "function") return std_type("function", first(1));
  if (name == "_Base_manager" || name == "_Function_base") return "std::function";
  return "";
}

}  // namespace

std::string qualified_name(const std::string& function) { return qualified_name_of(function); }

std::string tidy_type(const std::string& type) {
  static const std::array<std::pair<std::regex, const char*>, 7> words = {{
      {std::regex(R"(\blong long unsigned int\b)"), "unsigned long long"},
      {std::regex(R"(\blong long int\b)"), "long long"},
      {std::regex(R"(\blong unsigned int\b)"), "unsigned long"},
      {std::regex(R"(\bshort unsigned int\b)"), "unsigned short"},
      {std::regex(R"(\blong int\b)"), "long"},
      {std::regex(R"(\bshort int\b)"), "short"},
      {std::regex(R"(\bstd::__cxx11::)"), "std::"},
  }};
  std::string s = type;
  if (s.find("int") != std::string::npos || s.find("__cxx11") != std::string::npos)
    for (const auto& [re, with] : words) s = std::regex_replace(s, re, with);
  // Rebuild template argument lists, dropping trailing default arguments.
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    if (lt == std::string::npos || (lt >= 8 && s.compare(lt - 8, 8, "operator") == 0)) {
      out += s.substr(i);
      break;
    }
    size_t end = match_angle(s, lt);
    if (end == std::string::npos) {
      out += s.substr(i);
      break;
    }
    std::string head = s.substr(i, lt - i);
    std::vector<std::string> args = split_args(std::string_view(s).substr(lt + 1, end - lt - 2));
    for (auto& a : args) a = tidy_type(a);
    while (args.size() > 1) {
      const std::string& a = args.back();
      if (starts_with(a, "std::less<") || starts_with(a, "std::allocator<") ||
          starts_with(a, "std::hash<") || starts_with(a, "std::equal_to<") ||
          starts_with(a, "std::char_traits<") || starts_with(a, "std::default_delete<"))
        args.pop_back();
      else
        break;
    }
    std::string joined;
    for (size_t k = 0; k < args.size(); ++k) joined += (k ? ", " : "") + args[k];
    std::string full = head + "<" + joined + ">";
    // basic_string<char> is std::string, as users write it.
    size_t hb = head.rfind("basic_string");
    if (hb != std::string::npos && hb + 12 == head.size() &&
        (hb == 0 || head[hb - 1] == ':' || head[hb - 1] == ' ')) {
      std::string prefix = head.substr(0, hb);
      if (args.size() == 1 && args[0] == "char") full = prefix + "string";
      else if (args.size() == 1 && args[0] == "wchar_t") full = prefix + "wstring";
    }
    out += full;
    i = end;
  }
  return out;
}

bool is_system_frame(const Frame& f) {
  if (is_runtime_frame(f)) return true;
  static const char* const kSystemDirs[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/",
                                            "/usr/libexec/"};
  for (const char* d : kSystemDirs)
    if (starts_with(f.module, d)) return true;
  return false;
}

int find_library_frame(const std::vector<Frame>& frames) {
  for (size_t i = 0; i < frames.size(); ++i)
    if (!is_runtime_frame(frames[i])) return int(i);
  return -1;
}

bool is_runtime_frame(const Frame& f) {
  static const char* const kModules[] = {
      "libc.so", "libc-", "ld-linux", "ld64.so", "libstdc++", "libgcc_s", "libheapscope",
      "libjemalloc", "libtcmalloc", "libm.so", "libpthread", "libunwind", "linux-vdso",
      "libdl.so", "libsupc++"};
  std::string mod = basename_of(f.module);
  for (const char* m : kModules)
    if (mod.rfind(m, 0) == 0) return true;
  if (starts_with(f.file, "/usr/include/") || starts_with(f.file, "/usr/lib/gcc/")) return true;
  std::string q = qualified_name(f.function);
  static const char* const kPrefixes[] = {"std::", "__gnu_cxx::", "operator new", "operator delete",
                                          "__", "abi::", "__cxxabiv1::"};
  for (const char* p : kPrefixes)
    if (starts_with(q, p)) return true;
  static const char* const kAllocFns[] = {
      "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign", "aligned_alloc",
      "memalign", "valloc", "pvalloc", "strdup", "strndup", "mmap", "_Znwm", "_Znam"};
  for (const char* a : kAllocFns)
    if (q == a) return true;
  return false;
}

bool is_alloc_entry_frame(const Frame& f) {
  if (!is_runtime_frame(f)) return false;
  std::string q = qualified_name(f.function);
  if (q == "operator new" || q == "operator new[]" || starts_with(q, "_Znwm") ||
      starts_with(q, "_Znam"))
    return true;
  std::string_view n = q;
  if (starts_with(n, "__GI_")) n.remove_prefix(5);
  if (starts_with(n, "__libc_")) n.remove_prefix(7);
  while (!n.empty() && n.front() == '_') n.remove_prefix(1);
  for (const std::string& e : alloc_entry_names())
    if (n == e) return true;
  return false;
}

const std::vector<std::string>& alloc_entry_names() {
  static const std::vector<std::string> names = {
      "malloc", "calloc", "realloc", "reallocarray", "posix_memalign", "aligned_alloc", "memalign",
      "valloc", "pvalloc", "strdup", "strndup", "wcsdup", "asprintf", "vasprintf"};
  return names;
}

int find_origin(const std::vector<Frame>& frames) {
  return origin_index(
      frames.size(), [&](size_t i) { return is_system_frame(frames[i]); },
      [](size_t) { return false; });
}

std::string container_of_function(const std::string& function) {
  std::vector<std::string> comps = components(qualified_name(function));
  if (comps.size() < 2 || comps[0] != "std") return "";
  // Find the outermost component in std (or std::__cxx11 / __detail) that names a container.
  std::string name;
  std::vector<std::string> args;
  for (size_t i = 1; i < comps.size(); ++i) {
    split_template(comps[i], name, args);
    if (name == "__cxx11" || name == "__detail" || name == "__1") continue;
    std::string method = i + 1 < comps.size() ? comps.back() : "";
    std::string c = container_for(name, args, method);
    if (!c.empty()) return c;
    if (name != "_Function_base") break;
  }
  return "";
}

std::string find_container(const std::vector<Frame>& frames, int origin) {
  size_t end = origin < 0 ? frames.size() : size_t(origin);
  std::string found;
  for (size_t i = 0; i < end; ++i) {
    std::string c = container_of_function(frames[i].function);
    if (!c.empty()) found = c;
  }
  return found;
}

}  // namespace heapscope
