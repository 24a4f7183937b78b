// channel.h -- the control channel: a Unix stream socket in the abstract
// namespace, "@heapscope/<pid>", served by the helper thread (control.cpp), so
// `heapscope snapshot PID` reaches the process whatever it did to the snapshot
// signal (its own handler, blocked, ignored).
// Owns: the listening socket and up to kChannelClients connections (fixed
// slots, no allocation), the peer check (SO_PEERCRED: the process's owner or
// root, nobody else), the one-line protocol, the per-connection timeout, and
// fork (the child never serves the parent's name).
// Protocol (docs/architecture.md, "control channel"): the client sends one
// line `HEAPSCOPE/1 COMMAND\n` (at most kChannelLineMax bytes); the server
// answers one line, `ok <text>\n` or `err <reason>\n`, and closes. Commands:
// `snapshot` -> `ok <path of the snapshot written>`; `snapshot-fd` -> `ok fd
// <len>\n` with, as SCM_RIGHTS ancillary data on that reply, a memfd holding
// a complete, self-contained snapshot of len bytes (nothing on disk; the
// helper closes its copy once sent; heapscope serve reads it). Reserved for
// later commands that return data: `ok data <len>\n` followed by len bytes.
// Safety: cold path, helper thread only (re-entry guard held for good), except
// channel_after_fork_child (fork's child handler; async-signal-safe). Every
// descriptor is non-blocking: a client that connects and sends nothing never
// holds the helper's other duties (interval, stats, alert, signal).
#pragma once
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

namespace hs {
constexpr int kChannelClients = 4;         // connections served at once; more get "err busy"
constexpr size_t kChannelLineMax = 256;    // request line, newline included
constexpr uint64_t kChannelTimeoutMs = 5000;  // a connection's time to send its line
constexpr int kChannelPollFds = 1 + kChannelClients;

// What a request runs. Returns true and the reply text (without "ok ") in out,
// or false and the reason (without "err ") in out.
using ChannelSnapshotFn = bool (*)(char* out, size_t out_len);
// What `snapshot-fd` runs: returns a descriptor (the caller closes it) and the
// snapshot's length in *len, or -1 and the reason (without "err ") in out.
using ChannelSnapshotFdFn = int (*)(uint64_t* len, char* out, size_t out_len);
// Sets what `snapshot-fd` runs (control.cpp, at start); without one the
// command is answered "err ... not available". Cold.
void channel_set_snapshot_fd(ChannelSnapshotFdFn fn);

// Opens the socket when `serve` and it is not open (binding the name of this
// process, getpid()), closes it and every connection when not `serve`. Also
// forgets descriptors the program closed or reused (never closing them). Says
// once on stderr when the name is taken. Cheap when nothing changes.
void channel_sync(bool serve);
// Fills fds (room for kChannelPollFds) with the descriptors to poll; returns
// their count. *wake_ms is lowered to the earliest connection deadline.
int channel_pollfds(struct pollfd* fds, uint64_t* wake_ms);
// Handles what poll reported for the descriptors channel_pollfds gave (n of
// them, same order): accepts, checks peers, reads, answers; then times out
// connections whose deadline passed (now_ms, CLOCK_MONOTONIC).
void channel_serve(const struct pollfd* fds, int n, uint64_t now_ms, ChannelSnapshotFn snapshot);
// In fork's child: drops (closes, when still ours) the parent's socket and
// connections. The child's own helper thread, if it gets one, binds its own
// pid's name. Async-signal-safe.
void channel_after_fork_child();
// True when the socket is open and bound to this process's name.
bool channel_serving();

// The reply to one request line (without its newline) in out, newline
// included; returns its length. Pure apart from calling `snapshot`; exposed
// for the unit tests.
size_t channel_reply(const char* line, size_t len, char* out, size_t out_len, ChannelSnapshotFn snapshot);
}  // namespace hs
