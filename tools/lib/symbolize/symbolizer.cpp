// symbolizer.cpp -- offline symbolization with elfutils libdw (libdwfl).
//
// Owns: per module, finding its ELF (recorded path when its build-id matches,
// else /usr/lib/debug/.build-id/xx/yyyy.debug), one offline Dwfl reporting
// it at bias 0 so lookups use ELF virtual addresses (pc - load_bias); inline
// expansion from the DWARF scopes (each DW_TAG_inlined_subroutine is a frame
// whose caller's location is its DW_AT_call_file/call_line, as eu-addr2line
// -i does); demangling; THE return-address-minus-one adjustment (lookup_pc).
// Separate debug info (.gnu_debuglink, build-id) is found by
// dwfl_standard_find_debuginfo. Modules are opened lazily on first use and
// cached, as are results per pc. Not thread-safe; never throws for a bad or
// missing module: frames then say "0x..." and name the module.
#include "symbolize/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_map>

namespace heapscope {
namespace {

// The one place where a return address becomes a lookup address: it points
// after the call instruction, which may be the first byte of the next line or
// function, so look up the byte before it.
uint64_t lookup_pc(uint64_t return_address) {
  return return_address > 0 ? return_address - 1 : 0;
}

std::string demangle(const char* name) {
  if (!name) return {};
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status == 0 && out) {
    std::string s(out);
    std::free(out);
    return s;
  }
  std::free(out);
  return name;
}

std::string hex_address(uint64_t a) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(a));
  return buf;
}

bool is_regular_file(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string basename_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// System libraries rarely have debug info installed; not worth a note.
bool is_system_path(const std::string& path) {
  return path.rfind("/lib/", 0) == 0 || path.rfind("/lib64/", 0) == 0 ||
         path.rfind("/usr/lib/", 0) == 0 || path.rfind("/usr/lib64/", 0) == 0 ||
         path.find("libheapscope") != std::string::npos;
}

// "ns::Class<...>::name" for a DIE without a linkage name (GCC emits none
// for constructors and destructors): its own name prefixed by the names of
// the namespaces and classes that enclose its declaration.
std::string qualified_die_name(Dwarf_Die* die) {
  Dwarf_Die target = *die, next;
  Dwarf_Attribute attr;
  for (int i = 0; i < 8; ++i) {
    if ((dwarf_attr(&target, DW_AT_abstract_origin, &attr) ||
         dwarf_attr(&target, DW_AT_specification, &attr)) &&
        dwarf_formref_die(&attr, &next)) {
      target = next;
      continue;
    }
    break;
  }
  const char* name = dwarf_diename(&target);
  if (!name) return "";
  std::string prefix;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes_die(&target, &scopes);
  for (int i = n - 1; i >= 1; --i) {
    int tag = dwarf_tag(&scopes[i]);
    const char* s = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_namespace) {
      prefix += s ? s : "(anonymous namespace)";
      prefix += "::";
    } else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
               tag == DW_TAG_union_type) {
      prefix += s ? s : "{lambda}";  // GCC's closure types have no name
      prefix += "::";
    } else if (tag == DW_TAG_subprogram && s) {
      prefix += s;  // a local class (lambda) inside this function
      prefix += "::";
    }
  }
  std::free(scopes);
  return prefix + name;
}

// Name of a function DIE: its linkage name demangled, else its qualified name.
std::string die_function_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  const char* linkage = nullptr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    linkage = dwarf_formstring(&attr);
  if (linkage) return demangle(linkage);
  return qualified_die_name(die);
}

char* debuginfo_path = nullptr;
const Dwfl_Callbacks kCallbacks = {
    dwfl_build_id_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    &debuginfo_path,
};

}  // namespace

struct Symbolizer::Impl {
  struct Mod {
    const Module* module = nullptr;
    bool tried = false;
    Dwfl* dwfl = nullptr;
    Dwfl_Module* dm = nullptr;
    bool has_dwarf = false;
  };
  struct RangeRef {
    uint64_t start, end;
    size_t mod;
  };
  std::vector<Mod> mods;
  std::vector<RangeRef> ranges;  // sorted by start
  std::unordered_map<uint64_t, std::vector<Frame>> cache;
  std::vector<std::string> problems;
  std::set<std::string> problem_keys;

  ~Impl() {
    for (auto& m : mods)
      if (m.dwfl) dwfl_end(m.dwfl);
  }

  void problem(const std::string& key, const std::string& text) {
    if (problem_keys.insert(key).second) problems.push_back(text);
  }

  const Mod* find_module(uint64_t addr) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), addr,
                               [](uint64_t a, const RangeRef& r) { return a < r.start; });
    const Mod* fallback = nullptr;
    for (int steps = 0; it != ranges.begin() && steps < 16; ++steps) {
      --it;
      if (addr >= it->start && addr < it->end) {
        const Mod* m = &mods[it->mod];
        if (!m->module->unloaded) return m;
        if (!fallback) fallback = m;
      }
    }
    return fallback;
  }

  // Reports `file` into a fresh Dwfl; returns false (with why) on failure or
  // when want_build_id is set and differs.
  bool try_open(Mod& m, const std::string& file, const std::string& want_build_id,
                std::string& why) {
    Dwfl* dwfl = dwfl_begin(&kCallbacks);
    if (!dwfl) {
      why = dwfl_errmsg(-1);
      return false;
    }
    dwfl_report_begin(dwfl);
    Dwfl_Module* dm = dwfl_report_elf(dwfl, basename_of(m.module->path).c_str(), file.c_str(), -1,
                                      0, false);
    dwfl_report_end(dwfl, nullptr, nullptr);
    if (!dm) {
      why = std::string("cannot read ") + file + ": " + dwfl_errmsg(-1);
      dwfl_end(dwfl);
      return false;
    }
    if (!want_build_id.empty()) {
      const unsigned char* bits = nullptr;
      GElf_Addr vaddr = 0;
      int n = dwfl_module_build_id(dm, &bits, &vaddr);
      std::string got;
      for (int i = 0; i < n; ++i) {
        char b[3];
        std::snprintf(b, sizeof b, "%02x", bits[i]);
        got += b;
      }
      if (n > 0 && got != want_build_id) {
        why = file + " has build-id " + got + ", the snapshot recorded " + want_build_id;
        dwfl_end(dwfl);
        return false;
      }
    }
    m.dwfl = dwfl;
    m.dm = dm;
    Dwarf_Addr bias = 0;
    m.has_dwarf = dwfl_module_getdwarf(dm, &bias) != nullptr;
    return true;
  }

  void open(Mod& m) {
    m.tried = true;
    const Module& mod = *m.module;
    if (mod.vdso || mod.path.empty() || mod.path[0] == '[') return;
    std::string why;
    if (is_regular_file(mod.path)) {
      if (try_open(m, mod.path, mod.build_id, why)) {
        if (!m.has_dwarf && !is_system_path(mod.path))
          problem(mod.path + "#nodwarf",
                  mod.path + ": no debug info (install its -dbg/-dbgsym package or build with -g); "
                             "frames show function names only");
        return;
      }
    } else {
      why = "not found";
    }
    if (mod.build_id.size() > 2) {
      std::string debug = "/usr/lib/debug/.build-id/" + mod.build_id.substr(0, 2) + "/" +
                          mod.build_id.substr(2) + ".debug";
      std::string why2;
      if (is_regular_file(debug) && try_open(m, debug, mod.build_id, why2)) return;
    }
    problem(mod.path, mod.path + ": " + why + "; its frames show addresses");
  }

  std::vector<Frame> resolve(uint64_t pc) {
    uint64_t addr = lookup_pc(pc);
    Frame base;
    base.address = pc;
    base.function = hex_address(pc);
    const Mod* found = find_module(addr);
    if (!found) return {base};
    Mod& m = mods[found - mods.data()];
    base.module = m.module->path;
    base.rel_address = pc - m.module->load_bias;
    if (!m.tried) open(m);
    if (!m.dm) return {base};
    Dwarf_Addr vaddr = addr - m.module->load_bias;

    std::vector<Frame> out;
    if (m.has_dwarf) {
      Dwarf_Addr bias = 0;
      Dwarf_Die* cudie = dwfl_module_addrdie(m.dm, vaddr, &bias);
      Dwarf_Die* scopes = nullptr;
      int n = cudie ? dwarf_getscopes(cudie, vaddr - bias, &scopes) : 0;
      if (n > 0) {
        Dwarf_Die first;
        Dwarf_Addr dbias = 0;
        Dwarf* dw = dwfl_module_getdwarf(m.dm, &dbias);
        Dwarf_Off off = dwarf_dieoffset(&scopes[0]);
        std::free(scopes);
        scopes = nullptr;
        if (dw && dwarf_offdie(dw, off, &first)) n = dwarf_getscopes_die(&first, &scopes);
        else n = 0;
      }
      if (n > 0) {
        // Function-like scopes, innermost first, up to the concrete function.
        std::vector<Dwarf_Die*> fns;
        for (int i = 0; i < n; ++i) {
          int tag = dwarf_tag(&scopes[i]);
          if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            fns.push_back(&scopes[i]);
            if (tag == DW_TAG_subprogram) break;
          }
        }
        Dwarf_Files* files = nullptr;
        size_t nfiles = 0;
        if (dwarf_getsrcfiles(cudie, &files, &nfiles) != 0) files = nullptr;
        std::string file;
        int line = 0;
        if (Dwfl_Line* l = dwfl_module_getsrc(m.dm, vaddr)) {
          int lineno = 0;
          const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr);
          if (src) file = src;
          line = lineno;
        }
        for (size_t i = 0; i < fns.size(); ++i) {
          Frame f = base;
          f.function = die_function_name(fns[i]);
          f.file = file;
          f.line = line;
          f.resolved = true;
          f.inlined = dwarf_tag(fns[i]) == DW_TAG_inlined_subroutine;
          if (f.function.empty() && !f.inlined) f.function = symbol_name(m, vaddr);
          if (f.function.empty()) f.function = hex_address(pc);
          out.push_back(std::move(f));
          // The caller's location is where this inlined body was called from.
          file.clear();
          line = 0;
          Dwarf_Attribute attr;
          Dwarf_Word val;
          if (files && dwarf_formudata(dwarf_attr(fns[i], DW_AT_call_file, &attr), &val) == 0 &&
              val < nfiles) {
            if (const char* s = dwarf_filesrc(files, val, nullptr, nullptr)) file = s;
          }
          if (dwarf_formudata(dwarf_attr(fns[i], DW_AT_call_line, &attr), &val) == 0)
            line = int(val);
        }
        std::free(scopes);
        if (!out.empty()) {
          // The last frame must be the concrete function; if the DIE chain
          // stopped at an inlined body (unusual DWARF), add the symbol.
          if (out.back().inlined) {
            Frame f = base;
            f.function = symbol_name(m, vaddr);
            if (f.function.empty()) f.function = hex_address(pc);
            f.file = file;
            f.line = line;
            f.resolved = true;
            out.push_back(std::move(f));
          }
          return out;
        }
      }
      std::free(scopes);
    }
    // No DWARF for this address: the symbol table, and the line table if any.
    Frame f = base;
    std::string sym = symbol_name(m, vaddr);
    if (!sym.empty()) {
      f.function = sym;
      f.resolved = true;
    }
    if (Dwfl_Line* l = dwfl_module_getsrc(m.dm, vaddr)) {
      int lineno = 0;
      if (const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        f.file = src;
        f.line = lineno;
      }
    }
    return {f};
  }

  static std::string symbol_name(const Mod& m, Dwarf_Addr vaddr) {
    GElf_Off offset = 0;
    GElf_Sym sym;
    const char* name = dwfl_module_addrinfo(m.dm, vaddr, &offset, &sym, nullptr, nullptr, nullptr);
    return name ? demangle(name) : std::string();
  }
};

Symbolizer::Symbolizer(const Profile& profile) : impl_(std::make_unique<Impl>()) {
  impl_->mods.reserve(profile.modules.size());
  for (const auto& m : profile.modules) {
    Impl::Mod mod;
    mod.module = &m;
    impl_->mods.push_back(mod);
    for (const auto& r : m.ranges)
      if (r.end > r.start) impl_->ranges.push_back({r.start, r.end, impl_->mods.size() - 1});
  }
  std::stable_sort(impl_->ranges.begin(), impl_->ranges.end(),
                   [](const Impl::RangeRef& a, const Impl::RangeRef& b) { return a.start < b.start; });
}

Symbolizer::~Symbolizer() = default;

const std::vector<Frame>& Symbolizer::frames(uint64_t pc) {
  auto it = impl_->cache.find(pc);
  if (it != impl_->cache.end()) return it->second;
  return impl_->cache.emplace(pc, impl_->resolve(pc)).first->second;
}

std::vector<Frame> Symbolizer::stack(const std::vector<uint64_t>& pcs) {
  std::vector<Frame> out;
  out.reserve(pcs.size() * 2);
  for (uint64_t pc : pcs) {
    const auto& f = frames(pc);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

std::vector<std::string> Symbolizer::problems() const { return impl_->problems; }

}  // namespace heapscope
