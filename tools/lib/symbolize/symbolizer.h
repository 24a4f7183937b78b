// symbolizer.h -- offline symbolization of a Profile's addresses with libdw.
//
// Owns: finding each module's ELF file (recorded path, then build-id under
// /usr/lib/debug/.build-id and debuginfod-less local lookups), resolving
// function / file / line with inline frames expanded, demangling, and the one
// place where a return address is adjusted by one. Caches per module and per
// address. Never throws for a missing module: frames then carry the module
// and a hex address, and missing() lists what could not be opened.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/profile.h"

namespace heapscope {

struct Frame {
  std::string function;  // demangled; "0x..." when unknown
  // The linkage (mangled) name: DW_AT_linkage_name, else the ELF symbol
  // (.symtab/.dynsym) for an outermost frame, else the DWARF name (C
  // functions, inlined constructors); empty when unknown.
  std::string mangled;
  std::string file;      // source file, empty when unknown
  int line = 0;          // 0 when unknown
  std::string module;    // module path ("" when the address is in no module)
  bool inlined = false;  // true for a frame inlined into the next (outer) one
  uint64_t address = 0;  // the raw return address this frame came from
  // address - the module's load bias (the ELF virtual address of the return
  // address); stable across runs despite ASLR. 0 when in no module.
  uint64_t rel_address = 0;
  bool resolved = false;  // function/file/line came from the module's symbols
  // address - the entry of the ELF symbol (.symtab, else .dynsym) covering
  // it, as Go prints `function+0xoff`; the outer function's for inlined
  // frames too. -1 when no symbol covers it.
  int64_t symbol_offset = -1;
};

// What debuginfod did for the modules this Symbolizer opened. libdwfl asks
// the servers in DEBUGINFOD_URLS (through libdebuginfod.so.1, loaded by
// libdw on demand) for a module's debug info by build-id when none is found
// locally; without the variable nothing is asked.
struct DebuginfodStatus {
  bool enabled = false;      // DEBUGINFOD_URLS is set and not empty
  std::string urls;          // its value
  bool client = false;       // libdebuginfod.so.1 was loaded (else nothing could be asked)
  // Module paths (in the order opened) whose debug info came from a server:
  // DWARF neither in the file nor in a local debug file libdwfl names.
  std::vector<std::string> fetched;
  // Modules with a build-id and no debug info anywhere, the servers included
  // (not found there, or a server could not be reached).
  std::vector<std::string> missing;
};

class Symbolizer {
 public:
  explicit Symbolizer(const Profile& profile);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Frames for one raw return address, innermost (most inlined) first.
  const std::vector<Frame>& frames(uint64_t pc);
  // Frames for a whole stack, innermost first, inlined frames expanded.
  std::vector<Frame> stack(const std::vector<uint64_t>& pcs);
  // Modules that could not be opened or had no symbols, with the reason.
  std::vector<std::string> problems() const;
  // Debuginfod's part for the modules opened so far (modules are opened on
  // first use, so call this after symbolizing).
  DebuginfodStatus debuginfod() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A source name as a line table gives it, made absolute: a relative one
// (compiled as `cc -c src/x.c`, or through ccache's base_dir) is joined to
// its compilation unit's directory (DW_AT_comp_dir) and "." / ".." folded
// lexically, so reports name a file a reader can open. An absolute name, or
// no absolute comp_dir, leaves the name as it is.
std::string source_path(const std::string& comp_dir, const char* name);

}  // namespace heapscope
