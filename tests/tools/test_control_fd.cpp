// test_control_fd.cpp -- the control channel's `snapshot-fd` (profiler side,
// profiler/src/channel.cpp) and its client request_snapshot_bytes
// (tools/lib/control/channel_client.h): a fake server in this process for
// the client's checks, and a real profiled program (programs/hold_blocks.c)
// whose live blocks are read exactly through the memfd, with nothing written
// to HEAPSCOPE_OUT's directory and no chaining to the periodic files.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "control/channel_client.h"
#include "reader/reader.h"
#include "test_util.h"

namespace {
using heapscope::control::Status;
using heapscope::control::request_snapshot_bytes;

// Serves one connection on @heapscope/<getpid()>: reads the request line
// into *line, then sends `reply` with `fd` (when >= 0) as SCM_RIGHTS.
struct FakeServer {
  int listen_fd = -1;
  std::thread th;
  std::string line;
  FakeServer(const std::string& reply, int fd) {
    listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::string name = "heapscope/" + std::to_string(getpid());
    std::memcpy(a.sun_path + 1, name.data(), name.size());
    socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (bind(listen_fd, (sockaddr*)&a, alen) != 0 || listen(listen_fd, 4) != 0) {
      close(listen_fd);
      listen_fd = -1;
      return;
    }
    th = std::thread([this, reply, fd] {
      int c = accept(listen_fd, nullptr, nullptr);
      if (c < 0) return;
      char ch;
      while (read(c, &ch, 1) == 1 && ch != '\n') line += ch;
      iovec iov{const_cast<char*>(reply.data()), reply.size()};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* h = CMSG_FIRSTHDR(&msg);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(h), &fd, sizeof fd);
      }
      (void)!sendmsg(c, &msg, MSG_NOSIGNAL);
      close(c);
    });
  }
  ~FakeServer() {
    if (th.joinable()) th.join();
    if (listen_fd >= 0) close(listen_fd);
  }
};

int memfd_with(const std::string& text) {
  int fd = memfd_create("test", MFD_CLOEXEC);
  if (fd >= 0) (void)!write(fd, text.data(), text.size());
  return fd;
}

TEST(ControlFd, ClientReadsTheMemfdItIsSent) {
  int fd = memfd_with("0123456789");
  ASSERT_GE(fd, 0);
  std::string bytes, error;
  Status st = Status::no_channel;
  {
    FakeServer server("ok fd 7\n", fd);
    ASSERT_GE(server.listen_fd, 0);
    EXPECT_TRUE(request_snapshot_bytes(getpid(), {getuid()}, 5, &bytes, &error, &st)) << error;
    server.th.join();
    EXPECT_EQ(server.line, "HEAPSCOPE/1 snapshot-fd");
  }
  close(fd);
  EXPECT_EQ(st, Status::ok);
  EXPECT_EQ(bytes, "0123456");  // exactly len bytes from the start, whatever the descriptor's offset
}

TEST(ControlFd, ClientRefusesWhatIsNotASnapshotReply) {
  struct Case {
    std::string reply;
    std::string content;  // "" = no descriptor sent
    Status status;
    std::string error;
  };
  const std::string at = "@heapscope/" + std::to_string(getpid());
  const std::vector<Case> cases = {
      {"err busy: 4 requests in progress; try again\n", "", Status::refused,
       "busy: 4 requests in progress; try again"},
      {"ok fd 5\n", "", Status::no_reply, at + " answered 'ok fd' without a descriptor"},
      {"ok fd 50\n", "short", Status::no_reply, at + ": the descriptor sent is not a file of 50 bytes"},
      {"ok /tmp/x.hsnap\n", "x", Status::no_reply, at + " answered 'ok /tmp/x.hsnap' (expected 'ok fd <length>')"},
      {"ok fd 99999999999999\n", "x", Status::no_reply,
       at + ": a snapshot of 99999999999999 bytes (more than the 4294967296 accepted)"},
  };
  for (const Case& c : cases) {
    int fd = c.content.empty() ? -1 : memfd_with(c.content);
    std::string bytes = "untouched", error;
    Status st = Status::ok;
    {
      FakeServer server(c.reply, fd);
      ASSERT_GE(server.listen_fd, 0);
      EXPECT_FALSE(request_snapshot_bytes(getpid(), {getuid()}, 5, &bytes, &error, &st)) << c.reply;
    }
    if (fd >= 0) close(fd);
    EXPECT_EQ(st, c.status) << c.reply;
    EXPECT_EQ(error, c.error) << c.reply;
    EXPECT_EQ(bytes, "untouched") << c.reply;
  }
  // Nothing listening.
  std::string bytes, error;
  Status st = Status::ok;
  EXPECT_FALSE(request_snapshot_bytes(getpid(), {getuid()}, 1, &bytes, &error, &st));
  EXPECT_EQ(st, Status::no_channel);
  EXPECT_EQ(error, "nothing listens on " + at);
  // The peer checks are request()'s own (connect_checked), tested with `heapscope snapshot`.
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// hold_blocks under the preload (HEAPSCOPE_THREAD=always: it has no thread
// of its own), its pid file in ctl, its snapshots (if any) under out/h.
struct Held {
  pid_t pid = 0;
  std::string ctl;
  Held(const std::string& ctl_dir, const std::string& out_dir, const std::vector<std::string>& env) : ctl(ctl_dir) {
    mkdir(ctl.c_str(), 0700);
    mkdir(out_dir.c_str(), 0700);
    pid_t p = fork();
    if (p == 0) {
      setenv("LD_PRELOAD", HS_PROFILER_LIB, 1);
      setenv("HEAPSCOPE_OUT", (out_dir + "/h").c_str(), 1);
      setenv("HEAPSCOPE_THREAD", "always", 1);
      setenv("HEAPSCOPE_PEAK", "0", 1);
      setenv("HEAPSCOPE_AT_EXIT", "0", 1);
      for (const auto& e : env) putenv(strdup(e.c_str()));
      std::string prog = std::string(HS_TEST_PROGRAMS_DIR) + "/hold_blocks";
      execl(prog.c_str(), prog.c_str(), ctl.c_str(), (char*)nullptr);
      _exit(127);
    }
    for (int i = 0; i < 1000 && p > 0; ++i) {
      std::string text = read_text(ctl + "/pid");
      if (!text.empty() && text.back() == '\n') {
        pid = std::atoi(text.c_str());
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!pid && p > 0) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }
  ~Held() {
    if (pid <= 0) return;
    FILE* f = std::fopen((ctl + "/stop").c_str(), "w");
    if (f) std::fclose(f);
    waitpid(pid, nullptr, 0);
  }
};

// The site of hold_blocks' malloc loop: exactly 37 blocks of 4321 bytes.
const heapscope::Site* held_site(const heapscope::Profile& p) {
  for (const auto& s : p.sites)
    if (s.counts.inuse_count == 37 && s.counts.alloc_count == 37) return &s;
  return nullptr;
}

TEST(ControlFd, ProfiledProgramSendsItsLiveBlocksThroughTheFd) {
  TempDir dir;
  Held held(dir.path + "/ctl", dir.path + "/out", {});
  ASSERT_GT(held.pid, 0);
  for (int round = 0; round < 3; ++round) {
    std::string bytes, error;
    ASSERT_TRUE(request_snapshot_bytes(held.pid, {getuid()}, 10, &bytes, &error)) << error;
    heapscope::Profile p = heapscope::read_hsnap(bytes, "fd", {});  // no loader: must stand alone
    EXPECT_EQ(p.pid, uint64_t(held.pid));
    EXPECT_EQ(p.trigger, "signal");
    EXPECT_EQ(p.seq, 0u);
    const heapscope::Site* s = held_site(p);
    ASSERT_NE(s, nullptr) << "round " << round;
    EXPECT_EQ(s->counts.inuse_bytes, 37 * 4321);
    EXPECT_EQ(s->counts.alloc_bytes, 37 * 4321);
  }
  EXPECT_EQ(files_in(dir.path + "/out"), std::vector<std::string>{}) << "snapshot-fd wrote a file";
}

TEST(ControlFd, SnapshotFdStandsAloneBesideAChainedSeries) {
  TempDir dir;
  Held held(dir.path + "/ctl", dir.path + "/out", {"HEAPSCOPE_INTERVAL=0.05"});
  ASSERT_GT(held.pid, 0);
  // Wait until the periodic series has chained files (the 2nd builds on the 1st).
  const std::string second = dir.path + "/out/h." + std::to_string(held.pid) + ".0003.hsnap";
  struct stat st;
  for (int i = 0; i < 1000 && stat(second.c_str(), &st) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(stat(second.c_str(), &st), 0) << second;
  std::string bytes, error;
  ASSERT_TRUE(request_snapshot_bytes(held.pid, {getuid()}, 10, &bytes, &error)) << error;
  heapscope::Profile p = heapscope::read_hsnap(bytes, "fd", {});
  const heapscope::Site* s = held_site(p);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->counts.inuse_bytes, 37 * 4321);
  // The series goes on, readable, after the in-memory snapshot.
  const std::string later = dir.path + "/out/h." + std::to_string(held.pid) + ".0006.hsnap";
  for (int i = 0; i < 1000 && stat(later.c_str(), &st) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(stat(later.c_str(), &st), 0) << later;
  heapscope::Profile q = heapscope::read_profile(later);
  const heapscope::Site* t = held_site(q);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->counts.inuse_bytes, 37 * 4321);
}

}  // namespace
