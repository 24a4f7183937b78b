// plugin.cpp -- test plugin (built -O2 -g), dlopen'd by containers: grows a
// std::vector<long> at the marked line.
#include <vector>

static std::vector<long> g_plugin_vec;

extern "C" __attribute__((visibility("default"))) void plugin_fill(int n) {
  for (int i = 0; i < n; ++i) g_plugin_vec.push_back(i);  // LINE:plugin
}
