// cmd_run.cpp -- `heapscope run [options] -- CMD [ARGS]`: run CMD with the
// profiler preloaded and exit with CMD's status.
//
// Finds libheapscope.so (HEAPSCOPE_LIB, else next to this executable:
// ../profiler in the build tree, ../lib when installed), PREPENDS it to
// LD_PRELOAD, sets HEAPSCOPE_* from the options, refuses static binaries
// (LD_PRELOAD cannot reach them) with a hint to link the library instead,
// forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to heapscope by another process
// (a terminal's Ctrl-C already reaches the whole process group), and passes
// CMD's stdout/stderr through untouched. Its own lines go to stderr, prefixed
// "heapscope:".
#include <elf.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cmd/commands.h"

namespace heapscope {
namespace {

volatile sig_atomic_t g_child = 0;

void forward_signal(int sig, siginfo_t* info, void*) {
  // Terminal-generated signals (si_code SI_KERNEL) already reached the child
  // through the process group; forward only those sent to us by a process.
  if (g_child > 0 && info && (info->si_code == SI_USER || info->si_code == SI_QUEUE) &&
      info->si_pid != g_child)
    kill(g_child, sig);
}

}  // namespace

// find_library is shared with attach (commands.h).
static std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, size_t(n));
  return p.substr(0, p.rfind('/'));
}

static bool is_file(const std::string& p) {
  struct stat st{};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string find_library() {
  if (const char* env = std::getenv("HEAPSCOPE_LIB"); env && *env) {
    if (!is_file(env))
      throw CommandError(std::string(env) + ": HEAPSCOPE_LIB names no file (expected the path of "
                                            "libheapscope.so)");
    return env;
  }
  std::string dir = self_dir();
  std::vector<std::string> candidates = {dir + "/../profiler/libheapscope.so",
                                         dir + "/../lib/libheapscope.so",
                                         dir + "/libheapscope.so"};
  for (const auto& c : candidates) {
    if (is_file(c)) {
      char real[4096];
      return realpath(c.c_str(), real) ? std::string(real) : c;
    }
  }
  throw CommandError("cannot find libheapscope.so (looked in " + candidates[0] + ", " +
                     candidates[1] + "); build it, or set HEAPSCOPE_LIB to its path");
}

namespace {

// The file execvp would run for cmd, or "" when not found.
std::string resolve_command(const std::string& cmd) {
  if (cmd.find('/') != std::string::npos) return cmd;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string d = dirs.substr(start, end - start);
    std::string p = (d.empty() ? "." : d) + "/" + cmd;
    if (is_file(p) && access(p.c_str(), X_OK) == 0) return p;
    start = end + 1;
  }
  return "";
}

// True for an ELF executable without PT_INTERP: static (or static-pie), so
// the dynamic loader never runs and LD_PRELOAD has no effect.
bool is_static_elf(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  Elf64_Ehdr eh{};
  bool result = false;
  if (pread(fd, &eh, sizeof eh, 0) == ssize_t(sizeof eh) && std::memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
      eh.e_ident[EI_CLASS] == ELFCLASS64 && (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) &&
      eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum > 0 && eh.e_phnum < 4096) {
    // No PT_INTERP: static, or static-pie (PT_DYNAMIC but no loader).
    bool interp = false;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph{};
      if (pread(fd, &ph, sizeof ph, off_t(eh.e_phoff + i * sizeof ph)) != ssize_t(sizeof ph)) break;
      interp |= ph.p_type == PT_INTERP;
    }
    result = !interp;
  }
  close(fd);
  return result;
}

}  // namespace

// is_bytes and is_seconds are shared with attach (commands.h).
// The profiler's HEAPSCOPE_SAMPLE grammar (parse_bytes): digits with an
// optional K/M/G suffix in any case (binary units, optionally "KiB"/"KB"),
// no fractions, no overflow of 64 bits.
bool is_bytes(const std::string& text, uint64_t* value) {
  size_t i = 0;
  uint64_t v = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + uint64_t(text[i] - '0');
  }
  if (i == 0) return false;
  int shift = 0;
  if (i < text.size()) {
    char c = char(std::toupper(static_cast<unsigned char>(text[i])));
    shift = c == 'K' ? 10 : c == 'M' ? 20 : c == 'G' ? 30 : 0;
    if (!shift) return false;
    ++i;
    if (i < text.size() && text[i] == 'i') ++i;
    if (i < text.size() && (text[i] == 'b' || text[i] == 'B')) ++i;
  }
  if (i != text.size() || v > (UINT64_MAX >> shift)) return false;
  if (value) *value = v << shift;
  return true;
}

// The profiler's seconds grammar (parse_seconds): digits with an optional
// fraction ("5", "1.5", ".5"), at most 100000000 whole seconds.
bool is_seconds(const std::string& text) {
  size_t dot = text.find('.');
  std::string whole = text.substr(0, dot), frac = dot == std::string::npos ? "" : text.substr(dot + 1);
  auto digits = [](const std::string& t) { return t.find_first_not_of("0123456789") == std::string::npos; };
  if (!digits(whole) || !digits(frac) || (whole.empty() && frac.empty())) return false;
  size_t first = whole.find_first_not_of('0');
  return first == std::string::npos || whole.size() - first < 9 ||
         (whole.size() - first == 9 && whole.substr(first) <= "100000000");
}

std::string snapshot_prefix(const RunOptions& o) {
  std::string prefix = !o.out.empty() ? o.out : (std::getenv("HEAPSCOPE_OUT") ? std::getenv("HEAPSCOPE_OUT") : "./heapscope");
  return prefix.empty() ? "./heapscope" : prefix;
}

// Shared by run and check (commands.h).
ProfiledRun run_profiled(const RunOptions& o, std::vector<std::string> cmd, const std::string& sub) {
  if (!cmd.empty() && cmd[0] == "--") cmd.erase(cmd.begin());
  if (cmd.empty())
    throw CommandError(sub + ": no command given (usage: heapscope " + sub + " [OPTIONS] -- CMD [ARGS]); see "
                       "`heapscope " + sub + " --help`",
                       2);
  std::string why;
  if (!o.signal.empty() && !signal_is_off(o.signal) && !parse_signal(o.signal, &why))
    throw CommandError("--signal " + o.signal + ": " + why, 2);
  for (const auto& [name, value] : {std::pair{"--interval", o.interval}, {"--stats", o.stats}}) {
    if (!value.empty() && !is_seconds(value))
      throw CommandError(std::string(name) + " " + value + ": expected seconds >= 0 (e.g. 5 or 0.5)", 2);
  }
  if (!o.sample.empty() && !is_bytes(o.sample))
    throw CommandError("--sample " + o.sample +
                           ": expected bytes, a whole number with an optional K, M or G suffix (e.g. 4096 "
                           "or 512K; 0 = track every allocation)",
                       2);
  std::string lib = find_library();
  std::string file = resolve_command(cmd[0]);
  if (file.empty()) throw CommandError(cmd[0] + ": command not found", 127);
  if (is_static_elf(file))
    throw CommandError(file + ": statically linked, so LD_PRELOAD cannot reach it. Link the profiler in "
                              "instead (-lheapscope, or target heapscope::heapscope) and run it with the "
                              "same HEAPSCOPE_* variables",
                       2);

  std::string preload = lib;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) preload += std::string(":") + old;
  std::string prefix = snapshot_prefix(o);
  // The child gets an absolute prefix, so `heapscope snapshot` finds its files
  // whatever directory it moves to; the message keeps the user's spelling.
  std::string abs_prefix = prefix;
  if (prefix[0] != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd))
      abs_prefix = std::string(cwd) + "/" + (prefix.rfind("./", 0) == 0 ? prefix.substr(2) : prefix);
  }

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) throw CommandError(std::string("pipe: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (auto& a : cmd) argv.push_back(a.data());
  argv.push_back(nullptr);

  struct sigaction sa{};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  struct sigaction old[4];
  const int forwarded[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (int i = 0; i < 4; ++i) sigaction(forwarded[i], &sa, &old[i]);

  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw CommandError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    for (int i = 0; i < 4; ++i) sigaction(forwarded[i], &old[i], nullptr);
    setenv("LD_PRELOAD", preload.c_str(), 1);
    setenv("HEAPSCOPE_OUT", abs_prefix.c_str(), 1);
    if (!o.interval.empty()) setenv("HEAPSCOPE_INTERVAL", o.interval.c_str(), 1);
    if (!o.sample.empty()) setenv("HEAPSCOPE_SAMPLE", o.sample.c_str(), 1);
    if (!o.signal.empty()) setenv("HEAPSCOPE_SIGNAL", o.signal.c_str(), 1);
    if (!o.stats.empty()) setenv("HEAPSCOPE_STATS", o.stats.c_str(), 1);
    for (const auto& [name, value] : o.extra_env) setenv(name.c_str(), value.c_str(), 1);
    execv(file.c_str(), argv.data());
    int err = errno;
    ssize_t w = write(errpipe[1], &err, sizeof err);
    (void)w;
    _exit(127);
  }
  g_child = pid;
  close(errpipe[1]);
  int err = 0;
  ssize_t n;
  do n = read(errpipe[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == ssize_t(sizeof err)) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw CommandError(file + ": cannot run: " + std::strerror(err), 127);
  }
  if (!o.quiet) std::fprintf(stderr, "heapscope: snapshots go to %s.%d.*.hsnap\n", prefix.c_str(), int(pid));
  if (o.on_start) o.on_start(int(pid));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw CommandError(std::string("waitpid: ") + std::strerror(errno));
  }
  g_child = 0;
  for (int i = 0; i < 4; ++i) sigaction(forwarded[i], &old[i], nullptr);

  ProfiledRun result;
  result.pid = int(pid);
  glob_t g{};
  std::string pattern = prefix + "." + std::to_string(pid) + ".*.hsnap";
  if (o.quiet) {
  } else if (glob(pattern.c_str(), 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
    std::fprintf(stderr, "heapscope: %zu snapshot%s written, the last %s\n", size_t(g.gl_pathc),
                 g.gl_pathc == 1 ? "" : "s", g.gl_pathv[g.gl_pathc - 1]);
  } else {
    std::fprintf(stderr, "heapscope: no snapshot was written to %s\n", pattern.c_str());
  }
  globfree(&g);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.exit_status = 128 + WTERMSIG(status);
  else result.exit_status = 1;
  result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return result;
}

namespace {

void add_run(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run CMD with the profiler preloaded (LD_PRELOAD, prepended to any existing one); say on "
      "stderr where snapshots go; exit with CMD's status. CMD's own output passes through "
      "untouched.");
  sub->add_option("--out", opt->out, "Snapshot path prefix (HEAPSCOPE_OUT; default ./heapscope)");
  sub->add_option("--interval", opt->interval,
                  "Seconds between periodic snapshots, fractions allowed, 0 = off (HEAPSCOPE_INTERVAL)");
  sub->add_option("--sample", opt->sample,
                  "Mean bytes between sampled allocations (e.g. 4096 or 512K), 0 = track every one (HEAPSCOPE_SAMPLE)");
  sub->add_option("--signal", opt->signal,
                  "Signal that requests a snapshot: name, number or none (HEAPSCOPE_SIGNAL; default SIGUSR2)");
  sub->add_option("--stats", opt->stats,
                  "Seconds between one-line memory stats on stderr, 0 = off (HEAPSCOPE_STATS)");
  // CMD [ARGS] come after "--" (cut out by main) or, without "--", start at
  // the first argument that is not one of ours (prefix_command).
  sub->prefix_command();
  sub->footer("CMD [ARGS]: the program to run and its arguments, after --\n"
              "Example: heapscope run --interval 5 -- ./server --port 3000\n");
  sub->callback([opt, sub] {
    std::vector<std::string> all = sub->remaining();
    for (const auto& a : g_command_after_dashdash) all.push_back(a);
    g_exit_status = run_profiled(*opt, all, "run").exit_status;
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(10, "run", heapscope::add_run);
