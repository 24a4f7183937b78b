// foreign_util.h -- helpers for the foreign-reader tests: run a program with
// an environment, parse the function addresses it prints, find a site by the
// function one of its pcs falls in, and run `go tool pprof -raw`.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "model/profile.h"

namespace heapscope::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/heapscope-export-XXXXXX";
    if (char* d = mkdtemp(tmpl)) path = d;
  }
  ~TempDir() {
    if (!path.empty()) std::system(("rm -rf '" + path + "'").c_str());
  }
};

// Runs `cmd` through the shell; returns stdout; *status gets the exit status.
inline std::string shell(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "keep_small=0x... keep_big=0x... base=0x..." -> name -> address.
inline std::map<std::string, uint64_t> parse_addresses(const std::string& line) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(line);
  std::string tok;
  while (in >> tok) {
    auto eq = tok.find('=');
    if (eq == std::string::npos) continue;
    out[tok.substr(0, eq)] = std::stoull(tok.substr(eq + 1), nullptr, 16);
  }
  return out;
}

// The sites allocated directly by function `name`: the stack's innermost pc
// inside the executable (from `base`, below the allocator's frames) lies in
// [its address, the next printed function's address).
inline std::vector<const Site*> sites_in(const Profile& p, const std::map<std::string, uint64_t>& fns,
                                         const std::string& name) {
  uint64_t lo = fns.at(name), hi = lo + 0x100, base = fns.at("base");
  for (const auto& [n, a] : fns)
    if (n != "base" && a > lo && a < hi) hi = a;
  std::vector<const Site*> out;
  for (const auto& s : p.sites)
    for (uint64_t pc : s.pcs)
      if (pc >= base && pc < base + (1u << 24)) {
        if (pc > lo && pc <= hi) out.push_back(&s);
        break;
      }
  return out;
}

inline Counts sum_counts(const std::vector<const Site*>& sites) {
  Counts c;
  for (const Site* s : sites) {
    c.inuse_bytes += s->counts.inuse_bytes;
    c.inuse_count += s->counts.inuse_count;
    c.alloc_bytes += s->counts.alloc_bytes;
    c.alloc_count += s->counts.alloc_count;
  }
  return c;
}

inline std::array<int64_t, 4> as_array(const Counts& c) {
  return {c.alloc_count, c.alloc_bytes, c.inuse_count, c.inuse_bytes};
}

// `go tool pprof -raw FILE`: each sample's (alloc_objects, alloc_space,
// inuse_objects, inuse_space), sorted; pprof merges samples with equal stacks.
// When the file has no separate allocation figures pprof shows only
// (objects, space) = in-use; the alloc pair is then -1. Fails if go is missing.
inline std::vector<std::array<int64_t, 4>> pprof_raw_values(const std::string& file, const std::string& tmp) {
  std::vector<std::array<int64_t, 4>> out;
  int st = -1;
  std::string cmd = "cd '" + tmp + "' && HOME='" + tmp + "' GOCACHE='" + tmp + "/cache' GOPATH='" + tmp +
                    "/gopath' PPROF_TMPDIR='" + tmp + "' PPROF_BINARY_PATH=/nonexistent go tool pprof -raw '" + file +
                    "' 2>&1";
  std::string text = shell(cmd, &st);
  EXPECT_EQ(st, 0) << "go tool pprof failed (golang-go is in tests/packages.txt): " << text;
  std::istringstream in(text);
  std::string line;
  int types = 0;
  while (std::getline(in, line)) {
    if (line.rfind("alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes", 0) == 0) {
      types = 4;
      continue;
    }
    if (line.rfind("objects/count space/bytes", 0) == 0) {
      types = 2;
      continue;
    }
    if (!types) continue;
    if (line.rfind("Locations", 0) == 0) break;
    auto colon = line.find(':');
    if (colon == std::string::npos || line.find("bytes:[") != std::string::npos) continue;
    std::istringstream v(line.substr(0, colon));
    std::array<int64_t, 4> a{-1, -1, 0, 0};
    if (types == 4 ? bool(v >> a[0] >> a[1] >> a[2] >> a[3]) : bool(v >> a[2] >> a[3])) out.push_back(a);
  }
  EXPECT_GT(types, 0) << text;
  std::sort(out.begin(), out.end());
  return out;
}

// Our sites' figures, merged by stack as pprof merges them; with
// inuse_only, the alloc pair is -1 (see pprof_raw_values).
inline std::vector<std::array<int64_t, 4>> site_values(const Profile& p, bool inuse_only = false) {
  std::map<std::vector<uint64_t>, std::array<int64_t, 4>> merged;
  for (const auto& s : p.sites) {
    auto& a = merged[s.pcs];
    a[0] += s.counts.alloc_count;
    a[1] += s.counts.alloc_bytes;
    a[2] += s.counts.inuse_count;
    a[3] += s.counts.inuse_bytes;
  }
  std::vector<std::array<int64_t, 4>> out;
  for (auto& [pcs, a] : merged) {
    if (inuse_only) a[0] = a[1] = -1;
    out.push_back(a);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace heapscope::testing
