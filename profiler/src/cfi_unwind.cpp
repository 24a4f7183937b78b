// cfi_unwind.cpp -- see cfi_unwind.h.
#include "cfi_unwind.h"

#include <atomic>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "arena.h"

namespace hs {
namespace {
// Packed rule (64 bits): kind:2 | cfa_is_rbp:1 | rbp_saved:1 | pad:4 |
// cfa_off:24 (signed) | rbp_off:16 (signed) | ra_off:16 (signed).
enum Kind : uint64_t { kUnsupported = 1, kEnd = 2, kOk = 3 };
struct Rule {
  Kind kind;
  bool cfa_is_rbp, rbp_saved;
  int32_t cfa_off;
  int16_t rbp_off, ra_off;
};
uint64_t pack(const Rule& r) {
  return (uint64_t)r.kind | (uint64_t)r.cfa_is_rbp << 2 | (uint64_t)r.rbp_saved << 3 |
         ((uint64_t)(uint32_t)r.cfa_off & 0xffffff) << 8 | (uint64_t)(uint16_t)r.rbp_off << 32 |
         (uint64_t)(uint16_t)r.ra_off << 48;
}
Rule unpack(uint64_t v) {
  Rule r;
  r.kind = (Kind)(v & 3);
  r.cfa_is_rbp = (v >> 2) & 1;
  r.rbp_saved = (v >> 3) & 1;
  r.cfa_off = (int32_t)((uint32_t)(v >> 8) << 8) >> 8;  // sign-extend 24 bits
  r.rbp_off = (int16_t)(v >> 32);
  r.ra_off = (int16_t)(v >> 48);
  return r;
}

struct Entry {
  std::atomic<uintptr_t> key;  // 0 empty, 1 being written, else the return address
  std::atomic<uint64_t> rule;
};
constexpr uint32_t kCacheLog2 = 16;  // 64 Ki return addresses, 1 MiB
Entry* g_cache = nullptr;

// ---- DWARF readers (bounded by `end`) ----------------------------------------
struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;
  uint8_t u8() {
    if (p >= end) return ok = false, 0;
    return *p++;
  }
  uint64_t uleb() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = u8();
      v |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  int64_t sleb() {
    int64_t v = 0;
    int shift = 0;
    uint8_t b;
    do {
      b = u8();
      v |= (int64_t)(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) && shift < 64 && ok);
    if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
    return v;
  }
  template <class T>
  T fixed() {
    if ((size_t)(end - p) < sizeof(T)) return ok = false, T();
    T v;
    memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  // DW_EH_PE encoded pointer; datarel relative to `dbase`.
  uintptr_t encoded(uint8_t enc, uintptr_t dbase) {
    if (enc == 0xff) return 0;  // omit
    const uint8_t* at = p;
    uint64_t v;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<uint64_t>(); break;
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<uint16_t>(); break;
      case 0x03: v = fixed<uint32_t>(); break;
      case 0x04: v = fixed<uint64_t>(); break;
      case 0x09: v = (uint64_t)sleb(); break;
      case 0x0a: v = (uint64_t)(int64_t)fixed<int16_t>(); break;
      case 0x0b: v = (uint64_t)(int64_t)fixed<int32_t>(); break;
      case 0x0c: v = fixed<uint64_t>(); break;
      default: ok = false; return 0;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += (uintptr_t)at; break;  // pcrel
      case 0x30: v += dbase; break;          // datarel
      default: ok = false; return 0;
    }
    if (enc & 0x80) ok = false;  // indirect: not used by x86-64 .eh_frame_hdr tables
    return v;
  }
};

constexpr int kRegRbp = 6, kRegRsp = 7, kRegRa = 16;

struct CfaState {
  int cfa_reg = kRegRsp;
  int64_t cfa_off = 8;
  int rbp_kind = 0;  // 0 same value, 1 saved at CFA + rbp_off, 2 unsupported
  int64_t rbp_off = 0;
  int ra_kind = 0;  // 0 not set, 1 at CFA + ra_off, 2 undefined (outermost), 3 unsupported
  int64_t ra_off = 0;
};

struct Cie {
  uint64_t code_align = 1;
  int64_t data_align = -8;
  uint64_t ra_reg = kRegRa;
  uint8_t fde_enc = 0;
  bool has_z = false, signal = false;
  const uint8_t* insns = nullptr;
  const uint8_t* end = nullptr;
};

bool parse_cie(const uint8_t* cie, const uint8_t* limit, Cie* c) {
  Reader r{cie, limit};
  uint32_t len = r.fixed<uint32_t>();
  if (!r.ok || len == 0xffffffff || len > (size_t)(limit - cie)) return false;
  r.end = cie + 4 + len;
  if (r.fixed<uint32_t>() != 0) return false;  // CIE id
  uint8_t version = r.u8();
  const char* aug = (const char*)r.p;
  while (r.u8()) {
  }
  if (!r.ok) return false;
  c->code_align = r.uleb();
  c->data_align = r.sleb();
  c->ra_reg = version == 1 ? r.u8() : r.uleb();
  if (aug[0] == 'z') {
    c->has_z = true;
    uint64_t alen = r.uleb();
    const uint8_t* after = r.p + alen;
    for (const char* a = aug + 1; *a && r.ok; ++a) {
      if (*a == 'R') c->fde_enc = r.u8();
      else if (*a == 'P') r.encoded(r.u8() & 0x7f, 0);  // skipped, never dereferenced
      else if (*a == 'L') r.u8();
      else if (*a == 'S') c->signal = true;
      else break;  // unknown: the length tells us where the instructions start
    }
    r.p = after;
  } else if (aug[0]) {
    return false;
  }
  c->insns = r.p;
  c->end = r.end;
  return r.ok && r.p <= r.end && c->ra_reg == kRegRa;
}

// Runs CFA instructions until the location passes `target`.
bool run_cfa(const uint8_t* p, const uint8_t* end, uintptr_t loc, uintptr_t target, const Cie& c,
             const CfaState& initial, CfaState* s) {
  Reader r{p, end};
  CfaState stack[8];
  int depth = 0;
  while (r.p < r.end && r.ok) {
    uint8_t op = r.u8();
    uint8_t hi = op & 0xc0, lo = op & 0x3f;
    uint64_t reg = 0;
    int64_t off = 0;
    auto set_off = [&](uint64_t rg, int64_t o) {
      if (rg == kRegRbp) s->rbp_kind = 1, s->rbp_off = o;
      else if (rg == kRegRa) s->ra_kind = 1, s->ra_off = o;
    };
    auto set_unsupported = [&](uint64_t rg) {
      if (rg == kRegRbp) s->rbp_kind = 2;
      else if (rg == kRegRa) s->ra_kind = 3;
    };
    auto restore = [&](uint64_t rg) {
      if (rg == kRegRbp) s->rbp_kind = initial.rbp_kind, s->rbp_off = initial.rbp_off;
      else if (rg == kRegRa) s->ra_kind = initial.ra_kind, s->ra_off = initial.ra_off;
    };
    auto advance = [&](uint64_t delta) {
      loc += delta * c.code_align;
      return loc <= target;
    };
    if (hi == 0x40) {
      if (!advance(lo)) return true;
      continue;
    }
    if (hi == 0x80) {
      set_off(lo, (int64_t)r.uleb() * c.data_align);
      continue;
    }
    if (hi == 0xc0) {
      restore(lo);
      continue;
    }
    switch (op) {
      case 0x00: break;                                                   // nop
      case 0x02: if (!advance(r.u8())) return true; break;               // advance_loc1
      case 0x03: if (!advance(r.fixed<uint16_t>())) return true; break;  // advance_loc2
      case 0x04: if (!advance(r.fixed<uint32_t>())) return true; break;  // advance_loc4
      case 0x05: reg = r.uleb(); set_off(reg, (int64_t)r.uleb() * c.data_align); break;
      case 0x06: restore(r.uleb()); break;
      case 0x07:  // undefined
        reg = r.uleb();
        if (reg == kRegRa) s->ra_kind = 2;
        else if (reg == kRegRbp) s->rbp_kind = 2;
        break;
      case 0x08:  // same_value
        reg = r.uleb();
        if (reg == kRegRbp) s->rbp_kind = 0;
        else if (reg == kRegRa) s->ra_kind = 3;
        break;
      case 0x09: reg = r.uleb(); r.uleb(); set_unsupported(reg); break;  // register
      case 0x0a:
        if (depth == 8) return false;
        stack[depth++] = *s;
        break;
      case 0x0b:
        if (depth == 0) return false;
        *s = stack[--depth];  // the whole row, CFA included (GCC's epilogues rely on it)
        break;
      case 0x0c: s->cfa_reg = (int)r.uleb(); s->cfa_off = (int64_t)r.uleb(); break;
      case 0x0d: s->cfa_reg = (int)r.uleb(); break;
      case 0x0e: s->cfa_off = (int64_t)r.uleb(); break;
      case 0x0f: return false;  // def_cfa_expression
      case 0x10: reg = r.uleb(); off = (int64_t)r.uleb(); r.p += off; set_unsupported(reg); break;
      case 0x11: reg = r.uleb(); set_off(reg, r.sleb() * c.data_align); break;
      case 0x12: s->cfa_reg = (int)r.uleb(); s->cfa_off = r.sleb() * c.data_align; break;
      case 0x13: s->cfa_off = r.sleb() * c.data_align; break;
      case 0x14: reg = r.uleb(); r.uleb(); set_unsupported(reg); break;
      case 0x15: reg = r.uleb(); r.sleb(); set_unsupported(reg); break;
      case 0x16: reg = r.uleb(); off = (int64_t)r.uleb(); r.p += off; set_unsupported(reg); break;
      case 0x2e: r.uleb(); break;  // GNU_args_size
      case 0x2f: reg = r.uleb(); set_off(reg, -(int64_t)r.uleb() * c.data_align); break;
      default: return false;  // set_loc and anything unknown
    }
  }
  return r.ok;
}

Rule compute_rule(uintptr_t ra) {
  Rule bad{kUnsupported, false, false, 0, 0, 0};
  const uintptr_t pc = ra - 1;  // inside the call instruction
  struct dl_find_object fo;
  if (_dl_find_object((void*)pc, &fo) != 0 || !fo.dlfo_eh_frame) return bad;
  const uint8_t* hdr = (const uint8_t*)fo.dlfo_eh_frame;
  const uint8_t* map_end = (const uint8_t*)fo.dlfo_map_end;
  if (hdr >= map_end) return bad;
  Reader r{hdr, map_end};
  if (r.u8() != 1) return bad;
  uint8_t ptr_enc = r.u8(), count_enc = r.u8(), table_enc = r.u8();
  r.encoded(ptr_enc, (uintptr_t)hdr);
  uint64_t count = r.encoded(count_enc, (uintptr_t)hdr);
  if (!r.ok || table_enc != 0x3b || count == 0) return bad;  // datarel|sdata4 table
  const int32_t* table = (const int32_t*)r.p;
  if ((const uint8_t*)(table + 2 * count) > map_end) return bad;
  // Last entry whose start <= pc.
  uint64_t lo = 0, hi = count;
  while (hi - lo > 1) {
    uint64_t mid = (lo + hi) / 2;
    if ((uintptr_t)hdr + table[2 * mid] <= pc) lo = mid;
    else hi = mid;
  }
  if ((uintptr_t)hdr + table[2 * lo] > pc) return bad;
  const uint8_t* fde = hdr + table[2 * lo + 1];
  if (fde < (const uint8_t*)fo.dlfo_map_start || fde + 8 > map_end) return bad;
  Reader f{fde, map_end};
  uint32_t len = f.fixed<uint32_t>();
  if (!f.ok || len == 0 || len == 0xffffffff || len > (size_t)(map_end - fde)) return bad;
  f.end = fde + 4 + len;
  const uint8_t* cie_ptr_at = f.p;
  uint32_t cie_off = f.fixed<uint32_t>();
  const uint8_t* cie = cie_ptr_at - cie_off;
  if (cie < (const uint8_t*)fo.dlfo_map_start || cie >= map_end) return bad;
  Cie c;
  if (!parse_cie(cie, map_end, &c) || c.signal) return bad;
  uintptr_t start = f.encoded(c.fde_enc, 0);
  uintptr_t range = f.encoded(c.fde_enc & 0x0f, 0);
  if (!f.ok || pc < start || pc >= start + range) return bad;
  if (c.has_z) {
    uint64_t alen = f.uleb();
    f.p += alen;
  }
  if (!f.ok || f.p > f.end) return bad;
  CfaState init;
  if (!run_cfa(c.insns, c.end, 0, UINTPTR_MAX, c, init, &init)) return bad;
  CfaState s = init;
  if (!run_cfa(f.p, f.end, start, pc, c, init, &s)) return bad;
  if (s.ra_kind == 2) return Rule{kEnd, false, false, 0, 0, 0};
  if (s.ra_kind != 1 || s.rbp_kind == 2) return bad;
  if (s.cfa_reg != kRegRsp && s.cfa_reg != kRegRbp) return bad;
  if (s.cfa_off < -(1 << 23) || s.cfa_off >= (1 << 23) || s.ra_off < -32768 || s.ra_off > 32767 ||
      s.rbp_off < -32768 || s.rbp_off > 32767)
    return bad;
  return Rule{kOk, s.cfa_reg == kRegRbp, s.rbp_kind == 1, (int32_t)s.cfa_off, (int16_t)s.rbp_off,
              (int16_t)s.ra_off};
}

Rule lookup(uintptr_t ra) {
  if (!g_cache) return compute_rule(ra);
  const uint64_t mask = ((uint64_t)1 << kCacheLog2) - 1;
  uint64_t i = (ra * 0x9E3779B97F4A7C15ull) >> (64 - kCacheLog2);
  for (int probe = 0; probe < 8; ++probe, i = (i + 1) & mask) {
    Entry& e = g_cache[i];
    uintptr_t k = e.key.load(std::memory_order_acquire);
    if (k == ra) return unpack(e.rule.load(std::memory_order_relaxed));
    if (k == 0) {
      Rule rule = compute_rule(ra);
      uintptr_t expected = 0;
      if (e.key.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
        e.rule.store(pack(rule), std::memory_order_relaxed);
        e.key.store(ra, std::memory_order_release);
      }
      return rule;
    }
  }
  return compute_rule(ra);  // crowded: compute without caching
}
}  // namespace

bool cfi_init() {
  if (!g_cache) g_cache = (Entry*)os_map_huge(sizeof(Entry) << kCacheLog2);
  return g_cache != nullptr;
}

void cfi_forget_all() {
  if (!g_cache) return;
  for (size_t i = 0; i < ((size_t)1 << kCacheLog2); ++i)
    if (g_cache[i].key.load(std::memory_order_relaxed) > 1) g_cache[i].key.store(0, std::memory_order_relaxed);
}

// HOT PATH (every recorded allocation). Budget per frame on a cache hit: one
// hash probe, two or three loads from the stack, bounds checks.
bool cfi_stack_bounds(ThreadState& t) {
  if (HS_UNLIKELY(t.stack_known == 0)) learn_stack_bounds(t);
  return t.stack_known == 1;
}

int cfi_walk(const uintptr_t* fp, uintptr_t* out, int max, bool* more, ThreadState& t, ReadLog* log) {
  *more = false;
  if (!cfi_stack_bounds(t)) return -1;
  const uintptr_t lo = t.stack_lo, hi = t.stack_hi;
  auto in_stack = [&](uintptr_t a) { return a >= lo && a <= hi - 8 && !(a & 7); };
  auto load = [&](uintptr_t a) {
    uintptr_t v = *(const uintptr_t*)a;
    if (log) {
      if (log->n < log->cap) log->addr[log->n] = a, log->val[log->n++] = v;
      else log->overflow = true;
    }
    return v;
  };
  if (!in_stack((uintptr_t)fp) || !in_stack((uintptr_t)fp + 8)) return -1;
  uintptr_t rip = fp[1], rsp = (uintptr_t)fp + 16, rbp = fp[0];
  // A restored rbp is logged only when a later rule consumes it (CFA = rbp +
  // off): code built without frame pointers saves rbp as an ordinary callee-
  // saved register holding data that changes from call to call, and the walk
  // does not depend on a restored value that is overwritten or never used.
  // rbp_from: the stack address the current rbp was loaded from, 0 = fp[0]
  // (the caller checks that word itself) or already logged.
  uintptr_t rbp_from = 0;
  int n = 0;
  while (rip) {
    if (n == max) {
      *more = true;
      break;
    }
    out[n++] = rip;
    Rule r = lookup(rip);
    if (r.kind == kEnd) break;
    if (r.kind != kOk) return -1;
    if (r.cfa_is_rbp && rbp_from) {
      if (log) {
        if (log->n < log->cap) log->addr[log->n] = rbp_from, log->val[log->n++] = rbp;
        else log->overflow = true;
      }
      rbp_from = 0;
    }
    uintptr_t cfa = (r.cfa_is_rbp ? rbp : rsp) + (intptr_t)r.cfa_off;
    if (cfa <= rsp || cfa > hi) return -1;  // frames move toward the stack base
    uintptr_t ra_at = cfa + (intptr_t)r.ra_off;
    if (!in_stack(ra_at)) return -1;
    if (r.rbp_saved) {
      uintptr_t rbp_at = cfa + (intptr_t)r.rbp_off;
      if (!in_stack(rbp_at)) return -1;
      rbp = *(const uintptr_t*)rbp_at;  // logged when consumed, see above
      rbp_from = rbp_at;
    }
    rip = load(ra_at);
    rsp = cfa;
  }
  return n;
}
}  // namespace hs
