// channel.cpp -- see channel.h.
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "own_fd.h"

namespace hs {
namespace {
struct Slot {
  int fd = -1;
  FdId id;
  uint64_t deadline_ms = 0;
  size_t len = 0;
  char line[kChannelLineMax];
};

struct Sock {
  int fd = -1;
  FdId id;
};

Sock g_listen;
int g_listen_pid = 0;  // the pid whose name g_listen is bound to
Slot g_slots[kChannelClients];
bool g_taken_reported = false;  // said once that the name is taken
bool g_open_failed_reported = false;
ChannelSnapshotFdFn g_snapshot_fd = nullptr;  // channel_set_snapshot_fd

// The descriptor still is the socket we made (a daemon may close every
// descriptor it does not know and reuse the numbers; own_fd.h).
bool is_ours(int fd, const FdId& id) { return fd_is(fd, id); }

socklen_t name_of(int pid, sockaddr_un* a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  // sun_path[0] = 0: the abstract namespace (nothing on disk; gone with the socket).
  size_t n = format(a->sun_path + 1, sizeof a->sun_path - 1, "heapscope/%d", pid);
  return (socklen_t)(offsetof(sockaddr_un, sun_path) + 1 + n);
}

void drop(Slot& s, bool ours) {
  if (ours && s.fd >= 0) close(s.fd);
  s.fd = -1;
  s.len = 0;
}

// One line and close: the reply always fits the socket's buffer (a few
// hundred bytes against ~200 KiB), so a non-blocking send never waits.
void answer(Slot& s, const char* text, size_t len) {
  (void)!send(s.fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT);
  drop(s, is_ours(s.fd, s.id));  // never a number the program took meanwhile
}

void close_all() {
  for (Slot& s : g_slots) drop(s, is_ours(s.fd, s.id));
  if (g_listen.fd >= 0 && is_ours(g_listen.fd, g_listen.id)) close(g_listen.fd);
  g_listen.fd = -1;
  g_listen_pid = 0;
}

void open_listen(int pid) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (!g_open_failed_reported) {
      g_open_failed_reported = true;
      log_line("cannot open the control channel socket: errno %d; `heapscope snapshot` uses the signal", errno);
    }
    return;
  }
  FdId made;
  if (!fd_identify(fd, S_IFSOCK, &made)) return;  // the number was taken at once: retried at the next check
  sockaddr_un a;
  socklen_t alen = name_of(pid, &a);
  if (bind(fd, (sockaddr*)&a, alen) != 0 || listen(fd, 16) != 0) {
    int e = errno;
    if (is_ours(fd, made)) close(fd);  // never a number the program took meanwhile
    if (e == EADDRINUSE && !g_taken_reported) {
      g_taken_reported = true;
      log_line("the control channel name @heapscope/%d is taken by another process; `heapscope snapshot` "
               "refuses that process and uses the signal (retried every second)",
               pid);
    } else if (e != EADDRINUSE && !g_open_failed_reported) {
      g_open_failed_reported = true;
      log_line("cannot serve the control channel @heapscope/%d: errno %d; `heapscope snapshot` uses the signal",
               pid, e);
    }
    return;
  }
  g_listen.fd = fd_move_high(fd, S_IFSOCK, &g_listen.id);
  if (g_listen.fd < 0) return;  // taken while it moved up: a new one at the next check
  g_listen_pid = pid;
  if (g_taken_reported) log_line("the control channel @heapscope/%d is served now", pid);
  g_taken_reported = false;
}

// Request text echoed into a reply: printable ASCII only, at most 40 bytes.
size_t sanitized(const char* s, size_t n, char* out, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < cap && k < 40; ++i) out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  out[k] = 0;
  return k;
}

void accept_all(uint64_t now_ms) {
  const uid_t owner = geteuid();
  for (int round = 0; round < 32; ++round) {  // bounded: the rest wait for the next wake
    int fd = accept4(g_listen.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    ucred peer;
    socklen_t plen = sizeof peer;
    char msg[200];
    size_t n = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0) {
      n = format(msg, sizeof msg, "err permission denied: cannot read the peer's credentials (errno %d)\n", errno);
    } else if (peer.uid != 0 && peer.uid != owner) {
      n = format(msg, sizeof msg,
                 "err permission denied: uid %u is neither the owner of process %d (uid %u) nor root\n",
                 (unsigned)peer.uid, g_listen_pid, (unsigned)owner);
    }
    Slot* free_slot = nullptr;
    for (Slot& s : g_slots)
      if (s.fd < 0 && !free_slot) free_slot = &s;
    if (!n && !free_slot)
      n = format(msg, sizeof msg, "err busy: %d requests in progress; try again\n", kChannelClients);
    if (n) {
      (void)!send(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      continue;
    }
    free_slot->fd = fd_move_high(fd, S_IFSOCK, &free_slot->id);
    if (free_slot->fd < 0) continue;  // taken by the program while it moved up: that client sees EOF
    free_slot->len = 0;
    free_slot->deadline_ms = now_ms + kChannelTimeoutMs;
  }
}

// `HEAPSCOPE/1 snapshot-fd` (a trailing CR allowed).
bool is_snapshot_fd(const char* line, size_t len) {
  static const char kCmd[] = "HEAPSCOPE/1 snapshot-fd";
  if (len && line[len - 1] == '\r') --len;
  return len == sizeof kCmd - 1 && memcmp(line, kCmd, len) == 0;
}

// Answers `snapshot-fd`: the memfd travels as SCM_RIGHTS with the reply line
// (one sendmsg of a few bytes: never waits, see answer()); our copy is closed
// whether or not the send worked.
void answer_fd(Slot& s) {
  char text[300];
  uint64_t len = 0;
  int fd = g_snapshot_fd ? g_snapshot_fd(&len, text, sizeof text) : -1;
  if (!g_snapshot_fd) format(text, sizeof text, "snapshot-fd is not available in this process");
  char reply[340];
  if (fd < 0) {
    size_t n = format(reply, sizeof reply, "err %s\n", text);
    answer(s, reply, n);
    return;
  }
  size_t n = format(reply, sizeof reply, "ok fd %lu\n", (unsigned long)len);
  iovec iov{reply, n};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  (void)!sendmsg(s.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);  // the memfd was made just now on this thread: ours
  drop(s, is_ours(s.fd, s.id));  // never a number the program took meanwhile
}

void read_request(Slot& s, ChannelSnapshotFn snapshot) {
  for (;;) {
    ssize_t r = recv(s.fd, s.line + s.len, sizeof s.line - s.len, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) {  // closed (or failed) before a whole line: nothing to answer
      drop(s, is_ours(s.fd, s.id));  // never a number the program took meanwhile
      return;
    }
    size_t from = s.len;
    s.len += (size_t)r;
    void* nl = memchr(s.line + from, '\n', s.len - from);
    if (nl && is_snapshot_fd(s.line, (size_t)((char*)nl - s.line))) {
      answer_fd(s);
      return;
    }
    if (nl || s.len == sizeof s.line) {
      char reply[4400];
      size_t n = nl ? channel_reply(s.line, (size_t)((char*)nl - s.line), reply, sizeof reply, snapshot)
                    : format(reply, sizeof reply, "err request line longer than %zu bytes\n", kChannelLineMax - 1);
      answer(s, reply, n);
      return;
    }
  }
}
}  // namespace

size_t channel_reply(const char* line, size_t len, char* out, size_t out_len, ChannelSnapshotFn snapshot) {
  if (len && line[len - 1] == '\r') --len;
  static const char kProto[] = "HEAPSCOPE/1";
  const size_t plen = sizeof kProto - 1;
  char shown[48];
  if (len < plen + 1 || memcmp(line, kProto, plen) != 0 || line[plen] != ' ') {
    size_t sp = 0;
    while (sp < len && line[sp] != ' ') ++sp;
    if (sp == plen && !memcmp(line, kProto, plen))
      return format(out, out_len, "err no command after HEAPSCOPE/1 (expected: snapshot or snapshot-fd)\n");
    if (sp > 10 && !memcmp(line, "HEAPSCOPE/", 10)) {
      sanitized(line, sp, shown, sizeof shown);
      return format(out, out_len, "err unsupported protocol '%s' (this process speaks HEAPSCOPE/1)\n", shown);
    }
    sanitized(line, len, shown, sizeof shown);
    return format(out, out_len, "err not a heapscope request '%s' (expected 'HEAPSCOPE/1 COMMAND')\n", shown);
  }
  const char* cmd = line + plen + 1;
  size_t clen = len - plen - 1;
  if (clen == 8 && !memcmp(cmd, "snapshot", 8)) {
    char text[4300];
    bool ok = snapshot(text, sizeof text);
    return format(out, out_len, "%s %s\n", ok ? "ok" : "err", text);
  }
  sanitized(cmd, clen, shown, sizeof shown);
  return format(out, out_len, "err unknown command '%s' (expected: snapshot or snapshot-fd)\n", shown);
}

void channel_sync(bool serve) {
  for (Slot& s : g_slots)
    if (s.fd >= 0 && !is_ours(s.fd, s.id)) drop(s, false);
  if (g_listen.fd >= 0 && !is_ours(g_listen.fd, g_listen.id)) {
    g_listen.fd = -1;  // the program closed it (and may have reused the number): a new one
    g_listen_pid = 0;
  }
  const int pid = (int)getpid();
  if (!serve || (g_listen.fd >= 0 && g_listen_pid != pid)) close_all();
  if (serve && g_listen.fd < 0) open_listen(pid);
}

void channel_set_snapshot_fd(ChannelSnapshotFdFn fn) { g_snapshot_fd = fn; }

bool channel_serving() { return g_listen.fd >= 0 && g_listen_pid == (int)getpid(); }

int channel_pollfds(struct pollfd* fds, uint64_t* wake_ms) {
  int n = 0;
  fds[n++] = {g_listen.fd, POLLIN, 0};  // -1 when closed: poll ignores it
  for (Slot& s : g_slots) {
    fds[n++] = {s.fd, POLLIN, 0};
    if (s.fd >= 0 && s.deadline_ms < *wake_ms) *wake_ms = s.deadline_ms;
  }
  return n;
}

void channel_serve(const struct pollfd* fds, int n, uint64_t now_ms, ChannelSnapshotFn snapshot) {
  for (int i = 1; i < n && i - 1 < kChannelClients; ++i) {
    Slot& s = g_slots[i - 1];
    if (s.fd < 0 || fds[i].fd != s.fd || !fds[i].revents) continue;
    // Closed by the program (a daemon closing every descriptor), maybe reused
    // for its own file: forgotten, never read, never closed.
    if ((fds[i].revents & POLLNVAL) || !is_ours(s.fd, s.id)) {
      drop(s, false);
      continue;
    }
    read_request(s, snapshot);  // reads what is there; EOF or an error closes it
  }
  if (n > 0 && g_listen.fd >= 0 && fds[0].fd == g_listen.fd && fds[0].revents) {
    if ((fds[0].revents & POLLNVAL) || !is_ours(g_listen.fd, g_listen.id)) {
      g_listen.fd = -1;  // the same: a new socket at the helper's next wake (channel_sync)
      g_listen_pid = 0;
    } else if (fds[0].revents & POLLIN) {
      accept_all(now_ms);
    }
  }
  for (Slot& s : g_slots) {
    if (s.fd >= 0 && now_ms >= s.deadline_ms) {
      char msg[120];
      size_t m = format(msg, sizeof msg, "err timeout: no request line within %u ms\n",
                        (unsigned)kChannelTimeoutMs);
      answer(s, msg, m);
    }
  }
}

void channel_after_fork_child() {
  // Each word written only when set: every page the child writes is a
  // copy-on-write fault.
  for (Slot& s : g_slots)
    if (s.fd >= 0 || s.len) drop(s, is_ours(s.fd, s.id));
  if (g_listen.fd >= 0) {
    if (is_ours(g_listen.fd, g_listen.id)) close(g_listen.fd);
    g_listen.fd = -1;
  }
  if (g_listen_pid) g_listen_pid = 0;
  if (g_taken_reported) g_taken_reported = false;
  if (g_open_failed_reported) g_open_failed_reported = false;
}
}  // namespace hs
