// containers.cpp -- test program (built -O2 -g): each scenario inserts into a
// standard container at a line marked "LINE:<name>", recording the stacks of
// the allocations it makes; writes OUTDIR/<name>.hsnap per scenario.
// Usage: containers OUTDIR [PLUGIN.so ...]  (each plugin: OUTDIR/plugin<N>.hsnap)
#include <dlfcn.h>

#include <cstdio>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "record_alloc.h"

struct CacheEntry {
  long created;
  char payload[48];
};

struct Widget {
  explicit Widget(long v) : value(v) {}
  long value;
  char pad[100];
};

std::map<long, CacheEntry> g_map;
std::unordered_map<long, double> g_umap;
std::vector<int> g_vec;
std::deque<long> g_deque;
std::list<std::pair<int, int>> g_list;
std::set<int> g_set;
std::string g_str;
std::shared_ptr<Widget> g_shared;
std::function<long()> g_fn;

__attribute__((noinline)) void fill_map(long n) {
  for (long i = 0; i < n; ++i) {
    g_map.emplace(i * 7, CacheEntry{i, {}});  // LINE:map
  }
}
__attribute__((noinline)) void fill_umap(long n) {
  for (long i = 0; i < n; ++i) g_umap.emplace(i, double(i));  // LINE:umap
}
__attribute__((noinline)) void fill_vector(int n) {
  for (int i = 0; i < n; ++i) g_vec.push_back(i);  // LINE:vector
}
__attribute__((noinline)) void fill_deque(long n) {
  for (long i = 0; i < n; ++i) g_deque.push_back(i);  // LINE:deque
}
__attribute__((noinline)) void fill_list(int n) {
  for (int i = 0; i < n; ++i) g_list.emplace_back(i, i);  // LINE:list
}
__attribute__((noinline)) void fill_set(int n) {
  for (int i = 0; i < n; ++i) g_set.insert(i * 3);  // LINE:set
}
__attribute__((noinline)) void fill_string(int n) {
  g_str.assign(size_t(n), 'x');  // LINE:string
}
__attribute__((noinline)) void make_widget(long v) {
  g_shared = std::make_shared<Widget>(v);  // LINE:shared
}
__attribute__((noinline)) void make_function(long a, long b, long c) {
  g_fn = [a, b, c, d = a + b, e = b + c] { return a + b + c + d + e; };  // LINE:function
}

namespace {
template <typename F>
bool scenario(const std::string& dir, const char* name, F f) {
  record_alloc::start();
  f();
  record_alloc::stop();
  std::string path = dir + "/" + name + ".hsnap";
  if (!record_alloc::write_snapshot(path)) {
    std::fprintf(stderr, "containers: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: containers OUTDIR [PLUGIN.so ...]\n");
    return 2;
  }
  std::string dir = argv[1];
  bool ok = scenario(dir, "map", [] { fill_map(20); }) &&
            scenario(dir, "umap", [] { fill_umap(20); }) &&
            scenario(dir, "vector", [] { fill_vector(100); }) &&
            scenario(dir, "deque", [] { fill_deque(200); }) &&
            scenario(dir, "list", [] { fill_list(10); }) &&
            scenario(dir, "set", [] { fill_set(10); }) &&
            scenario(dir, "string", [] { fill_string(1000); }) &&
            scenario(dir, "shared", [] { make_widget(5); }) &&
            scenario(dir, "function", [] { make_function(1, 2, 3); });
  for (int i = 2; ok && i < argc; ++i) {
    void* h = dlopen(argv[i], RTLD_NOW);
    if (!h) {
      std::fprintf(stderr, "containers: %s\n", dlerror());
      return 1;
    }
    auto fill = reinterpret_cast<void (*)(int)>(dlsym(h, "plugin_fill"));
    if (!fill) return 1;
    ok = scenario(dir, ("plugin" + std::to_string(i - 1)).c_str(), [&] { fill(50); });
  }
  return ok ? 0 : 1;
}
