// cmd_check.cpp -- `heapscope check [options] -- CMD [ARGS]`: a leak gate for
// CI. Runs CMD under the profiler with periodic snapshots (as `run` does),
// then judges each profiled process's series as `trend` does (exit snapshots
// left out): a site fails when trend calls it a leak suspect (it keeps
// growing: slope > 0, r2 >= 0.8, rising in >= 80% of the steps) AND it grew
// by more than --max-growth between the first and the last periodic
// snapshot, unless an --ignore REGEX matches its origin, container or a frame.
//
// Exit status: 0 no site keeps growing; 1 leak suspects (printed as trend
// prints them); 2 CMD failed by itself (non-zero exit or killed; a line says
// so, and the judgement is still printed), or a usage error; 3 no verdict:
// fewer than 3 periodic snapshots of any process (the run was shorter than
// 3 intervals); 4 heapscope's own error after CMD ran (a snapshot it could
// not process, --junit not written: one line says what), whatever the
// verdict; 127 CMD not found or not runnable. --junit FILE writes the same
// verdict as JUnit XML (one failing case per site, with its stack); FILE is
// checked before CMD runs (a directory, fifo, symlink or a place that cannot
// be written is a usage error, exit 2).
#include <fcntl.h>
#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "analyze/trend.h"
#include "cmd/commands.h"
#include "reader/reader.h"
#include "render/junit.h"
#include "render/text.h"
#include "util/file.h"
#include "util/regex_option.h"

namespace heapscope {
namespace {

constexpr const char* kDefaultInterval = "1";
constexpr const char* kDefaultMaxGrowth = "64K";
constexpr int kExitLeak = 1, kExitCommandFailed = 2, kExitNoVerdict = 3, kExitToolError = 4;

struct CheckOptions {
  std::string out, interval = kDefaultInterval, max_growth = kDefaultMaxGrowth, junit;
  std::vector<std::string> ignore;
};

std::set<std::string> snapshot_files(const std::string& prefix) {
  std::set<std::string> files;
  glob_t g{};
  if (glob((prefix + ".*.hsnap").c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) files.insert(g.gl_pathv[i]);
  globfree(&g);
  return files;
}

// True when one of the patterns finds a match in the site's origin
// ("function file:line"), its container, or any frame's function, file:line
// or module.
bool ignored(const SiteView& s, const std::vector<std::regex>& patterns) {
  std::vector<std::string> texts;
  if (!s.container.empty()) texts.push_back(s.container);
  for (const Frame& f : s.frames) {
    texts.push_back(f.function);
    texts.push_back(f.file + ":" + std::to_string(f.line));
    if (!f.module.empty()) texts.push_back(f.module);
  }
  if (const Frame* o = s.origin_frame())
    texts.push_back(o->function + " " + o->file + ":" + std::to_string(o->line));
  for (const auto& re : patterns)
    for (const auto& t : texts)
      if (std::regex_search(t, re)) return true;
  return false;
}

std::string origin_text(const SiteView& s) {
  const Frame* o = s.origin_frame();
  if (!o && !s.frames.empty()) o = &s.frames.front();
  if (!o) return "(no stack)";
  return short_function(o->function) + "  " + frame_location(*o);
}

// One process's judgement.
struct Verdict {
  int pid = 0;
  size_t periodic = 0;              // periodic (non-exit) snapshots
  TrendResult trend;                // every site (top 0), when judged()
  std::vector<const TrendSite*> failing, ignored_suspects, small_suspects;
  bool judged() const { return periodic >= 3; }  // trend needs 3 periodic snapshots
};

std::string verdict_text(const Verdict& v) {
  std::ostringstream s;
  TrendResult shown = v.trend;
  shown.sites.clear();
  for (const TrendSite* f : v.failing) shown.sites.push_back(*f);
  render_trend_text(s, shown);
  return s.str();
}

std::string command_line(const std::vector<std::string>& cmd) {
  std::string s;
  for (const auto& a : cmd) {
    if (a == "--" && s.empty()) continue;
    s += (s.empty() ? "" : " ") + a;
  }
  return s;
}

// What the run left for the judgement: where the snapshots are, which were
// there before, when and how long CMD ran.
struct RunFacts {
  std::string prefix;
  std::set<std::string> before;
  long long started_unix = 0;
  double elapsed = 0;
  uint64_t max_growth = 0;
};

// Reads the run's snapshots, judges each process, prints the verdict (and
// writes --junit); returns the exit status.
int judge(const CheckOptions& o, const std::vector<std::string>& cmd, const ProfiledRun& r, const RunFacts& f,
          const std::vector<std::regex>& patterns) {
  const std::string& prefix = f.prefix;
  const double elapsed = f.elapsed;
  const uint64_t max_growth = f.max_growth;

  // The snapshots this run wrote, per process (CMD and any child it started).
  // Names are PREFIX.PID.SEQ.hsnap and PREFIX.PID.exit.hsnap: a process with
  // fewer than 3 periodic ones (a script's short-lived helpers) is not read.
  std::map<std::string, std::vector<std::string>> files_of;
  for (const auto& file : snapshot_files(prefix)) {
    if (f.before.count(file)) continue;
    std::string rest = file.substr(prefix.size() + 1);
    files_of[rest.substr(0, rest.find('.'))].push_back(file);
  }
  std::vector<Profile> profiles;
  std::vector<std::string> notes;
  for (const auto& [pid_text, files] : files_of) {
    size_t periodic = 0;
    for (const auto& file : files)
      periodic += file.size() < 11 || file.compare(file.size() - 11, 11, ".exit.hsnap") != 0;
    if (periodic < 3 && pid_text != std::to_string(r.pid)) continue;
    for (const auto& file : files) {
      try {
        profiles.push_back(read_profile(file));
      } catch (const FormatError& e) {
        notes.push_back(std::string(e.what()) + " (left out of the check)");
      }
    }
  }
  std::map<int, std::vector<size_t>> by_pid;
  for (size_t i = 0; i < profiles.size(); ++i) by_pid[int(profiles[i].pid)].push_back(i);
  if (!by_pid.count(r.pid)) by_pid[r.pid];  // CMD itself is always reported

  std::vector<SymbolizedProfile> symbolized = symbolize_profiles(profiles, /*with_frames=*/false);
  std::vector<Verdict> verdicts;
  for (const auto& [pid, indices] : by_pid) {
    Verdict v;
    v.pid = pid;
    std::vector<const SymbolizedProfile*> inputs;
    for (size_t i : indices) {
      inputs.push_back(&symbolized[i]);
      v.periodic += !profiles[i].is_exit();
    }
    if (v.periodic >= 3) {
      v.trend = make_trend(inputs, 0);
      for (const SymbolizedProfile* sp : inputs)
        if (!sp->profile->is_exit()) notes.insert(notes.end(), sp->notes.begin(), sp->notes.end());
      for (const auto& n : v.trend.notes)
        if (n.find("exit snapshot left out") == std::string::npos) notes.push_back(n);
      for (const TrendSite& s : v.trend.sites) {
        if (!s.suspect) continue;
        if (ignored(s.site, patterns)) v.ignored_suspects.push_back(&s);
        else if (uint64_t(s.delta_bytes) > max_growth) v.failing.push_back(&s);
        else v.small_suspects.push_back(&s);
      }
    }
    verdicts.push_back(std::move(v));
  }
  // Processes other than CMD with too few snapshots (a shell's short-lived
  // helpers) are noted, not judged; CMD itself always gets a verdict line.
  print_notes(notes);

  const bool cmd_failed = r.exit_status != 0;
  size_t failing = 0, judged = 0;
  std::ostringstream report;  // what stdout shows, for the JUnit system-out too
  for (const Verdict& v : verdicts) {
    if (!v.judged()) {
      if (v.pid != r.pid && v.periodic == 0) continue;
      report << "heapscope check: pid " << v.pid << ": no verdict: " << v.periodic
             << " periodic snapshot" << (v.periodic == 1 ? "" : "s") << " (one every " << o.interval
             << " s), trend needs 3\n";
      continue;
    }
    ++judged;
    failing += v.failing.size();
    if (!v.failing.empty()) {
      report << verdict_text(v) << "\n";
      report << "heapscope check: pid " << v.pid << ": FAIL: " << v.failing.size() << " site"
             << (v.failing.size() == 1 ? " keeps" : "s keep") << " growing by more than "
             << format_size(int64_t(max_growth)) << " (--max-growth)\n";
    } else {
      report << "heapscope check: pid " << v.pid << ": pass: no site keeps growing by more than "
             << format_size(int64_t(max_growth)) << " over " << v.trend.order.size()
             << " snapshots (" << v.trend.total_sites << " sites)\n";
    }
    if (!v.small_suspects.empty()) {
      int64_t largest = 0;
      for (const TrendSite* s : v.small_suspects) largest = std::max(largest, s->delta_bytes);
      report << "heapscope check: pid " << v.pid << ": " << v.small_suspects.size()
             << " steadily growing site" << (v.small_suspects.size() == 1 ? "" : "s")
             << " within --max-growth (the largest " << format_signed_size(largest) << ")\n";
    }
    for (const TrendSite* s : v.ignored_suspects)
      report << "heapscope check: pid " << v.pid << ": ignored (--ignore): " << origin_text(s->site)
             << "  " << format_signed_size(s->delta_bytes) << "\n";
  }
  std::string no_verdict;
  if (judged == 0) {
    char hint[160];
    double shorter = std::max(0.01, elapsed / 4);
    std::snprintf(hint, sizeof hint, "%.2g", shorter);
    no_verdict = "CMD ran for " + [&] {
      char b[32];
      std::snprintf(b, sizeof b, "%.1f", elapsed);
      return std::string(b);
    }() + " s, too short for 3 periodic snapshots one every " + o.interval +
                 " s; use a shorter --interval (e.g. --interval " + hint +
                 ") or a longer run (exit " + std::to_string(kExitNoVerdict) + ": no verdict)";
    report << "heapscope check: no verdict: " << no_verdict << "\n";
  }
  std::string failure_line;
  if (cmd_failed) {
    failure_line = r.signal ? "CMD failed by itself: killed by " + signal_name(r.signal) +
                                  " (status " + std::to_string(r.exit_status) + ")"
                            : "CMD failed by itself: exited with status " + std::to_string(r.exit_status);
    report << "heapscope check: " << failure_line << " (exit " << kExitCommandFailed << ", whatever the leak verdict)\n";
  }
  std::cout << report.str() << std::flush;

  if (!o.junit.empty()) {
    JunitSuite suite;
    suite.name = "heapscope check";
    suite.package = "heapscope";
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0) suite.hostname = host;
    suite.time_unix_s = f.started_unix;
    suite.time_s = elapsed;
    suite.properties = {{"command", command_line(cmd)},
                        {"interval_s", o.interval},
                        {"max_growth_bytes", std::to_string(max_growth)},
                        {"snapshot_prefix", prefix}};
    for (const auto& p : o.ignore) suite.properties.push_back({"ignore", p});
    JunitCase command{"command: " + command_line(cmd), "heapscope.check", elapsed, "", "", "", ""};
    if (cmd_failed) {
      command.outcome = "error";
      command.type = r.signal ? "signal" : "exit status";
      command.message = failure_line;
      command.body = failure_line + "\n";
    }
    suite.cases.push_back(command);
    for (const Verdict& v : verdicts) {
      std::string cls = "heapscope.check.pid" + std::to_string(v.pid);
      if (!v.judged()) continue;
      for (const TrendSite* s : v.failing) {
        JunitCase c;
        c.name = "leak: " + origin_text(s->site);
        c.classname = cls;
        c.outcome = "failure";
        c.type = "leak suspect";
        c.message = "keeps growing: " + format_signed_size(s->delta_bytes) + " over " +
                    std::to_string(v.trend.order.size()) + " snapshots (" +
                    format_signed_size(int64_t(std::llround(s->slope_bytes_per_snapshot))) +
                    " per snapshot, r2 " + [&] {
                      char b[16];
                      std::snprintf(b, sizeof b, "%.2f", s->r2);
                      return std::string(b);
                    }() + "), more than --max-growth " + format_size(int64_t(max_growth));
        c.body = (s->site.container.empty() ? "" : "container " + s->site.container + "\n") +
                 site_stack_text(s->site);
        suite.cases.push_back(c);
      }
      if (v.failing.empty())
        suite.cases.push_back({"pid " + std::to_string(v.pid) + ": no site keeps growing", cls, 0, "", "", "", ""});
    }
    if (judged == 0)
      suite.cases.push_back({"trend", "heapscope.check", 0, "error", "no verdict", no_verdict, no_verdict + "\n"});
    suite.system_out = report.str();
    try {
      write_file_atomic(o.junit, junit_xml(suite));
    } catch (const FileWriteError& e) {
      throw CommandError("--junit " + std::string(e.what()));
    }
  }

  if (cmd_failed) return kExitCommandFailed;
  if (failing) return kExitLeak;
  if (judged == 0) return kExitNoVerdict;
  return 0;
}

void check(const CheckOptions& o, const std::vector<std::string>& cmd) {
  if (!is_seconds(o.interval) || !(std::strtod(o.interval.c_str(), nullptr) > 0))
    throw CommandError("check: --interval " + o.interval +
                           ": expected seconds > 0 between periodic snapshots (e.g. 1 or 0.2)",
                       2);
  uint64_t max_growth = 0;
  if (!is_bytes(o.max_growth, &max_growth))
    throw CommandError("check: --max-growth " + o.max_growth +
                           ": expected bytes, a whole number with an optional K, M or G suffix (e.g. "
                           "65536 or 64K; 0 = any steady growth fails)",
                       2);
  std::vector<std::regex> patterns;
  for (const auto& p : o.ignore) {
    try {
      patterns.push_back(
          compile_regex_option("--ignore", p, "an ECMAScript regex such as 'LruCache::put' or 'libfoo\\.so'"));
    } catch (const std::invalid_argument& e) {
      throw CommandError("check: " + std::string(e.what()), 2);
    }
  }

  // --junit is checked before CMD runs: a path that cannot be written is a
  // usage error now, not a verdict lost after a long run.
  if (!o.junit.empty())
    if (std::string why = atomic_write_problem(o.junit); !why.empty())
      throw CommandError("check: --junit " + why, 2);

  RunOptions run;
  run.out = o.out;
  run.interval = o.interval;
  RunFacts f;
  f.prefix = snapshot_prefix(run);
  f.before = snapshot_files(f.prefix);
  f.max_growth = max_growth;
  const auto start = std::chrono::steady_clock::now();
  f.started_unix = static_cast<long long>(std::time(nullptr));
  const ProfiledRun r = run_profiled(run, cmd, "check");
  f.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // CMD has run: whatever fails from here on (reading the snapshots, writing
  // --junit) is heapscope's own error, never the leak verdict's exit 1.
  try {
    g_exit_status = judge(o, cmd, r, f, patterns);
  } catch (const std::exception& e) {
    throw CommandError("check: " + std::string(e.what()) + " (exit " + std::to_string(kExitToolError) +
                           ": heapscope's own error after CMD ran)",
                       kExitToolError);
  }
}

void add_check(CLI::App& app) {
  auto opt = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check",
      "A leak gate for CI: run CMD under the profiler with periodic snapshots, then judge the series "
      "as `trend` does (exit snapshots left out). Exit 0: no site keeps growing by more than "
      "--max-growth; 1: leak suspects, printed as trend prints them; 2: CMD failed by itself (or a "
      "usage error, --junit FILE among them: checked before CMD runs); 3: no verdict (fewer than 3 "
      "periodic snapshots: use a shorter --interval); 4: heapscope's own error after CMD ran (e.g. "
      "--junit could not be written), whatever the verdict; 127: CMD not found or not runnable.");
  sub->add_option("--interval", opt->interval, "Seconds between periodic snapshots, fractions allowed")
      ->capture_default_str();
  sub->add_option("--max-growth", opt->max_growth,
                  "Bytes a steadily growing site may grow by between the first and the last periodic "
                  "snapshot (e.g. 65536, 64K, 1M; 0 = any steady growth fails)")
      ->capture_default_str();
  sub->add_option("--ignore", opt->ignore,
                  "ECMAScript regex; a suspect is not judged when it matches its origin, container, or "
                  "any frame's function, file:line or module (repeatable)")
      ->allow_extra_args(false);  // one pattern per --ignore, so CMD is never taken for one
  sub->add_option("--junit", opt->junit, "Also write the verdict as JUnit XML to FILE (mode 0600, replaced atomically; a "
                                      "directory, fifo or symlink is refused before CMD runs)");
  sub->add_option("--out", opt->out, "Snapshot path prefix (HEAPSCOPE_OUT; default ./heapscope)");
  sub->prefix_command();
  sub->footer("CMD [ARGS]: the program to run and its arguments, after --\n"
              "Example: heapscope check --interval 0.5 --junit leaks.xml -- ./load_test --requests 1000\n");
  sub->callback([opt, sub] {
    std::vector<std::string> all = sub->remaining();
    for (const auto& a : g_command_after_dashdash) all.push_back(a);
    check(*opt, all);
  });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(55, "check", heapscope::add_check);
