// inject.cpp -- see inject.h.
#include "inject/inject.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace heapscope::inject {
namespace {

constexpr size_t kMsgLen = 1024;

uint64_t symbol(const Process& p, const std::string& path, const ElfFile& f, const std::string& name) {
  auto it = f.syms.find(name);
  if (it == f.syms.end()) return 0;
  return load_bias(p, path, f) + it->second.value;
}

// Runs fn(args..., msg, kMsgLen) on t and returns (rc, msg).
std::pair<int, std::string> call_with_message(RemoteThread& t, uint64_t fn, std::vector<uint64_t> args) {
  std::vector<char> zeros(kMsgLen, 0);
  uint64_t msg = t.push(zeros.data(), zeros.size());
  args.push_back(msg);
  args.push_back(kMsgLen);
  int rc = int(t.call(fn, args));
  return {rc, t.read_string(msg, kMsgLen)};
}

// "; thread T was held 12.3 ms": the only thread the attach ever stops, and for how long.
std::string held_note(const RemoteThread& t) {
  char b[96];
  std::snprintf(b, sizeof b, "; thread %d was held %.1f ms", int(t.tid()), double(t.held_us()) / 1000.0);
  return b;
}

}  // namespace

std::string attach(pid_t pid, const std::string& library, const std::string& config, bool seccomp_ok) {
  Process p = preflight(pid, false);
  std::string ps = "process " + std::to_string(pid);
  // A filter may deny (or kill the process for) the loader's openat/mmap/mprotect
  // or the snapshot writer's files; heapscope cannot tell which from outside.
  if (p.seccomp == 1)
    throw Refusal(ps + ": runs in seccomp strict mode (only read, write and exit are allowed): nothing can be "
                  "loaded into it");
  if (p.seccomp == 2 && !seccomp_ok)
    throw Refusal(ps + ": runs under a seccomp filter, which may deny (or kill the process for) the system "
                  "calls loading heapscope and writing snapshots need (openat, mmap, mprotect, rename, and tgkill and "
                  "rt_sigprocmask for the return from each call); not attached. If its filter allows those, attach with --seccomp-filter-ok");
  ElfFile libc = read_elf(target_path(pid, p.libc_path));
  uint64_t dlopen_fn = symbol(p, p.libc_path, libc, "dlopen");
  uint64_t dlsym_fn = symbol(p, p.libc_path, libc, "dlsym");
  uint64_t dlerror_fn = symbol(p, p.libc_path, libc, "dlerror");
  uint64_t start_fn = 0;
  if (!p.heapscope_path.empty()) {  // attached before and detached: the library is still mapped
    ElfFile hs = read_elf(target_path(pid, p.heapscope_path));
    start_fn = symbol(p, p.heapscope_path, hs, "heapscope_attach_start");
    if (!start_fn)
      throw Refusal(ps + ": " + p.heapscope_path + " is loaded but has no heapscope_attach_start (a heapscope "
                    "without attach support; it was started with it): use `heapscope snapshot " +
                    std::to_string(pid) + "`");
  } else {
    if (!dlopen_fn || !dlsym_fn)
      throw Refusal(ps + ": " + p.libc_path + " exports no dlopen/dlsym (glibc older than 2.34 is not supported)");
    struct stat mine{}, theirs{};
    if (stat(library.c_str(), &mine) != 0)
      throw Refusal(library + ": cannot stat the profiler library: " + std::strerror(errno));
    if (stat(target_path(pid, library).c_str(), &theirs) != 0 || mine.st_ino != theirs.st_ino ||
        mine.st_dev != theirs.st_dev)
      throw Refusal(ps + ": " + library + " is not the same file in its mount namespace (a container?); "
                    "attach into another mount namespace is not supported");
  }
  std::vector<Range> unsafe = unsafe_ranges(p, libc);

  SignalBlock block;
  uint64_t stub = stub_site(p, libc, RemoteThread::kStubSize);
  std::unique_ptr<RemoteThread> t = RemoteThread::at_safe_point(p, unsafe, 400, stub);
  kill_step();
  if (!start_fn) {
    uint64_t path = t->push_string(library);
    uint64_t handle = t->call(dlopen_fn, {path, uint64_t(RTLD_NOW | RTLD_LOCAL)});
    if (!handle) {
      std::string why = dlerror_fn ? t->read_string(t->call(dlerror_fn, {}), 1024) : "";
      t->release();
      throw Refusal(ps + ": dlopen(" + library + ") failed in it: " + (why.empty() ? "no reason given" : why));
    }
    uint64_t name = t->push_string("heapscope_attach_start");
    start_fn = t->call(dlsym_fn, {handle, name});
    if (!start_fn) {
      t->release();
      throw Refusal(ps + ": " + library + " has no heapscope_attach_start (an older heapscope?); it stays "
                    "loaded, inert");
    }
  }
  uint64_t cfg = t->push_string(config);
  auto [rc, msg] = call_with_message(*t, start_fn, {cfg});
  t->release();
  if (rc != 0) throw Refusal(ps + ": " + msg);
  return msg + held_note(*t);
}

std::string detach(pid_t pid) {
  Process p = preflight(pid, true);
  std::string ps = "process " + std::to_string(pid);
  ElfFile libc = read_elf(target_path(pid, p.libc_path));
  ElfFile hs = read_elf(target_path(pid, p.heapscope_path));
  uint64_t stop_fn = symbol(p, p.heapscope_path, hs, "heapscope_attach_stop");
  if (!stop_fn)
    throw Refusal(ps + ": " + p.heapscope_path + " has no heapscope_attach_stop (it was started with heapscope, "
                  "not attached)");
  std::vector<Range> unsafe = unsafe_ranges(p, libc);
  SignalBlock block;
  uint64_t stub = stub_site(p, libc, RemoteThread::kStubSize);
  std::unique_ptr<RemoteThread> t = RemoteThread::at_safe_point(p, unsafe, 400, stub);
  kill_step();
  auto [rc, msg] = call_with_message(*t, stop_fn, {});
  t->release();
  if (rc != 0) throw Refusal(ps + ": " + msg);
  return msg + held_note(*t);
}

}  // namespace heapscope::inject
