// remote.h -- one thread of another process, held with ptrace, and function
// calls made on it (x86-64 System V).
//
// Owns: choosing the thread (PTRACE_SEIZE + PTRACE_INTERRUPT of one thread at
// a time; safe is a thread blocked in an idle wait (poll, epoll_wait, accept,
// read, nanosleep, ...; never futex) or running code with neither its pc nor
// a return address in the top 512 bytes of its stack in an unsafe range
// (loader, allocator, heapscope); any other is let go at once and another is
// tried, a bounded number of rounds), saving everything the call
// changes (general registers including orig_rax, the full xstate, the signal
// mask), the call itself (arguments in registers, scratch memory below the
// red zone, a return address below 64 KiB whose SIGSEGV marks the return),
// and putting all of it back before PTRACE_DETACH.
// Only the chosen thread ever stops; the others keep running, so a lock they
// hold is released as usual. An interrupted system call is restarted by the
// kernel after the detach (orig_rax is -1 during the call and restored after),
// except those the kernel never restarts after a stop (epoll_wait, see
// docs/attach.md).
// Safety: every exit path (exception included) restores and detaches; the
// tool should block SIGINT/SIGTERM/SIGHUP meanwhile (SignalBlock).
#pragma once
#include <signal.h>
#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inject/target.h"

namespace heapscope::inject {

// Blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in the tool while it lives, so
// the tool cannot be interrupted with the target's thread held.
struct SignalBlock {
  sigset_t old;
  SignalBlock();
  ~SignalBlock();
};

// A failure during a remote call, after the target ran some of it: the
// registers were put back but the callee may not have finished.
struct CallFailed : std::runtime_error {
  explicit CallFailed(const std::string& what) : std::runtime_error(what) {}
};

class RemoteThread {
 public:
  // Seizes a thread of p at a safe point. rounds: passes over all threads
  // (a pause between passes). Throws Refusal when none was safe.
  static std::unique_ptr<RemoteThread> at_safe_point(const Process& p, const std::vector<Range>& unsafe,
                                                     int rounds);
  ~RemoteThread();  // release()
  RemoteThread(const RemoteThread&) = delete;
  RemoteThread& operator=(const RemoteThread&) = delete;

  pid_t tid() const { return tid_; }
  // Copies bytes into scratch memory on the thread's stack (below the red
  // zone); returns their address in the target.
  uint64_t push(const void* data, size_t n);
  uint64_t push_string(const std::string& s) { return push(s.c_str(), s.size() + 1); }
  // Calls fn(args...) (up to 6 integer arguments); returns rax.
  uint64_t call(uint64_t fn, const std::vector<uint64_t>& args, int timeout_ms = 30000);
  std::string read_string(uint64_t addr, size_t max);
  // Puts back registers, xstate and signal mask, and detaches. Idempotent.
  void release();

 private:
  RemoteThread(pid_t pid, pid_t tid) : pid_(pid), tid_(tid) {}
  bool save();
  void write_mem(uint64_t addr, const void* data, size_t n);
  pid_t pid_, tid_;
  bool held_ = true, saved_ = false;
  user_regs_struct regs_{};
  std::vector<uint8_t> xstate_;
  size_t xstate_len_ = 0;
  uint64_t sigmask_ = 0;
  uint64_t scratch_ = 0;  // next free byte (grows down)
};

// Waits for tid's next ptrace stop; signal-delivery stops on the way are
// passed on (the program handles its signals as usual). Returns the stop
// signal of a PTRACE_EVENT_STOP, or -1 when the thread exited, -2 on timeout.
int wait_event_stop(pid_t tid, int timeout_ms);

}  // namespace heapscope::inject
