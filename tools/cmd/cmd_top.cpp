// cmd_top.cpp -- `heapscope top PID [--every S]`: a live terminal view of a
// running, profiled process (render/top.h's screen), refreshed every S
// seconds from a snapshot asked for over its control channel
// (control/live_process.h), read and ranked by analyze/live.h.
//
// Owns: the terminal loop only. On a terminal: the alternate screen, cursor
// hidden, keys read unbuffered without echo (Ctrl-C still a signal); `q`,
// Ctrl-C, SIGTERM or SIGHUP (the ssh session gone) end the loop and restore
// the terminal as it was; SIGWINCH redraws at the new size (TIOCGWINSZ).
// Standard output not a terminal: one screen (COLUMNS x LINES, else 120 x 40)
// of plain text, then exit 0 (for scripts and logs).
// Each refresh is a self-contained snapshot the process hands over in a memfd
// (the channel's `snapshot-fd` command): nothing is written to disk.
// Errors: CommandError naming the pid and what was expected.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "analyze/live.h"
#include "cmd/commands.h"
#include "control/live_process.h"
#include "reader/reader.h"
#include "render/top.h"

namespace heapscope {
namespace {

struct TopOptions {
  std::string pid;
  double every = 2;
};

volatile sig_atomic_t g_quit = 0, g_resized = 0;
void on_quit(int) { g_quit = 1; }
void on_winch(int) { g_resized = 1; }

void write_all(const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(STDOUT_FILENO, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the terminal is gone (ssh closed): nothing to show it on
    done += size_t(n);
  }
}

void terminal_size(size_t& cols, size_t& rows) {
  cols = 120, rows = 40;
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 0) {
    cols = ws.ws_col, rows = ws.ws_row;
    return;
  }
  if (const char* c = std::getenv("COLUMNS")) cols = std::strtoul(c, nullptr, 10) ? std::strtoul(c, nullptr, 10) : cols;
  if (const char* r = std::getenv("LINES")) rows = std::strtoul(r, nullptr, 10) ? std::strtoul(r, nullptr, 10) : rows;
}

// The terminal as top found it, restored by the destructor (also on errors).
struct Screen {
  bool active = false, keys = false;
  termios saved{};
  void enter() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios raw = saved;
      raw.c_lflag &= ~tcflag_t(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      keys = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    write_all("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
    active = true;
  }
  ~Screen() {
    if (!active) return;
    write_all("\x1b[?25h\x1b[?1049l");
    if (keys) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  }
};

// One refresh: a snapshot over the channel, read and added; "" or the problem.
std::string refresh(pid_t pid, LiveSeries& series) {
  std::string bytes;
  control::Answer a = control::request_snapshot_in_memory(pid, 10, &bytes);
  if (a.status != control::Status::ok) {
    if (!control::process_exists(pid)) throw CommandError("process " + std::to_string(pid) + " exited");
    return "snapshot failed (control channel): " + a.text;
  }
  try {
    series.add(read_hsnap(bytes, "@heapscope/" + std::to_string(pid), {}));
  } catch (const std::exception& e) {
    return std::string("snapshot unreadable: ") + e.what();
  }
  return "";
}

void run_top(const TopOptions& o) {
  pid_t pid = control::parse_pid(o.pid);
  if (!pid) throw CommandError("top: '" + o.pid + "' is not a process id (expected a positive number)", 2);
  const std::string p = std::to_string(pid);
  if (!control::process_exists(pid)) throw CommandError("process " + p + ": no such process");
  if (!control::process_profiled(pid)) {
    std::string hint = "start it with `heapscope run -- CMD` or link it with -lheapscope";
    auto kids = control::process_children(pid);
    if (kids.size() == 1 && control::process_profiled(kids[0]))
      hint = "its child " + std::to_string(kids[0]) + " is (give that pid)";
    throw CommandError("process " + p + ": not profiled (libheapscope is not loaded in it); " + hint);
  }
  // The first snapshot before any screen: a process without a channel fails here, plainly.
  LiveSeries series(200);
  TopHeader header;
  header.process = "pid " + p + ": " + control::process_command(pid);
  header.every_s = o.every;
  std::string first_bytes;
  control::Answer first = control::request_snapshot_in_memory(pid, 10, &first_bytes);
  if (first.status != control::Status::ok) {
    std::string why = first.status == control::Status::no_channel
                          ? ": it has no control channel (" + first.text +
                                "); heapscope's helper thread serves it: start the program with HEAPSCOPE_THREAD=always"
                          : " (control channel @" + control::channel_name(pid) + "): " + first.text;
    throw CommandError("process " + p + ": cannot get a snapshot" + why);
  }
  series.add(read_hsnap(first_bytes, "@heapscope/" + p, {}));
  header.rss = control::process_rss(pid);

  size_t cols, rows;
  if (!isatty(STDOUT_FILENO)) {
    terminal_size(cols, rows);
    std::string text;
    for (const auto& l : top_lines(series, header, cols, rows)) text += l + "\n";
    write_all(text);
    return;
  }
  struct sigaction sa{}, old_int{}, old_term{}, old_hup{}, old_winch{};
  sa.sa_handler = on_quit;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGHUP, &sa, &old_hup);
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, &old_winch);
  {
    Screen screen;
    screen.enter();
    using Clock = std::chrono::steady_clock;
    auto next = Clock::now() + std::chrono::milliseconds(int64_t(o.every * 1000));
    bool draw = true;
    while (!g_quit) {
      if (draw || g_resized) {
        g_resized = 0;
        terminal_size(cols, rows);
        write_all(ansi_frame(top_lines(series, header, cols, rows)));
        draw = false;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
      if (left <= 0) {
        header.status = refresh(pid, series);
        header.rss = control::process_rss(pid);
        next = Clock::now() + std::chrono::milliseconds(int64_t(o.every * 1000));
        draw = true;
        continue;
      }
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      int r = poll(&pfd, screen.keys ? 1 : 0, int(left));
      if (r > 0 && (pfd.revents & POLLIN)) {
        char c = 0;
        ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n == 1 && (c == 'q' || c == 'Q')) break;
        if (n == 0) screen.keys = false;  // end of input: keep refreshing until a signal
      } else if (r > 0) {
        screen.keys = false;  // the terminal hung up
      }
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  sigaction(SIGWINCH, &old_winch, nullptr);
}

void add_top(CLI::App& app) {
  auto opt = std::make_shared<TopOptions>();
  CLI::App* sub = app.add_subcommand(
      "top",
      "A live terminal view of a running, profiled process: live heap and RSS, the top sites by live\n"
      "bytes and by growth since the view started, refreshed every --every seconds from a snapshot\n"
      "over its control channel (in memory: nothing is written to disk).\n"
      "q or Ctrl-C quits. With standard output not a terminal, prints one screen and exits.");
  sub->add_option("PID", opt->pid, "process id of a program started with heapscope run")->required();
  sub->add_option("--every", opt->every, "seconds between refreshes")
      ->check(number_check("seconds, more than 0", true))
      ->capture_default_str();
  sub->callback([opt] { run_top(*opt); });
}

}  // namespace
}  // namespace heapscope

HEAPSCOPE_COMMAND(22, "top", heapscope::add_top);
