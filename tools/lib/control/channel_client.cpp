// channel_client.cpp -- see channel_client.h.
#include "control/channel_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
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

Answer request(pid_t pid, const std::vector<uid_t>& owners, const std::string& command, double timeout_s) {
  const std::string name = channel_name(pid), at = "@" + name;
  const auto deadline = Clock::now() + std::chrono::milliseconds(int64_t(timeout_s * 1000));
  Fd s;
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

}  // namespace heapscope::control
