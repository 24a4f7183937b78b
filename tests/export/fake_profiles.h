// fake_profiles.h -- hand-made profiles with a fake frame lookup, so the
// renderers are tested on exact, known stacks without symbolizing anything.
#pragma once

#include <map>
#include <vector>

#include "model/profile.h"
#include "render/stacks.h"

namespace heapscope::testing {

struct FakeSymbols {
  std::map<uint64_t, std::vector<Frame>> table;
  std::vector<Frame> unknown;

  void add(uint64_t pc, std::vector<Frame> frames) {
    for (auto& f : frames) {
      f.address = pc;
      f.resolved = true;
    }
    table[pc] = std::move(frames);
  }
  FrameLookup lookup() {
    return [this](uint64_t pc) -> const std::vector<Frame>& {
      auto it = table.find(pc);
      if (it != table.end()) return it->second;
      Frame f;
      char buf[32];
      snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(pc));
      f.function = buf;
      f.address = pc;
      unknown = {f};
      return unknown;
    };
  }
};

inline Frame fr(const char* fn, const char* file, int line, bool inlined = false,
                const char* module = "/opt/demo/app") {
  Frame f;
  f.function = fn;
  f.file = file;
  f.line = line;
  f.inlined = inlined;
  f.module = module;
  return f;
}

inline Site site(std::vector<uint64_t> pcs, int64_t inuse_b, int64_t inuse_n, int64_t alloc_b, int64_t alloc_n) {
  Site s;
  s.pcs = std::move(pcs);
  s.counts = {inuse_b, inuse_n, alloc_b, alloc_n};
  return s;
}

// NEW: three sites in /opt/demo/app (code at 0x400000-0x500000 between a
// read-only and a data range, build-id abcd) and libc.
//   A: push_back (inlined into cache_insert) <- handle_request <- main: 3000 B / 3 live, 5000 / 5 allocated
//   B: make_buffer <- handle_request <- main: 1024 / 1 live
//   C: malloc <- main: nothing live, 700 / 7 allocated
inline Profile new_profile() {
  Profile p;
  p.path = "new.hsnap";
  p.format = "hsnap";
  p.time_unix_ns = 1700000000000000000ull;
  Module app;
  app.path = "/opt/demo/app";
  app.build_id = "abcd0123";
  app.main = true;
  app.ranges = {{0x3ff000, 0x400000, 0, 4}, {0x400000, 0x500000, 0x1000, 5}, {0x500000, 0x501000, 0x101000, 6}};
  Module libc;
  libc.path = "/lib/x86_64-linux-gnu/libc.so.6";
  libc.build_id = "ffee";
  libc.load_bias = 0x7f0000000000;
  libc.ranges = {{0x7f0000028000, 0x7f000017d000, 0x28000, 5}};
  p.modules = {libc, app};
  p.sites = {site({0x401000, 0x402000, 0x403000}, 3000, 3, 5000, 5),
             site({0x401100, 0x402000, 0x403000}, 1024, 1, 1024, 1),
             site({0x7f0000030000, 0x403000}, 0, 0, 700, 7)};
  p.totals = {4024, 4, 6724, 13};
  return p;
}

inline void new_symbols(FakeSymbols& s) {
  s.add(0x401000, {fr("std::vector<int>::push_back", "/usr/include/c++/12/bits/stl_vector.h", 1287, true),
                   fr("cache_insert", "cache.cpp", 42)});
  s.add(0x401100, {fr("make_buffer", "buf.cpp", 10)});
  s.add(0x402000, {fr("handle_request", "server.cpp", 77)});
  s.add(0x403000, {fr("main", "main.cpp", 5)});
  s.add(0x7f0000030000, {fr("malloc", "", 0, false, "/lib/x86_64-linux-gnu/libc.so.6")});
}

// BASE: another run (other addresses): A' = the same symbolized stack as A with
// 1000 B / 1 live; D: old_path <- main, 4096 / 2 live (gone in NEW).
inline Profile base_profile() {
  Profile p;
  p.path = "base.hsnap";
  p.format = "hsnap";
  Module app;
  app.path = "/opt/demo/app";
  app.build_id = "abcd0123";
  app.main = true;
  app.ranges = {{0x800000, 0x900000, 0, 5}};
  p.modules = {app};
  p.sites = {site({0x801000, 0x802000, 0x803000}, 1000, 1, 2000, 2),
             site({0x805000, 0x803000}, 4096, 2, 4096, 2)};
  p.totals = {5096, 3, 6096, 4};
  return p;
}

inline void base_symbols(FakeSymbols& s) {
  s.add(0x801000, {fr("std::vector<int>::push_back", "/usr/include/c++/12/bits/stl_vector.h", 1287, true),
                   fr("cache_insert", "cache.cpp", 42)});
  s.add(0x802000, {fr("handle_request", "server.cpp", 77)});
  s.add(0x803000, {fr("main", "main.cpp", 5)});
  s.add(0x805000, {fr("old_path", "old.cpp", 3)});
}

// The new and base profiles with their symbols, as every renderer's test reads them.
struct Fixture {
  Profile now = new_profile(), base = base_profile();
  FakeSymbols now_syms, base_syms;
  ExportInput now_in, base_in;
  Fixture() {
    new_symbols(now_syms);
    base_symbols(base_syms);
    now_in = {&now, now_syms.lookup()};
    base_in = {&base, base_syms.lookup()};
  }
};

}  // namespace heapscope::testing
