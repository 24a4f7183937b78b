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

int64_t now_us() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
int64_t now_ms() { return now_us() / 1000; }

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


// System calls the kernel answers with EINTR after a ptrace stop instead of
// restarting them (signal(7): "interrupted by a stop signal"): the attach
// restarts these itself.
bool eintr_after_stop(uint64_t nr) {
  switch (nr) {
    case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2: case SYS_rt_sigtimedwait:
    case SYS_semtimedop: case SYS_io_getevents:
      return true;
    default:
      return false;
  }
}

constexpr int64_t kErestartsys = -512, kErestartnointr = -513, kErestartnohand = -514,
                  kErestartRestartblock = -516;

// How a thread seized in (or just after) a system call must continue.
enum class Resume { as_is, restart, restart_block };
Resume resume_kind(const user_regs_struct& r) {
  if (int64_t(r.orig_rax) < 0) return Resume::as_is;
  int64_t ax = int64_t(r.rax);
  if (ax == kErestartsys || ax == kErestartnointr || ax == kErestartnohand) return Resume::restart;
  if (ax == kErestartRestartblock) return Resume::restart_block;
  if (ax == -EINTR && eintr_after_stop(r.orig_rax)) return Resume::restart;
  return Resume::as_is;
}

std::string kill_step_env() {
  const char* v = getenv("HEAPSCOPE_INJECT_KILL_STEP");
  return v ? v : "";
}

// The return stub (kStubSize bytes at most). r12 points at the saved-state
// block: xstate at 0, then at ids_off the pid and tid (4 bytes each), the
// signal mask, r15..rax, rflags and the address of the rip slot. First it
// sends its own thread SIGURG: with the tool alive that is a stop where the
// tool reads the result (rbx) and starts the next call or puts the thread
// back; without it, SIGURG's default action is to ignore it. Then it restores
// everything itself and jumps back.
std::vector<uint8_t> stub_code(uint32_t ids_off, bool xsave, size_t* watch_end) {
  uint32_t mask_off = ids_off + 8, gp_off = ids_off + 16;
  std::vector<uint8_t> c;
  auto put = [&](std::initializer_list<uint8_t> b) { c.insert(c.end(), b); };
  auto d32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) c.push_back(uint8_t(v >> (8 * i))); };
  put({0x48, 0x89, 0xc3});                    // mov rbx, rax        (the result, for the tool)
  put({0xb8, 0xea, 0x00, 0x00, 0x00});        // mov eax, SYS_tgkill
  put({0x41, 0x8b, 0xbc, 0x24}); d32(ids_off);      // mov edi, [r12 + ids_off]      (pid)
  put({0x41, 0x8b, 0xb4, 0x24}); d32(ids_off + 4);  // mov esi, [r12 + ids_off + 4]  (tid)
  put({0xba, uint8_t(SIGURG), 0x00, 0x00, 0x00});   // mov edx, SIGURG
  put({0x0f, 0x05});                          // syscall             (the tool stops here)
  *watch_end = c.size();
  put({0xb8, 0x0e, 0x00, 0x00, 0x00});        // mov eax, SYS_rt_sigprocmask
  put({0xbf, 0x02, 0x00, 0x00, 0x00});        // mov edi, SIG_SETMASK
  put({0x49, 0x8d, 0xb4, 0x24}); d32(mask_off);  // lea rsi, [r12 + mask_off]
  put({0x31, 0xd2});                          // xor edx, edx
  put({0x41, 0xba, 0x08, 0x00, 0x00, 0x00});  // mov r10d, 8
  put({0x0f, 0x05});                          // syscall
  put({0xb8, 0xff, 0xff, 0xff, 0xff});        // mov eax, -1
  put({0xba, 0xff, 0xff, 0xff, 0xff});        // mov edx, -1
  if (xsave)
    put({0x49, 0x0f, 0xae, 0xac, 0x24, 0, 0, 0, 0});  // xrstor64 [r12]
  else
    put({0x49, 0x0f, 0xae, 0x8c, 0x24, 0, 0, 0, 0});  // fxrstor64 [r12]
  put({0x49, 0x8d, 0xa4, 0x24}); d32(gp_off);  // lea rsp, [r12 + gp_off]
  put({0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x41, 0x5b, 0x41, 0x5a, 0x41, 0x59, 0x41, 0x58});
  put({0x5f, 0x5e, 0x5d, 0x5b, 0x5a, 0x59, 0x58});  // pop r15..r8, rdi, rsi, rbp, rbx, rdx, rcx, rax
  put({0x9d});                                // popfq
  put({0x5c});                                // pop rsp             (-> the rip slot)
  put({0xc2, 0x80, 0x00});                    // ret 128             (rsp back where it was)
  return c;
}

}  // namespace

// The saved state (up to the xstate's size, 11 KiB with AMX), the pushes and
// the calls themselves (dlopen runs the library's constructors) all live below
// rsp: a thread on a small stack of its own (a coroutine, a sigaltstack in the
// heap) is not taken. The main thread's [stack] grows on demand.
std::string stack_room_reason(const Process& p, uint64_t rsp) {
  for (const auto& m : p.maps) {
    if (rsp <= m.start || rsp > m.end) continue;
    if (m.path == "[stack]" || rsp - m.start >= kStackNeeded) return "";
    return "has " + std::to_string((rsp - m.start) / 1024) + " KiB of stack below its stack pointer, " +
           std::to_string(kStackNeeded / 1024) + " KiB needed";
  }
  return "has its stack pointer in no mapping";
}


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

void kill_step() {
  static const std::string want = kill_step_env();
  static int step = 0;
  if (!want.empty() && std::to_string(++step) == want) raise(SIGKILL);
}

std::unique_ptr<RemoteThread> RemoteThread::at_safe_point(const Process& p, const std::vector<Range>& unsafe,
                                                          int rounds, uint64_t stub_at) {
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
        std::unique_ptr<RemoteThread> t(new RemoteThread(p.pid, tid, stub_at));
        t->stopped_at_us_ = now_us();
        if (!t->save()) {
          t->release();
          throw Refusal(ps + ": cannot read thread " + std::to_string(tid) + "'s registers: " + std::strerror(errno));
        }
        if (std::string room = stack_room_reason(p, t->regs_.rsp); !room.empty()) {
          last_reason = "thread " + std::to_string(tid) + " " + room;
          t->release();  // changed nothing yet: resumes where it was
          continue;
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
  // Where the thread resumes when it does so on its own (through the stub):
  // what the kernel would do after the stop, done in user space.
  resume_ = regs_;
  switch (resume_kind(regs_)) {
    case Resume::restart: resume_.rax = regs_.orig_rax; resume_.rip -= 2; break;
    case Resume::restart_block: resume_.rax = SYS_restart_syscall; resume_.rip -= 2; break;
    case Resume::as_is: break;
  }
  resume_.orig_rax = uint64_t(-1);
  // The saved-state block: xstate at base_ (64-aligned), then the signal mask,
  // r15..rax, rflags, the rip slot's address; the rip slot itself sits just
  // below the red zone.
  size_t xmax = ((xstate_len_ ? xstate_len_ : 512) + 63) & ~size_t(63);
  uint64_t rip_slot = regs_.rsp - 136;
  base_ = (rip_slot - 152 - xmax) & ~uint64_t(63);
  scratch_ = base_;
  saved_ = true;
  return true;
}

void RemoteThread::arm() {
  size_t xmax = ((xstate_len_ ? xstate_len_ : 512) + 63) & ~size_t(63);
  uint64_t rip_slot = regs_.rsp - 136;
  std::vector<uint8_t> blk(rip_slot + 8 - base_, 0);
  auto put64 = [&](size_t off, uint64_t v) { std::memcpy(blk.data() + off, &v, 8); };
  std::memcpy(blk.data(), xstate_.data(), xstate_len_ ? xstate_len_ : 512);
  put64(xmax, uint64_t(uint32_t(pid_)) | uint64_t(uint32_t(tid_)) << 32);
  put64(xmax + 8, sigmask_);
  const user_regs_struct& r = resume_;
  uint64_t gp[] = {r.r15, r.r14, r.r13, r.r12, r.r11, r.r10, r.r9, r.r8, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rcx, r.rax};
  for (size_t i = 0; i < 15; ++i) put64(xmax + 16 + 8 * i, gp[i]);
  put64(xmax + 136, r.eflags);
  put64(xmax + 144, rip_slot);
  put64(rip_slot - base_, r.rip);
  write_mem(base_, blk.data(), blk.size());
  std::vector<uint8_t> code = stub_code(uint32_t(xmax), xstate_len_ != 0, &watch_end_);
  if (code.size() > kStubSize) throw CallFailed("internal: the return stub outgrew kStubSize");
  write_text(stub_at_, code.data(), code.size());
  armed_ = true;
}

void RemoteThread::write_mem(uint64_t addr, const void* data, size_t n) {
  struct iovec local{const_cast<void*>(data), n}, remote{reinterpret_cast<void*>(addr), n};
  if (process_vm_writev(pid_, &local, 1, &remote, 1, 0) != ssize_t(n))
    throw CallFailed("cannot write " + std::to_string(n) + " bytes to the target's stack: " + std::strerror(errno));
  kill_step();
}

void RemoteThread::write_text(uint64_t addr, const void* data, size_t n) {
  // /proc/PID/mem writes through the page protection (a private copy of the
  // page, as a debugger's breakpoint does), which process_vm_writev cannot.
  std::string mem = "/proc/" + std::to_string(pid_) + "/mem";
  int fd = open(mem.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw CallFailed("cannot open " + mem + " to place the return stub: " + std::strerror(errno));
  ssize_t w = pwrite(fd, data, n, off_t(addr));
  kill_step();
  std::vector<uint8_t> back(n);
  ssize_t r = pread(fd, back.data(), n, off_t(addr));
  close(fd);
  if (w != ssize_t(n) || r != ssize_t(n) || std::memcmp(back.data(), data, n) != 0)
    throw CallFailed("cannot place the return stub in " + mem + ": " + std::strerror(errno));
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

void RemoteThread::set_call_regs(user_regs_struct& r, uint64_t fn, const std::vector<uint64_t>& args,
                                 uint64_t ret) {
  r = regs_;
  uint64_t sp = (scratch_ - 256) & ~uint64_t(15);
  sp -= 8;  // at entry (rsp + 8) is 16-aligned, as after a call
  write_mem(sp, &ret, 8);
  r.rsp = sp;
  r.rip = fn;
  uint64_t* slots[] = {(uint64_t*)&r.rdi, (uint64_t*)&r.rsi, (uint64_t*)&r.rdx,
                       (uint64_t*)&r.rcx, (uint64_t*)&r.r8, (uint64_t*)&r.r9};
  for (size_t i = 0; i < args.size() && i < 6; ++i) *slots[i] = args[i];
  r.rax = 0;
  r.r12 = base_;              // callee-saved: the stub finds the saved state through it
  r.orig_rax = uint64_t(-1);  // no syscall restart at our pc; at the stub's stop: skip its rt_sigprocmask
}

namespace {
// Every signal blocked during a call but the synchronous faults (blocking
// SIGSEGV would make the kernel reset its handler if the call faulted) and
// SIGURG, which the stub sends itself.
uint64_t call_mask() {
  uint64_t mask = ~uint64_t(0);
  for (int s : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGURG}) mask &= ~(uint64_t(1) << (s - 1));
  return mask;  // SIGURG: the stub's stop
}

std::string fault_message(int sig, uint64_t rip) {
  std::string name = sigabbrev_np(sig) ? sigabbrev_np(sig) : std::to_string(sig);
  char at[32];
  std::snprintf(at, sizeof at, "%#llx", (unsigned long long)rip);
  return "the remote call stopped with SIG" + name + " at " + at +
         (sig == SIGSYS ? " (a seccomp filter denies a system call heapscope needs)" : "");
}
}  // namespace

uint64_t RemoteThread::call(uint64_t fn, const std::vector<uint64_t>& args, int timeout_ms) {
  if (!held_ || !saved_ || failed_ || at_ == At::running)
    throw CallFailed("internal: call on a released thread");
  if (!stub_at_) {
    failed_ = true;  // until it returns
    uint64_t rax = call_faulting(fn, args, timeout_ms);
    failed_ = false;
    return rax;
  }
  if (!armed_) arm();
  user_regs_struct r;
  set_call_regs(r, fn, args, stub_at_);
  // Registers first, then the mask: killed in between, the call runs with the
  // program's mask and the stub puts back that same mask.
  if (ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0)
    throw CallFailed(std::string("cannot start the remote call: ") + std::strerror(errno));
  bool first = at_ == At::seized;
  at_ = At::running;
  kill_step();
  if (first) {
    uint64_t mask = call_mask();
    if (ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0)
      throw CallFailed(std::string("cannot block signals for the remote call: ") + std::strerror(errno));
    kill_step();
  }
  if (ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0)  // signal 0: the stub's SIGURG, if stopped there, is dropped
    throw CallFailed(std::string("cannot start the remote call: ") + std::strerror(errno));
  kill_step();
  return wait_return(timeout_ms);
}

// The thread's next signal-delivery stop during a call (group stops and late
// interrupts are let go on the way): its signal, or 0 when deadline_ms passed.
// Throws when the target exited.
int RemoteThread::next_signal_stop(int64_t deadline_ms) {
  for (;;) {
    int st = 0;
    pid_t w = waitpid(tid_, &st, __WALL | WNOHANG);
    if (w == 0) {
      if (now_ms() >= deadline_ms) return 0;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
      held_ = false;
      throw CallFailed("the target exited during the remote call");
    }
    if (!WIFSTOPPED(st)) continue;
    if ((st >> 16) == PTRACE_EVENT_STOP) {  // a group stop or a late interrupt: keep going
      ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
      continue;
    }
    return WSTOPSIG(st);
  }
}

// Whether the thread, stopped with SIGURG at registers r, stopped for the
// stub's own tgkill (not a SIGURG someone else sent the program).
bool RemoteThread::at_stub_signal(const user_regs_struct& r) {
  siginfo_t si{};
  return stub_at_ && r.rip == stub_at_ + watch_end_ && ptrace(PTRACE_GETSIGINFO, tid_, nullptr, &si) == 0 &&
         si.si_code == SI_TKILL && si.si_pid == pid_;
}

// Waits for the stub's SIGURG: the call returned, its result in rbx.
uint64_t RemoteThread::wait_return(int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int sig = next_signal_stop(deadline);
    if (!sig)  // at_ stays running: release() lets it finish and come back by itself
      throw CallFailed("the remote call did not return within " + std::to_string(timeout_ms / 1000) +
                       " s (a lock it needs is held?); it was left to finish and resume by itself");
    user_regs_struct now{};
    ptrace(PTRACE_GETREGS, tid_, nullptr, &now);
    if (sig == SIGURG) {
      if (at_stub_signal(now)) {
        at_ = At::stub;
        return now.rbx;
      }
      ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(sig)));  // the program's own
      continue;
    }
    if (sig == SIGSTOP) {  // cannot be blocked: let it stop the process as the sender wanted
      ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(SIGSTOP)));
      continue;
    }
    at_ = At::lost;
    failed_ = true;
    throw CallFailed(fault_message(sig, now.rip));
  }
}

// Without a stub: the call returns to an address that faults, and the tool
// must stay alive to put the thread back.
uint64_t RemoteThread::call_faulting(uint64_t fn, const std::vector<uint64_t>& args, int timeout_ms) {
  user_regs_struct r;
  set_call_regs(r, fn, args, kReturnAddress);
  uint64_t mask = call_mask();
  at_ = At::lost;  // from here on the saved registers must be put back
  if (ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof mask), &mask) != 0 ||
      ptrace(PTRACE_SETREGS, tid_, nullptr, &r) != 0 || ptrace(PTRACE_CONT, tid_, nullptr, nullptr) != 0)
    throw CallFailed(std::string("cannot start the remote call: ") + std::strerror(errno));
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int sig = next_signal_stop(deadline);
    if (!sig) {
      ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr);
      wait_event_stop(tid_, 2000);
      throw CallFailed("the remote call did not return within " + std::to_string(timeout_ms / 1000) +
                       " s (a lock it needs is held?)");
    }
    user_regs_struct now{};
    ptrace(PTRACE_GETREGS, tid_, nullptr, &now);
    if (sig == SIGSEGV && now.rip == kReturnAddress) return now.rax;
    if (sig == SIGSTOP) {
      ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(SIGSTOP)));
      continue;
    }
    throw CallFailed(fault_message(sig, now.rip));
  }
}

int64_t RemoteThread::held_us() const { return (released_at_us_ ? released_at_us_ : now_us()) - stopped_at_us_; }

void RemoteThread::release() {
  if (!held_) return;
  held_ = false;
  struct Stamp {  // on every way out
    RemoteThread* t;
    ~Stamp() { t->released_at_us_ = now_us(); }
  } stamp{this};
  if (at_ == At::running) {
    // A call left to finish: stop it where it is and let go; it returns
    // through the stub, which puts everything back.
    ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr);
    int64_t deadline = now_ms() + 2000;
    for (;;) {
      int st = 0;
      pid_t w = waitpid(tid_, &st, __WALL | WNOHANG);
      if (w < 0 || (w > 0 && (WIFEXITED(st) || WIFSIGNALED(st)))) return;
      if (w > 0 && WIFSTOPPED(st)) {
        if ((st >> 16) == PTRACE_EVENT_STOP) break;
        int sig = WSTOPSIG(st);
        user_regs_struct now{};
        if (sig == SIGURG && ptrace(PTRACE_GETREGS, tid_, nullptr, &now) == 0 && at_stub_signal(now)) {
          at_ = At::stub;  // the call came back meanwhile: put it back as after any call (below)
          break;
        }
        ptrace(PTRACE_CONT, tid_, nullptr, reinterpret_cast<void*>(intptr_t(sig)));  // the program's own
        continue;
      }
      if (now_ms() >= deadline) return;  // the kernel lets it go when the tool exits
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (at_ == At::running) {
      ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);
      return;
    }
  }
  if (saved_ && at_ != At::seized) {
    // In this order, so that a tool killed between two steps leaves a thread
    // the stub (or the kernel) still puts back whole: the mask, the xstate,
    // then the registers.
    ptrace(PTRACE_SETSIGMASK, tid_, reinterpret_cast<void*>(sizeof sigmask_), &sigmask_);
    kill_step();
    if (xstate_len_) {
      struct iovec io{xstate_.data(), xstate_len_};
      ptrace(PTRACE_SETREGSET, tid_, reinterpret_cast<void*>(NT_X86_XSTATE), &io);
    } else {
      ptrace(PTRACE_SETFPREGS, tid_, nullptr, xstate_.data());
    }
    kill_step();
  }
  if (saved_) {
    // Every stop we hold it in is on the signal path (the seizing interrupt,
    // the stub's SIGURG, a fault): the kernel restarts -ERESTART* itself once
    // the registers are back. An EINTR it gave after the stop (epoll_wait) is
    // not restarted: back to the syscall instruction, so it runs again.
    user_regs_struct r = regs_;
    if (resume_kind(regs_) == Resume::restart && int64_t(regs_.rax) == -EINTR) {
      r.rax = regs_.orig_rax;
      r.rip -= 2;
      r.orig_rax = uint64_t(-1);
    }
    ptrace(PTRACE_SETREGS, tid_, nullptr, &r);
  }
  ptrace(PTRACE_DETACH, tid_, nullptr, nullptr);  // signal 0: a return fault is dropped
}

RemoteThread::~RemoteThread() { release(); }

}  // namespace heapscope::inject
