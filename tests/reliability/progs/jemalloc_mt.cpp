// jemalloc_mt.cpp -- a multi-threaded C++ program linked with -ljemalloc
// (jemalloc defines malloc AND operator new itself). 4 threads build maps,
// strings and vectors and exchange malloc'd buffers; output is deterministic.
// stdout: "jemalloc in use: yes|no", "thread T checksum C" x4, "done".
#include <jemalloc/jemalloc.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

static unsigned long long work(int t) {
  std::map<int, std::string> m;
  std::vector<std::vector<int>> vv;
  unsigned long long sum = 0;
  for (int i = 0; i < 20000; i++) {
    m[i % 3000] = std::string(20 + i % 90, char('a' + (i + t) % 26));
    vv.emplace_back(i % 50, i);
    if (vv.size() > 100) vv.erase(vv.begin(), vv.begin() + 50);
    char* p = static_cast<char*>(malloc(10 + i % 700));
    p[0] = char(i);
    sum += static_cast<unsigned char>(p[0]);
    p = static_cast<char*>(realloc(p, 2000));
    free(p);
  }
  for (auto& kv : m) sum += kv.second.size() * kv.first;
  return sum;
}

int main() {
  const char* ver = nullptr;
  size_t len = sizeof ver;
  bool je = mallctl("version", &ver, &len, nullptr, 0) == 0 && ver != nullptr;
  std::printf("jemalloc in use: %s\n", je ? "yes" : "no");
  unsigned long long sums[4];
  std::vector<std::thread> th;
  for (int t = 0; t < 4; t++) th.emplace_back([t, &sums] { sums[t] = work(t); });
  for (auto& x : th) x.join();
  for (int t = 0; t < 4; t++) std::printf("thread %d checksum %llu\n", t, sums[t]);
  std::printf("done\n");
  return 0;
}
