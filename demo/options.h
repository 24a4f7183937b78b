// options.h -- leaky_server's command line.
//   leaky_server [--host 127.0.0.1] [--port 3000] [--cache leaky|bounded|ttl|weak]
//                [--max-entries N] [--ttl SEC] [--no-prune] [--monitor SEC]
// --port 0 picks a free port; the "listening on" line says which.
// Pure parsing; throws std::invalid_argument naming the option, the value
// and what was expected.
#pragma once

#include <string>

#include "cache.h"

namespace demo {

struct Options {
  std::string host = "127.0.0.1";
  int port = 3000;
  CacheOptions cache;
  double monitor_s = 5;  // 0 = off
  bool help = false;
};

Options parse_options(int argc, char** argv);
const char* usage();

}  // namespace demo
