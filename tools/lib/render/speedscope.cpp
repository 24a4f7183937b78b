// speedscope.cpp -- FlameData -> speedscope JSON (see speedscope.h).
// Safety: output proportional to the input; nlohmann_json escapes strings.
#include "render/speedscope.h"

#include <map>
#include <nlohmann/json.hpp>

namespace heapscope {

std::string render_speedscope(const FlameData& data, const std::string& name) {
  using nlohmann::json;
  json frames = json::array();
  std::map<std::string, size_t> index;
  json samples = json::array();
  json weights = json::array();
  for (const auto& s : data.stacks) {
    json stack = json::array();
    for (const auto& f : s.frames) {
      auto [it, inserted] = index.try_emplace(f.name, frames.size());
      if (inserted) frames.push_back(json{{"name", f.name}});
      stack.push_back(it->second);
    }
    samples.push_back(std::move(stack));
    weights.push_back(s.value);
  }
  json profile = {{"type", "sampled"},
                  {"name", data.differential ? name + " (growth)" : name},
                  {"unit", "bytes"},
                  {"startValue", 0},
                  {"endValue", data.total},
                  {"samples", std::move(samples)},
                  {"weights", std::move(weights)}};
  json doc = {{"$schema", "https://www.speedscope.app/file-format-schema.json"},
              {"shared", {{"frames", std::move(frames)}}},
              {"profiles", json::array({std::move(profile)})},
              {"name", name},
              {"activeProfileIndex", 0},
              {"exporter", "heapscope"}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace heapscope
