// std_leaks.cpp -- test program (built -O2 -g) run under the real profiler by
// export_origin_test.sh: three functions of its own leak through the standard
// library, each at a line marked "LINE:<name>", so every allocation's innermost
// frames are inlined std:: templates (std::__new_allocator<...>::allocate):
//   leak_shared  std::make_shared<std::vector<char>>(40000)  x 50 -> ~2.0 MB
//   leak_map     std::map<long, std::string>::emplace       x 200 -> ~1.0 MB
//   leak_vector  std::vector<Record>::push_back (96 B)    x 8000 -> ~1.2 MB capacity
// and one that churns (all freed). The exit snapshot holds the leaks.
#include <map>
#include <memory>
#include <string>
#include <vector>

struct Record {
  long id;
  char payload[88];
};

std::shared_ptr<std::vector<char>> g_shared[50];
std::map<long, std::string> g_map;
std::vector<Record> g_records;

__attribute__((noinline)) void leak_shared(int i) {
  g_shared[i] = std::make_shared<std::vector<char>>(40000, 'x');  // LINE:leak_shared
}

__attribute__((noinline)) void leak_map(long key) {
  g_map.emplace(key, std::string(5000, 'm'));  // LINE:leak_map
}

__attribute__((noinline)) void leak_vector(long id) {
  g_records.push_back(Record{id, {}});  // LINE:leak_vector
}

__attribute__((noinline)) void churn() {
  for (int i = 0; i < 100; ++i) {
    std::vector<char> v(30000, 'c');
    asm volatile("" : : "r"(v.data()) : "memory");
  }
}

int main() {
  for (int i = 0; i < 50; ++i) leak_shared(i);
  for (long k = 0; k < 200; ++k) leak_map(k);
  for (long id = 0; id < 8000; ++id) leak_vector(id);
  churn();
  return g_shared[49] && g_map.size() == 200 && g_records.size() == 8000 ? 0 : 1;
}
