// symbol_index.h -- one sorted index of a module's ELF symbols, for naming
// addresses by binary search instead of libdwfl's linear scan.
//
// Owns: reading the symbol table libdwfl chose for the module (.symtab of the
// file or its debug file, else .dynsym) once, and answering "which symbol
// covers this address" in O(log n) with the rules of dwfl_module_addrinfo
// (elfutils' __libdwfl_addrsym), so names stay what they were:
//  - symbols without a name, undefined, or of type SECTION, FILE or TLS are
//    never used (functions, objects and IFUNC resolvers are);
//  - global and weak symbols are searched first, local ones only when no
//    global or weak one covers the address;
//  - among symbols with a size, one covers [value, value + size); the ones
//    covering the address are weighed in table order with libdwfl's rules
//    (a closer start or a better binding, global > weak > local, replaces
//    the choice so far; at the same start a smaller size with no worse
//    binding does; otherwise the first one stays), so aliases resolve as before;
//  - a symbol of size 0 (a hand-written assembly label) names an address
//    only when no sized symbol covers it, it is the highest symbol at or
//    below the address, no sized symbol below it reaches past it, and it
//    lies in the address's section, by address (an absolute one: only at
//    its own value); of several at that value, the last one in libdwfl's
//    visiting order (table order, globals before locals).
// Names are as in the table, the symbol version ("@@GLIBC_2.34") cut off.
// Immutable after build(); lookups are const and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <elfutils/libdwfl.h>

namespace heapscope {

class SymbolIndex {
 public:
  // Reads the module's symbols (dwfl_module_getsym_info over
  // dwfl_module_getsymtab); addresses as libdwfl reports them for the module.
  void build(Dwfl_Module* module);
  // The covering symbol's name (mangled, without version), or "" when none;
  // *start (when given) its value, the function's entry for a function.
  std::string lookup(uint64_t address, uint64_t* start = nullptr) const;
  size_t size() const;

 private:
  struct Sym {
    uint64_t start = 0, size = 0;
    const char* name = nullptr;  // in libelf's string table (lives with the Dwfl)
    uint32_t order = 0;          // index in the symbol table
    int binding = 0;             // global 3, weak 2, local 1, other 0
    bool absolute = false;       // SHN_ABS and the like (section index >= SHN_LORESERVE)
    unsigned section = 0;        // ELF index of the section its value lies in, 0: none
  };
  struct Group {                 // the global+weak symbols, or the local ones
    std::vector<Sym> sized;      // sorted by start
    std::vector<uint64_t> reach; // reach[i]: max start + size over sized[0..i]
    std::vector<Sym> sizeless;   // sorted by start
  };
  void search(const Group& g, uint64_t address, const Sym*& closest, const Sym*& sizeless,
              uint64_t& min_label) const;

  struct Section {
    uint64_t start, end;
    unsigned index;  // ELF section index
  };
  // The ELF index of the allocated section containing address, or 0.
  unsigned section_of(uint64_t address) const;

  Group groups_[2];                // [0] global and weak, [1] local
  std::vector<Section> sections_;  // allocated sections, sorted by start
  size_t count_ = 0;
  uint64_t low_ = 0, high_ = 0;    // the module's address range (dwfl_module_info)
};

}  // namespace heapscope
