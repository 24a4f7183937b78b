// heapprofile.cpp -- FlameData -> Chrome DevTools .heapprofile JSON (see
// heapprofile.h). Safety: output proportional to the input; sums saturate;
// the tree is built and written without recursion; nlohmann_json escapes
// strings (invalid UTF-8 replaced).
#include "render/heapprofile.h"

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>
#include <vector>

namespace heapscope {
namespace {

struct Node {
  const FlameFrame* frame = nullptr;  // null: the root
  int64_t self = 0;
  std::vector<size_t> children;  // indices into the node vector, in first-seen order
  std::map<std::tuple<std::string, std::string, int, std::string>, size_t> index;
};

std::string json_string(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string render_heapprofile(const FlameData& data) {
  std::vector<Node> nodes(1);
  std::vector<std::pair<size_t, int64_t>> samples;  // (node, bytes) per stack
  for (const auto& s : data.stacks) {
    size_t at = 0;
    for (const auto& f : s.frames) {
      auto key = std::make_tuple(f.name, f.file, f.line, f.module);
      auto it = nodes[at].index.find(key);
      if (it == nodes[at].index.end()) {
        size_t id = nodes.size();
        nodes[at].index.emplace(std::move(key), id);
        nodes[at].children.push_back(id);
        nodes.emplace_back();
        nodes.back().frame = &f;
        at = id;
      } else {
        at = it->second;
      }
    }
    nodes[at].self = sat_add(nodes[at].self, s.value);
    samples.emplace_back(at, s.value);
  }

  std::map<std::string, size_t> script_ids;  // module path -> id ("0" is no module)
  auto script_id = [&](const std::string& module) {
    if (module.empty()) return size_t{0};
    return script_ids.try_emplace(module, script_ids.size() + 1).first->second;
  };
  std::string out = "{\"head\":";
  // Pre-order walk: (node, next child to write).
  std::vector<std::pair<size_t, size_t>> stack = {{0, 0}};
  auto open_node = [&](size_t n) {
    const Node& node = nodes[n];
    std::string fn = "(root)", url, sid = "0";
    int line = -1;
    if (node.frame) {
      fn = node.frame->name;
      url = node.frame->file.empty() ? node.frame->module : node.frame->file;
      line = node.frame->line > 0 ? node.frame->line - 1 : -1;
      sid = std::to_string(script_id(node.frame->module));
    }
    out += "{\"callFrame\":{\"functionName\":" + json_string(fn) + ",\"scriptId\":" + json_string(sid) +
           ",\"url\":" + json_string(url) + ",\"lineNumber\":" + std::to_string(line) +
           ",\"columnNumber\":-1},\"selfSize\":" + std::to_string(node.self) +
           ",\"id\":" + std::to_string(n + 1) + ",\"children\":[";
  };
  open_node(0);
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < nodes[n].children.size()) {
      if (next) out += ',';
      size_t child = nodes[n].children[next++];
      open_node(child);
      stack.emplace_back(child, 0);
    } else {
      out += "]}";
      stack.pop_back();
    }
  }
  out += ",\"samples\":[";
  for (size_t i = 0; i < samples.size(); ++i) {
    if (i) out += ',';
    out += "{\"size\":" + std::to_string(samples[i].second) + ",\"nodeId\":" +
           std::to_string(samples[i].first + 1) + ",\"ordinal\":" + std::to_string(i + 1) + "}";
  }
  out += "]}\n";
  return out;
}

}  // namespace heapscope
