// cmd_snapshot.cpp -- `heapscope snapshot PID [--timeout S]`: ask a running,
// profiled process for a snapshot, wait for the file, print its path.
//
// First over the process's control channel (tools/lib/control: the Unix
// socket @heapscope/PID that heapscope's helper thread serves, whatever the
// program did to the snapshot signal): its answer is the path, or a reason
// that is reported as is. A server that is not the process itself, or not
// run by its owner, is not trusted (said on stderr). With no channel (no
// helper thread, an older heapscope) or an untrusted one, the signal:
//
// Checks, each with a clear error: the process exists; libheapscope is mapped
// in it (/proc/PID/maps); its snapshot signal (HEAPSCOPE_SIGNAL from
// /proc/PID/environ, default SIGUSR2) is not "none", is caught (SigCgt) and
// not blocked by every thread (SigBlk); a value the profiler refuses (KILL)
// leaves it on SIGUSR2, which is then used, with a note. The output prefix
// is its HEAPSCOPE_OUT
// (default ./heapscope); a relative one is looked for under its start
// directory (PWD in its environment) and its current one (/proc/PID/cwd). A new snapshot is a file
// PREFIX.PID.SEQ.hsnap that was not there before the signal, or whose inode,
// mtime or size changed since (stale files of an earlier process with the same
// pid do not count; files appear under their final name only when complete);
// when several appear, the newest is printed.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "cmd/commands.h"
#include "control/channel_client.h"
#include "util/file.h"

namespace heapscope {
namespace {

struct SnapshotOptions {
  std::string pid;
  double timeout = 10;
};

// Hex mask line "Name:\t0000000000004000" from a /proc status file.
uint64_t status_mask(const std::string& status, const std::string& name) {
  return std::strtoull(status_field(status, name).c_str(), nullptr, 16);
}

struct FileId {
  uint64_t ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileId& o) const { return ino == o.ino && size == o.size && mtime_ns == o.mtime_ns; }
};

// The snapshot files DIR/BASE<SEQ>.hsnap (BASE ends with "PID.") by name.
std::map<std::string, FileId> snapshot_files(const std::string& dir, const std::string& base) {
  std::map<std::string, FileId> files;
  DIR* d = opendir(dir.c_str());
  if (!d) return files;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= base.size() + 6 || name.compare(0, base.size(), base) != 0 ||
        name.compare(name.size() - 6, 6, ".hsnap") != 0)
      continue;
    std::string seq = name.substr(base.size(), name.size() - base.size() - 6);
    if (seq.empty() || seq.size() > 18 || seq.find_first_not_of("0123456789") != std::string::npos)
      continue;
    struct stat st{};
    if (stat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files[name] = FileId{uint64_t(st.st_ino), uint64_t(st.st_size),
                         int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }
  closedir(d);
  return files;
}

// The newest file in `now` that is not in `before` or changed since; "" if none.
std::string newest_new_file(const std::string& dir, const std::map<std::string, FileId>& before,
                            const std::map<std::string, FileId>& now) {
  std::string best;
  int64_t best_mtime = 0;
  for (const auto& [name, id] : now) {
    auto it = before.find(name);
    if (it != before.end() && it->second == id) continue;
    // Ties in mtime: the later name (higher SEQ) wins, as the map is ordered.
    if (best.empty() || id.mtime_ns >= best_mtime) {
      best = dir + "/" + name;
      best_mtime = id.mtime_ns;
    }
  }
  return best;
}

void snapshot(const SnapshotOptions& o);

// The signal path (see the top of the file).
void snapshot_by_signal(const SnapshotOptions& o) {
  const std::string& pid = o.pid;
  std::string proc = "/proc/" + pid;
  struct stat st{};
  if (stat(proc.c_str(), &st) != 0) throw CommandError("process " + pid + ": no such process");
  std::string maps;
  if (!read_file(proc + "/maps", maps))
    throw CommandError("process " + pid + ": cannot read " + proc + "/maps: " + std::strerror(errno));
  if (maps.find("libheapscope") == std::string::npos) {
    // Given the pid of `heapscope run` itself: use its (single) child.
    std::string children, self_exe, exe;
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) self_exe.assign(buf, size_t(n));
    n = readlink((proc + "/exe").c_str(), buf, sizeof buf - 1);
    if (n > 0) exe.assign(buf, size_t(n));
    if (!exe.empty() && exe == self_exe && read_file(proc + "/task/" + pid + "/children", children)) {
      std::istringstream in(children);
      std::vector<std::string> kids;
      for (std::string k; in >> k;) kids.push_back(k);
      if (kids.size() == 1) {
        std::fprintf(stderr, "heapscope: process %s is heapscope run; asking its child %s\n",
                     pid.c_str(), kids[0].c_str());
        SnapshotOptions child = o;
        child.pid = kids[0];
        snapshot(child);
        return;
      }
    }
    throw CommandError("process " + pid +
                       ": not profiled (libheapscope is not loaded in it); start it with `heapscope "
                       "run -- CMD` or link it with -lheapscope");
  }
  std::string environ;
  if (!read_file(proc + "/environ", environ))
    throw CommandError("process " + pid + ": cannot read " + proc + "/environ: " + std::strerror(errno));
  std::string sig_text = "SIGUSR2", out = "./heapscope", start_dir;
  size_t start = 0;
  while (start < environ.size()) {
    size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    std::string kv = environ.substr(start, end - start);
    if (kv.rfind("HEAPSCOPE_SIGNAL=", 0) == 0) sig_text = kv.substr(17);
    if (kv.rfind("HEAPSCOPE_OUT=", 0) == 0 && kv.size() > 14) out = kv.substr(14);
    if (kv.rfind("PWD=", 0) == 0) start_dir = kv.substr(4);
    start = end + 1;
  }
  if (signal_is_off(sig_text))
    throw CommandError("cannot reach process " + pid + ": its snapshot signal is off (HEAPSCOPE_SIGNAL=" +
                       sig_text + ")");
  // A value the profiler refuses leaves it on its default, SIGUSR2.
  std::string why;
  int sig = parse_signal(sig_text, &why);
  if (!sig) {
    std::fprintf(stderr, "heapscope: note: process %s: HEAPSCOPE_SIGNAL=%s: %s; the profiler uses SIGUSR2\n",
                 pid.c_str(), sig_text.c_str(), why.c_str());
    sig = SIGUSR2;
  }
  std::string signame = signal_name(sig);
  std::string status;
  if (!read_file(proc + "/status", status))
    throw CommandError("process " + pid + ": no such process");
  uint64_t bit = uint64_t(1) << (sig - 1);
  if (!(status_mask(status, "SigCgt") & bit))
    throw CommandError("cannot reach process " + pid + ": it has no handler for " + signame +
                       " (SigCgt); the profiler may have failed to start, or the program reset the "
                       "signal");
  // Blocked in every thread: the signal would stay pending forever.
  bool someone_accepts = false;
  if (DIR* d = opendir((proc + "/task").c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string ts;
      if (read_file(proc + "/task/" + e->d_name + "/status", ts) && !(status_mask(ts, "SigBlk") & bit))
        someone_accepts = true;
    }
    closedir(d);
  } else {
    someone_accepts = !(status_mask(status, "SigBlk") & bit);
  }
  if (!someone_accepts)
    throw CommandError("cannot reach process " + pid + ": every thread blocks " + signame + " (SigBlk)");

  // Where its snapshots go: HEAPSCOPE_OUT; a relative one is resolved by the
  // profiler against the start directory: PWD from its environment when set,
  // else (and also) its current directory.
  std::vector<std::string> prefixes;
  if (out[0] == '/') {
    prefixes.push_back(out);
  } else {
    std::string rel = out.rfind("./", 0) == 0 ? out.substr(2) : out;
    if (!start_dir.empty() && start_dir[0] == '/') prefixes.push_back(start_dir + "/" + rel);
    char cwd[4096];
    ssize_t n = readlink((proc + "/cwd").c_str(), cwd, sizeof cwd - 1);
    if (n > 0) {
      std::string p = std::string(cwd, size_t(n)) + "/" + rel;
      if (prefixes.empty() || prefixes[0] != p) prefixes.push_back(p);
    }
    if (prefixes.empty())
      throw CommandError("process " + pid + ": cannot read " + proc + "/cwd: " + std::strerror(errno));
  }
  struct Place {
    std::string dir, base;
    std::map<std::string, FileId> before;
  };
  std::vector<Place> places;
  for (const auto& p : prefixes) {
    size_t slash = p.rfind('/');
    Place pl{slash == 0 ? "/" : p.substr(0, slash), p.substr(slash + 1) + "." + pid + ".", {}};
    pl.before = snapshot_files(pl.dir, pl.base);
    places.push_back(pl);
  }

  // To heapscope's helper thread when there is one: a process-directed signal
  // may land on a thread blocked in poll/epoll_wait/nanosleep, which then
  // return EINTR even with SA_RESTART (signal(7)).
  pid_t helper_tid = 0;
  if (DIR* d = opendir((proc + "/task").c_str())) {
    while (dirent* e = readdir(d)) {
      std::string comm;
      if (e->d_name[0] != '.' && read_file(proc + "/task/" + e->d_name + "/comm", comm) && comm == "heapscope\n")
        helper_tid = pid_t(std::stol(e->d_name));
    }
    closedir(d);
  }
  if (helper_tid > 0 && syscall(SYS_tgkill, pid_t(std::stol(pid)), helper_tid, sig) == 0) {
  } else if (kill(pid_t(std::stol(pid)), sig) != 0)
    throw CommandError("cannot reach process " + pid + ": kill " + signame + ": " + std::strerror(errno));
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(int64_t(o.timeout * 1000));
  for (;;) {
    for (const auto& pl : places) {
      std::string path = newest_new_file(pl.dir, pl.before, snapshot_files(pl.dir, pl.base));
      if (!path.empty()) {
        std::cout << path << "\n";
        return;
      }
    }
    if (stat(proc.c_str(), &st) != 0)
      throw CommandError("process " + pid + " exited before writing a snapshot");
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", o.timeout);
  // Without its helper thread (named "heapscope"), a profiled program answers
  // on its own thread, from the signal handler, or at the end of the
  // allocation call the signal interrupted (HEAPSCOPE_THREAD=auto); when the
  // handler may not write (the writer busy, a small or foreign stack) the
  // request waits for its next allocation.
  bool helper = false;
  if (DIR* d = opendir((proc + "/task").c_str())) {
    while (dirent* e = readdir(d)) {
      std::string comm;
      if (e->d_name[0] != '.' && read_file(proc + "/task/" + e->d_name + "/comm", comm) && comm == "heapscope\n")
        helper = true;
    }
    closedir(d);
  }
  std::string hint = helper ? "" : "; it has no heapscope helper thread, so its own thread answers, from the signal "
                                  "handler or, where writing there is not safe (a small or foreign signal stack), at "
                                  "its next allocation: start it with HEAPSCOPE_THREAD=always to be answered by a "
                                  "helper thread at any time";
  throw CommandError("process " + pid + ": no new snapshot " + places[0].dir + "/" + places[0].base +
                     "*.hsnap after " + secs + " s (sent " + signame + ")" + hint);
}

void snapshot(const SnapshotOptions& o) {
  const std::string& pid = o.pid;
  if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos ||
      std::stol(pid) <= 0)
    throw CommandError(pid + ": not a process id (expected a positive number)", 2);
  std::string proc = "/proc/" + pid;
  struct stat st{};
  if (stat(proc.c_str(), &st) != 0) throw CommandError("process " + pid + ": no such process");
  const pid_t target = pid_t(std::stol(pid));
  // Its owner: the real and effective uid ("Uid:\tR E S F"); /proc/PID itself
  // belongs to root when the process is not dumpable (after a setuid()).
  std::vector<uid_t> owners;
  std::string status;
  if (read_file(proc + "/status", status)) {
    std::istringstream uids(status_field(status, "Uid"));
    unsigned long r = 0, e = 0;
    if (uids >> r >> e) owners = {uid_t(r), uid_t(e)};
  }
  if (owners.empty()) owners = {st.st_uid};
  control::Answer a = control::request(target, owners, "snapshot", o.timeout);
  switch (a.status) {
    case control::Status::ok:
      std::cout << a.text << "\n";
      return;
    case control::Status::refused:
      throw CommandError("process " + pid + " refused the snapshot (control channel @" +
                         control::channel_name(target) + "): " + a.text);
    case control::Status::no_reply:
      throw CommandError("process " + pid + ": control channel: " + a.text +
                         " (the signal is not tried: the process may be writing the snapshot still)");
    case control::Status::untrusted:
      std::fprintf(stderr, "heapscope: warning: process %s: control channel: %s; trying the signal\n", pid.c_str(),
                   a.text.c_str());
      break;
    case control::Status::no_channel:
      break;
  }
  const std::string note =
      a.status == control::Status::untrusted
          ? "control channel: " + a.text
          : "no control channel either (" + a.text +
                ": the process has no heapscope helper thread, or its heapscope predates the channel)";
  try {
    snapshot_by_signal(o);
  } catch (const CommandError& e) {
    // "not profiled" needs no word on the channel unless something squatted its name.
    std::string msg = e.what();
    if (a.status == control::Status::untrusted || msg.find("not profiled") == std::string::npos)
      throw CommandError(msg + "; " + note, e.exit_code);
    throw;
  }
}

void add_snapshot(CLI::App& app) {
  auto opt = std::make_shared<SnapshotOptions>();
  CLI::App* sub = app.add_subcommand(
      "snapshot",
      "Ask a running, profiled process for a snapshot (over its control channel @heapscope/PID, else "
      "by its HEAPSCOPE_SIGNAL), wait for the file and print its path.");
  sub->add_option("PID", opt->pid, "Process id of a program started with heapscope run")->required();
  sub->add_option("--timeout", opt->timeout, "Seconds to wait for the snapshot")
      ->check(number_check("seconds, more than 0", true))
      ->capture_default_str();
  sub->callback([opt] { snapshot(*opt); });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(20, "snapshot", heapscope::add_snapshot);
