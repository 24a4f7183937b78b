// symbolizer.cpp -- offline symbolization with elfutils libdw (libdwfl).
//
// Owns: per module, finding its ELF (recorded path when its build-id matches,
// else /usr/lib/debug/.build-id/xx/yyyy.debug), one offline Dwfl reporting
// it at bias 0 so lookups use ELF virtual addresses (pc - load_bias); inline
// expansion (each DW_TAG_inlined_subroutine containing the address is a frame
// whose caller's location is its DW_AT_call_file/call_line, as eu-addr2line
// -i does) from a per-CU index of function ranges built in one walk of the
// CU's DIE tree the first time an address falls in it (walking the tree per
// address, as dwarf_getscopes does, is minutes for 100k stacks); demangling;
// THE return-address-minus-one adjustment (lookup_pc).
// Separate debug info (.gnu_debuglink, build-id, debuginfod with
// DEBUGINFOD_URLS) is found by dwfl_standard_find_debuginfo. ELF symbol names
// come from one sorted SymbolIndex per module (symbol_index.h), not libdwfl's
// linear dwfl_module_addrinfo. Modules are opened lazily on first use and
// cached, as are results per pc. Not thread-safe; never throws for a bad or
// missing module: frames then say "0x..." and name the module.
#include "symbolize/symbolizer.h"
#include "model/strings.h"
#include "symbolize/symbol_index.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dlfcn.h>
#include <gelf.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_map>

namespace heapscope {
std::string source_path(const std::string& comp_dir, const char* name) {
  if (!name || !*name || name[0] == '/' || comp_dir.empty() || comp_dir[0] != '/') return name ? name : "";
  std::vector<std::string> parts;
  auto add = [&](const std::string& path) {
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      std::string part = path.substr(i, j - i);
      if (part == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      i = j + 1;
    }
  };
  add(comp_dir);
  add(name);
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

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

// System libraries rarely have debug info installed; not worth a note.
bool is_system_path(const std::string& path) {
  return path.rfind("/lib/", 0) == 0 || path.rfind("/lib64/", 0) == 0 ||
         path.rfind("/usr/lib/", 0) == 0 || path.rfind("/usr/lib64/", 0) == 0 ||
         path.find("libheapscope") != std::string::npos;
}

// The DIE that carries a function's name: follow abstract_origin and
// specification links (an inlined or out-of-line instance -> its declaration).
Dwarf_Die name_target(Dwarf_Die* die) {
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
  return target;
}

const char* linkage_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
    return dwarf_formstring(&attr);
  return nullptr;
}

// Scope prefix of a name-bearing DIE from its enclosing scopes ("ns::Class::").
std::string scope_prefix_slow(Dwarf_Die* target) {
  std::string prefix;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes_die(target, &scopes);
  for (int i = n - 1; i >= 1; --i) {
    int tag = dwarf_tag(&scopes[i]);
    const char* s = dwarf_diename(&scopes[i]);
    if (tag == DW_TAG_namespace) prefix += std::string(s ? s : "(anonymous namespace)") + "::";
    else if (tag == DW_TAG_class_type || tag == DW_TAG_structure_type || tag == DW_TAG_union_type)
      prefix += std::string(s ? s : "{lambda}") + "::";
    else if (tag == DW_TAG_subprogram && s)
      prefix += std::string(s) + "::";
  }
  std::free(scopes);
  return prefix;
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
    // The module's ELF symbols, sorted once on first need (names of frames
    // without DWARF, and linkage names of outermost frames without
    // DW_AT_linkage_name): one binary search per address.
    SymbolIndex symbols;
    bool symbols_built = false;
  };
  struct RangeRef {
    uint64_t start, end;
    size_t mod;
  };
  // One function-like DIE (a concrete subprogram or an inlined body) with
  // code ranges; children are the inlined bodies directly inside it.
  struct Fn {
    Dwarf_Off die = 0;
    int parent = -1;
    bool inlined = false;
    Dwarf_Word call_file = 0;
    int call_line = 0;
    bool has_call_file = false;
    std::vector<std::pair<Dwarf_Addr, Dwarf_Addr>> ranges;
    std::vector<int> children;
    bool contains(Dwarf_Addr a) const {
      for (const auto& [lo, hi] : ranges)
        if (a >= lo && a < hi) return true;
      return false;
    }
  };
  struct CuIndex {
    std::vector<Fn> fns;
    struct Top {
      Dwarf_Addr lo, hi;
      int fn;
    };
    std::vector<Top> top;  // ranges of outermost functions, sorted by lo
    Dwarf_Files* files = nullptr;
    size_t nfiles = 0;
    std::string comp_dir;  // DW_AT_comp_dir: where relative source names start
  };
  struct ModIndex {
    std::unordered_map<Dwarf_Off, CuIndex> cus;            // by CU DIE offset
    std::unordered_map<Dwarf_Off, std::string> prefixes;   // subprogram DIE -> "ns::Class::"
    struct Name {
      std::string display, linkage;
      bool has_linkage_attr = false;  // linkage came from DW_AT_linkage_name
    };
    std::unordered_map<Dwarf_Off, Name> names;  // function DIE -> its names
  };
  std::vector<Mod> mods;
  std::vector<ModIndex> index;   // parallel to mods
  std::vector<RangeRef> ranges;  // sorted by start
  std::unordered_map<uint64_t, std::vector<Frame>> cache;
  std::vector<std::string> problems;
  std::set<std::string> problem_keys;
  DebuginfodStatus debuginfod;

  Impl() {
    const char* urls = std::getenv("DEBUGINFOD_URLS");
    debuginfod.enabled = urls && *urls;
    if (debuginfod.enabled) debuginfod.urls = urls;
  }

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
    const unsigned char* bits = nullptr;
    GElf_Addr id_vaddr = 0;
    int n = dwfl_module_build_id(dm, &bits, &id_vaddr);
    std::string got;
    for (int i = 0; i < n; ++i) {
      char b[3];
      std::snprintf(b, sizeof b, "%02x", bits[i]);
      got += b;
    }
    if (!want_build_id.empty()) {
      if (n > 0 && got != want_build_id) {
        why = (file == m.module->path ? std::string("the file") : file) + " has build-id " + got +
              ", the snapshot recorded " + want_build_id + " (rebuilt since?)";
        dwfl_end(dwfl);
        return false;
      }
    }
    m.dwfl = dwfl;
    m.dm = dm;
    Dwarf_Addr bias = 0;
    m.has_dwarf = dwfl_module_getdwarf(dm, &bias) != nullptr;
    note_debuginfod(m, got);
    return true;
  }

  // libdwfl has looked for the module's debug info (dwfl_module_getdwarf):
  // in the file itself, then locally (.gnu_debuglink, /usr/lib/debug, by
  // build-id: it then names the debug file), then, with DEBUGINFOD_URLS set,
  // on the servers (libdwfl 0.188 takes the client's file descriptor and
  // keeps no name). So DWARF that is not in the file and has no debug file
  // name came from a server; a module with a build-id and still no DWARF was
  // asked for and not provided.
  void note_debuginfod(const Mod& m, const std::string& build_id) {
    if (!debuginfod.enabled || build_id.empty()) return;
    if (!debuginfod.client)
      debuginfod.client = dlopen("libdebuginfod.so.1", RTLD_LAZY | RTLD_NOLOAD) != nullptr;
    if (!m.has_dwarf) {
      debuginfod.missing.push_back(m.module->path);
      return;
    }
    const char* debugfile = nullptr;
    dwfl_module_info(m.dm, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, &debugfile);
    GElf_Addr bias = 0;
    if (!debugfile && !elf_has_dwarf(dwfl_module_getelf(m.dm, &bias)))
      debuginfod.fetched.push_back(m.module->path);
  }

  // True when the ELF has a .debug_info with contents (not a NOBITS stub).
  static bool elf_has_dwarf(Elf* elf) {
    size_t strndx = 0;
    if (!elf || elf_getshdrstrndx(elf, &strndx) != 0) return false;
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr shdr;
      if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS) continue;
      const char* name = elf_strptr(elf, strndx, shdr.sh_name);
      if (name && (std::strcmp(name, ".debug_info") == 0 || std::strcmp(name, ".zdebug_info") == 0))
        return true;
    }
    return false;
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

  static std::string comp_dir_of(Dwarf_Die* cudie) {
    Dwarf_Attribute attr;
    const char* d = cudie ? dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr)) : nullptr;
    return d ? d : "";
  }

  // Builds (once) the function index of the CU: one walk of its DIE tree.
  CuIndex& cu_index(ModIndex& mi, Dwarf_Die* cudie) {
    Dwarf_Off off = dwarf_dieoffset(cudie);
    auto it = mi.cus.find(off);
    if (it != mi.cus.end()) return it->second;
    CuIndex& cu = mi.cus[off];
    if (dwarf_getsrcfiles(cudie, &cu.files, &cu.nfiles) != 0) {
      cu.files = nullptr;
      cu.nfiles = 0;
    }
    cu.comp_dir = comp_dir_of(cudie);
    std::string prefix;
    walk(mi, cu, cudie, -1, prefix, 0);
    for (size_t i = 0; i < cu.fns.size(); ++i)
      if (cu.fns[i].parent < 0)
        for (const auto& [lo, hi] : cu.fns[i].ranges) cu.top.push_back({lo, hi, int(i)});
    std::sort(cu.top.begin(), cu.top.end(),
              [](const CuIndex::Top& a, const CuIndex::Top& b) { return a.lo < b.lo; });
    return cu;
  }

  void walk(ModIndex& mi, CuIndex& cu, Dwarf_Die* die, int parent, const std::string& prefix,
            int depth) {
    if (depth > 1024) return;  // absurd nesting (bounded recursion)
    Dwarf_Die child;
    if (dwarf_child(die, &child) != 0) return;
    do {
      int tag = dwarf_tag(&child);
      switch (tag) {
        case DW_TAG_namespace:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type: {
          const char* name = dwarf_diename(&child);
          std::string inner =
              prefix + (name ? name : tag == DW_TAG_namespace ? "(anonymous namespace)" : "{lambda}") + "::";
          walk(mi, cu, &child, parent, inner, depth + 1);
          break;
        }
        case DW_TAG_subprogram:
        case DW_TAG_inlined_subroutine: {
          Dwarf_Off off = dwarf_dieoffset(&child);
          if (tag == DW_TAG_subprogram) mi.prefixes.emplace(off, prefix);
          Fn fn;
          fn.die = off;
          fn.parent = parent;
          fn.inlined = tag == DW_TAG_inlined_subroutine;
          Dwarf_Addr base = 0, start = 0, end = 0;
          ptrdiff_t r = 0;
          while ((r = dwarf_ranges(&child, r, &base, &start, &end)) > 0 && fn.ranges.size() < 4096)
            if (end > start) fn.ranges.emplace_back(start, end);
          if (fn.ranges.empty()) {
            // A declaration or an abstract instance: no code of its own, but
            // local classes (lambdas) inside it still get its name as prefix.
            if (tag == DW_TAG_subprogram && !dwarf_hasattr(&child, DW_AT_declaration)) {
              const char* name = dwarf_diename(&child);
              walk(mi, cu, &child, parent, prefix + (name ? std::string(name) + "::" : ""), depth + 1);
            }
            break;
          }
          Dwarf_Attribute attr;
          Dwarf_Word val;
          if (dwarf_formudata(dwarf_attr(&child, DW_AT_call_file, &attr), &val) == 0) {
            fn.call_file = val;
            fn.has_call_file = true;
          }
          if (dwarf_formudata(dwarf_attr(&child, DW_AT_call_line, &attr), &val) == 0)
            fn.call_line = int(val);
          int idx = int(cu.fns.size());
          cu.fns.push_back(std::move(fn));
          if (parent >= 0) cu.fns[parent].children.push_back(idx);
          std::string inner = prefix;
          if (tag == DW_TAG_subprogram) {
            const char* name = dwarf_diename(&child);
            if (name) inner = std::string(name) + "::";
          }
          walk(mi, cu, &child, idx, inner, depth + 1);
          break;
        }
        case DW_TAG_lexical_block:
        case DW_TAG_try_block:
        case DW_TAG_catch_block:
          walk(mi, cu, &child, parent, prefix, depth + 1);
          break;
        default:
          break;
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  // The innermost function-like entry containing a (a CU-relative address), or -1.
  static int innermost(const CuIndex& cu, Dwarf_Addr a) {
    auto it = std::upper_bound(cu.top.begin(), cu.top.end(), a,
                               [](Dwarf_Addr x, const CuIndex::Top& t) { return x < t.lo; });
    int cur = -1;
    for (int steps = 0; it != cu.top.begin() && steps < 8; ++steps) {
      --it;
      if (a >= it->lo && a < it->hi) {
        cur = it->fn;
        break;
      }
    }
    if (cur < 0) return -1;
    for (int guard = 0; guard < 256; ++guard) {
      int next = -1;
      for (int c : cu.fns[cur].children)
        if (cu.fns[c].contains(a)) {
          next = c;
          break;
        }
      if (next < 0) break;
      cur = next;
    }
    return cur;
  }

  // Display name of a function DIE: its linkage name demangled, else its
  // scope-qualified name (GCC emits no linkage name for constructors and
  // destructors); *mangled gets the linkage name, else the plain DWARF name
  // (C functions have no other). Cached per DIE.
  std::string function_name(ModIndex& mi, Dwarf* dw, Dwarf_Off off, std::string* mangled) {
    auto it = mi.names.find(off);
    if (it != mi.names.end()) {
      *mangled = it->second.linkage;
      return it->second.display;
    }
    std::string name, linkage;
    bool attr = false;
    Dwarf_Die die;
    if (dw && dwarf_offdie(dw, off, &die)) {
      if (const char* ln = linkage_name(&die)) {
        name = demangle(ln);
        linkage = ln;
        attr = true;
      } else {
        Dwarf_Die target = name_target(&die);
        if (const char* n = dwarf_diename(&target)) {
          Dwarf_Off toff = dwarf_dieoffset(&target);
          auto p = mi.prefixes.find(toff);
          std::string prefix = p != mi.prefixes.end() ? p->second : scope_prefix_slow(&target);
          if (p == mi.prefixes.end()) mi.prefixes.emplace(toff, prefix);
          name = prefix + n;
          linkage = n;
        }
      }
    }
    mi.names.emplace(off, ModIndex::Name{name, linkage, attr});
    *mangled = linkage;
    return name;
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
    {
      uint64_t start = 0;
      if (!raw_symbol(m, vaddr, &start).empty() && start <= base.rel_address) base.symbol_offset = int64_t(base.rel_address - start);
    }

    std::vector<Frame> out;
    if (m.has_dwarf) {
      Dwarf_Addr bias = 0;
      Dwarf_Die* cudie = dwfl_module_addrdie(m.dm, vaddr, &bias);
      if (cudie) {
        ModIndex& mi = index[size_t(&m - mods.data())];
        CuIndex& cu = cu_index(mi, cudie);
        Dwarf_Addr a = vaddr - bias;
        int fn = innermost(cu, a);
        if (fn >= 0) {
          Dwarf_Addr dbias = 0;
          Dwarf* dw = dwfl_module_getdwarf(m.dm, &dbias);
          std::string file;
          int line = 0;
          if (Dwfl_Line* l = dwfl_module_getsrc(m.dm, vaddr)) {
            int lineno = 0;
            if (const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr))
              file = source_path(cu.comp_dir, src);
            line = lineno;
          }
          for (int i = fn; i >= 0; i = cu.fns[i].parent) {
            const Fn& f = cu.fns[i];
            Frame fr = base;
            fr.function = function_name(mi, dw, f.die, &fr.mangled);
            if (!f.inlined && (fr.function.empty() || !linkage_name_known(mi, f.die))) {
              // An outermost frame without DW_AT_linkage_name (a GCC
              // constructor, a C function): the ELF symbol is its linkage name.
              std::string raw = raw_symbol(m, vaddr);
              if (!raw.empty()) {
                if (fr.function.empty()) fr.function = demangle(raw.c_str());
                fr.mangled = raw;
              }
            }
            if (fr.function.empty()) fr.function = hex_address(pc);
            fr.file = file;
            fr.line = line;
            fr.resolved = true;
            fr.inlined = f.inlined;
            out.push_back(std::move(fr));
            // The caller's location is where this inlined body was called from.
            file.clear();
            line = 0;
            if (f.has_call_file && cu.files && f.call_file < cu.nfiles)
              if (const char* s = dwarf_filesrc(cu.files, f.call_file, nullptr, nullptr))
                file = source_path(cu.comp_dir, s);
            line = f.call_line;
          }
          if (!out.empty() && out.back().inlined) {
            // An inlined body whose concrete function has no ranges (unusual DWARF).
            Frame fr = base;
            fr.mangled = raw_symbol(m, vaddr);
            fr.function = fr.mangled.empty() ? hex_address(pc) : demangle(fr.mangled.c_str());
            fr.file = file;
            fr.line = line;
            fr.resolved = true;
            out.push_back(std::move(fr));
          }
          if (!out.empty()) return out;
        }
      }
    }
    // No DWARF for this address: the symbol table, and the line table if any
    // (there is none without DWARF: skip libdw's search then).
    Frame f = base;
    std::string sym = raw_symbol(m, vaddr);
    if (!sym.empty()) {
      f.function = demangle(sym.c_str());
      f.mangled = sym;
      f.resolved = true;
    }
    if (!m.has_dwarf) return {f};
    if (Dwfl_Line* l = dwfl_module_getsrc(m.dm, vaddr)) {
      int lineno = 0;
      if (const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        f.file = source_path(comp_dir_of(dwfl_linecu(l)), src);
        f.line = lineno;
      }
    }
    return {f};
  }

  // The ELF symbol containing vaddr (.symtab, else .dynsym), mangled as
  // written, without a symbol version ("__libc_start_main@@GLIBC_2.34");
  // empty when none does. The module's index is built on first use.
  static std::string raw_symbol(Mod& m, Dwarf_Addr vaddr, uint64_t* start = nullptr) {
    if (!m.symbols_built) {
      m.symbols.build(m.dm);
      m.symbols_built = true;
    }
    return m.symbols.lookup(vaddr, start);
  }

  // True when the function DIE's name came from its DW_AT_linkage_name.
  static bool linkage_name_known(const ModIndex& mi, Dwarf_Off off) {
    auto it = mi.names.find(off);
    return it != mi.names.end() && it->second.has_linkage_attr;
  }
};

Symbolizer::Symbolizer(const Profile& profile) : impl_(std::make_unique<Impl>()) {
  impl_->mods.reserve(profile.modules.size());
  for (const auto& m : profile.modules) {
    Impl::Mod mod;
    mod.module = &m;
    impl_->mods.push_back(mod);
    impl_->index.emplace_back();
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

DebuginfodStatus Symbolizer::debuginfod() const { return impl_->debuginfod; }

}  // namespace heapscope
