// test_util.h -- small helpers shared by the tools tests: a temporary
// directory removed at scope exit, running a command and capturing its
// output, reading a file, finding a marked line in a source file.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "reader/reader.h"

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/heapscope-test-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

inline std::string profile_error(const std::string& path) {
  try {
    heapscope::read_profile(path);
  } catch (const heapscope::FormatError& e) {
    return e.what();
  }
  return "";
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int status = -1;  // exit status, or 128+signal
  std::string out, err;
};

// Runs `cmd` with sh -c, capturing stdout and stderr into files in dir.
inline RunResult run_command(const std::string& cmd, const std::string& dir) {
  std::string o = dir + "/.stdout", e = dir + "/.stderr";
  int rc = std::system((cmd + " >'" + o + "' 2>'" + e + "'").c_str());
  RunResult r;
  if (WIFEXITED(rc)) r.status = WEXITSTATUS(rc);
  else if (WIFSIGNALED(rc)) r.status = 128 + WTERMSIG(rc);
  r.out = read_text(o);
  r.err = read_text(e);
  return r;
}

// Line number of the first line of `file` containing `marker`, 0 if none.
inline int marked_line(const std::string& file, const std::string& marker) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(marker) != std::string::npos) return n;
  return 0;
}
