// cxx_ledger.cpp -- an attach target that allocates through operator new, built
// with -static-libstdc++ (operator new/delete live in the executable itself
// and call malloc through its own PLT slot). Same protocol as ledger.c:
// prints "ready", then one reply line per command on stdin.
//   new N    N objects of 72 bytes at new_site, kept     -> "new N total T"
//   vec N    a std::vector<int> grown by N push_backs     -> "vec N"
//   delete   deletes every new_site object                -> "deleted K"
//   quit                                                   -> "bye 1", exit 0
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

struct Obj {
  char bytes[72];
};

static std::vector<Obj*>* kept;  // reserved before any attach: its growth is not in the test's counts
static std::vector<int>* grown;

__attribute__((noinline)) Obj* new_site() { return new Obj(); }
__attribute__((noinline)) void vec_site(int n) {
  for (int i = 0; i < n; ++i) grown->push_back(i);
}

int main() {
  kept = new std::vector<Obj*>();
  kept->reserve(100000);
  grown = new std::vector<int>();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("ready\n");
  std::string line;
  while (std::getline(std::cin, line)) {
    int n = 0;
    if (std::sscanf(line.c_str(), "new %d", &n) == 1) {
      for (int i = 0; i < n; ++i) kept->push_back(new_site());
      std::printf("new %d total %zu\n", n, kept->size());
    } else if (std::sscanf(line.c_str(), "vec %d", &n) == 1) {
      vec_site(n);
      std::printf("vec %d\n", n);
    } else if (line == "delete") {
      size_t k = kept->size();
      for (Obj* o : *kept) delete o;
      kept->clear();
      std::printf("deleted %zu\n", k);
    } else if (line == "quit") {
      std::printf("bye 1\n");
      return 0;
    } else {
      std::printf("unknown command\n");
    }
  }
  return 0;
}
