// file.cpp -- see file.h.
#include "util/file.h"

#include <fstream>
#include <sstream>

namespace heapscope {
bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string status_field(const std::string& status, const std::string& name) {
  size_t at = status.find("\n" + name + ":");
  if (at == std::string::npos && status.rfind(name + ":", 0) == 0) at = 0;
  else if (at == std::string::npos) return "";
  else ++at;
  size_t v = at + name.size() + 1;
  while (v < status.size() && (status[v] == ' ' || status[v] == '\t')) ++v;
  size_t e = status.find('\n', v);
  return status.substr(v, e == std::string::npos ? std::string::npos : e - v);
}
}  // namespace heapscope
