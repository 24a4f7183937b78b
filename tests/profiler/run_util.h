// run_util.h -- runs a test program with an environment, capturing its output.
// Owns: fork/exec with extra environment variables (LD_PRELOAD, HEAPSCOPE_*),
// stdout/stderr captured to files, a per-test temporary directory, and a
// directory listing helper. Ordinary test code.
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "hsnap_parse.h"

namespace hstest {
struct RunResult {
  int status = -1;  // raw wait status
  std::string out, err;
  bool exited(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
};

inline std::string make_temp_dir(const std::string& tag) {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/hs-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back(0);
  return mkdtemp(buf.data()) ? std::string(buf.data()) : std::string();
}

inline RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra,
                     const std::string& dir, const std::string& cwd = "") {
  RunResult r;
  std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  pid_t pid = fork();
  if (pid == 0) {
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    for (const std::string& kv : env_extra) putenv(const_cast<char*>(kv.c_str()));
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(125);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(126);
  }
  waitpid(pid, &r.status, 0);
  read_file(out, &r.out);
  read_file(err, &r.err);
  return r;
}

inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  return names;
}

inline int count_substr(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}
}  // namespace hstest
