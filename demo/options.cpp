// options.cpp -- see options.h.
#include "options.h"

#include <cstdlib>
#include <stdexcept>

namespace demo {
namespace {

double parse_number(const std::string& option, const std::string& value, double min) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end != '\0' || !(v >= min))
    throw std::invalid_argument(option + ": expected a number >= " + std::to_string(min) + ", got '" + value + "'");
  return v;
}

long parse_integer(const std::string& option, const std::string& value, long min, long max) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min || v > max)
    throw std::invalid_argument(option + ": expected an integer from " + std::to_string(min) + " to " +
                                std::to_string(max) + ", got '" + value + "'");
  return v;
}

}  // namespace

const char* usage() {
  return "usage: leaky_server [--host ADDR] [--port 3000] [--cache leaky|bounded|ttl|weak]\n"
         "                    [--max-entries 100] [--ttl 30] [--no-prune] [--monitor 5]\n"
         "  --host ADDR        address to listen on (default 127.0.0.1)\n"
         "  --port N           port (default 3000; 0 picks a free one)\n"
         "  --cache MODE       leaky: never pruned (the bug); bounded: oldest evicted at --max-entries;\n"
         "                     ttl: entries expire after --ttl seconds; weak: the cache holds weak_ptrs\n"
         "  --max-entries N    bounded mode's limit (default 100)\n"
         "  --ttl SEC          ttl mode's lifetime (default 30)\n"
         "  --no-prune         weak mode: keep expired slots (shows what they cost)\n"
         "  --monitor SEC      seconds between [monitor] lines on stdout (default 5; 0 = off)\n";
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    auto eq = arg.find('=');
    bool has_inline = arg.rfind("--", 0) == 0 && eq != std::string::npos;
    if (has_inline) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto next = [&]() -> std::string {
      if (has_inline) return value;
      if (i + 1 >= argc) throw std::invalid_argument(arg + ": expected a value after it");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--host") {
      o.host = next();
    } else if (arg == "--port") {
      o.port = static_cast<int>(parse_integer(arg, next(), 0, 65535));
    } else if (arg == "--cache") {
      o.cache.mode = next();
      if (o.cache.mode != "leaky" && o.cache.mode != "bounded" && o.cache.mode != "ttl" && o.cache.mode != "weak")
        throw std::invalid_argument("--cache: expected leaky, bounded, ttl or weak, got '" + o.cache.mode + "'");
    } else if (arg == "--max-entries") {
      o.cache.max_entries = static_cast<size_t>(parse_integer(arg, next(), 1, 1L << 30));
    } else if (arg == "--ttl") {
      o.cache.ttl_s = parse_number(arg, next(), 0.001);
    } else if (arg == "--no-prune") {
      o.cache.prune = false;
    } else if (arg == "--monitor") {
      o.monitor_s = parse_number(arg, next(), 0);
    } else {
      throw std::invalid_argument("unknown argument '" + std::string(argv[i]) + "' (see --help)");
    }
  }
  return o;
}

}  // namespace demo
