// test_symbol_index.cpp -- the sorted symbol index (symbolize/symbol_index)
// names every address exactly as dwfl_module_addrinfo's linear search did
// before it: on a stripped shared library (.dynsym only), on Debian's
// stripped libstdc++ and libjemalloc, and on a program with a full .symtab.
// Addresses tried: each symbol's first, middle and last byte, the bytes just
// before and after it, and a stride through every allocated section (6000 of
// them spread evenly on the big libraries).
#include <gtest/gtest.h>

#include <elfutils/libdwfl.h>
#include <gelf.h>

#include <string>
#include <vector>

#include "symbolize/symbol_index.h"

using heapscope::SymbolIndex;

namespace {

const std::string kPrograms = HS_TEST_PROGRAMS_DIR;

char* no_debuginfo_path = nullptr;
const Dwfl_Callbacks kCallbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo,
                                   dwfl_offline_section_address, &no_debuginfo_path};

struct Compared {
  size_t addresses = 0, named = 0, mismatches = 0;
  std::string first_mismatch;
};

// The name dwfl_module_addrinfo gives, version cut off (what the symbolizer
// printed before the index).
std::string linear_name(Dwfl_Module* dm, uint64_t a) {
  GElf_Off off = 0;
  GElf_Sym sym;
  const char* n = dwfl_module_addrinfo(dm, a, &off, &sym, nullptr, nullptr, nullptr);
  if (!n) return {};
  std::string s(n);
  auto at = s.find('@');
  if (at != std::string::npos && at > 0) s.resize(at);
  return s;
}

Compared compare(const std::string& path, size_t* symbols = nullptr) {
  Compared c;
  Dwfl* dwfl = dwfl_begin(&kCallbacks);
  dwfl_report_begin(dwfl);
  Dwfl_Module* dm = dwfl_report_elf(dwfl, "m", path.c_str(), -1, 0, false);
  dwfl_report_end(dwfl, nullptr, nullptr);
  if (!dm) {
    c.first_mismatch = "cannot open " + path;
    c.mismatches = 1;
    dwfl_end(dwfl);
    return c;
  }
  SymbolIndex index;
  index.build(dm);
  if (symbols) *symbols = index.size();
  std::vector<uint64_t> probes;
  int n = dwfl_module_getsymtab(dm);
  for (int i = 1; i < n; ++i) {
    GElf_Sym sym;
    GElf_Addr value = 0;
    if (!dwfl_module_getsym_info(dm, i, &sym, &value, nullptr, nullptr, nullptr)) continue;
    if (sym.st_shndx == SHN_UNDEF) continue;
    for (uint64_t a : {value - 1, value, value + sym.st_size / 2, value + sym.st_size - 1,
                       value + sym.st_size})
      probes.push_back(a);
  }
  GElf_Addr bias = 0;
  if (Elf* elf = dwfl_module_getelf(dm, &bias)) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr shdr;
      if (!gelf_getshdr(scn, &shdr) || !(shdr.sh_flags & SHF_ALLOC)) continue;
      uint64_t step = std::max<uint64_t>(1, shdr.sh_size / 4000);
      for (uint64_t a = shdr.sh_addr; a < shdr.sh_addr + shdr.sh_size; a += step) probes.push_back(a);
    }
  }
  // libdwfl's search is linear in the symbols: at most ~6000 probes (spread
  // evenly over the list) keep the big tables within the test's time.
  if (probes.size() > 6000) {
    std::vector<uint64_t> pick;
    for (size_t i = 0; i < 6000; ++i) pick.push_back(probes[i * probes.size() / 6000]);
    probes.swap(pick);
  }
  for (uint64_t a : probes) {
    std::string want = linear_name(dm, a), got = index.lookup(a);
    ++c.addresses;
    if (!want.empty()) ++c.named;
    if (want != got && c.mismatches++ == 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(a));
      c.first_mismatch = path + " at " + buf + ": libdwfl '" + want + "', index '" + got + "'";
    }
  }
  dwfl_end(dwfl);
  return c;
}

void expect_same(const std::string& path, size_t min_named) {
  SCOPED_TRACE(path);
  Compared c = compare(path);
  EXPECT_EQ(c.mismatches, 0u) << c.first_mismatch << " (" << c.mismatches << " of " << c.addresses
                              << ")";
  EXPECT_GE(c.named, min_named) << c.addresses << " addresses tried";
}

std::string system_library(const char* name) {
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu/", "/lib/x86_64-linux-gnu/", "/usr/lib64/"}) {
    std::string p = std::string(dir) + name;
    if (FILE* f = std::fopen(p.c_str(), "rb")) {
      std::fclose(f);
      return p;
    }
  }
  return {};
}

}  // namespace

TEST(SymbolIndex, StrippedPluginDynsymSameNamesAsLibdwfl) {
  size_t symbols = 0;
  Compared c = compare(kPrograms + "/libhs_test_plugin_stripped.so", &symbols);
  EXPECT_EQ(c.mismatches, 0u) << c.first_mismatch;
  EXPECT_GT(c.named, 0u);
  // .dynsym only: plugin_fill is there, the file-local helpers are not.
  Dwfl* dwfl = dwfl_begin(&kCallbacks);
  dwfl_report_begin(dwfl);
  Dwfl_Module* dm = dwfl_report_elf(dwfl, "p", (kPrograms + "/libhs_test_plugin_stripped.so").c_str(),
                                    -1, 0, false);
  dwfl_report_end(dwfl, nullptr, nullptr);
  ASSERT_NE(dm, nullptr);
  SymbolIndex index;
  index.build(dm);
  bool found = false;
  for (int i = 1; i < dwfl_module_getsymtab(dm); ++i) {
    GElf_Sym sym;
    GElf_Addr value = 0;
    const char* name = dwfl_module_getsym_info(dm, i, &sym, &value, nullptr, nullptr, nullptr);
    if (name && std::string(name) == "plugin_fill") {
      found = true;
      EXPECT_EQ(index.lookup(value), "plugin_fill");
      EXPECT_EQ(index.lookup(value + sym.st_size - 1), "plugin_fill");
    }
  }
  EXPECT_TRUE(found);
  dwfl_end(dwfl);
}

TEST(SymbolIndex, DebianLibstdcxxDynsymSameNamesAsLibdwfl) {
  std::string lib = system_library("libstdc++.so.6");
  ASSERT_FALSE(lib.empty()) << "libstdc++.so.6 not found";
  expect_same(lib, 1000);
}

TEST(SymbolIndex, DebianJemallocDynsymSameNamesAsLibdwfl) {
  std::string lib = system_library("libjemalloc.so.2");
  ASSERT_FALSE(lib.empty()) << "libjemalloc.so.2 not found (tests/packages.txt: libjemalloc2)";
  expect_same(lib, 40);
}

TEST(SymbolIndex, DebianLibcSameNamesAsLibdwfl) {
  std::string lib = system_library("libc.so.6");
  ASSERT_FALSE(lib.empty());
  expect_same(lib, 2000);
}

TEST(SymbolIndex, ProgramSymtabSameNamesAsLibdwfl) {
  expect_same(kPrograms + "/containers", 50);
}
