// remote.cpp -- see remote.h.
#include "inject/remote.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif

namespace heapscope::inject {
namespace {

// Below mmap_min_addr (64 KiB): never mapped, so returning there faults.
constexpr uint64_t kReturnAddress = 0x4853;

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string thread_comm(pid_t pid, pid_t tid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

bool read_mem(pid_t pid, uint64_t addr, void* buf, size_t n) {
  struct iovec local{buf, n}, remote{reinterpret_cast<void*>(addr), n};
  return process_vm_readv(pid, &local, 1, &remote, 1, 0) == ssize_t(n);
}

const Range* find_range(const std::vector<Range>& rs, uint64_t v) {
  for (const auto& r : rs)
    if (v >= r.lo && v < r.hi) return &r;
  return nullptr;
}

// System calls a thread may be blocked in when it is hijacked: waits that
// hold no allocator or loader lock (glibc's locks wait in futex, never here;
// the loader's own file reads have their pc inside ld.so).
bool idle_syscall(uint64_t nr) {
  switch (nr) {
    case SYS_read: case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6: case SYS_epoll_wait:
    case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_accept:
    case SYS_accept4: case SYS_recvfrom: case SYS_recvmsg: case SYS_wait4: case SYS_waitid: case SYS_pause:
    case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait: case SYS_msgrcv:
      return true;
    default:
      return false;
  }
}

// Why tid (stopped) is not at a safe point, or "". A thread blocked in one
// of the idle system calls is safe (unless its pc is in an unsafe range); a
// thread running code is safe when neither its pc nor any return address in
// the top 512 bytes of its stack is in one (stale words there only cost a
// retry: the thread is running and its stack changes).
// wchan: the thread's kernel wait before it was seized (restart_syscall
// continues whatever wait was interrupted last: a poll or nanosleep is idle,
// a futex may be a lock).
std::string unsafe_reason(const Process& p, pid_t tid, const std::vector<Range>& unsafe, const std::string& wchan) {
  user_regs_struct r{};
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) != 0) return std::string("PTRACE_GETREGS: ") + std::strerror(errno);
  if (const Range* at = find_range(unsafe, r.rip)) return "running in " + at->what;
  if (int64_t(r.orig_rax) >= 0) {
    if (idle_syscall(r.orig_rax)) return "";
    if (r.orig_rax == SYS_restart_syscall && !wchan.empty() && wchan != "0" && wchan.find("futex") == std::string::npos)
      return "";
    return "in system call " + std::to_string(r.orig_rax) + " (not an idle wait; futex may be a lock)";
  }
  uint64_t end = r.rsp + 512;
  for (const auto& m : p.maps)
    if (r.rsp >= m.start && r.rsp < m.end && end > m.end) end = m.end;
  if (end <= r.rsp) return "";
  std::vector<uint64_t> words((end - r.rsp) / 8);
  if (!words.empty() && !read_mem(p.pid, r.rsp, words.data(), words.size() * 8))
    return "its stack is unreadable";
  for (uint64_t w : words)
    if (const Range* at = find_range(unsafe, w)) return "called from " + at->what;
  return "";
}

}  // namespace

SignalBlock::SignalBlock() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&s, sig);
  sigprocmask(SIG_BLOCK, &s, &old);
}
SignalBlock::~SignalBlock() { sigprocmask(SIG_SETMASK, &old, nullptr); }

int wait_event_stop(pid_t tid, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(tid, &st, __WALL | WNOHANG);
    if (r < 0) return -1;
    if (r == 0) {
      if (now_ms() >= deadline) return -2;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (WIFEXITED(st) || WIFSIGNALED(st)) return -1;
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st);
    if ((st >> 16) == PTRACE_EVENT_STOP) return sig;
    ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void*>(intptr_t(sig)));  // the program's own signal
  }
}

std::unique_ptr<RemoteThread> RemoteThread::at_safe_point(const Process& p, const std::vector<Range>& unsafe,
                                                          int rounds) {
  std::string ps = "process " + std::to_string(p.pid);
  std::string last_reason;
  for (int round = 0; round < rounds; ++round) {
    for (pid_t tid : p.tasks) {
      if (thread_comm(p.pid, tid) == "heapscope") continue;  // heapscope's helper thread
      std::string wchan;
      {
        std::ifstream in("/proc/" + std::to_string(p.pid) + "/task/" + std::to_string(tid) + "/wchan");
        std::getline(in, wchan);
      }
      if (ptrace(PTRACE_SEIZE, tid, nullptr, nullptr) != 0) {
        if (errno == ESRCH) continue;  // exited meanwhile
        if (errno == EPERM)
          throw Refusal(ps + ": ptrace not permitted (PTRACE_SEIZE: EPERM): another user's process, a missing "
                        "CAP_SYS_PTRACE, kernel.yama.ptrace_scope, or a tracer; run heapscope as root, or start "
                        "the program under `heapscope run`");
        throw Refusal(ps + ": PTRACE_SEIZE of thread " + std::to_string(tid) + ": " + std::strerror(errno));
      }
      if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) {
        ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
        continue;
      }
      int sig = wait_event_stop(tid, 5000);
      if (sig == -1) continue;  // the thread exited
      if (sig == -2) {
        last_reason = "thread " + std::to_string(tid) + " did not stop within 5 s";
        continue;  // released when the tool exits (ptrace_unlink clears the pending interrupt)
      }
      if (sig != SIGTRAP) {  // a group stop: the process is being stopped by a job-control signal
        ptrace(PTRACE_DETACH, tid, nullptr, nullptr);
        throw Refusal(ps + ": it was stopped (" + std::string(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?") +
                      ") while heapscope looked for a thread; continue it and try again");
      }
      std::string why = unsafe_reason(p, tid, unsafe, wchan);
      if (why.empty()) {
        std::unique_ptr<RemoteThread> t(new RemoteThread(p.pid, tid));
        if (!t->save()) {
          t->release();
          throw Refusal(ps + ": cannot read thread " + std::to_string(tid) + "'s registers: " + std::strerror(errno));
        }
        return t;
      }
      last_reason = "thread " + std::to_string(tid) + " " + why;
      ptrace(PTRACE_DETACH, tid, nullptr, nullptr);  // resumes it where it was
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(round < 20 ? 1 : 10));
  }
  throw Refusal(ps + ": no thread reached a safe point (outside the allocator and the dynamic loader) in " +
                std::to_string(rounds) + " rounds (last: " + last_reason + "); nothing was changed, try again");
}

bool RemoteThread::save() {
  if (ptrace(PTRACE_GETREGS, tid_, nullptr, &regs_) != 0) return false;
  xstate_.assign(16384, 0);
  struct iovec io{xstate_.data(), xstate_.size()};
  if (ptrace(PTRACE_GETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &io) == 0) {
    xstate_len_ = io.iov_len;
  } else {
    user_fpregs_struct fp{};
    if (ptrace(PTRACE_GETFPREGS, tid_, nullptr, &fp) != 0) return false;
    std::memcpy(xstate_.data(), &fp, sizeof fp);
    xstate_len_ = 0;  // marks the FXSAVE fallback
  }
  if (ptrace(PTRACE_GETSIGMASK, tid_, reinterpret_cast<void*>(sizeof sigmask_), &sigmask_) != 0) return false;
  scratch_ = (regs_.rsp - 128) & ~uint64_t(15);  // below the red zone
  saved_ = true;
  return true;
}

void RemoteThread::write_mem(uint64_t addr, const void* data, size_t n) {
  struct iovec local{const_cast<void*>(data), n}, remote{reinterpret_cast<void*>(addr), n};
  if (process_vm_writev(pid_, &local, 1, &remote, 1, 0) != ssize_t(n))
    throw CallFailed("cannot write " + std::to_string(n) + " bytes to the target's stack: " + std::strerror(errno));
}

uint64_t RemoteThread::push(const void* data, size_t n) {
  scratch_ = (scratch_ - n) & ~uint64_t(15);
  write_mem(scratch_, data, n);
  return scratch_;
}

std::string RemoteThread::read_string(uint64_t addr, size_t max) {
  std::string s;
  char buf[256];
  while (s.size() < max) {
    if (!read_mem(pid_, addr + s.size(), buf, sizeof buf)) break;
    size_t len = strnlen(buf, sizeof buf);
    s.append(buf, len);
    if (len < sizeof buf) break;
  }
  return s.substr(0, max);
}

uint64_t RemoteThread::call(uint64_t fn, const std::vector<uint64_t>& args, int timeout_ms) {
  if (!held_ || !saved_) throw CallFailed("internal: call on a released thread");
  user_regs_struct r = regs_;
  uint64_t sp = (scratch_ - 256) & ~uint64_t(15);
  sp -= 8;  // at entry (rsp + 8) is 16-aligned, as after a call
  write_mem(sp, &kReturnAddress, 8);
  r.rsp = sp;
  r.rip = fn;
  uint64_t* slots[] = {(uint64_t*)&r.rdi, (uint64_t*)&r.rsi, (uint64_t*)&r.rdx,
                       (uint64_t*)&r.rcx, (uint64_t*)&r.r8, (uint64_t*)&r.r9};
  for (size_t i = 0; i < args.size() && i < 6; ++i) *slots[i] = args[i];
  r.rax = 0;
  r.orig_rax = uint64_t(-1);  // no syscall restart at our pc
  // Every signal blocked but the synchronous faults: blocking SIGSEGV would make
  // the kernel reset its handler when our return faults.
  uint64_t mask = ~uint64_t(0);
  for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS}) mask &= ~(uint64_t(1) << (s - 1));
  if (ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0 ||
      ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0 || ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0)
    throw CallFailed(std::string("cannot start the remote call: ") + std::strerror(errno));
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int st = 0;
    pid_t w = waitpid(tid_, &st, __WALL | WNOHANG);
    if (w == 0) {
      if (now_ms() >= deadline) {
        ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr);
        wait_event_stop(tid_, 2000);
        throw CallFailed("the remote call did not return within " + std::to_string(timeout_ms / 1000) +
                         " s (a lock it needs is held?)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
      held_ = false;
      throw CallFailed("the target exited during the remote call");
    }
    if (!WIFSTOPPED(st)) continue;
    int sig = WSTOPSIG(st);
    if ((st >> 16) == PTRACE_EVENT_STOP) {  // a group stop or a late interrupt: keep going
      ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
      continue;
    }
    user_regs_struct now{};
    ptrace(PTRACE_GETREGS, tid_, nullptr, &now);
    if (sig == SIGSEGV && now.rip == kReturnAddress) return now.rax;
    if (sig == SIGSTOP) {  // cannot be blocked: let it stop the process as the sender wanted
      ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(SIGSTOP)));
      continue;
    }
    std::string name = sigabbrev_np(sig) ? sigabbrev_np(sig) : std::to_string(sig);
    char at[32];
    std::snprintf(at, sizeof at, "%#llx", (unsigned long long)now.rip);
    throw CallFailed("the remote call stopped with SIG" + name + " at " + at +
                     (sig == SIGSYS ? " (a seccomp filter denies a system call heapscope needs)" : ""));
  }
}

void RemoteThread::release() {
  if (!held_) return;
  held_ = false;
  if (saved_) {
    ptrace(PTRACE_SETREGS, tid_, nullptr, &regs_);
    if (xstate_len_) {
      struct iovec io{xstate_.data(), xstate_len_};
      ptrace(PTRACE_SETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &io);
    } else {
      ptrace(PTRACE_SETFPREGS, tid_, nullptr, xstate_.data());
    }
    ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof sigmask_), &sigmask_);
  }
  ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);  // signal 0: our return fault is dropped
}

RemoteThread::~RemoteThread() { release(); }

}  // namespace heapscope::inject
