// remote.h -- one thread of another process, held with ptrace, and function
// calls made on it (x86-64 System V).
//
// Owns: choosing the thread (PTRACE_SEIZE + PTRACE_INTERRUPT of one thread at
// a time; safe is a thread blocked in an idle wait (poll, epoll_wait, accept,
// read, nanosleep, ...; never futex) or running code with neither its pc nor
// a return address in the top 512 bytes of its stack in an unsafe range
// (loader, allocator, heapscope); any other is let go at once and another is
// tried, a bounded number of rounds), saving everything the call changes
// (general registers, rflags, the full xstate, the signal mask), the calls
// themselves and putting all of it back.
//
// The target never depends on the tool staying alive. Before the first call
// the thread's whole state is written below its red zone, with the interrupted
// system call's restart already applied (what the kernel would have done on
// resume; also for epoll_wait, which the kernel answers with EINTR after a
// stop), and every call returns into a small stub (in the unused tail of
// libc's executable page). The stub first sends its own thread SIGURG (left
// unblocked during the calls): with the tool alive that is a signal-delivery
// stop where the tool reads the result, starts the next call, or puts the
// saved registers back itself and detaches (the kernel's own restart rules
// apply); without the tool, SIGURG's default action ignores it and the stub
// restores the signal mask, the xstate, the registers and rflags and jumps
// back where the thread was. So if the tool is killed at any step, the thread
// finishes the call it is in and resumes as it was; a call that takes too
// long is left to finish by itself the same way.
// Only the chosen thread ever stops; the others keep running, so a lock they
// hold is released as usual.
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
  // stub_at: where the return stub goes (stub_site(); kStubSize bytes); 0
  // makes every call return to a faulting address instead (the tool must
  // then outlive the call: the fallback when libc's page has no room).
  static std::unique_ptr<RemoteThread> at_safe_point(const Process& p, const std::vector<Range>& unsafe,
                                                     int rounds, uint64_t stub_at);
  static constexpr size_t kStubSize = 128;
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
  // How long the thread was held stopped or running our calls (µs): from
  // the stop at the safe point to the detach (or to now, if still held).
  int64_t held_us() const;
  // Lets the thread go as it was (through the stub after a call, or with
  // the saved registers put back), and detaches. Idempotent.
  void release();

 private:
  RemoteThread(pid_t pid, pid_t tid, uint64_t stub_at) : pid_(pid), tid_(tid), stub_at_(stub_at) {}
  bool save();
  void arm();  // writes the saved state and the stub into the target
  uint64_t wait_return(int timeout_ms);
  bool at_stub_signal(const user_regs_struct& r);
  int next_signal_stop(int64_t deadline_ms);
  uint64_t call_faulting(uint64_t fn, const std::vector<uint64_t>& args, int timeout_ms);
  void set_call_regs(user_regs_struct& r, uint64_t fn, const std::vector<uint64_t>& args, uint64_t ret);
  void write_mem(uint64_t addr, const void* data, size_t n);
  void write_text(uint64_t addr, const void* data, size_t n);
  // Where the thread stands: stopped where it was seized; stopped at the
  // stub's rt_sigprocmask (the state on its stack restores everything);
  // running a call left to finish alone; stopped somewhere else after a
  // failed call (the saved registers must be put back).
  enum class At { seized, stub, running, lost };
  pid_t pid_, tid_;
  uint64_t stub_at_;
  At at_ = At::seized;
  bool held_ = true, saved_ = false, armed_ = false, failed_ = false;
  int64_t stopped_at_us_ = 0, released_at_us_ = 0;
  user_regs_struct regs_{};     // as seized
  user_regs_struct resume_{};   // where it resumes: regs_ with the syscall restart applied
  std::vector<uint8_t> xstate_;
  size_t xstate_len_ = 0;
  uint64_t sigmask_ = 0;
  uint64_t base_ = 0;      // the saved-state block (64-aligned); r12 during calls
  uint64_t scratch_ = 0;   // next free byte (grows down)
  size_t watch_end_ = 0;   // offset just past the stub's syscall instruction
};

// Test hook: HEAPSCOPE_INJECT_KILL_STEP=N makes the tool SIGKILL itself right
// after its Nth change to the target (a register or memory write, a resume),
// so tests can show the target survives a tool killed at every step.
void kill_step();

// Why a thread whose stack pointer is rsp has too little stack below it for
// the saved state and the calls (kStackNeeded; the main thread's [stack] grows
// on demand), or "".
constexpr uint64_t kStackNeeded = 64 * 1024;
std::string stack_room_reason(const Process& p, uint64_t rsp);

// Waits for tid's next ptrace stop; signal-delivery stops on the way are
// passed on (the program handles its signals as usual). Returns the stop
// signal of a PTRACE_EVENT_STOP, or -1 when the thread exited, -2 on timeout.
int wait_event_stop(pid_t tid, int timeout_ms);

}  // namespace heapscope::inject
