// channel_client.cpp -- see channel_client.h.
#include "control/channel_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace heapscope::control {
namespace {
using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : left > 1000000 ? 1000000 : int(left);
}

std::string shown(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}
}  // namespace

std::string channel_name(pid_t pid) { return "heapscope/" + std::to_string(pid); }

Answer parse_reply(const std::string& line) {
  if (line.rfind("ok ", 0) == 0) return {Status::ok, line.substr(3)};
  if (line.rfind("err ", 0) == 0) return {Status::refused, line.substr(4)};
  return {Status::no_reply, "an answer that is neither `ok ...` nor `err ...`: '" + shown(line) + "'"};
}

namespace {
// Connects s to pid's channel and checks its server (request()'s rules).
// Returns ok with an empty text, or what went wrong.
Answer connect_checked(pid_t pid, const std::vector<uid_t>& owners, Clock::time_point deadline, Fd& s) {
  const std::string name = channel_name(pid), at = "@" + name;
  s.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s.fd < 0) return {Status::no_channel, "cannot make a socket: " + std::string(std::strerror(errno))};
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  const socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  for (int attempt = 0;; ++attempt) {  // EAGAIN: its backlog is full; bounded by the deadline and a count
    if (connect(s.fd, reinterpret_cast<sockaddr*>(&a), alen) == 0) break;
    if (errno == EINTR) continue;
    if (errno == ECONNREFUSED || errno == ENOENT)
      return {Status::no_channel, "nothing listens on " + at};
    if (errno != EAGAIN || attempt >= 500 || ms_left(deadline) == 0)
      return {Status::no_reply, "cannot connect to " + at + ": " + std::strerror(errno)};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ucred peer{};
  socklen_t plen = sizeof peer;
  if (getsockopt(s.fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0)
    return {Status::untrusted, "cannot read the credentials of " + at + "'s server: " + std::strerror(errno)};
  if (peer.pid != pid)
    return {Status::untrusted, at + " is served by process " + std::to_string(peer.pid) + " (uid " +
                                   std::to_string(peer.uid) + "), not by process " + std::to_string(pid) +
                                   ": not trusted, nothing sent"};
  // Root too: a daemon that drops privileges after start keeps the socket it
  // listened on as root (SO_PEERCRED tells the credentials at listen()).
  bool owned = peer.uid == 0;
  std::string listed;
  for (uid_t u : owners) {
    owned |= peer.uid == u;
    listed += (listed.empty() ? "" : "/") + std::to_string(u);
  }
  if (!owned)
    return {Status::untrusted, at + " is served as uid " + std::to_string(peer.uid) + ", but process " +
                                   std::to_string(pid) + " runs as uid " + listed + ": not trusted, nothing sent"};
  return {Status::ok, ""};
}

// Sends the request line.
Answer send_line(Fd& s, const std::string& at, const std::string& command, Clock::time_point deadline) {
  const std::string line = "HEAPSCOPE/1 " + command + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = send(s.fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd p{s.fd, POLLOUT, 0};
      if (poll(&p, 1, ms_left(deadline)) > 0) continue;
      return {Status::no_reply, "cannot send the request to " + at + " in time"};
    }
    // The server may have answered (a refusal) and closed before reading: read it below.
    break;
  }
  return {Status::ok, ""};
}
}  // namespace

Answer request(pid_t pid, const std::vector<uid_t>& owners, const std::string& command, double timeout_s) {
  const std::string at = "@" + channel_name(pid);
  const auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  Fd s;
  Answer a = connect_checked(pid, owners, deadline, s);
  if (a.status != Status::ok) return a;
  a = send_line(s, at, command, deadline);
  if (a.status != Status::ok) return a;
  std::string got;
  char buf[4096];
  for (;;) {
    size_t nl = got.find('\n');
    if (nl != std::string::npos) return parse_reply(got.substr(0, nl));
    if (got.size() > 65536) return {Status::no_reply, at + " sent more than 64 KiB without a newline"};
    pollfd p{s.fd, POLLIN, 0};
    int pr = poll(&p, 1, ms_left(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", timeout_s);
      return {Status::no_reply, "no answer on " + at + " within " + secs + " s"};
    }
    ssize_t n = recv(s.fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return {Status::no_reply, "reading from " + at + ": " + std::strerror(errno)};
    if (n == 0)
      return {Status::no_reply, at + " closed the connection without an answer" +
                                    (got.empty() ? std::string() : " (got '" + shown(got) + "')")};
    got.append(buf, size_t(n));
  }
}

bool request_snapshot_bytes(pid_t pid, const std::vector<uid_t>& owners, double timeout_s, std::string* bytes,
                            std::string* error, Status* status) {
  const std::string at = "@" + channel_name(pid);
  const auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  auto fail = [&](Status st, const std::string& why) {
    if (status) *status = st;
    if (error) *error = why;
    return false;
  };
  Fd s;
  Answer a = connect_checked(pid, owners, deadline, s);
  if (a.status != Status::ok) return fail(a.status, a.text);
  a = send_line(s, at, "snapshot-fd", deadline);
  if (a.status != Status::ok) return fail(a.status, a.text);
  std::string got;
  Fd memfd;
  char buf[512];
  for (;;) {
    size_t nl = got.find('\n');
    if (nl != std::string::npos) {
      got.resize(nl);
      break;
    }
    if (got.size() > 4096) return fail(Status::no_reply, at + " sent more than 4 KiB without a newline");
    pollfd p{s.fd, POLLIN, 0};
    int pr = poll(&p, 1, ms_left(deadline));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", timeout_s);
      return fail(Status::no_reply, "no answer on " + at + " within " + secs + " s");
    }
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(s.fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return fail(Status::no_reply, "reading from " + at + ": " + std::strerror(errno));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (memfd.fd < 0) memfd.fd = fd;
        else close(fd);  // only one is expected: never leak the others
      }
    }
    if (n == 0)
      return fail(Status::no_reply, at + " closed the connection without an answer" +
                                        (got.empty() ? std::string() : " (got '" + shown(got) + "')"));
    got.append(buf, size_t(n));
  }
  Answer reply = parse_reply(got);
  if (reply.status != Status::ok) return fail(reply.status, reply.text);
  if (reply.text.rfind("fd ", 0) != 0 || reply.text.size() < 4 || reply.text.size() > 24 ||
      reply.text.find_first_not_of("0123456789", 3) != std::string::npos)
    return fail(Status::no_reply, at + " answered 'ok " + shown(reply.text) + "' (expected 'ok fd <length>')");
  const uint64_t len = std::strtoull(reply.text.c_str() + 3, nullptr, 10);
  if (memfd.fd < 0) return fail(Status::no_reply, at + " answered 'ok fd' without a descriptor");
  if (len > kMaxSnapshotBytes)
    return fail(Status::no_reply, at + ": a snapshot of " + std::to_string(len) + " bytes (more than the " +
                                      std::to_string(kMaxSnapshotBytes) + " accepted)");
  struct stat st{};
  if (fstat(memfd.fd, &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) < len)
    return fail(Status::no_reply, at + ": the descriptor sent is not a file of " + std::to_string(len) + " bytes");
  std::string out(len, '\0');
  uint64_t off = 0;
  while (off < len) {
    ssize_t r = pread(memfd.fd, out.data() + off, len - off, off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0)
      return fail(Status::no_reply, at + ": reading the snapshot's descriptor at byte " + std::to_string(off) +
                                        " of " + std::to_string(len) + ": " +
                                        (r < 0 ? std::strerror(errno) : "end of file"));
    off += uint64_t(r);
  }
  *bytes = std::move(out);
  if (status) *status = Status::ok;
  return true;
}

}  // namespace heapscope::control
