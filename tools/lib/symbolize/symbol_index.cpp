// symbol_index.cpp -- a module's ELF symbols sorted once, looked up by
// binary search with dwfl_module_addrinfo's rules. See symbol_index.h.
//
// Cost: build is one pass over the table libdwfl loaded (dwfl_module_getsymtab
// picks .symtab, else .dynsym) plus a sort; a lookup is a binary search, then
// a walk back over the symbols that may still cover the address (reach[] is
// the running maximum end, so the walk stops at the first symbol below which
// nothing reaches the address; one or two steps in practice).
#include "symbolize/symbol_index.h"

#include <elf.h>
#include <gelf.h>

#include <algorithm>

namespace heapscope {
namespace {

int binding_value(unsigned char info) {
  switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL:
      return 3;
    case STB_WEAK:
      return 2;
    case STB_LOCAL:
      return 1;
    default:
      return 0;
  }
}

}  // namespace

void SymbolIndex::build(Dwfl_Module* module) {
  *this = SymbolIndex();
  if (!module) return;
  Dwarf_Addr low = 0, high = 0;
  dwfl_module_info(module, nullptr, &low, &high, nullptr, nullptr, nullptr, nullptr);
  low_ = low;
  high_ = high;
  GElf_Addr bias = 0;
  if (Elf* elf = dwfl_module_getelf(module, &bias)) {
    Elf_Scn* scn = nullptr;
    while ((scn = elf_nextscn(elf, scn)) != nullptr) {
      GElf_Shdr shdr;
      // .tbss takes no address space of its own (it overlaps what follows).
      if (gelf_getshdr(scn, &shdr) && (shdr.sh_flags & SHF_ALLOC) && shdr.sh_size > 0 &&
          !((shdr.sh_flags & SHF_TLS) && shdr.sh_type == SHT_NOBITS))
        sections_.push_back({shdr.sh_addr + bias, shdr.sh_addr + bias + shdr.sh_size,
                             unsigned(elf_ndxscn(scn))});
    }
    std::sort(sections_.begin(), sections_.end(),
              [](const Section& a, const Section& b) { return a.start < b.start; });
  }
  int n = dwfl_module_getsymtab(module);
  for (int i = 1; i < n; ++i) {
    GElf_Sym sym;
    GElf_Addr value = 0;
    GElf_Word shndx = 0;
    Elf* symelf = nullptr;
    Dwarf_Addr symbias = 0;
    const char* name = dwfl_module_getsym_info(module, i, &sym, &value, &shndx, &symelf, &symbias);
    if (!name || !*name || sym.st_shndx == SHN_UNDEF) continue;
    int type = GELF_ST_TYPE(sym.st_info);
    if (type == STT_SECTION || type == STT_FILE || type == STT_TLS) continue;
    Sym s;
    s.start = value;
    s.size = sym.st_size;
    s.name = name;
    s.order = uint32_t(i);
    s.binding = binding_value(sym.st_info);
    s.absolute = shndx >= SHN_LORESERVE;
    s.section = section_of(value);
    Group& g = groups_[GELF_ST_BIND(sym.st_info) == STB_LOCAL ? 1 : 0];
    (s.size ? g.sized : g.sizeless).push_back(s);
    ++count_;
  }
  for (Group& g : groups_) {
    auto by_start = [](const Sym& a, const Sym& b) {
      return a.start != b.start ? a.start < b.start : a.order < b.order;
    };
    std::sort(g.sized.begin(), g.sized.end(), by_start);
    std::sort(g.sizeless.begin(), g.sizeless.end(), by_start);
    g.reach.resize(g.sized.size());
    uint64_t reach = 0;
    for (size_t i = 0; i < g.sized.size(); ++i) {
      reach = std::max(reach, g.sized[i].start + g.sized[i].size);
      g.reach[i] = reach;
    }
  }
}

size_t SymbolIndex::size() const { return count_; }

unsigned SymbolIndex::section_of(uint64_t address) const {
  auto it = std::upper_bound(sections_.begin(), sections_.end(), address,
                             [](uint64_t a, const Section& s) { return a < s.start; });
  if (it == sections_.begin()) return 0;
  --it;
  return address < it->end ? it->index : 0;
}

void SymbolIndex::search(const Group& g, uint64_t address, const Sym*& closest,
                         const Sym*& sizeless, uint64_t& min_label) const {
  auto after = [](uint64_t a, const Sym& s) { return a < s.start; };
  // Sized symbols covering the address, weighed in table order.
  size_t end = size_t(std::upper_bound(g.sized.begin(), g.sized.end(), address, after) - g.sized.begin());
  if (end > 0) min_label = std::max(min_label, g.reach[end - 1]);
  const Sym* cover[64];
  size_t ncover = 0;
  std::vector<const Sym*> more;  // only when more than 64 symbols cover one address
  for (size_t k = end; k > 0 && g.reach[k - 1] > address; --k) {
    const Sym& s = g.sized[k - 1];
    if (address - s.start < s.size) {
      if (ncover < 64) cover[ncover++] = &s;
      else more.push_back(&s);
    }
  }
  if (!more.empty()) more.insert(more.begin(), cover, cover + ncover);
  const Sym** first = more.empty() ? cover : more.data();
  const Sym** last = more.empty() ? cover + ncover : more.data() + more.size();
  std::sort(first, last, [](const Sym* a, const Sym* b) { return a->order < b->order; });
  for (const Sym** p = first; p != last; ++p) {
    const Sym& s = **p;
    if (!closest || closest->start < s.start || closest->binding < s.binding)
      closest = &s;
    else if (closest->start == s.start &&
             ((closest->size > s.size && closest->binding <= s.binding) ||
              (closest->size >= s.size && closest->binding < s.binding)))
      closest = &s;
  }
  // The highest sizeless symbol at or below the address, in the address's
  // section by address (both in none counts as the same: _end at the end of
  // .bss), the address in the module; absolute labels only at their value.
  size_t send =
      size_t(std::upper_bound(g.sizeless.begin(), g.sizeless.end(), address, after) - g.sizeless.begin());
  if (send == 0) return;
  uint64_t top = g.sizeless[send - 1].start;
  min_label = std::max(min_label, top);
  if (closest) return;
  // Of labels at the same value libdwfl keeps the last one it visits: the
  // highest in table order, and a local (searched second) over a global.
  bool in_module = address >= low_ && address <= high_;
  unsigned here = section_of(address);
  for (size_t k = send; k > 0 && g.sizeless[k - 1].start == top; --k) {
    const Sym& s = g.sizeless[k - 1];
    if (s.absolute ? s.start != address : !in_module || s.section != here) continue;
    if (!sizeless || sizeless->start <= s.start) sizeless = &s;
    break;
  }
}

std::string SymbolIndex::lookup(uint64_t address, uint64_t* start) const {
  const Sym* closest = nullptr;
  const Sym* sizeless = nullptr;
  uint64_t min_label = 0;
  search(groups_[0], address, closest, sizeless, min_label);
  // Locals only when no global covers it (and no global label sits exactly there).
  if (!closest && !(sizeless && sizeless->start == address))
    search(groups_[1], address, closest, sizeless, min_label);
  const Sym* s = closest;
  if (!s && sizeless && sizeless->start >= min_label) s = sizeless;
  if (!s) return {};
  if (start) *start = s->start;
  std::string name(s->name);
  auto at = name.find('@');
  if (at != std::string::npos && at > 0) name.resize(at);
  return name;
}

}  // namespace heapscope
