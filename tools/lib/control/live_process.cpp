// live_process.cpp -- see live_process.h.
#include "control/live_process.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "util/file.h"

namespace heapscope::control {

pid_t parse_pid(const std::string& text) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return 0;
  long v = std::stol(text);
  return v > 0 ? pid_t(v) : 0;
}

static std::string proc(pid_t pid) { return "/proc/" + std::to_string(pid); }

bool process_exists(pid_t pid) {
  struct stat st{};
  return pid > 0 && stat(proc(pid).c_str(), &st) == 0;
}

std::vector<uid_t> process_owners(pid_t pid) {
  std::string status;
  if (read_file(proc(pid) + "/status", status)) {
    std::istringstream uids(status_field(status, "Uid"));
    unsigned long r = 0, e = 0;
    if (uids >> r >> e) return {uid_t(r), uid_t(e)};
  }
  struct stat st{};
  if (stat(proc(pid).c_str(), &st) == 0) return {st.st_uid};
  return {};
}

bool process_profiled(pid_t pid) {
  std::string maps;
  return read_file(proc(pid) + "/maps", maps) && maps.find("libheapscope") != std::string::npos;
}

std::vector<pid_t> process_children(pid_t pid) {
  std::string text;
  std::vector<pid_t> kids;
  if (!read_file(proc(pid) + "/task/" + std::to_string(pid) + "/children", text)) return kids;
  std::istringstream in(text);
  for (std::string k; in >> k;)
    if (pid_t p = parse_pid(k)) kids.push_back(p);
  return kids;
}

std::string process_command(pid_t pid) {
  std::string cmd;
  if (!read_file(proc(pid) + "/cmdline", cmd)) return "";
  while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
  for (char& c : cmd)
    if (c == '\0') c = ' ';
    else if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return cmd;
}

uint64_t process_start_time(pid_t pid) {
  std::string stat;
  if (!read_file(proc(pid) + "/stat", stat)) return 0;
  size_t close = stat.rfind(')');  // comm may hold spaces and parentheses
  if (close == std::string::npos || close + 2 > stat.size()) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && (in >> field); ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

uint64_t boot_ticks_now() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  const uint64_t hz = uint64_t(sysconf(_SC_CLK_TCK));
  return uint64_t(ts.tv_sec) * hz + uint64_t(ts.tv_nsec) / (1000000000ull / hz);
}

std::string process_comm(pid_t pid) {
  std::string c;
  if (!read_file(proc(pid) + "/comm", c)) return "";
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r')) c.pop_back();
  return c;
}

std::string process_identity(pid_t pid) {
  char exe[4096];
  ssize_t n = readlink((proc(pid) + "/exe").c_str(), exe, sizeof exe);
  if (n <= 0 || size_t(n) >= sizeof exe) return "";
  std::string cmdline;
  if (!read_file(proc(pid) + "/cmdline", cmdline) || cmdline.empty()) return "";
  return std::string(exe, size_t(n)) + '\n' + cmdline;
}

std::optional<uint64_t> process_rss(pid_t pid) {
  std::string status;
  if (!read_file(proc(pid) + "/status", status)) return std::nullopt;
  std::istringstream in(status_field(status, "VmRSS"));  // "12345 kB"
  uint64_t kib = 0;
  if (!(in >> kib)) return std::nullopt;
  return kib * 1024;
}

Answer request_snapshot(pid_t pid, double timeout_s) {
  return request(pid, process_owners(pid), "snapshot", timeout_s);
}

Answer request_snapshot_in_memory(pid_t pid, double timeout_s, std::string* bytes) {
  Answer a;
  std::string error;
  if (request_snapshot_bytes(pid, process_owners(pid), timeout_s, bytes, &error, &a.status)) {
    a.status = Status::ok;
    return a;
  }
  a.text = error;
  return a;
}

}  // namespace heapscope::control
